import { readInvoiceJson, type ExportedInvoice, type FriendlyInvoice, type InvoiceMetadata } from '../../shared';

/** One invoice as ksef-sync and ksef-invoice's Download output it (one message's payload, or an item of the array). */
export interface InvoiceOutput {
  ksefNumber: string;
  /** KSeF's metadata: numbers, dates, seller, buyer, amounts. */
  metadata: InvoiceMetadata;
  /** The original invoice XML as text, as KSeF keeps it (UTF-8). */
  xml?: string;
  /** The friendly JSON of an FA(3)/FA(2) invoice (readInvoiceJson). */
  invoice?: FriendlyInvoice;
}

export interface InvoiceOutputOptions {
  includeXml: boolean;
  includeJson: boolean;
  /** An invoice whose XML has no friendly JSON (e.g. a PEF invoice) goes out without it; this says why. */
  onJsonError(ksefNumber: string, reason: string): void;
}

export function invoiceOutput({ ksefNumber, metadata, xml }: ExportedInvoice, options: InvoiceOutputOptions): InvoiceOutput {
  const output: InvoiceOutput = { ksefNumber, metadata };
  if (options.includeXml && xml) output.xml = xml.toString('utf8');
  if (options.includeJson && xml) output.invoice = friendlyJsonOf(ksefNumber, xml, options.onJsonError);
  return output;
}

/** The friendly JSON of an invoice's XML; undefined, with the reason to `onJsonError`, when it has none (e.g. PEF). */
export function friendlyJsonOf(
  ksefNumber: string,
  xml: Buffer,
  onJsonError: InvoiceOutputOptions['onJsonError'],
): FriendlyInvoice | undefined {
  try {
    return readInvoiceJson(xml);
  } catch (err) {
    onJsonError(ksefNumber, err instanceof Error ? err.message : String(err));
    return undefined;
  }
}
