/**
 * UPO (Urzędowe Poświadczenie Odbioru) documents in version v4-3 (faktury/upo/schemy/upo-v4-3.xsd, CIRFMF/ksef-docs),
 * shaped like the official examples in faktury/upo/przyklady/v4-3: one `Dokument` for an invoice UPO, a page
 * of up to 10 000 documents with `OpisPotwierdzenia` for a session UPO. Unsigned, as all official examples are.
 */
import type { ContextIdentifier } from '../../shared/protocol/types';
import { INVOICE_SCHEMAS, type InvoiceSchema } from '../../shared/protocol/model/formCodes';
import { escapeXml } from '../../shared/protocol/xml/xmlScanner';

export const UPO_NAMESPACE = 'http://upo.schematy.mf.gov.pl/KSeF/v4-3';
/** The XSD fixes this value; the real TE/DEMO services append an environment suffix and fail their own XSD (as do the official examples in faktury/upo/przyklady). */
export const UPO_RECEIVING_ENTITY = 'Ministerstwo Finansów';
export const MAX_DOCUMENTS_PER_UPO_PAGE = 10_000;

/** How the session was authenticated: with a KSeF token, or with a signed (XAdES) authentication document. */
export type UpoAuthentication =
  | { ksefTokenReferenceNumber: string }
  /** Base64 SHA-256 of the authentication request as received, signature included. */
  | { authenticationDocumentHash: string };

export interface UpoDocument {
  /** Podmiot1 NIP. */
  sellerNip: string;
  ksefNumber: string;
  /** P_2 (FA_RR: P_4C, PEF: cbc:ID). */
  invoiceNumber: string;
  /** Issue date, `YYYY-MM-DD`. */
  issueDate: string;
  /** When KSeF accepted the invoice (`invoicingDate`). Dates are written as Polish local time. */
  invoicingDate: Date;
  /** When the KSeF number was assigned (`acquisitionDate`). */
  acquisitionDate: Date;
  /** Base64 SHA-256 of the invoice file (`invoiceHash`). */
  invoiceHash: string;
  invoicingMode: 'Online' | 'Offline';
}

export interface UpoSession {
  sessionReferenceNumber: string;
  contextIdentifier: ContextIdentifier;
  authentication: UpoAuthentication;
  /** Schema of the session: gives `NazwaStrukturyLogicznej` and `KodFormularza`. */
  schema: InvoiceSchema;
}

export interface InvoiceUpoInput extends UpoSession {
  document: UpoDocument;
}

export interface SessionUpoInput extends UpoSession {
  /** All successfully processed invoices of the session, in processing order. */
  documents: UpoDocument[];
  /** 1-based page to build (default 1); see `sessionUpoPageCount`. */
  page?: number;
  /** Documents per page (default and maximum 10 000). */
  pageSize?: number;
}

const CONTEXT_ELEMENTS: Record<ContextIdentifier['type'], string> = {
  Nip: 'Nip',
  InternalId: 'IdWewnetrzny',
  NipVatUe: 'IdZlozonyVatUE',
  PeppolId: 'IdDostawcyUslugPeppol',
};

export function buildInvoiceUpo(input: InvoiceUpoInput): string {
  return render(input, [input.document]);
}

export function sessionUpoPageCount(documentCount: number, pageSize = MAX_DOCUMENTS_PER_UPO_PAGE): number {
  return Math.max(1, Math.ceil(documentCount / checkedPageSize(pageSize)));
}

/**
 * One page of the session UPO. `ZakresDokumentowOd`/`Do` are the 1-based numbers of the first and last
 * document on the page, as in every official example (the XSD comment calls `Do` exclusive, the examples don't).
 */
export function buildSessionUpo(input: SessionUpoInput): string {
  const pageSize = checkedPageSize(input.pageSize ?? MAX_DOCUMENTS_PER_UPO_PAGE);
  const pageCount = sessionUpoPageCount(input.documents.length, pageSize);
  const page = input.page ?? 1;
  if (!Number.isInteger(page) || page < 1 || page > pageCount) {
    throw new RangeError(`Session UPO page ${page} does not exist: ${input.documents.length} documents make ${pageCount} page(s).`);
  }
  if (input.documents.length === 0) {
    throw new RangeError('A session UPO needs at least one successfully processed invoice; sessions without any get no UPO.');
  }
  const first = (page - 1) * pageSize;
  const documents = input.documents.slice(first, first + pageSize);
  const description = element('OpisPotwierdzenia', [
    element('Strona', String(page)),
    element('LiczbaStron', String(pageCount)),
    element('ZakresDokumentowOd', String(first + 1)),
    element('ZakresDokumentowDo', String(first + documents.length)),
    element('CalkowitaLiczbaDokumentow', String(input.documents.length)),
  ]);
  return render(input, documents, description);
}

function checkedPageSize(pageSize: number): number {
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_DOCUMENTS_PER_UPO_PAGE) {
    throw new RangeError(`UPO page size must be an integer from 1 to ${MAX_DOCUMENTS_PER_UPO_PAGE}, got ${pageSize}.`);
  }
  return pageSize;
}

function render(session: UpoSession, documents: UpoDocument[], description?: string): string {
  const schema = INVOICE_SCHEMAS[session.schema];
  const authentication =
    'ksefTokenReferenceNumber' in session.authentication
      ? element('NumerReferencyjnyTokenaKSeF', session.authentication.ksefTokenReferenceNumber)
      : element('SkrotDokumentuUwierzytelniajacego', session.authentication.authenticationDocumentHash);
  const parts = [
    element('NazwaPodmiotuPrzyjmujacego', UPO_RECEIVING_ENTITY),
    element('NumerReferencyjnySesji', session.sessionReferenceNumber),
    element('Uwierzytelnienie', [
      element('IdKontekstu', [element(CONTEXT_ELEMENTS[session.contextIdentifier.type], session.contextIdentifier.value)]),
      authentication,
    ]),
    ...(description ? [description] : []),
    element('NazwaStrukturyLogicznej', schema.logicalStructureName),
    element('KodFormularza', schema.formCode.systemCode),
    ...documents.map(renderDocument),
  ];
  return `<?xml version="1.0" encoding="utf-8"?>\n<Potwierdzenie xmlns="${UPO_NAMESPACE}">\n${parts.map((p) => indent(p)).join('\n')}\n</Potwierdzenie>\n`;
}

function renderDocument(document: UpoDocument): string {
  return element('Dokument', [
    element('NipSprzedawcy', document.sellerNip),
    element('NumerKSeFDokumentu', document.ksefNumber),
    element('NumerFaktury', document.invoiceNumber),
    element('DataWystawieniaFaktury', document.issueDate),
    element('DataPrzeslaniaDokumentu', warsawDateTime(document.invoicingDate)),
    element('DataNadaniaNumeruKSeF', warsawDateTime(document.acquisitionDate)),
    element('SkrotDokumentu', document.invoiceHash),
    element('TrybWysylki', document.invoicingMode),
  ]);
}

function element(name: string, content: string | string[]): string {
  if (typeof content === 'string') return `<${name}>${escapeXml(content)}</${name}>`;
  return `<${name}>\n${content.map((c) => indent(c)).join('\n')}\n</${name}>`;
}

function indent(block: string): string {
  return block.replace(/^/gm, '\t');
}

const WARSAW_CLOCK = new Intl.DateTimeFormat('en-US', {
  timeZone: 'Europe/Warsaw',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** `2025-09-16T11:05:40.841+02:00`: Polish local time with milliseconds and offset, as in the official UPOs. */
export function warsawDateTime(moment: Date): string {
  const fields: Record<string, string> = {};
  for (const part of WARSAW_CLOCK.formatToParts(moment)) fields[part.type] = part.value;
  const { year, month, day, hour, minute, second } = fields;
  const millis = moment.getUTCMilliseconds();
  const offsetMinutes = Math.round((Date.UTC(+year, +month - 1, +day, +hour, +minute, +second, millis) - moment.getTime()) / 60_000);
  const offset = `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offsetMinutes) / 60))}:${pad(Math.abs(offsetMinutes) % 60)}`;
  return `${year}-${month}-${day}T${hour}:${minute}:${second}.${String(millis).padStart(3, '0')}${offset}`;
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}
