import { XMLParser } from 'fast-xml-parser';
import { scanXmlDocument, type XmlDocumentSink } from './xmlDocument';
import { decodeXmlText, localName, namespaceOf, parseAttributes } from './xmlScanner';

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

/** What a UPO must confirm: one invoice (by KSeF number or invoice hash) or one session (by its reference number). */
export type UpoSubject = { ksefNumber: string; invoiceHash: string } | { sessionReferenceNumber: string };

/**
 * Why `xml` is not the UPO of `subject` (e.g. an HTML page a storage front end served with 200), or undefined when
 * it is: a `Potwierdzenie` root in the UPO namespace that names the invoice or the session.
 */
export function upoMismatch(xml: string, subject: UpoSubject): string | undefined {
  const root = new UpoRootReader();
  const report = scanXmlDocument(xml, root);
  if (report.syntaxError || report.unknownEntities.length > 0) return 'not well-formed XML';
  if (root.name === undefined) return 'not XML';
  if (localName(root.name) !== 'Potwierdzenie' || root.namespace === undefined || !root.namespace.startsWith(UPO_NAMESPACE_PREFIX)) {
    return `the root element is ${root.name}${root.namespace !== undefined ? ` in ${root.namespace}` : ''}, not a UPO's Potwierdzenie`;
  }
  if ('sessionReferenceNumber' in subject) {
    const session = root.sessionReferenceNumber ?? '';
    return session === subject.sessionReferenceNumber ? undefined : `it is the UPO of session ${session || '(none)'}`;
  }
  const documents = readUpoDocuments(xml);
  const confirmed = documents.some((doc) => doc.ksefNumber === subject.ksefNumber || doc.invoiceHash === subject.invoiceHash);
  return confirmed ? undefined : 'it does not confirm this invoice (neither its KSeF number nor its hash)';
}

/**
 * The root element, its namespace and its `NumerReferencyjnySesji`, read in the one pass that checks the whole UPO is
 * well-formed: a session UPO confirms up to 10,000 documents (~5 MB), which a parse into objects (fast-xml-parser,
 * even with every `Dokument` left as text) took 186 ms and 14 MB of heap to get through, the scan 31 ms and none.
 */
class UpoRootReader implements XmlDocumentSink {
  name?: string;
  namespace?: string;
  sessionReferenceNumber?: string;
  readonly complete = false;
  /** The text of the root's `NumerReferencyjnySesji` while it is read. */
  private session?: string;

  startTag(text: string, nameStart: number, nameEnd: number, attributesEnd: number, _selfClosing: boolean, depth: number): void {
    if (depth === 0) {
      this.name = text.slice(nameStart, nameEnd);
      this.namespace = namespaceOf(this.name, parseAttributes(text.slice(nameEnd, attributesEnd)));
    } else if (
      depth === 1 &&
      this.sessionReferenceNumber === undefined &&
      localName(text.slice(nameStart, nameEnd)) === 'NumerReferencyjnySesji'
    ) {
      this.session = '';
    }
  }

  endTag(depth: number): void {
    if (depth === 1 && this.session !== undefined) {
      this.sessionReferenceNumber = this.session.trim();
      this.session = undefined;
    }
  }

  text(text: string, start: number, end: number): void {
    if (this.session !== undefined) this.session += decodeXmlText(text.slice(start, end));
  }

  cdata(text: string, start: number, end: number): void {
    if (this.session !== undefined) this.session += text.slice(start, end);
  }
}
