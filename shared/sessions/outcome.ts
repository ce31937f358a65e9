/**
 * What online and batch sessions share once invoices are in KSeF: an invoice's verdict as its result, and the wait
 * for a session's final status (faktury/sesje/sesja-sprawdzenie-stanu-i-pobranie-upo.md, CIRFMF/ksef-docs).
 */
import type { Clock, Logger, Sleep, StatusInfo } from '../protocol/types';
import type { InvoiceResult, SessionInvoiceStatus } from './types';
import type { RequestFunction } from '../http/transport';
import { KsefInvoiceRejectedError } from '../http/errors';
import { pollUntil } from '../http/backoff';
import { resolveDuplicate, type DuplicateResolution } from './duplicates';
import type { UpoDocument } from '../protocol/xml/upo';
import { errorJson } from './errorJson';
import type { UpoPage } from './upoDownload';

const SUCCESS = 200;
const DUPLICATE = 440;

/** `SessionStatusResponse` of `GET /sessions/{ref}` (open-api.json, CIRFMF/ksef-api), the fields read here. */
export interface SessionStatus {
  status: StatusInfo;
  upo?: { pages: UpoPage[] };
  invoiceCount?: number;
  successfulInvoiceCount?: number;
  failedInvoiceCount?: number;
}

/**
 * Puts KSeF's final verdict on an invoice (`status.code` ≥ 200) into its result: accepted with its KSeF number;
 * a 440 duplicate of the very same document resolved to the original's KSeF number (by `originals`, the documents
 * of the originals' session UPOs when the caller read them, else `resolveDuplicate`); else rejected with KSeF's code
 * and details.
 */
export async function applyInvoiceVerdict(
  deps: { api: RequestFunction; logger?: Logger },
  result: InvoiceResult,
  status: SessionInvoiceStatus,
  originals?: ReadonlyMap<string, UpoDocument>,
): Promise<void> {
  result.status = status.status;
  result.invoicingDate = status.invoicingDate;
  if (status.invoiceNumber) result.invoiceNumber = status.invoiceNumber;
  if (status.status.code === SUCCESS && status.ksefNumber) {
    Object.assign(result, {
      accepted: true,
      ksefNumber: status.ksefNumber,
      acquisitionDate: status.acquisitionDate,
      permanentStorageDate: status.permanentStorageDate,
      invoicingMode: status.invoicingMode,
    });
    return;
  }
  const resolution =
    status.status.code === DUPLICATE ? await resolveDuplicateOf(deps, status.status, result.invoiceHash, originals) : undefined;
  if (resolution) {
    Object.assign(result, {
      accepted: true,
      ksefNumber: resolution.ksefNumber,
      resolvedFromDuplicate: { originalSessionReferenceNumber: resolution.originalSessionReferenceNumber },
    });
    if (resolution.upo) {
      Object.assign(result, {
        upo: resolution.upo,
        acquisitionDate: resolution.acquisitionDate,
        invoicingMode: resolution.invoicingMode,
      });
    }
    deps.logger?.info('A duplicate was the same invoice sent before; using its KSeF number', {
      index: result.index,
      ksefNumber: resolution.ksefNumber,
    });
    return;
  }
  result.error = invoiceRejection(result.index, status.status).toJSON();
}

/** `resolveDuplicate`, or the same answer from the original's document in its session UPO when that was read. */
async function resolveDuplicateOf(
  deps: { api: RequestFunction; logger?: Logger },
  status: StatusInfo,
  invoiceHash: string,
  originals: ReadonlyMap<string, UpoDocument> | undefined,
): Promise<DuplicateResolution | undefined> {
  const ksefNumber = status.extensions?.originalKsefNumber;
  const originalSessionReferenceNumber = status.extensions?.originalSessionReferenceNumber;
  const original = ksefNumber ? originals?.get(ksefNumber) : undefined;
  if (!original?.invoiceHash || !ksefNumber || !originalSessionReferenceNumber) return resolveDuplicate(deps, status, invoiceHash);
  if (original.invoiceHash !== invoiceHash) return undefined;
  return { ksefNumber, originalSessionReferenceNumber, acquisitionDate: original.acquisitionDate, invoicingMode: original.invoicingMode };
}

export function invoiceRejection(index: number, status: StatusInfo): KsefInvoiceRejectedError {
  const details = status.details?.length ? `: ${status.details.join(' ')}` : '';
  return new KsefInvoiceRejectedError(`KSeF rejected invoices[${index}] (${status.code} ${status.description})${details}`, status, {
    field: `invoices[${index}]`,
  });
}

/**
 * Polls `GET /sessions/{ref}` until the session is final (status ≥ 200) or `deadline` (epoch ms) passes; undefined
 * when it was not final in time, with pauses growing from 0.5 s to `maxDelayMs` (default 10 s). A read that fails is
 * logged and asked again; `onRead` sees every status read. The status is read at least once, however near the deadline.
 */
export async function waitForFinalSessionStatus(
  deps: { api: RequestFunction; clock: Clock; sleep: Sleep; logger?: Logger },
  referenceNumber: string,
  deadline: number,
  { onRead, maxDelayMs = 10_000 }: { onRead?: (status: SessionStatus) => void; maxDelayMs?: number } = {},
): Promise<SessionStatus | undefined> {
  const { clock, sleep, logger } = deps;
  let first = true;
  const status = await pollUntil(
    async () => {
      // The first read carries no deadline, so it waits for KSeF's rate limits as any request does: with no wait
      // (waitForProcessingMs 0) the deadline is already over when the read goes, and the pacer would refuse it.
      const wait = first ? {} : { deadline: new Date(deadline) };
      first = false;
      let read: SessionStatus;
      try {
        read = (await deps.api<SessionStatus>({ method: 'GET', path: `/sessions/${referenceNumber}`, ...wait })).data;
      } catch (error) {
        logger?.warn('Could not read the session status; will ask again', { reason: errorJson(error).message });
        return undefined;
      }
      onRead?.(read);
      return read;
    },
    (read) => (read?.status.code ?? 0) >= SUCCESS,
    { clock, sleep, timeoutMs: deadline - clock.now().getTime(), initialDelayMs: 500, maxDelayMs },
  );
  return status && status.status.code >= SUCCESS ? status : undefined;
}
