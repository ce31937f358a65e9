import { XMLParser } from 'fast-xml-parser';

/** One `Dokument` of a UPO (faktury/upo/schemy/upo-v4-3.xsd, CIRFMF/ksef-docs). */
export interface UpoDocument {
  sellerNip?: string;
  ksefNumber: string;
  invoiceNumber?: string;
  issueDate?: string;
  /** `DataPrzeslaniaDokumentu`: when KSeF received the invoice (invoicingDate). */
  invoicingDate?: string;
  /** `DataNadaniaNumeruKSeF`: when the KSeF number was assigned (acquisitionDate). */
  acquisitionDate?: string;
  /** `SkrotDokumentu`: Base64 SHA-256 of the invoice, i.e. its invoiceHash. */
  invoiceHash?: string;
  invoicingMode?: 'Online' | 'Offline';
}

const parser = new XMLParser({
  removeNSPrefix: true,
  parseTagValue: false,
  ignoreAttributes: true,
  isArray: (name) => name === 'Dokument',
});

/** The documents a UPO confirms; empty when the XML is not a UPO. */
export function readUpoDocuments(upoXml: string): UpoDocument[] {
  let parsed: { Potwierdzenie?: { Dokument?: Record<string, unknown>[] } };
  try {
    parsed = parser.parse(upoXml);
  } catch {
    return [];
  }
  return (parsed.Potwierdzenie?.Dokument ?? []).map((doc) => {
    const text = (name: string) => (doc[name] === undefined ? undefined : String(doc[name]).trim());
    const mode = text('TrybWysylki');
    return {
      sellerNip: text('NipSprzedawcy'),
      ksefNumber: text('NumerKSeFDokumentu') ?? '',
      invoiceNumber: text('NumerFaktury'),
      issueDate: text('DataWystawieniaFaktury'),
      invoicingDate: text('DataPrzeslaniaDokumentu'),
      acquisitionDate: text('DataNadaniaNumeruKSeF'),
      invoiceHash: text('SkrotDokumentu'),
      invoicingMode: mode === 'Online' || mode === 'Offline' ? mode : undefined,
    };
  });
}

/** Namespaces of the UPO schemas (upo-v4-3.xsd is `http://upo.schematy.mf.gov.pl/KSeF/v4-3`). */
const UPO_NAMESPACE_PREFIX = 'http://upo.schematy.mf.gov.pl/KSeF/';

/**
 * The root with its attributes and own fields; every `Dokument` stays unparsed text: a session UPO confirms up to
 * 10,000 of them, and parsing them all into objects to check the root (and again for the session's reference) took
 * ~40 MB at 10,000 invoices (npm run bench:batch).
 */
const rootParser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, stopNodes: ['*.Dokument'] });

/** What a UPO must confirm: one invoice (by KSeF number or invoice hash) or one session (by its reference number). */
export type UpoSubject = { ksefNumber: string; invoiceHash: string } | { sessionReferenceNumber: string };

/**
 * Why `xml` is not the UPO of `subject` (e.g. an HTML page a storage front end served with 200), or undefined when
 * it is: a `Potwierdzenie` root in the UPO namespace that names the invoice or the session.
 */
export function upoMismatch(xml: string, subject: UpoSubject): string | undefined {
  let root: [string, Record<string, unknown>] | undefined;
  try {
    root = Object.entries(rootParser.parse(xml) as Record<string, unknown>).find(
      (entry): entry is [string, Record<string, unknown>] => !entry[0].startsWith('?') && typeof entry[1] === 'object' && entry[1] !== null,
    );
  } catch {
    return 'not well-formed XML';
  }
  if (!root) return 'not XML';
  const [name, element] = root;
  const [prefix, localName] = name.includes(':') ? name.split(':', 2) : ['', name];
  const namespace = element[prefix ? `@xmlns:${prefix}` : '@xmlns'];
  if (localName !== 'Potwierdzenie' || typeof namespace !== 'string' || !namespace.startsWith(UPO_NAMESPACE_PREFIX)) {
    return `the root element is ${name}${typeof namespace === 'string' ? ` in ${namespace}` : ''}, not a UPO's Potwierdzenie`;
  }
  if ('sessionReferenceNumber' in subject) {
    const session = childText(element, 'NumerReferencyjnySesji') ?? '';
    return session === subject.sessionReferenceNumber ? undefined : `it is the UPO of session ${session || '(none)'}`;
  }
  const documents = readUpoDocuments(xml);
  const confirmed = documents.some((doc) => doc.ksefNumber === subject.ksefNumber || doc.invoiceHash === subject.invoiceHash);
  return confirmed ? undefined : 'it does not confirm this invoice (neither its KSeF number nor its hash)';
}

/** The trimmed text of the element's child `localName`, whatever its namespace prefix. */
function childText(element: Record<string, unknown>, localName: string): string | undefined {
  const key = Object.keys(element).find((name) => name === localName || name.endsWith(`:${localName}`));
  const value = key === undefined ? undefined : element[key];
  const text = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)['#text'] : value;
  return text === undefined ? undefined : String(text).trim();
}
