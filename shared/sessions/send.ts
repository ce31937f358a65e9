import type { Logger, Sleep } from '../protocol/types';
import type { SymmetricKey } from '../protocol/crypto/aes';
import { KsefError, KsefNetworkError } from '../http/errors';
import type { RequestFunction } from '../http/transport';
import { backoffDelayMs } from '../http/backoff';
import { encryptInvoice, type PreparedInvoice } from './prepare';
import { listSessionInvoices } from './invoices';
import { errorJson } from './errorJson';

/** The largest page of `GET /sessions/{ref}/invoices`: one request reads the status of up to 1000 invoices. */
export const LIST_PAGE_SIZE = 1000;

/** What sending into one open online session needs. */
export interface OpenOnlineSession {
  referenceNumber: string;
  key: SymmetricKey;
  /** Reference numbers already given to an invoice of this call, so two identical invoices never share one. */
  claimed: Set<string>;
}

export interface SendInvoiceDeps {
  /** Authenticated requests, each with the send deadline: waits for rate limits end there. */
  api: RequestFunction;
  sleep: Sleep;
  logger?: Logger;
}

/**
 * Sends one invoice into `session` (`POST /sessions/online/{ref}/invoices`) and returns its reference number. When
 * the answer is lost or unreadable (no answer, 5xx, a body that is not JSON), KSeF may have taken the invoice: the
 * session's invoice list is asked first, by invoice hash. An invoice missing there is sent once more only after a
 * network error (as a POST that failed with 5xx is never repeated blindly); should both copies arrive after all,
 * KSeF marks the second a duplicate (440) of the first, which `resolveDuplicate` resolves to the first one's KSeF
 * number.
 */
export async function sendInvoice(deps: SendInvoiceDeps, session: OpenOnlineSession, invoice: PreparedInvoice): Promise<string> {
  const { api, sleep, logger } = deps;
  const json = {
    ...encryptInvoice(invoice, session.key),
    offlineMode: invoice.offlineMode,
    ...(invoice.hashOfCorrectedInvoice && { hashOfCorrectedInvoice: invoice.hashOfCorrectedInvoice }),
  };
  const request = async () =>
    claim(
      session,
      (await api<{ referenceNumber: string }>({ method: 'POST', path: `/sessions/online/${session.referenceNumber}/invoices`, json })).data
        .referenceNumber,
    );
  try {
    return await request();
  } catch (error) {
    if (!answerLost(error)) throw error;
    const known = await findSentInvoice(deps, session, invoice);
    if (known) {
      logger?.info('KSeF had taken an invoice whose answer was lost; using its reference number', {
        index: invoice.index,
        referenceNumber: known,
      });
      return claim(session, known);
    }
    if (!(error instanceof KsefNetworkError)) throw error;
    logger?.warn('Sending an invoice got no usable answer and KSeF does not list it; sending it once more', {
      index: invoice.index,
      reason: errorJson(error).message,
    });
    await sleep(backoffDelayMs(1));
    return request();
  }
}

/**
 * Whether KSeF may have taken an invoice although its answer did not arrive or cannot be read: no answer, a
 * gateway error (502/504 after KSeF processed it), or a 2xx whose body is not JSON.
 */
export function answerLost(error: unknown): boolean {
  if (error instanceof KsefNetworkError) return true;
  if (!(error instanceof KsefError) || error.status === undefined) return false;
  return error.status >= 500 || (error.status >= 200 && error.status < 300);
}

/** The reference number of `invoice` in the session's invoice list (same invoice hash, not yet claimed). */
async function findSentInvoice(
  { api, logger }: SendInvoiceDeps,
  session: OpenOnlineSession,
  invoice: PreparedInvoice,
): Promise<string | undefined> {
  try {
    for await (const listed of listSessionInvoices(api, session.referenceNumber, { pageSize: LIST_PAGE_SIZE })) {
      if (listed.invoiceHash === invoice.invoiceHash && !session.claimed.has(listed.referenceNumber)) return listed.referenceNumber;
    }
  } catch (error) {
    logger?.warn("Could not read the session's invoice list", { index: invoice.index, reason: errorJson(error).message });
  }
  return undefined;
}

function claim(session: OpenOnlineSession, referenceNumber: string): string {
  session.claimed.add(referenceNumber);
  return referenceNumber;
}
