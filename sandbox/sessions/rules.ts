/**
 * Online sessions as KSeF runs them (sesja-interaktywna.md, CIRFMF/ksef-docs; open-api.json): opening with an
 * encrypted AES key, accepting invoices within the context's limits, closing, the 12-hour lifetime, and which
 * sessions and invoices a context sees. What happens to an invoice after it is accepted is in `processing.ts`.
 */
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import type { FormCode, InvoiceSchema } from '../../shared/protocol/model/formCodes';
import { newReferenceNumber } from '../../shared/protocol/model/referenceNumber';
import type { ContextIdentifier } from '../../shared/protocol/types';
import { sameContext, type AuthenticationOperation } from '../auth/records';
import { BATCH_SESSION_STATUS, INVOICE_STATUS, SESSION_STATUS } from '../catalogue';
import type { SandboxContext } from '../context';
import { HOUR_MS } from '../dates';
import { ksefException } from '../http/errors';
import { unwrapSymmetricKey, type EncryptionRequest } from '../security/rules';
import { enqueueInvoice, finalizeSession, isFinal } from './processing';
import { isBatchSession, type OnlineSession, type SessionInvoice } from './records';

/** An online session closes 12 hours after it opened (sesja-interaktywna.md); a batch session not closed by then is cancelled. */
export const SESSION_VALIDITY_MS = 12 * HOUR_MS;

export interface OnlineSessionRequest extends EncryptionRequest {
  schema: InvoiceSchema;
  formCode: FormCode;
}

/** Opens a session for the authenticated `operation`; an undecryptable key ends it in status 415 shortly after. */
export function openOnlineSession(
  ctx: SandboxContext,
  operation: AuthenticationOperation,
  request: OnlineSessionRequest,
  now: Date,
): OnlineSession {
  const symmetricKey = unwrapSymmetricKey(request);
  const session: OnlineSession = {
    referenceNumber: newReferenceNumber('SO', now),
    schema: request.schema,
    formCode: request.formCode,
    symmetricKey,
    contextIdentifier: operation.contextIdentifier,
    authReferenceNumber: operation.referenceNumber,
    upoAuthentication: operation.tokenReferenceNumber
      ? { ksefTokenReferenceNumber: operation.tokenReferenceNumber }
      : { authenticationDocumentHash: operation.authenticationDocumentHash! },
    status: SESSION_STATUS.open,
    dateCreated: now,
    dateUpdated: now,
    validUntil: new Date(now.getTime() + SESSION_VALIDITY_MS),
    invoices: [],
    upoPages: [],
  };
  ctx.state.onlineSessions.set(session.referenceNumber, session);
  if (!symmetricKey) {
    ctx.scheduler.after(ctx.processingDelayMs, () => {
      session.status = SESSION_STATUS.keyDecryptionFailed;
      session.dateUpdated = ctx.clock.now();
    });
  }
  return session;
}

/**
 * The context's online or batch session `referenceNumber` (21173 otherwise). An online session is closed when its 12
 * hours are over; a batch session still open then is cancelled with 440 "Przekroczono czas wysyłki" (the batch
 * session state diagram of faktury/sesje, CIRFMF/ksef-docs).
 */
export function sessionOf(
  ctx: SandboxContext,
  context: ContextIdentifier,
  referenceNumber: string,
  now: Date,
  wording: 'znaleziona' | 'odnaleziona' = 'znaleziona',
): OnlineSession {
  const session = ctx.state.onlineSessions.get(referenceNumber) ?? ctx.state.batchSessions.get(referenceNumber);
  if (!session || !sameContext(session.contextIdentifier, context)) {
    throw ksefException(21173, `Sesja o numerze referencyjnym ${referenceNumber} nie została ${wording}.`);
  }
  if (session.status.code === 100 && now > session.validUntil) {
    if (!isBatchSession(session)) {
      closeSession(ctx, session);
    } else {
      session.status = BATCH_SESSION_STATUS.uploadTimeExceeded;
      session.dateUpdated = now;
    }
  }
  return session;
}

/** The context's online session, which must still be open for `action` (21180 otherwise). */
export function openSessionOf(
  ctx: SandboxContext,
  context: ContextIdentifier,
  referenceNumber: string,
  now: Date,
  action: string,
): OnlineSession {
  const session = sessionOf(ctx, context, referenceNumber, now, 'odnaleziona');
  if (isBatchSession(session)) throw ksefException(21173, `Sesja o numerze referencyjnym ${referenceNumber} nie została odnaleziona.`);
  if (session.status.code !== 100) throw ksefException(21180, `Status sesji ${session.status.code} uniemożliwia ${action}.`);
  return session;
}

/** Status 170, then the session's processing ends (200, 440 or 445) after the processing delay. */
export function closeSession(ctx: SandboxContext, session: OnlineSession): void {
  session.status = SESSION_STATUS.closed;
  session.dateUpdated = ctx.clock.now();
  ctx.scheduler.after(ctx.processingDelayMs, () => finalizeSession(ctx, session));
}

export interface SentInvoice {
  invoiceHash: string;
  invoiceSize: number;
  encryptedInvoiceHash: string;
  encryptedInvoiceSize: number;
  encryptedInvoiceContent: Buffer;
  offlineMode: boolean;
  hashOfCorrectedInvoice?: string;
}

/**
 * Accepts an invoice into an open session for processing: refused with 21184 while the session is under
 * maintenance, 21155 past the context's invoice limit, 21402/21403 when the content does not match its size or hash.
 */
export function acceptInvoice(ctx: SandboxContext, session: OnlineSession, sent: SentInvoice, now: Date): SessionInvoice {
  if (ctx.state.sessionsUnderMaintenance.has(session.referenceNumber)) {
    throw ksefException(
      21184,
      `Trwają prace serwisowe i sesja ${session.referenceNumber} jest tymczasowo niedostępna. Spróbuj ponownie później lub otwórz nową sesję, aby wysłać kolejne faktury.`,
    );
  }
  const { maxInvoices } = ctx.state.limits.contextLimitsOf(session.contextIdentifier).onlineSession;
  if (session.invoices.length >= maxInvoices) {
    throw ksefException(
      21155,
      `Sesja o numerze referencyjnym ${session.referenceNumber} osiągnęła dozwolony limit liczby faktur ${maxInvoices}.`,
    );
  }
  const content = sent.encryptedInvoiceContent;
  if (content.length !== sent.encryptedInvoiceSize) throw ksefException(21402, 'Długość treści nie zgadza się z rozmiarem pliku.');
  if (sha256Base64(content) !== sent.encryptedInvoiceHash) throw ksefException(21403, 'Skrót treści nie zgadza się ze skrótem pliku.');

  const invoice: SessionInvoice = {
    ordinalNumber: session.invoices.length + 1,
    referenceNumber: newReferenceNumber('EE', now),
    invoiceHash: sent.invoiceHash,
    invoiceSize: sent.invoiceSize,
    encryptedContent: content,
    offlineMode: sent.offlineMode,
    hashOfCorrectedInvoice: sent.hashOfCorrectedInvoice,
    invoicingDate: now,
    status: INVOICE_STATUS.accepted,
  };
  session.invoices.push(invoice);
  session.dateUpdated = now;
  enqueueInvoice(ctx, session, invoice);
  return invoice;
}

/** An invoice of the session by its reference number (21405 otherwise). */
export function invoiceOf(session: OnlineSession, invoiceReferenceNumber: string): SessionInvoice {
  const invoice = session.invoices.find((i) => i.referenceNumber === invoiceReferenceNumber);
  if (!invoice) {
    throw ksefException(
      21405,
      `Faktura o numerze referencyjnym ${invoiceReferenceNumber} nie została znaleziona w sesji ${session.referenceNumber}.`,
    );
  }
  return invoice;
}

export function invoiceCounts(session: OnlineSession): { total: number; successful: number; failed: number } {
  const final = session.invoices.filter(isFinal);
  const successful = final.filter((i) => i.status.code === 200).length;
  return { total: session.invoices.length, successful, failed: final.length - successful };
}

/** The context's online or batch sessions, newest first, optionally only those in the given `CommonSessionStatus`es. */
export function listSessions(
  ctx: SandboxContext,
  context: ContextIdentifier,
  sessionType: 'Online' | 'Batch',
  statuses: string[],
): OnlineSession[] {
  const sessions = sessionType === 'Online' ? ctx.state.onlineSessions : ctx.state.batchSessions;
  return [...sessions.values()]
    .filter((s) => sameContext(s.contextIdentifier, context))
    .filter((s) => statuses.length === 0 || statuses.includes(commonStatus(s.status.code)))
    .sort((a, b) => b.dateCreated.getTime() - a.dateCreated.getTime());
}

/** `CommonSessionStatus` of the `statuses` filter of GET /sessions. */
function commonStatus(code: number): 'InProgress' | 'Succeeded' | 'Failed' | 'Cancelled' {
  if (code < 200) return 'InProgress';
  if (code === 200) return 'Succeeded';
  return code === 440 ? 'Cancelled' : 'Failed';
}
