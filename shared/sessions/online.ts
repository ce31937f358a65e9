import type {
  Clock,
  InvoiceInput,
  InvoiceResult,
  Logger,
  SendInvoicesOptions,
  SendInvoicesResult,
  SessionInvoiceStatus,
  SessionUpoPage,
  Sleep,
  StatusInfo,
} from '../types';
import { INVOICE_SCHEMAS, type InvoiceSchema } from '../protocol/model/formCodes';
import { checkSchema, prepareInvoice, type PreparedInvoice } from './prepare';
import { aesEncrypt, newSymmetricKey, type SymmetricKey } from '../protocol/crypto/aes';
import { rsaOaepEncrypt } from '../protocol/crypto/rsa';
import { sha256Base64 } from '../protocol/crypto/hashes';
import type { PublicKeys } from '../security/publicKeys';
import { KsefError, KsefInputError, KsefInvoiceRejectedError, KsefNetworkError, KsefRateLimitError } from '../http/errors';
import type { RequestFunction } from '../http/transport';
import { backoffDelayMs, pollUntil } from '../http/backoff';
import { forEachWithConcurrency } from '../util/concurrency';
import { listSessionInvoices } from './invoices';
import { readUpoDocuments, upoMismatch, type UpoSubject } from '../protocol/xml/upo';

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
/** The largest page of `GET /sessions/{ref}/invoices`: one request reads the status of up to 1000 invoices. */
const LIST_PAGE_SIZE = 1000;
/** Rounds over a UPO's sources (storage link, then API) before it is reported missing. */
const UPO_ROUNDS = 3;
const SUCCESS = 200;
const DUPLICATE = 440;

interface DuplicateResolution {
  ksefNumber: string;
  originalSessionReferenceNumber: string;
  upo?: string;
}

/**
 * Sends invoices in one online session (online-sessions docs, CIRFMF/ksef-docs): checks each locally, opens the
 * session with a fresh AES key, sends them as fast as KSeF's rate limits allow until `sendDeadlineMs`, waits for the
 * verdicts through the session's invoice list, closes, and collects the UPOs. Results come in input order and one
 * invoice's failure never stops the others.
 */
export async function sendInvoicesOnline(
  deps: OnlineSessionDeps,
  inputs: InvoiceInput[],
  options: SendInvoicesOptions = {},
): Promise<Omit<SendInvoicesResult, 'environment'>> {
  const schema = checkSchema(options.schema);
  const waitMs = checkDuration(options.waitForProcessingMs, DEFAULT_WAIT_FOR_PROCESSING_MS, 'options.waitForProcessingMs');
  const sendDeadlineMs = checkDuration(options.sendDeadlineMs, DEFAULT_SEND_DEADLINE_MS, 'options.sendDeadlineMs');
  if (!Array.isArray(inputs)) {
    throw new KsefInputError('invoices must be an array of invoice XML strings, Buffers or { xml } objects.', { field: 'invoices' });
  }
  const { clock } = deps;
  const sendDeadline = new Date(clock.now().getTime() + sendDeadlineMs);
  const prepared = inputs.map((input, index) => prepareInvoice(input, index, schema, options.offlineMode ?? false));
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

  const outcome: Omit<SendInvoicesResult, 'environment'> = { sessionReferenceNumber: session.referenceNumber, invoices: results };
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

/**
 * Whether KSeF may have taken an invoice although its answer did not arrive or cannot be read: no answer, a
 * gateway error (502/504 after KSeF processed it), or a 2xx whose body is not JSON.
 */
function answerLost(error: unknown): boolean {
  if (error instanceof KsefNetworkError) return true;
  if (!(error instanceof KsefError) || error.status === undefined) return false;
  return error.status >= 500 || (error.status >= 200 && error.status < 300);
}

/** The same request function with a deadline on every request: waits for rate limits end there. */
function withDeadline(api: RequestFunction, deadline: number): RequestFunction {
  return (request) => api({ ...request, deadline: new Date(deadline) });
}

/** KSeF's answer to closing a session whose status is no longer 100 (open). */
const SESSION_NOT_OPEN_CODE = 21180;

export function errorJson(error: unknown): Record<string, unknown> {
  if (error instanceof KsefError) return error.toJSON();
  return { name: 'Error', message: error instanceof Error ? error.message : String(error) };
}

/** The requests of one online session and the bookkeeping between them. */
class OnlineSession {
  referenceNumber = '';
  private readonly key: SymmetricKey = newSymmetricKey();
  /** Storage URLs of invoice UPOs, by input index, as the final status gave them. */
  private readonly upoUrls = new Map<number, string>();
  /** Reference numbers already given to an invoice of this call, so two identical invoices never share one. */
  private readonly claimed = new Set<string>();

  constructor(private readonly deps: OnlineSessionDeps) {}

  async open(schema: InvoiceSchema, deadline: Date): Promise<void> {
    const { api, publicKeys } = this.deps;
    const response = await publicKeys.withKey('SymmetricKeyEncryption', (publicKey) =>
      api<{ referenceNumber: string; validUntil: string }>({
        method: 'POST',
        path: '/sessions/online',
        json: {
          formCode: INVOICE_SCHEMAS[schema].formCode,
          encryption: {
            encryptedSymmetricKey: rsaOaepEncrypt(publicKey.key, this.key.key).toString('base64'),
            initializationVector: this.key.iv.toString('base64'),
            publicKeyId: publicKey.publicKeyId,
          },
        },
        // A second session, if the first answer was lost, stays empty and KSeF cancels it.
        idempotent: true,
        deadline,
      }),
    );
    this.referenceNumber = response.data.referenceNumber;
    this.deps.logger?.info('KSeF online session opened', { sessionReferenceNumber: this.referenceNumber, schema });
  }

  /**
   * Sends one invoice and returns its reference number. When the answer is lost or unreadable (no answer, 5xx, a
   * body that is not JSON), KSeF may have taken the invoice: the session's invoice list is asked first, by invoice
   * hash. An invoice missing there is sent once more only after a network error (as a POST that failed with 5xx is
   * never repeated blindly); should both copies arrive after all, KSeF marks the second a duplicate (440) of the
   * first, which `waitForInvoices` resolves to the first one's KSeF number.
   */
  async send(invoice: PreparedInvoice, deadline: Date): Promise<string> {
    const encrypted = aesEncrypt(invoice.xml, this.key);
    const request = () =>
      this.deps.api<{ referenceNumber: string }>({
        method: 'POST',
        path: `/sessions/online/${this.referenceNumber}/invoices`,
        json: {
          invoiceHash: invoice.invoiceHash,
          invoiceSize: invoice.xml.length,
          encryptedInvoiceHash: sha256Base64(encrypted),
          encryptedInvoiceSize: encrypted.length,
          encryptedInvoiceContent: encrypted.toString('base64'),
          offlineMode: invoice.offlineMode,
          ...(invoice.hashOfCorrectedInvoice && { hashOfCorrectedInvoice: invoice.hashOfCorrectedInvoice }),
        },
        deadline,
      });
    try {
      return this.claim((await request()).data.referenceNumber);
    } catch (error) {
      if (!answerLost(error)) throw error;
      const known = await this.findSentInvoice(invoice, deadline.getTime());
      if (known) {
        this.deps.logger?.info('KSeF had taken an invoice whose answer was lost; using its reference number', {
          index: invoice.index,
          referenceNumber: known,
        });
        return this.claim(known);
      }
      if (!(error instanceof KsefNetworkError)) throw error;
      this.deps.logger?.warn('Sending an invoice got no usable answer and KSeF does not list it; sending it once more', {
        index: invoice.index,
        reason: errorJson(error).message,
      });
      await this.deps.sleep(backoffDelayMs(1));
      return this.claim((await request()).data.referenceNumber);
    }
  }

  /** The reference number of `invoice` in this session's invoice list (same invoice hash, not yet claimed). */
  private async findSentInvoice(invoice: PreparedInvoice, deadline: number): Promise<string | undefined> {
    try {
      const api = withDeadline(this.deps.api, deadline);
      for await (const listed of listSessionInvoices(api, this.referenceNumber, { pageSize: LIST_PAGE_SIZE })) {
        if (listed.invoiceHash === invoice.invoiceHash && !this.claimed.has(listed.referenceNumber)) return listed.referenceNumber;
      }
    } catch (error) {
      this.deps.logger?.warn("Could not read the session's invoice list", { index: invoice.index, reason: errorJson(error).message });
    }
    return undefined;
  }

  private claim(referenceNumber: string): string {
    this.claimed.add(referenceNumber);
    return referenceNumber;
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
    const url = this.upoUrls.get(result.index);
    const downloaded = await this.downloadUpo(
      [...(url ? [url] : []), `/sessions/${this.referenceNumber}/invoices/ksef/${result.ksefNumber}/upo`],
      { ksefNumber: result.ksefNumber!, invoiceHash: result.invoiceHash },
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
  async waitForSession(deadline: number): Promise<SessionStatus | undefined> {
    const { clock, sleep, logger } = this.deps;
    const api = withDeadline(this.deps.api, deadline);
    const status = await pollUntil(
      async () => {
        try {
          return (await api<SessionStatus>({ method: 'GET', path: `/sessions/${this.referenceNumber}` })).data;
        } catch (error) {
          logger?.warn('Could not read the session status; will ask again', { reason: errorJson(error).message });
          return undefined;
        }
      },
      (read) => (read?.status.code ?? 0) >= SUCCESS,
      { clock, sleep, timeoutMs: deadline - clock.now().getTime(), initialDelayMs: 500, maxDelayMs: 10_000 },
    );
    return status && status.status.code >= SUCCESS ? status : undefined;
  }

  /** The session UPO pages that could be obtained, and why the others could not. */
  async fetchSessionUpo(pages: UpoPage[]): Promise<{ pages: SessionUpoPage[]; problem?: Record<string, unknown> }> {
    const downloaded: SessionUpoPage[] = [];
    const problems: string[] = [];
    for (const page of pages) {
      const result = await this.downloadUpo(
        [...(page.downloadUrl ? [page.downloadUrl] : []), `/sessions/${this.referenceNumber}/upo/${page.referenceNumber}`],
        { sessionReferenceNumber: this.referenceNumber },
        { page: page.referenceNumber },
      );
      if ('upo' in result) downloaded.push({ referenceNumber: page.referenceNumber, upo: result.upo });
      else problems.push(`page ${page.referenceNumber}: ${result.problem}`);
    }
    if (problems.length === 0) return { pages: downloaded };
    const message = `The session UPO of ${this.referenceNumber} could not be obtained (${problems.join('; ')}). Download it later.`;
    return { pages: downloaded, problem: new KsefError(message).toJSON() };
  }

  /**
   * The UPO of `subject`, from the storage URL KSeF gave (no token), else from the API endpoint, over a few rounds
   * with growing pauses. An answer that is not this UPO (e.g. an HTML page a storage front end served with 200) is
   * never kept; when no round gives the UPO, the problems of the last round say why.
   */
  private async downloadUpo(
    sources: string[],
    subject: UpoSubject,
    about: Record<string, unknown>,
  ): Promise<{ upo: string } | { problem: string }> {
    let problems: string[] = [];
    for (let round = 0; round < UPO_ROUNDS; round++) {
      if (round > 0) await this.deps.sleep(backoffDelayMs(round, 1000, 5000));
      problems = [];
      for (const path of sources) {
        // A storage URL carries its signature in the query: name it without.
        const source = /^https?:\/\//i.test(path) ? 'the storage link' : path;
        try {
          const xml = (await this.deps.api<string>({ method: 'GET', path, responseType: 'text' })).data;
          const mismatch = upoMismatch(xml, subject);
          if (!mismatch) return { upo: xml };
          problems.push(`${source} did not answer with this UPO (${mismatch})`);
        } catch (error) {
          problems.push(`${source} failed (${String(errorJson(error).message)})`);
        }
        this.deps.logger?.warn('Could not download a UPO', { ...about, source, reason: problems[problems.length - 1] });
      }
    }
    return { problem: problems.join('; ') };
  }

  private async applyVerdict(result: InvoiceResult, status: SessionInvoiceStatus): Promise<void> {
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
      if (status.upoDownloadUrl) this.upoUrls.set(result.index, status.upoDownloadUrl);
      return;
    }
    const resolution = status.status.code === DUPLICATE ? await this.sameAsOriginal(status.status, result.invoiceHash) : undefined;
    if (resolution) {
      Object.assign(result, {
        accepted: true,
        ksefNumber: resolution.ksefNumber,
        resolvedFromDuplicate: { originalSessionReferenceNumber: resolution.originalSessionReferenceNumber },
        ...(resolution.upo && { upo: resolution.upo }),
      });
      const original = resolution.upo && readUpoDocuments(resolution.upo).find((doc) => doc.ksefNumber === resolution.ksefNumber);
      if (original) {
        Object.assign(result, { acquisitionDate: original.acquisitionDate, invoicingMode: original.invoicingMode });
      }
      this.deps.logger?.info('A duplicate was the same invoice sent before; using its KSeF number', {
        index: result.index,
        ksefNumber: resolution.ksefNumber,
      });
      return;
    }
    result.error = rejection(result.index, status.status).toJSON();
  }

  /**
   * For a 440 duplicate: is the original the very same document (same invoiceHash)? Compared through the
   * original's UPO (`SkrotDokumentu`), else through the original invoice itself.
   */
  private async sameAsOriginal(status: StatusInfo, invoiceHash: string): Promise<DuplicateResolution | undefined> {
    const ksefNumber = status.extensions?.originalKsefNumber;
    const originalSessionReferenceNumber = status.extensions?.originalSessionReferenceNumber;
    if (!ksefNumber || !originalSessionReferenceNumber) return undefined;
    const { api, logger } = this.deps;
    try {
      const upo = (
        await api<string>({
          method: 'GET',
          path: `/sessions/${originalSessionReferenceNumber}/invoices/ksef/${ksefNumber}/upo`,
          responseType: 'text',
        })
      ).data;
      // Only a real UPO of the original counts (never a page a storage front end served in its place).
      const original = upoMismatch(upo, { ksefNumber, invoiceHash })
        ? undefined
        : readUpoDocuments(upo).find((doc) => doc.ksefNumber === ksefNumber);
      if (original?.invoiceHash) {
        return original.invoiceHash === invoiceHash ? { ksefNumber, originalSessionReferenceNumber, upo } : undefined;
      }
    } catch (error) {
      logger?.debug('The UPO of the original invoice is not available', { reason: errorJson(error).message });
    }
    try {
      const original = (await api<Buffer>({ method: 'GET', path: `/invoices/ksef/${ksefNumber}`, responseType: 'bytes' })).data;
      return sha256Base64(original) === invoiceHash ? { ksefNumber, originalSessionReferenceNumber } : undefined;
    } catch (error) {
      logger?.warn('Could not compare a duplicate with its original; reporting it as a duplicate', {
        reason: errorJson(error).message,
      });
      return undefined;
    }
  }
}

function rejection(index: number, status: StatusInfo): KsefInvoiceRejectedError {
  const details = status.details?.length ? `: ${status.details.join(' ')}` : '';
  return new KsefInvoiceRejectedError(`KSeF rejected invoices[${index}] (${status.code} ${status.description})${details}`, status, {
    field: `invoices[${index}]`,
  });
}

interface UpoPage {
  referenceNumber: string;
  downloadUrl?: string;
}

interface SessionStatus {
  status: StatusInfo;
  upo?: { pages: UpoPage[] };
}
