/**
 * What happens after the HTTP answer: invoice processing (decrypt → verify → duplicate check → KSeF number
 * → UPO) and session finalisation (170 → 200 / 440 / 445 with session UPO pages). Verification and UPO XML
 * come from `verifyInvoice.ts` and `upo.ts`; state, numbering and duplicates live here.
 */
import { randomBytes } from 'node:crypto';
import { aesDecrypt } from '../../shared/protocol/crypto/aes';
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { formatKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { newReferenceNumber } from '../../shared/protocol/model/referenceNumber';
import type { SandboxContext } from '../context';
import { BATCH_SESSION_STATUS, INVOICE_STATUS, SESSION_STATUS } from '../catalogue';
import { warsawDay } from '../dates';
import { invoiceSizeLimits } from '../limits/rules';
import { buildInvoiceUpo, buildSessionUpo, sessionUpoPageCount, type UpoDocument, type UpoSession } from './upo';
import { verifyInvoice } from './verifyInvoice';
import type { SandboxState } from '../state';
import { duplicateKey, isBatchSession, type InvoiceStatusInfo, type OnlineSession, type SessionInvoice } from './records';
import { summarizeInvoice, type InvoiceSummary } from '../invoices/metadata';

export function isFinal(invoice: SessionInvoice): boolean {
  return invoice.status.code !== 100 && invoice.status.code !== 150;
}

const processingQueues = new WeakMap<OnlineSession, Promise<void>>();

/** An invoice that passed verification, with what the in-order step needs to number it. */
export interface VerifiedInvoice {
  xml: Buffer;
  sellerNip: string;
  invoiceType: string;
  invoiceNumber: string;
  issueDate: string;
  /** What the metadata query and exports say of it, read from the XML once, here. */
  summary: InvoiceSummary;
}

/**
 * Processes the invoice after the processing delay. Verification (decryption, file rules, XSD) of a session's
 * invoices runs concurrently, as it is the costly part; the outcome is decided strictly after the session's
 * earlier invoices, so of two invoices with the same number the earlier one is the original.
 */
export function enqueueInvoice(ctx: SandboxContext, session: OnlineSession, invoice: SessionInvoice): void {
  ctx.scheduler.after(ctx.processingDelayMs, () => {
    if (!ctx.scheduler.running) return;
    const verified = verify(ctx, session, invoice).catch((): InvoiceStatusInfo => INVOICE_STATUS.unknownError);
    const queue = (processingQueues.get(session) ?? Promise.resolve()).then(async () => {
      const outcome = await verified;
      if (ctx.scheduler.running) settleInvoice(ctx, session, invoice, outcome);
    });
    processingQueues.set(session, queue);
    return queue;
  });
}

/**
 * Gives a verified invoice its final status: the failure `verifyXml` found, or a KSeF number unless it duplicates an
 * accepted invoice. Call it in the session's order, so that of two invoices with the same number the earlier one is
 * the original.
 */
export function settleInvoice(ctx: SandboxContext, session: OnlineSession, invoice: SessionInvoice, outcome: VerificationOutcome): void {
  try {
    invoice.status = 'code' in outcome ? outcome : accept(ctx, session, invoice, outcome);
  } catch {
    invoice.status = INVOICE_STATUS.unknownError;
  }
  session.dateUpdated = ctx.clock.now();
}

/** What `verifyXml` finds: a failure status, or the facts to number the invoice by. */
export type VerificationOutcome = InvoiceStatusInfo | VerifiedInvoice;

/** Everything KSeF checks of an online invoice on its own: its decryption, declared size and hash, then its XML. */
async function verify(ctx: SandboxContext, session: OnlineSession, invoice: SessionInvoice): Promise<VerificationOutcome> {
  if (!session.symmetricKey || !invoice.encryptedContent) return INVOICE_STATUS.cancelledBySessionError;
  let xml: Buffer;
  try {
    xml = aesDecrypt(invoice.encryptedContent, session.symmetricKey);
  } catch {
    return INVOICE_STATUS.decryptionFailed;
  }
  if (xml.length !== invoice.invoiceSize) {
    return {
      ...INVOICE_STATUS.fileVerificationError,
      details: ['Rozmiar odszyfrowanej faktury nie zgadza się z zadeklarowanym rozmiarem (invoiceSize).'],
    };
  }
  if (sha256Base64(xml) !== invoice.invoiceHash) {
    return {
      ...INVOICE_STATUS.fileVerificationError,
      details: ['Skrót odszyfrowanej faktury nie zgadza się z zadeklarowanym skrótem (invoiceHash).'],
    };
  }
  return verifyXml(ctx, session, invoice, xml);
}

/**
 * Everything KSeF checks of an invoice's XML on its own, in an online or a batch session (file rules and size limits
 * of the session type, XSD, issue date, seller against the context, attachments); sets `invoice.invoiceNumber`.
 */
export async function verifyXml(
  ctx: SandboxContext,
  session: OnlineSession,
  invoice: SessionInvoice,
  xml: Buffer,
): Promise<VerificationOutcome> {
  const limits = ctx.state.limits.contextLimitsOf(session.contextIdentifier);
  const verdict = await verifyInvoice(xml, {
    schema: session.schema,
    contextNip: session.contextIdentifier.value,
    acceptedAt: invoice.invoicingDate,
    specDir: ctx.specDir ?? null,
    limits: invoiceSizeLimits(isBatchSession(session) ? limits.batchSession : limits.onlineSession),
  });
  invoice.invoiceNumber = verdict.facts?.invoiceNumber;
  if (!verdict.ok) return verdict.status;
  const { sellerNip, invoiceType, invoiceNumber, issueDate, hasAttachment } = verdict.facts;
  if (!sellerNip || !invoiceType || !invoiceNumber || !issueDate) {
    return {
      ...INVOICE_STATUS.fileVerificationError,
      details: ['Nie można odczytać NIP sprzedawcy, rodzaju, numeru lub daty wystawienia faktury.'],
    };
  }
  if (hasAttachment) {
    const refusal = attachmentRefusal(ctx, session, invoice, sellerNip);
    if (refusal) return { ...INVOICE_STATUS.attachmentNotAllowed, details: [refusal] };
  }
  return { xml, sellerNip, invoiceType, invoiceNumber, issueDate, summary: summarizeInvoice(xml, verdict.facts, session.formCode) };
}

/**
 * Why an invoice with an attachment cannot be accepted in this session, or undefined when it can. Attachments are
 * allowed only in batch sessions, except in the technical correction of an offline invoice, and only for NIPs
 * enabled for them (faktury/weryfikacja-faktury.md, offline/korekta-techniczna.md, CIRFMF/ksef-docs).
 */
function attachmentRefusal(ctx: SandboxContext, session: OnlineSession, invoice: SessionInvoice, sellerNip: string): string | undefined {
  if (!isBatchSession(session) && (!invoice.offlineMode || !invoice.hashOfCorrectedInvoice)) {
    return 'Invoices with an attachment (Zalacznik) can be sent only in a batch session; in an online session only as the technical correction of an offline invoice (offlineMode with hashOfCorrectedInvoice).';
  }
  if (!ctx.state.attachmentNips.has(sellerNip)) {
    return `Sending invoices with attachments is not enabled for NIP ${sellerNip}; it has to be requested in e-Urząd Skarbowy first.`;
  }
  return undefined;
}

/** Numbers a verified invoice unless it duplicates an accepted one; runs in the session's order. */
function accept(ctx: SandboxContext, session: OnlineSession, invoice: SessionInvoice, verified: VerifiedInvoice): InvoiceStatusInfo {
  const { xml, sellerNip, invoiceType, invoiceNumber, issueDate, summary } = verified;
  const key = duplicateKey(sellerNip, invoiceType, invoiceNumber);
  const original = ctx.state.duplicateIndex.get(key);
  if (original) {
    return {
      ...INVOICE_STATUS.duplicate,
      details: [
        `Duplikat faktury. Faktura o numerze KSeF: ${original.ksefNumber} została już prawidłowo przesłana do systemu w sesji: ${original.sessionReferenceNumber}`,
      ],
      extensions: { originalSessionReferenceNumber: original.sessionReferenceNumber, originalKsefNumber: original.ksefNumber },
    };
  }

  const acquisitionDate = ctx.clock.now();
  const ksefNumber = newKsefNumber(ctx.state, sellerNip, invoice.invoicingDate);
  Object.assign(invoice, {
    ksefNumber,
    acquisitionDate,
    xml,
    sellerNip,
    issueDate,
    invoicingMode: invoice.offlineMode || issueDate < warsawDay(invoice.invoicingDate) ? 'Offline' : 'Online',
  } satisfies Partial<SessionInvoice>);
  ctx.state.duplicateIndex.set(key, { ksefNumber, sessionReferenceNumber: session.referenceNumber });
  ctx.state.invoicesByKsefNumber.set(ksefNumber, { session, invoice, summary });
  invoice.upo = buildInvoiceUpo({ ...upoSession(session), document: upoDocument(invoice) });
  // Permanent storage happens a moment after the number is assigned (and is always later than it).
  ctx.scheduler.after(ctx.processingDelayMs, () => {
    invoice.permanentStorageDate = new Date(Math.max(ctx.clock.now().getTime(), acquisitionDate.getTime() + 1));
  });
  return INVOICE_STATUS.succeeded;
}

/** Ends a closed session once all its invoices are processed. */
export function finalizeSession(ctx: SandboxContext, session: OnlineSession): void {
  if (session.invoices.some((i) => !isFinal(i))) {
    ctx.scheduler.after(ctx.processingDelayMs, () => finalizeSession(ctx, session));
    return;
  }
  const statuses = isBatchSession(session) ? BATCH_SESSION_STATUS : SESSION_STATUS;
  const accepted = session.invoices.filter((i) => i.ksefNumber);
  if (session.invoices.length === 0) {
    session.status = statuses.cancelledNoInvoices;
  } else if (accepted.length === 0) {
    session.status = statuses.noValidInvoices;
  } else {
    const documents = accepted.map(upoDocument);
    const base = upoSession(session);
    const now = ctx.clock.now();
    const pageSize = ctx.state.sessionUpoPageSize;
    session.upoPages = Array.from({ length: sessionUpoPageCount(documents.length, pageSize) }, (_, i) => ({
      referenceNumber: newReferenceNumber('EU', now),
      xml: buildSessionUpo({ ...base, documents, page: i + 1, pageSize }),
    }));
    session.status = statuses.succeeded;
  }
  session.dateUpdated = ctx.clock.now();
}

/**
 * The number's date is the day the invoice was accepted for processing (`invoicingDate`, numer-ksef.md), a Polish
 * calendar day as for automatic offline mode (offline/automatyczne-okreslanie-trybu-offline.md); formatKsefNumber writes the UTC day of what it is given.
 * `technicalPart` gives 12 random hex digits (seeding thousands of invoices draws them from one buffer).
 */
export function newKsefNumber(
  state: SandboxState,
  sellerNip: string,
  acceptedAt: Date,
  technicalPart: () => string = () => randomBytes(6).toString('hex'),
): string {
  const acceptanceDay = new Date(`${warsawDay(acceptedAt)}T00:00:00Z`);
  for (;;) {
    const candidate = formatKsefNumber(sellerNip, acceptanceDay, technicalPart());
    if (!state.invoicesByKsefNumber.has(candidate)) return candidate;
  }
}

function upoSession(session: OnlineSession): UpoSession {
  return {
    sessionReferenceNumber: session.referenceNumber,
    contextIdentifier: session.contextIdentifier,
    authentication: session.upoAuthentication,
    schema: session.schema,
  };
}

function upoDocument(invoice: SessionInvoice): UpoDocument {
  return {
    sellerNip: invoice.sellerNip!,
    ksefNumber: invoice.ksefNumber!,
    invoiceNumber: invoice.invoiceNumber!,
    issueDate: invoice.issueDate!,
    invoicingDate: invoice.invoicingDate,
    acquisitionDate: invoice.acquisitionDate!,
    invoiceHash: invoice.invoiceHash,
    invoicingMode: invoice.invoicingMode!,
  };
}
