import type { Clock, Logger, Sleep } from '../protocol/types';
import type { InvoiceInput, InvoiceResult, SendInvoicesOptions, SendInvoicesResult, SessionInvoiceStatus } from './types';
import { INVOICE_SCHEMAS, type InvoiceSchema } from '../protocol/model/formCodes';
import type { SymmetricKey } from '../protocol/crypto/aes';
import type { PublicKeys } from '../security/publicKeys';
import { KsefError, KsefInputError, KsefRateLimitError } from '../http/errors';
import type { RequestFunction } from '../http/transport';
import { pollUntil } from '../http/backoff';
import { forEachWithConcurrency } from '../util/concurrency';
import { checkSchema, prepareInvoiceSource, type PreparedInvoice } from './prepare';
import { openWithSessionKey } from './sessionKey';
import { LIST_PAGE_SIZE, sendInvoice, type OpenOnlineSession } from './send';
import { listSessionInvoices } from './invoices';
import { downloadInvoiceUpo, downloadSessionUpo, type UpoPage } from './upoDownload';
import { applyInvoiceVerdict, waitForFinalSessionStatus, type SessionStatus } from './outcome';
import { errorJson } from './errorJson';

export interface OnlineSessionDeps {
  /** Authenticated requests. */
  api: RequestFunction;
  publicKeys: PublicKeys;
  clock: Clock;
  sleep: Sleep;
  logger?: Logger;
}

const DEFAULT_WAIT_FOR_PROCESSING_MS = 120_000;
/** Ten minutes: enough for 180 invoices, an hour's worth at KSeF's production limit for sending. */
const DEFAULT_SEND_DEADLINE_MS = 600_000;
/** Sends overlap to hide latency; the transport's pacer keeps them within KSeF's invoiceSend limit. */
const SEND_CONCURRENCY = 4;
const UPO_CONCURRENCY = 4;
const SUCCESS = 200;

/**
 * Sends invoices in one online session (sesja-interaktywna.md, CIRFMF/ksef-docs): checks each locally, opens the
 * session with a fresh AES key, sends them as fast as KSeF's rate limits allow until `sendDeadlineMs`, waits for the
 * verdicts through the session's invoice list, closes, and collects the UPOs. Results come in input order and one
 * invoice's failure never stops the others.
 */
export async function sendInvoicesOnline(
  deps: OnlineSessionDeps,
  inputs: InvoiceInput[],
  options: SendInvoicesOptions = {},
): Promise<Omit<SendInvoicesResult, 'environment' | 'mode'>> {
  const schema = checkSchema(options.schema);
  const waitMs = checkDuration(options.waitForProcessingMs, DEFAULT_WAIT_FOR_PROCESSING_MS, 'options.waitForProcessingMs');
  const sendDeadlineMs = checkDuration(options.sendDeadlineMs, DEFAULT_SEND_DEADLINE_MS, 'options.sendDeadlineMs');
  if (!Array.isArray(inputs)) {
    throw new KsefInputError('invoices must be an array of invoice XML strings, Buffers or { xml } objects.', { field: 'invoices' });
  }
  const { clock } = deps;
  const sendDeadline = new Date(clock.now().getTime() + sendDeadlineMs);
  const prepared: PreparedInvoice[] = [];
  for (const [index, input] of inputs.entries())
    prepared.push(await prepareInvoiceSource(input, index, schema, options.offlineMode ?? false));
  const results: InvoiceResult[] = prepared.map((invoice) => ({
    index: invoice.index,
    accepted: false,
    pending: false,
    invoiceHash: invoice.invoiceHash,
    ...(invoice.invoiceNumber && { invoiceNumber: invoice.invoiceNumber }),
    ...(invoice.problem && { error: invoice.problem.toJSON() }),
  }));
  const sendable = prepared.filter((invoice) => !invoice.problem);
  if (sendable.length === 0) return { sessionReferenceNumber: '', invoices: results };

  const first = new OnlineSession(deps);
  try {
    await first.open(schema, sendDeadline);
  } catch (error) {
    // No session before the deadline: every invoice is "not sent; retry after", each named, as when sending ran out of time.
    if (!(error instanceof KsefRateLimitError)) throw error;
    for (const invoice of sendable) results[invoice.index].error = sendFailure(invoice.index, error);
    return { sessionReferenceNumber: '', invoices: results };
  }

  const sentIn = await sendInSessions(first, sendable, results, { deps, schema, sendDeadline });
  const sessions = [...new Set([first, ...sentIn.values()])];
  // The result names the session sending ended in; an invoice sent in an earlier one names its own.
  const session = sessions[sessions.length - 1];
  for (const [index, holder] of sentIn) if (holder !== session) results[index].sessionReferenceNumber = holder.referenceNumber;
  // KSeF gets the whole processing wait from the moment the last invoice went out, however long sending took.
  const processingDeadline = clock.now().getTime() + waitMs;

  const sentBy = (holder: OnlineSession) => results.filter((result) => sentIn.get(result.index) === holder);
  if (waitMs > 0) await Promise.all(sessions.map((holder) => holder.waitForInvoices(sentBy(holder), processingDeadline)));
  else for (const result of results) if (sentIn.has(result.index)) result.pending = true;

  if (options.fetchUpo ?? true) {
    await forEachWithConcurrency(
      results.filter((result) => result.accepted && !result.upo),
      UPO_CONCURRENCY,
      (result) => sentIn.get(result.index)!.fetchInvoiceUpo(result),
    );
  } else {
    // A resolved duplicate brings its original's UPO along; leave it out when UPOs were not asked for.
    for (const result of results) delete result.upo;
  }

  const outcome: Omit<SendInvoicesResult, 'environment' | 'mode'> = { sessionReferenceNumber: session.referenceNumber, invoices: results };
  if (options.closeSession ?? true) {
    // Sessions KSeF made unavailable are closed too (their invoices are in KSeF); their session UPO is not awaited.
    for (const earlier of sessions.slice(0, -1)) await earlier.close();
    const closed = await session.close();
    if (closed && waitMs > 0) {
      const status = await session.waitForSession(processingDeadline);
      if (status) outcome.sessionStatus = status.status;
      if (status?.status.code === SUCCESS) {
        const { pages, problem } = await session.fetchSessionUpo(status.upo?.pages ?? []);
        outcome.sessionUpo = pages;
        if (problem) outcome.sessionUpoError = problem;
      }
    }
  }
  return outcome;
}

/** KSeF's answer to sending into an online session it made temporarily unavailable (service work): open a new one. */
const SESSION_UNAVAILABLE_CODE = 21184;

/**
 * Sends `invoices` in `session`. When KSeF answers 21184 (open-api.json 2.8.1, CIRFMF/ksef-api: "Trwają prace
 * serwisowe i sesja ... jest tymczasowo niedostępna. Spróbuj ponownie później lub otwórz nową sesję"), the invoices
 * it has not taken go on in a new session, and so on while each session takes at least one invoice: a fresh
 * session that takes none means the service work is not about one session, and its invoices are reported not sent.
 * Returns the session each sent invoice went in, by input index.
 */
async function sendInSessions(
  session: OnlineSession,
  invoices: PreparedInvoice[],
  results: InvoiceResult[],
  how: { deps: OnlineSessionDeps; schema: InvoiceSchema; sendDeadline: Date },
): Promise<Map<number, OnlineSession>> {
  const sentIn = new Map<number, OnlineSession>();
  let current = session;
  let left = invoices;
  for (;;) {
    /** KSeF's 21184 answers in this session; once there is one, the invoices not yet sent wait for the next session. */
    const refusals: KsefError[] = [];
    const notTaken: PreparedInvoice[] = [];
    await forEachWithConcurrency(left, SEND_CONCURRENCY, async (invoice) => {
      if (refusals.length > 0) return void notTaken.push(invoice);
      try {
        results[invoice.index].referenceNumber = await current.send(invoice, how.sendDeadline);
        sentIn.set(invoice.index, current);
      } catch (error) {
        if (error instanceof KsefError && error.hasCode(SESSION_UNAVAILABLE_CODE)) {
          refusals.push(error);
          notTaken.push(invoice);
        } else {
          results[invoice.index].error = sendFailure(invoice.index, error);
        }
      }
    });
    if (refusals.length === 0) return sentIn;
    if (![...sentIn.values()].includes(current)) {
      for (const invoice of notTaken) results[invoice.index].error = sendFailure(invoice.index, refusals[0]);
      // A replacement that took nothing is closed at once (KSeF cancels an empty session); the first stays the result's.
      if (current !== session) await current.close();
      return sentIn;
    }
    how.deps.logger?.warn('KSeF made the online session temporarily unavailable (21184); sending the remaining invoices in a new session', {
      sessionReferenceNumber: current.referenceNumber,
      remaining: notTaken.length,
    });
    const next = new OnlineSession(how.deps);
    try {
      await next.open(how.schema, how.sendDeadline);
    } catch (error) {
      for (const invoice of notTaken) results[invoice.index].error = sendFailure(invoice.index, error);
      return sentIn;
    }
    current = next;
    left = notTaken.sort((a, b) => a.index - b.index);
  }
}

/** A wait in milliseconds given by the caller: a finite number ≥ 0, else a `KsefInputError` naming the option. */
function checkDuration(value: unknown, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    const given = typeof value === 'number' ? String(value) : `a ${value === null ? 'null' : typeof value}`;
    throw new KsefInputError(`${field} must be a number of milliseconds, 0 or more (got ${given}).`, { field });
  }
  return value;
}

/**
 * A send that failed, as the invoice's error: named by `invoices[i]`, and for a rate limit the time from which it
 * may be sent (KSeF refused it before doing anything, so it was not sent).
 */
function sendFailure(index: number, error: unknown): Record<string, unknown> {
  const field = `invoices[${index}]`;
  if (error instanceof KsefRateLimitError) {
    const why =
      error.status === 429
        ? 'KSeF refused it (429) and asks to wait until then, past the send deadline (options.sendDeadlineMs).'
        : "KSeF's rate limits leave no room for it before the send deadline (options.sendDeadlineMs).";
    return new KsefRateLimitError(`${field} not sent; retry after ${error.retryAt.toISOString()}. ${why}`, error.retryAt, {
      field,
      status: error.status,
      exceptions: error.exceptions,
      traceId: error.traceId,
    }).toJSON();
  }
  const json = errorJson(error);
  return { ...json, message: `${field} could not be sent: ${String(json.message)}`, field };
}

/** The same request function with a deadline on every request: waits for rate limits end there. */
function withDeadline(api: RequestFunction, deadline: number): RequestFunction {
  return (request) => api({ ...request, deadline: new Date(deadline) });
}

/** KSeF's answer to closing a session whose status is no longer 100 (open). */
const SESSION_NOT_OPEN_CODE = 21180;

/** The requests of one online session and the bookkeeping between them, told with the session units. */
class OnlineSession implements OpenOnlineSession {
  referenceNumber = '';
  key!: SymmetricKey;
  readonly claimed = new Set<string>();
  /** Storage URLs of invoice UPOs, by input index, as the final status gave them. */
  private readonly upoUrls = new Map<number, string>();

  constructor(private readonly deps: OnlineSessionDeps) {}

  /** `POST /sessions/online` with a fresh session key (sesja-interaktywna.md, CIRFMF/ksef-docs). */
  async open(schema: InvoiceSchema, deadline: Date): Promise<void> {
    const { api, publicKeys } = this.deps;
    const { key, opened } = await openWithSessionKey(publicKeys, (encryption) =>
      api<{ referenceNumber: string; validUntil: string }>({
        method: 'POST',
        path: '/sessions/online',
        json: { formCode: INVOICE_SCHEMAS[schema].formCode, encryption },
        // A second session, if the first answer was lost, stays empty and KSeF cancels it.
        idempotent: true,
        deadline,
      }),
    );
    this.key = key;
    this.referenceNumber = opened.data.referenceNumber;
    this.deps.logger?.info('KSeF online session opened', { sessionReferenceNumber: this.referenceNumber, schema });
  }

  /** Sends one invoice (retried and reconciled by hash when the answer is lost); returns its reference number. */
  send(invoice: PreparedInvoice, deadline: Date): Promise<string> {
    const { api, sleep, logger } = this.deps;
    return sendInvoice({ api: withDeadline(api, deadline.getTime()), sleep, logger }, this, invoice);
  }

  /**
   * Waits until KSeF gives every sent invoice its verdict (status ≥ 200) or the deadline passes. Reads the session's
   * invoice list (one request per 1000 invoices) with growing pauses, never each invoice on its own: KSeF allows 200
   * list reads an hour against 1,200 single-status reads, and a list page answers for all the invoices at once.
   */
  async waitForInvoices(sent: InvoiceResult[], deadline: number): Promise<void> {
    const { clock, sleep, logger } = this.deps;
    const waiting = new Map(sent.map((result) => [result.referenceNumber!, result]));
    const api = withDeadline(this.deps.api, deadline);
    await pollUntil(
      async () => {
        try {
          for await (const listed of listSessionInvoices(api, this.referenceNumber, { pageSize: LIST_PAGE_SIZE })) {
            const result = waiting.get(listed.referenceNumber);
            if (!result || listed.invoiceHash !== result.invoiceHash) continue;
            if (listed.status.code >= SUCCESS) {
              waiting.delete(listed.referenceNumber);
              await this.applyVerdict(result, listed);
              if (waiting.size === 0) break;
            } else {
              result.status = listed.status;
            }
          }
        } catch (error) {
          logger?.warn("Could not read the session's invoice statuses; will ask again", { reason: errorJson(error).message });
        }
        return waiting.size;
      },
      (left) => left === 0,
      { clock, sleep, timeoutMs: deadline - clock.now().getTime(), initialDelayMs: 500, maxDelayMs: 10_000 },
    );
    for (const result of waiting.values()) result.pending = true;
  }

  /** The invoice's UPO into `upo`; when no source gave this invoice's UPO, why into `upoError`. */
  async fetchInvoiceUpo(result: InvoiceResult): Promise<void> {
    const downloaded = await downloadInvoiceUpo(
      this.deps,
      this.referenceNumber,
      { ksefNumber: result.ksefNumber!, invoiceHash: result.invoiceHash, upoDownloadUrl: this.upoUrls.get(result.index) },
      { index: result.index },
    );
    if ('upo' in downloaded) {
      result.upo = downloaded.upo;
      return;
    }
    result.upoError = new KsefError(
      `The UPO of invoices[${result.index}] (KSeF number ${result.ksefNumber}) could not be obtained: ${downloaded.problem}. The invoice is in KSeF; download its UPO later.`,
      { field: `invoices[${result.index}]` },
    ).toJSON();
  }

  /** `POST /sessions/online/{ref}/close`; false (logged) when KSeF refused, so the results are still returned. */
  async close(): Promise<boolean> {
    try {
      await this.deps.api({ method: 'POST', path: `/sessions/online/${this.referenceNumber}/close`, idempotent: true });
      return true;
    } catch (error) {
      // The session is no longer open: an earlier close whose answer was lost, or KSeF closed it itself.
      if (error instanceof KsefError && error.hasCode(SESSION_NOT_OPEN_CODE)) return true;
      this.deps.logger?.error('Could not close the KSeF online session', {
        sessionReferenceNumber: this.referenceNumber,
        reason: errorJson(error).message,
      });
      return false;
    }
  }

  /** Polls the closed session until it is final; undefined when it was not within the deadline. */
  waitForSession(deadline: number): Promise<SessionStatus | undefined> {
    return waitForFinalSessionStatus(this.deps, this.referenceNumber, deadline);
  }

  /** The session UPO pages that could be obtained, and why the others could not. */
  fetchSessionUpo(pages: UpoPage[]): ReturnType<typeof downloadSessionUpo> {
    return downloadSessionUpo(this.deps, this.referenceNumber, pages);
  }

  private async applyVerdict(result: InvoiceResult, status: SessionInvoiceStatus): Promise<void> {
    await applyInvoiceVerdict(this.deps, result, status);
    if (status.status.code === SUCCESS && status.ksefNumber && status.upoDownloadUrl) this.upoUrls.set(result.index, status.upoDownloadUrl);
  }
}
