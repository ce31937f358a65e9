import { XMLParser } from 'fast-xml-parser';

/** One `Dokument` of a UPO (NOTES.md 5). */
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
