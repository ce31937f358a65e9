/**
 * One invoice's original XML: `GET /invoices/ksef/{ksefNumber}` (open-api.json 2.8.1, CIRFMF/ksef-api;
 * pobieranie-faktur/pobieranie-faktur.md, CIRFMF/ksef-docs). The body is kept as the bytes KSeF sent (the XML's
 * hash is over them) and checked against the answer's `x-ms-meta-hash`. KSeF answers 21165 for an invoice it has
 * accepted but not yet put in permanent storage: that is asked again with backoff for a while; 21164 means no such
 * invoice for this context. The requests belong to KSeF's `invoiceDownload` rate-limit group (64 an hour in
 * production), which the transport paces; the backoff starts at a second so a wait spends few of them.
 */
import type { Clock, Logger, Sleep } from '../protocol/types';
import type { KsefResponse, RequestFunction } from '../http/transport';
import { KsefError, KsefInputError, KsefNotFoundError } from '../http/errors';
import { pollUntil } from '../http/backoff';
import { sha256Base64 } from '../protocol/crypto/hashes';
import { KsefIntegrityError } from '../storage/storageClient';
import { requireKsefNumber } from './filters';
import type { DownloadedInvoice, GetInvoiceOptions } from './types';

export interface DownloadDeps {
  api: RequestFunction;
  clock: Clock;
  sleep: Sleep;
  logger?: Logger;
}

/** "Processed but not yet available for download" (open-api.json, `GET /invoices/ksef/{ksefNumber}`). */
const NOT_YET_AVAILABLE = 21165;
/** "No invoice with this KSeF number" (for this context). */
const NOT_FOUND = 21164;
const DEFAULT_MAX_WAIT_MS = 60_000;

/**
 * The invoice `ksefNumber` (checked before any request) with its SHA-256. Fails with `KsefNotFoundError` when KSeF
 * has no such invoice for this context, or still has not made it available after `maxWaitMs`; with
 * `KsefIntegrityError` when the bytes do not have KSeF's hash twice in a row.
 */
export async function getInvoiceXml(deps: DownloadDeps, ksefNumber: string, options: GetInvoiceOptions = {}): Promise<DownloadedInvoice> {
  const number = requireKsefNumber(ksefNumber, 'ksefNumber');
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  if (typeof maxWaitMs !== 'number' || !Number.isFinite(maxWaitMs) || maxWaitMs < 0) {
    throw new KsefInputError('options.maxWaitMs must be a number of milliseconds, 0 or more (0: ask once, do not wait).', {
      field: 'options.maxWaitMs',
    });
  }
  const { api, clock, sleep, logger } = deps;
  let notYetAvailable: KsefError | undefined;
  let hashRetried = false;

  /** The invoice, or undefined while KSeF says 21165. */
  const read = async (): Promise<DownloadedInvoice | undefined> => {
    let response: KsefResponse<Buffer>;
    try {
      response = await api<Buffer>({ method: 'GET', path: `/invoices/ksef/${number}`, responseType: 'bytes' });
    } catch (error) {
      if (error instanceof KsefError && error.hasCode(NOT_YET_AVAILABLE)) {
        notYetAvailable = error;
        logger?.info('KSeF has not made the invoice available yet (21165); asking again', { ksefNumber: number });
        return undefined;
      }
      if (error instanceof KsefError && error.hasCode(NOT_FOUND)) {
        throw new KsefNotFoundError(
          `KSeF has no invoice ${number} for this context (21164): check the number, and that this context is the invoice's seller, buyer or another of its parties.`,
          { ...errorDetails(error), field: 'ksefNumber', cause: error },
        );
      }
      throw error;
    }
    try {
      return checkedInvoice(number, response, logger);
    } catch (error) {
      // Bytes damaged on the way are asked for once more; a second mismatch is not chance.
      if (!(error instanceof KsefIntegrityError) || hashRetried) throw error;
      hashRetried = true;
      logger?.warn('The invoice XML did not match its x-ms-meta-hash; downloading it again', { ksefNumber: number });
      return read();
    }
  };

  const invoice = await pollUntil(read, (value) => value !== undefined, {
    clock,
    sleep,
    timeoutMs: maxWaitMs,
    initialDelayMs: 1000,
    maxDelayMs: 15_000,
    onTimeout: () => {
      const retryAt = new Date(clock.now().getTime() + 60_000).toISOString();
      return new KsefNotFoundError(
        `KSeF has accepted invoice ${number} but has not made it available for download yet (21165: not yet in permanent storage), after ${Math.round(maxWaitMs / 1000)} s of asking; this usually takes seconds to minutes: try again after ${retryAt}, or give a longer options.maxWaitMs.`,
        { ...errorDetails(notYetAvailable), field: 'ksefNumber', cause: notYetAvailable },
      );
    },
  });
  return invoice!;
}

/** The answer's bytes, their SHA-256 compared with `x-ms-meta-hash` when KSeF sent it. */
function checkedInvoice(ksefNumber: string, response: KsefResponse<Buffer>, logger: Logger | undefined): DownloadedInvoice {
  const xml = response.data;
  const sha256 = sha256Base64(xml);
  const announced = response.headers['x-ms-meta-hash'];
  if (announced === undefined) {
    logger?.warn('KSeF sent the invoice XML without x-ms-meta-hash; its hash could not be checked', { ksefNumber });
  } else if (announced.trim() !== sha256) {
    throw new KsefIntegrityError(
      `The XML of invoice ${ksefNumber} (${xml.length} bytes) has SHA-256 ${sha256}, not the ${announced.trim()} KSeF announced in x-ms-meta-hash: it was damaged on the way; nothing was delivered, try again.`,
    );
  }
  return { ksefNumber, xml, sha256 };
}

/** KSeF's status, exception list and trace id of `error`, kept on the clearer error that replaces it. */
function errorDetails(error: KsefError | undefined): Pick<KsefError, 'status' | 'exceptions' | 'traceId'> {
  return { status: error?.status, exceptions: error?.exceptions ?? [], traceId: error?.traceId };
}
