/**
 * What the metadata query and exports say of an accepted invoice (`InvoiceMetadata` of open-api.json 2.8.1,
 * CIRFMF/ksef-api). The part read from the XML (parties, amounts, kind) is summarised once, when the invoice is
 * accepted, and kept on its record: queries over tens of thousands of invoices never parse XML again.
 */
import type { FormCode } from '../../shared/protocol/model/formCodes';
import type {
  BuyerIdentifierType,
  InvoiceKind,
  InvoiceMetadata,
  ThirdSubjectIdentifierType,
} from '../../shared/protocol/model/invoiceMetadata';
import type { InvoiceFacts } from '../../shared/protocol/xml/invoiceFacts';
import { readInvoiceJson, type FriendlyInvoice, type FriendlyParty } from '../../shared/protocol/xml/invoiceJson';
import { formatDateTime } from '../dates';
import type { OnlineSession, SessionInvoice } from '../sessions/records';

export interface ThirdSubject {
  identifier: { type: ThirdSubjectIdentifierType; value?: string };
  name?: string;
  /** `Rola` of Podmiot3: 0 other, 1 factor, 2 recipient, ..., 11 employee. */
  role: number;
}

export interface AuthorizedSubject {
  nip: string;
  name?: string;
  /** `RolaPU`: 1 enforcement authority, 2 bailiff, 3 tax representative. */
  role: number;
}

/** The XML side of an invoice's metadata, computed once at acceptance. */
export interface InvoiceSummary {
  sellerName?: string;
  buyer: { identifier: { type: BuyerIdentifierType; value?: string }; name?: string };
  netAmount: number;
  grossAmount: number;
  /** In PLN, as KSeF reports it (`P_14_xW` for invoices in another currency). */
  vatAmount: number;
  currency: string;
  invoiceType: InvoiceKind;
  formCode: FormCode;
  isSelfInvoicing: boolean;
  hasAttachment: boolean;
  thirdSubjects: ThirdSubject[];
  authorizedSubject?: AuthorizedSubject;
}

/** An accepted invoice as the sandbox keeps it: where it was sent, its record, and its summary. */
export interface StoredInvoice {
  session: OnlineSession;
  invoice: SessionInvoice;
  summary: InvoiceSummary;
}

/** The metadata of a stored invoice that is in permanent storage (the query and exports list no other). */
export function invoiceMetadataOf(stored: StoredInvoice): InvoiceMetadata {
  const { invoice, summary } = stored;
  return {
    ksefNumber: invoice.ksefNumber!,
    invoiceNumber: invoice.invoiceNumber!,
    issueDate: invoice.issueDate!,
    invoicingDate: formatDateTime(invoice.invoicingDate),
    acquisitionDate: formatDateTime(invoice.acquisitionDate!),
    permanentStorageDate: formatDateTime(invoice.permanentStorageDate!),
    seller: { nip: invoice.sellerNip!, ...(summary.sellerName !== undefined && { name: summary.sellerName }) },
    buyer: summary.buyer,
    netAmount: summary.netAmount,
    grossAmount: summary.grossAmount,
    vatAmount: summary.vatAmount,
    currency: summary.currency,
    invoicingMode: invoice.invoicingMode!,
    invoiceType: summary.invoiceType,
    formCode: summary.formCode,
    isSelfInvoicing: summary.isSelfInvoicing,
    hasAttachment: summary.hasAttachment,
    invoiceHash: invoice.invoiceHash,
    ...(invoice.hashOfCorrectedInvoice && { hashOfCorrectedInvoice: invoice.hashOfCorrectedInvoice }),
    thirdSubjects: summary.thirdSubjects,
    ...(summary.authorizedSubject && { authorizedSubject: summary.authorizedSubject }),
  };
}

/**
 * The summary of an accepted invoice: from its friendly JSON for FA(2)/FA(3), otherwise (FA_RR, PEF, or an
 * invoice the friendly reader cannot read) from the facts KSeF checked, with no parties or amounts it cannot know.
 */
export function summarizeInvoice(xml: Buffer, facts: InvoiceFacts, sessionFormCode: FormCode): InvoiceSummary {
  const formCode = facts.formCode ?? sessionFormCode;
  const base: InvoiceSummary = {
    buyer: { identifier: { type: 'None' } },
    netAmount: 0,
    grossAmount: 0,
    vatAmount: 0,
    currency: 'PLN',
    invoiceType: invoiceKindOf(formCode.value, facts.invoiceType, facts.rootElement),
    formCode,
    isSelfInvoicing: false,
    hasAttachment: facts.hasAttachment ?? false,
    thirdSubjects: [],
  };
  if (formCode.value !== 'FA') return base;
  let friendly: FriendlyInvoice;
  try {
    friendly = readInvoiceJson(xml);
  } catch {
    return base;
  }
  return { ...base, ...summaryOfFriendly(friendly) };
}

/** The parties, amounts and flags of an FA invoice's friendly JSON. */
export function summaryOfFriendly(
  friendly: FriendlyInvoice,
): Omit<InvoiceSummary, 'invoiceType' | 'formCode'> & { invoiceType?: InvoiceKind } {
  const currency = friendly.currency ?? 'PLN';
  const net = decimal(friendly.totals.net) ?? sum(friendly.vatSummary.map((v) => decimal(v.net)));
  const vatInCurrency = decimal(friendly.totals.vat) ?? sum(friendly.vatSummary.map((v) => decimal(v.vat)));
  const vatPln = currency === 'PLN' ? vatInCurrency : sum(friendly.vatSummary.map((v) => decimal(v.vatPln) ?? decimal(v.vat)));
  const authorized = friendly.authorizedParty;
  return {
    ...(friendly.seller.name !== undefined && { sellerName: friendly.seller.name }),
    buyer: { identifier: buyerIdentifierOf(friendly.buyer), ...(friendly.buyer.name !== undefined && { name: friendly.buyer.name }) },
    netAmount: round2(net),
    grossAmount: round2(decimal(friendly.totals.gross) ?? net + vatInCurrency),
    vatAmount: round2(vatPln),
    currency,
    ...(friendly.invoiceType && { invoiceType: FA_KINDS[friendly.invoiceType] }),
    isSelfInvoicing: friendly.selfInvoicing ?? false,
    hasAttachment: friendly.hasAttachment ?? false,
    thirdSubjects: friendly.otherParties.map((party) => ({
      identifier: thirdSubjectIdentifierOf(party),
      ...(party.name !== undefined && { name: party.name }),
      role: party.role ?? 0,
    })),
    ...(authorized?.nip && {
      authorizedSubject: {
        nip: authorized.nip,
        ...(authorized.name !== undefined && { name: authorized.name }),
        role: authorized.role ?? 0,
      },
    }),
  };
}

/** `RodzajFaktury` of FA(2)/FA(3) → the API's invoice kind. */
const FA_KINDS: Record<string, InvoiceKind> = {
  VAT: 'Vat',
  ZAL: 'Zal',
  KOR: 'Kor',
  ROZ: 'Roz',
  UPR: 'Upr',
  KOR_ZAL: 'KorZal',
  KOR_ROZ: 'KorRoz',
};

/** The API's kind of an invoice from its form and the kind it declares (FA `RodzajFaktury`, FA_RR `RodzajFaktury`, PEF root element). */
function invoiceKindOf(formValue: string, declaredType: string | undefined, rootElement: string | undefined): InvoiceKind {
  if (formValue === 'PEF') return rootElement === 'CreditNote' ? 'KorPef' : 'VatPef';
  if (formValue === 'FA_RR') return declaredType === 'KOR_VAT_RR' ? 'KorVatRr' : 'VatRr';
  return FA_KINDS[declaredType ?? ''] ?? 'Vat';
}

function buyerIdentifierOf(party: FriendlyParty): InvoiceSummary['buyer']['identifier'] {
  if (party.nip) return { type: 'Nip', value: party.nip };
  if (party.vatUe) return { type: 'VatUe', value: party.vatUe };
  if (party.otherId) return { type: 'Other', value: party.otherId };
  return { type: 'None' };
}

/** A third party may also be named by an internal identifier (`IDWew`: a NIP and five digits). */
function thirdSubjectIdentifierOf(party: FriendlyParty): ThirdSubject['identifier'] {
  if (party.nip) return { type: 'Nip', value: party.nip };
  if (party.internalId) return { type: 'InternalId', value: party.internalId };
  if (party.vatUe) return { type: 'VatUe', value: party.vatUe };
  if (party.otherId) return { type: 'Other', value: party.otherId };
  return { type: 'None' };
}

function decimal(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : undefined;
}

function sum(values: (number | undefined)[]): number {
  return values.reduce<number>((total, value) => total + (value ?? 0), 0);
}

/** Amounts are money: two decimals, without the binary noise of adding them up. */
function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
