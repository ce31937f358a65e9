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
import { INVOICE_SCHEMAS, type InvoiceSchema } from '../model/formCodes';
import { checkSchema, prepareInvoice, type PreparedInvoice } from './prepare';
import { aesEncrypt, newSymmetricKey, type SymmetricKey } from '../crypto/aes';
import { rsaOaepEncrypt } from '../crypto/rsa';
import { sha256Base64 } from '../crypto/hashes';
import type { PublicKeys } from '../crypto/publicKeys';
import { KsefError, KsefInputError, KsefInvoiceRejectedError, KsefNetworkError } from '../http/errors';
import type { RequestFunction } from '../http/transport';
import { backoffDelayMs } from '../http/backoff';
import { forEachWithConcurrency } from '../util/concurrency';
import { readUpoDocuments } from './upo';

export interface OnlineSessionDeps {
  /** Authenticated requests. */
  api: RequestFunction;
  publicKeys: PublicKeys;
  clock: Clock;
  sleep: Sleep;
  logger?: Logger;
}

const DEFAULT_WAIT_FOR_PROCESSING_MS = 120_000;
/** Parallel sends stay well under KSeF's invoiceSend limit of 10 per second (NOTES.md 8). */
const SEND_CONCURRENCY = 4;
const STATUS_CONCURRENCY = 4;
const SUCCESS = 200;
const DUPLICATE = 440;

interface DuplicateResolution {
  ksefNumber: string;
  originalSessionReferenceNumber: string;
  upo?: string;
}

/**
 * Sends invoices in one online session (NOTES.md 4.7): checks each locally, opens the session with a fresh
 * AES key, sends with bounded concurrency, waits for the verdicts, closes, and collects the UPOs. Results come
 * in input order and one invoice's failure never stops the others.
 */
export async function sendInvoicesOnline(
  deps: OnlineSessionDeps,
  inputs: InvoiceInput[],
  options: SendInvoicesOptions = {},
): Promise<SendInvoicesResult> {
  const schema = checkSchema(options.schema);
  if (!Array.isArray(inputs)) {
    throw new KsefInputError('invoices must be an array of invoice XML strings, Buffers or { xml } objects.', { field: 'invoices' });
  }
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

  const session = new OnlineSession(deps);
  await session.open(schema);
  const waitMs = options.waitForProcessingMs ?? DEFAULT_WAIT_FOR_PROCESSING_MS;
  const deadline = deps.clock.now().getTime() + waitMs;

  await forEachWithConcurrency(sendable, SEND_CONCURRENCY, async (invoice) => {
    try {
      results[invoice.index].referenceNumber = await session.send(invoice);
    } catch (error) {
      results[invoice.index].error = errorJson(error);
    }
  });

  const sent = results.filter((result) => result.referenceNumber);
  if (waitMs > 0) await session.waitForInvoices(sent, deadline);
  else for (const result of sent) result.pending = true;

  if (options.fetchUpo ?? true) {
    await forEachWithConcurrency(
      results.filter((result) => result.accepted && !result.upo),
      STATUS_CONCURRENCY,
      (result) => session.fetchInvoiceUpo(result),
    );
  } else {
    // A resolved duplicate brings its original's UPO along; leave it out when UPOs were not asked for.
    for (const result of results) delete result.upo;
  }

  const outcome: SendInvoicesResult = { sessionReferenceNumber: session.referenceNumber, invoices: results };
  if (options.closeSession ?? true) {
    const closed = await session.close();
    if (closed && waitMs > 0) {
      const status = await session.waitForSession(deadline);
      if (status) outcome.sessionStatus = status.status;
      if (status?.status.code === SUCCESS) outcome.sessionUpo = await session.fetchSessionUpo(status.upo?.pages ?? []);
    }
  }
  return outcome;
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

  constructor(private readonly deps: OnlineSessionDeps) {}

  async open(schema: InvoiceSchema): Promise<void> {
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
      }),
    );
    this.referenceNumber = response.data.referenceNumber;
    this.deps.logger?.info('KSeF online session opened', { sessionReferenceNumber: this.referenceNumber, schema });
  }

  /**
   * Sends one invoice and returns its reference number. When the answer is lost (network error, timeout) it
   * sends once more: should both arrive, KSeF marks the second a duplicate (440) of the first, which
   * `waitForInvoices` resolves to the first one's KSeF number.
   */
  async send(invoice: PreparedInvoice): Promise<string> {
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
      });
    try {
      return (await request()).data.referenceNumber;
    } catch (error) {
      if (!(error instanceof KsefNetworkError)) throw error;
      this.deps.logger?.warn('Sending an invoice got no answer; sending it once more', { index: invoice.index });
      await this.deps.sleep(backoffDelayMs(1));
      return (await request()).data.referenceNumber;
    }
  }

  /** Polls every sent invoice until KSeF gives its verdict (status ≥ 200) or the deadline passes. */
  async waitForInvoices(sent: InvoiceResult[], deadline: number): Promise<void> {
    const { clock, sleep, logger } = this.deps;
    let waiting = sent;
    for (let retry = 0; waiting.length > 0; retry++) {
      const finished = new Set<InvoiceResult>();
      await forEachWithConcurrency(waiting, STATUS_CONCURRENCY, async (result) => {
        try {
          const status = await this.invoiceStatus(result.referenceNumber!);
          if (status.status.code >= SUCCESS) {
            await this.applyVerdict(result, status);
            finished.add(result);
          } else {
            result.status = status.status;
          }
        } catch (error) {
          logger?.warn('Could not read an invoice status; will ask again', { index: result.index, reason: errorJson(error).message });
        }
      });
      waiting = waiting.filter((result) => !finished.has(result));
      const remaining = deadline - clock.now().getTime();
      if (waiting.length === 0 || remaining <= 0) break;
      await sleep(Math.min(remaining, backoffDelayMs(retry, 200, 3000)));
    }
    for (const result of waiting) result.pending = true;
  }

  async fetchInvoiceUpo(result: InvoiceResult): Promise<void> {
    const url = this.upoUrls.get(result.index);
    const upo = await this.downloadUpo(
      [...(url ? [url] : []), `/sessions/${this.referenceNumber}/invoices/ksef/${result.ksefNumber}/upo`],
      { index: result.index },
    );
    if (upo) result.upo = upo;
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
    for (let retry = 0; ; retry++) {
      try {
        const status = (await this.deps.api<SessionStatus>({ method: 'GET', path: `/sessions/${this.referenceNumber}` })).data;
        if (status.status.code >= SUCCESS) return status;
      } catch (error) {
        logger?.warn('Could not read the session status; will ask again', { reason: errorJson(error).message });
      }
      const remaining = deadline - clock.now().getTime();
      if (remaining <= 0) return undefined;
      await sleep(Math.min(remaining, backoffDelayMs(retry, 200, 3000)));
    }
  }

  async fetchSessionUpo(pages: UpoPage[]): Promise<SessionUpoPage[]> {
    const downloaded: SessionUpoPage[] = [];
    for (const page of pages) {
      const upo = await this.downloadUpo(
        [...(page.downloadUrl ? [page.downloadUrl] : []), `/sessions/${this.referenceNumber}/upo/${page.referenceNumber}`],
        { page: page.referenceNumber },
      );
      if (upo) downloaded.push({ referenceNumber: page.referenceNumber, upo });
    }
    return downloaded;
  }

  /** From the storage URL KSeF gave (no token), else from the API endpoint; undefined (logged) when neither works. */
  private async downloadUpo(paths: string[], about: Record<string, unknown>): Promise<string | undefined> {
    for (const path of paths) {
      try {
        return (await this.deps.api<string>({ method: 'GET', path, responseType: 'text' })).data;
      } catch (error) {
        this.deps.logger?.warn('Could not download a UPO', { ...about, reason: errorJson(error).message });
      }
    }
    return undefined;
  }

  private async invoiceStatus(invoiceReferenceNumber: string): Promise<SessionInvoiceStatus> {
    const path = `/sessions/${this.referenceNumber}/invoices/${invoiceReferenceNumber}`;
    return (await this.deps.api<SessionInvoiceStatus>({ method: 'GET', path })).data;
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
      const original = readUpoDocuments(upo).find((doc) => doc.ksefNumber === ksefNumber);
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
