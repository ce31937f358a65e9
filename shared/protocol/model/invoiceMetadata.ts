/**
 * The vocabulary of the invoice metadata query and exports (`InvoiceQueryFilters`, `InvoiceMetadata` of
 * open-api.json 2.8.1, CIRFMF/ksef-api; pobieranie-faktur.md, CIRFMF/ksef-docs), shared by the engine, which checks
 * filters before sending them, and the sandbox, which answers them.
 */

/** Whose invoices: Subject1 the seller, Subject2 the buyer, Subject3 another party (Podmiot3), SubjectAuthorized (PodmiotUpowazniony). */
export type InvoiceSubjectType = 'Subject1' | 'Subject2' | 'Subject3' | 'SubjectAuthorized';
/** The date a filter's range (and the results' order) is about. */
export type InvoiceDateType = 'Issue' | 'Invoicing' | 'PermanentStorage';
export type InvoiceKind =
  'Vat' | 'Zal' | 'Kor' | 'Roz' | 'Upr' | 'KorZal' | 'KorRoz' | 'VatPef' | 'VatPefSp' | 'KorPef' | 'VatRr' | 'KorVatRr';
export type BuyerIdentifierType = 'Nip' | 'VatUe' | 'Other' | 'None';
export type ThirdSubjectIdentifierType = 'Nip' | 'InternalId' | 'VatUe' | 'Other' | 'None';
export type InvoiceAmountType = 'Brutto' | 'Netto' | 'Vat';
export type InvoicingMode = 'Online' | 'Offline';
export type InvoiceFormType = 'FA' | 'PEF' | 'FA_RR';

export const INVOICE_SUBJECT_TYPES: readonly InvoiceSubjectType[] = ['Subject1', 'Subject2', 'Subject3', 'SubjectAuthorized'];
export const INVOICE_DATE_TYPES: readonly InvoiceDateType[] = ['Issue', 'Invoicing', 'PermanentStorage'];
export const INVOICE_KINDS: readonly InvoiceKind[] = [
  'Vat',
  'Zal',
  'Kor',
  'Roz',
  'Upr',
  'KorZal',
  'KorRoz',
  'VatPef',
  'VatPefSp',
  'KorPef',
  'VatRr',
  'KorVatRr',
];
export const BUYER_IDENTIFIER_TYPES: readonly BuyerIdentifierType[] = ['Nip', 'VatUe', 'Other', 'None'];
export const INVOICE_AMOUNT_TYPES: readonly InvoiceAmountType[] = ['Brutto', 'Netto', 'Vat'];
export const INVOICING_MODES: readonly InvoicingMode[] = ['Online', 'Offline'];
export const INVOICE_FORM_TYPES: readonly InvoiceFormType[] = ['FA', 'PEF', 'FA_RR'];

/** The longest `dateRange` KSeF accepts: 100 days in UTC (API 2.8.1; it was 3 months before). */
export const MAX_INVOICE_QUERY_RANGE_DAYS = 100;
/** KSeF answers at most this many records for one set of filters ("Limit techniczny: ≤ 10 000 rekordów"), and packs at most this many invoices in one export. */
export const INVOICE_QUERY_RECORD_LIMIT = 10_000;

/** `InvoiceMetadata` of open-api.json: amounts as KSeF gives them (numbers; `vatAmount` in PLN). */
export interface InvoiceMetadata {
  ksefNumber: string;
  invoiceNumber: string;
  /** yyyy-mm-dd */
  issueDate: string;
  invoicingDate: string;
  acquisitionDate: string;
  permanentStorageDate: string;
  seller: { nip: string; name?: string | null };
  buyer: { identifier: { type: BuyerIdentifierType; value?: string | null }; name?: string | null };
  netAmount: number;
  grossAmount: number;
  vatAmount: number;
  currency: string;
  invoicingMode: InvoicingMode;
  invoiceType: InvoiceKind;
  formCode: { systemCode: string; schemaVersion: string; value: string };
  isSelfInvoicing: boolean;
  hasAttachment: boolean;
  /** Base64 SHA-256 of the invoice XML. */
  invoiceHash: string;
  hashOfCorrectedInvoice?: string | null;
  /** `Rola` of Podmiot3: 0 other, 1 factor, 2 recipient, ..., 11 employee. */
  thirdSubjects?: { identifier: { type: ThirdSubjectIdentifierType; value?: string | null }; name?: string | null; role: number }[] | null;
  /** `RolaPU`: 1 enforcement authority, 2 bailiff, 3 tax representative. */
  authorizedSubject?: { nip: string; name?: string | null; role: number } | null;
}
