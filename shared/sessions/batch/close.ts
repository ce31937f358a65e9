/**
 * The end of a batch session: the close, never repeated blindly, and the outcome read back from KSeF (the session's
 * status until it is final, its invoice list mapped back to the caller's invoices, its UPO pages).
 */
import type { Clock, Logger, Sleep, StatusInfo } from '../../protocol/types';
import { batchSessionStatusMeaning } from '../../protocol/model/statusCodes';
import type { RequestFunction } from '../../http/transport';
import { KsefBatchSessionFailedError, KsefError } from '../../http/errors';
import type { BatchSessionResult, InvoiceResult, SessionInvoiceStatus } from '../types';
import { listSessionInvoices } from '../invoices';
import { LIST_PAGE_SIZE, answerLost } from '../send';
import { applyInvoiceVerdict, waitForFinalSessionStatus, type SessionStatus } from '../outcome';
import { downloadSessionUpo } from '../upoDownload';
import { readUpoDocuments, type UpoDocument } from '../../protocol/xml/upo';
import { errorJson } from '../errorJson';

export interface BatchCloseDeps {
  api: RequestFunction;
  clock: Clock;
  sleep: Sleep;
  logger?: Logger;
}

const OPEN = 100;
const SUCCESS = 200;
const DUPLICATE = 440;
/** KSeF's answer to closing a session that is no longer open (an earlier close took it, or KSeF ended it). */
const SESSION_NOT_OPEN = 21180;
/** Close refusals that end the session (open-api.json, `POST /sessions/batch/{ref}/close`): a part missing or of another size, the upload window over. */
const CLOSE_REFUSALS = new Set([21157, 21205, 21208]);
/**
 * Longest pause between status reads while KSeF processes a package: short, since one session is watched at a time
 * and a big package's results are awaited as they come (20 reads a minute, a sixth of KSeF's `sessionMisc` limit).
 */
const STATUS_POLL_MAX_DELAY_MS = 3000;
/** Closes after a lost answer while the session still reads open (100), before giving up. */
const MAX_CLOSE_ATTEMPTS = 3;

/**
 * `POST /sessions/batch/{ref}/close`. A close whose answer is lost (no answer, 5xx) may have been taken (KSeF has
 * been seen answering 502 to a close it accepted), and a second close of a session already processing is refused:
 * the session's status is read first, and the close sent again only while it still reads open (100). Returns why
 * KSeF refused the close, ending the session (a part missing or of another size, 21208 the upload window over),
 * or undefined once KSeF took the close.
 */
export async function closeBatchSession(deps: BatchCloseDeps, referenceNumber: string): Promise<string | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.api({ method: 'POST', path: `/sessions/batch/${referenceNumber}/close` });
      return undefined;
    } catch (error) {
      if (error instanceof KsefError && error.hasCode(SESSION_NOT_OPEN)) return undefined;
      const refusal = error instanceof KsefError ? error.exceptions.find((e) => CLOSE_REFUSALS.has(e.code)) : undefined;
      if (refusal)
        return `was refused its close (${refusal.code} ${refusal.description}${refusal.details?.length ? `: ${refusal.details.join(' ')}` : ''})`;
      if (!answerLost(error)) throw error;
      const { status } = (await deps.api<SessionStatus>({ method: 'GET', path: `/sessions/${referenceNumber}` })).data;
      if (status.code !== OPEN) {
        deps.logger?.info('KSeF had taken a batch session close whose answer was lost', {
          sessionReferenceNumber: referenceNumber,
          status: status.code,
        });
        return undefined;
      }
      if (attempt >= MAX_CLOSE_ATTEMPTS) throw error;
      deps.logger?.warn('A batch session close got no usable answer and the session is still open; closing it again', {
        sessionReferenceNumber: referenceNumber,
        reason: errorJson(error).message,
      });
    }
  }
}

/** One invoice of the session as the caller knows it: its result, file name and hash. */
export interface BatchInvoice {
  result: InvoiceResult;
  fileName: string;
}

/**
 * Waits until the closed session is final or `deadline` (epoch ms), then puts each invoice's outcome into its
 * result, found in the session's invoice list by file name (else by hash): its ordinal number and KSeF number, or
 * KSeF's rejection; a session that failed as a whole fails each of its invoices with its status. Invoices of a
 * session still processing at the deadline come back pending. Returns the session's result and whether it is final.
 */
export async function collectBatchOutcome(
  deps: BatchCloseDeps,
  referenceNumber: string,
  invoices: BatchInvoice[],
  how: { deadline: number; fetchUpo: boolean; partCount: number; onStatus: (status: SessionStatus) => void },
): Promise<{ session: BatchSessionResult; final: boolean }> {
  let last: SessionStatus | undefined;
  const final = await waitForFinalSessionStatus(deps, referenceNumber, how.deadline, {
    onRead: (read) => {
      last = read;
      how.onStatus(read);
    },
    maxDelayMs: STATUS_POLL_MAX_DELAY_MS,
  });
  const session: BatchSessionResult = {
    sessionReferenceNumber: referenceNumber,
    invoiceCount: invoices.length,
    partCount: how.partCount,
    ...(last && { status: last.status }),
  };
  if (!final) {
    for (const { result } of invoices) Object.assign(result, { pending: true, ...(last && { status: last.status }) });
    return { session, final: false };
  }

  const waiting = new Map(invoices.map((invoice) => [invoice.fileName, invoice]));
  // Each verdict goes into its result as its page comes, so the listed statuses are not all held at once (10,000 of
  // them in a full session); only duplicates wait, for the UPOs of their originals' sessions.
  const duplicates: { invoice: BatchInvoice; listed: SessionInvoiceStatus }[] = [];
  const apply = async (invoice: BatchInvoice, listed: SessionInvoiceStatus, originals?: ReadonlyMap<string, UpoDocument>) => {
    invoice.result.ordinalNumber = listed.ordinalNumber;
    invoice.result.referenceNumber = listed.referenceNumber;
    await applyInvoiceVerdict(deps, invoice.result, listed, originals);
  };
  for await (const listed of listSessionInvoices(deps.api, referenceNumber, { pageSize: LIST_PAGE_SIZE })) {
    const invoice = findListed(waiting, listed);
    if (!invoice) continue;
    waiting.delete(invoice.fileName);
    if (listed.status.code === DUPLICATE) duplicates.push({ invoice, listed });
    else await apply(invoice, listed);
  }
  const originals = await originalDocuments(
    deps,
    duplicates.map(({ listed }) => listed.status),
  );
  for (const { invoice, listed } of duplicates) await apply(invoice, listed, originals);
  for (const { result } of waiting.values()) {
    result.error = (
      final.status.code === SUCCESS
        ? new KsefError(
            `KSeF processed batch session ${referenceNumber} but does not list invoices[${result.index}] (${result.fileName}) among its invoices; check the session in KSeF before sending it again.`,
            { field: `invoices[${result.index}]` },
          )
        : sessionFailure(referenceNumber, result.index, endedWith(final.status), final.status)
    ).toJSON();
  }

  if (how.fetchUpo && final.status.code === SUCCESS) {
    const { pages, problem } = await downloadSessionUpo(deps, referenceNumber, final.upo?.pages ?? []);
    session.sessionUpo = pages;
    if (problem) session.sessionUpoError = problem;
  }
  return { session, final: true };
}

/**
 * The documents of the sessions that hold the originals of 440 duplicates, by KSeF number, read from those sessions'
 * UPOs: a batch sent again (e.g. after its results were lost) is resolved with one status read and its UPO pages
 * per original session, not two requests per invoice. What cannot be read is left to `resolveDuplicate`.
 */
async function originalDocuments(deps: BatchCloseDeps, statuses: StatusInfo[]): Promise<Map<string, UpoDocument>> {
  const sessions = new Set<string>();
  for (const status of statuses) {
    const session = status.code === DUPLICATE ? status.extensions?.originalSessionReferenceNumber : undefined;
    if (session) sessions.add(session);
  }
  const documents = new Map<string, UpoDocument>();
  for (const session of sessions) {
    try {
      const { data } = await deps.api<SessionStatus>({ method: 'GET', path: `/sessions/${session}` });
      const { pages } = await downloadSessionUpo(deps, session, data.upo?.pages ?? []);
      for (const page of pages) for (const document of readUpoDocuments(page.upo)) documents.set(document.ksefNumber, document);
    } catch (error) {
      deps.logger?.warn("Could not read the session UPO of duplicates' originals; resolving them one by one", {
        sessionReferenceNumber: session,
        reason: errorJson(error).message,
      });
    }
  }
  return documents;
}

/** The listed invoice's own entry: by its file name in the package, else (a KSeF that leaves the name out) by its hash. */
function findListed(waiting: Map<string, BatchInvoice>, listed: SessionInvoiceStatus): BatchInvoice | undefined {
  if (listed.invoiceFileName) return waiting.get(listed.invoiceFileName);
  for (const invoice of waiting.values()) if (invoice.result.invoiceHash === listed.invoiceHash) return invoice;
  return undefined;
}

/** Why the whole session failed, as the error of one of its invoices: `reason` continues "batch session <ref> ...". */
export function sessionFailure(referenceNumber: string, index: number, reason: string, status?: StatusInfo): KsefBatchSessionFailedError {
  return new KsefBatchSessionFailedError(
    `invoices[${index}] was not accepted: batch session ${referenceNumber} ${reason}, so none of its invoices are in KSeF. Send it again.`,
    referenceNumber,
    status,
    { field: `invoices[${index}]` },
  );
}

/** KSeF's failure status of a session, worded as a `sessionFailure` reason. */
function endedWith({ code, description, details }: StatusInfo): string {
  const meaning = batchSessionStatusMeaning(code) ?? 'undocumented status';
  return `ended with status ${code} (${meaning}; KSeF: ${description}${details?.length ? `: ${details.join(' ')}` : ''})`;
}
