import type { IBinaryKeyData, IDataObject, IExecuteFunctions, INodePropertyOptions } from 'n8n-workflow';
import { readInvoiceJson, type InvoiceMetadata, type InvoiceSubjectType } from '../../../../shared';

/** Whose invoices, as an accountant says it; the value is KSeF's subject type. */
export const SUBJECT_TYPE_OPTIONS: Array<INodePropertyOptions & { value: InvoiceSubjectType }> = [
  {
    name: 'Received (We Are the Buyer)',
    value: 'Subject2',
    description: 'Purchase invoices: other sellers issued them to our company (Podmiot2)',
  },
  {
    name: 'Issued (We Are the Seller)',
    value: 'Subject1',
    description: 'Sales invoices our company issued (Podmiot1)',
  },
  {
    name: 'As Third Party',
    value: 'Subject3',
    description: 'Invoices naming our company as another party, e.g. payer, recipient or factor (Podmiot3)',
  },
  {
    name: 'As Authorized Subject',
    value: 'SubjectAuthorized',
    description: 'Invoices naming our company as the authorized subject, e.g. a bailiff or tax representative (PodmiotUpowazniony)',
  },
];

/** The binary property every invoice XML goes in, as n8n's own nodes name their one file. */
export const XML_PROPERTY = 'data';

/**
 * An invoice's KSeF metadata as one flat record, so a spreadsheet row or a database insert takes it as it is:
 * seller and buyer spelled out, amounts as KSeF gives them (`vatAmount` in PLN), times in ISO 8601.
 */
export function invoiceMetadataJson(metadata: InvoiceMetadata): IDataObject {
  const json: IDataObject = {
    ksefNumber: metadata.ksefNumber,
    invoiceNumber: metadata.invoiceNumber,
    issueDate: metadata.issueDate,
    sellerNip: metadata.seller.nip,
    sellerName: metadata.seller.name ?? undefined,
    buyerIdentifierType: metadata.buyer.identifier.type,
    buyerIdentifier: metadata.buyer.identifier.value ?? undefined,
    buyerName: metadata.buyer.name ?? undefined,
    netAmount: metadata.netAmount,
    vatAmount: metadata.vatAmount,
    grossAmount: metadata.grossAmount,
    currency: metadata.currency,
    invoiceType: metadata.invoiceType,
    formCode: metadata.formCode.value,
    invoicingMode: metadata.invoicingMode,
    isSelfInvoicing: metadata.isSelfInvoicing,
    hasAttachment: metadata.hasAttachment,
    invoicingDate: metadata.invoicingDate,
    acquisitionDate: metadata.acquisitionDate,
    permanentStorageDate: metadata.permanentStorageDate,
    invoiceHash: metadata.invoiceHash,
    hashOfCorrectedInvoice: metadata.hashOfCorrectedInvoice ?? undefined,
    thirdSubjects: metadata.thirdSubjects?.length ? (metadata.thirdSubjects as unknown as IDataObject[]) : undefined,
    authorizedSubject: (metadata.authorizedSubject as unknown as IDataObject) ?? undefined,
  };
  for (const key of Object.keys(json)) if (json[key] === undefined) delete json[key];
  return json;
}

/**
 * The friendly JSON of an invoice (`invoice`: parties, lines, VAT summary, totals, payment), or, for a document that
 * is not an FA(2)/FA(3) invoice (e.g. a Peppol one), `invoiceJsonError` saying why it is missing: the XML is still
 * delivered, so one such document never stops a download.
 */
export function friendlyInvoiceJson(xml: Buffer): IDataObject {
  try {
    return { invoice: readInvoiceJson(xml) as unknown as IDataObject };
  } catch (error) {
    return { invoiceJsonError: error instanceof Error ? error.message : String(error) };
  }
}

/** The invoice XML as binary data `data`, named `{ksefNumber}.xml` as in KSeF's export packages. */
export async function invoiceXmlBinary(
  helpers: Pick<IExecuteFunctions['helpers'], 'prepareBinaryData'>,
  ksefNumber: string,
  xml: Buffer,
): Promise<IBinaryKeyData> {
  return { [XML_PROPERTY]: await helpers.prepareBinaryData(xml, `${ksefNumber}.xml`, 'application/xml') };
}

/**
 * A date-time parameter as the engine takes it. The editor's date picker gives a wall time without an offset
 * ('2025-10-01T00:00:00'), which is read in the workflow's time zone; expressions may give a Luxon DateTime or a
 * string with an offset, kept as they are.
 */
export function dateTimeParameter(value: unknown, timeZone: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object' && typeof (value as { toISO?: unknown }).toISO === 'function') {
    return (value as { toISO(): string }).toISO();
  }
  const text = String(value).trim();
  const wallTime = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?$/.exec(text);
  if (!wallTime) return text;
  const [, year, month, day, hour = '0', minute = '0', second = '0', millis = '0'] = wallTime;
  const asUtc = Date.UTC(+year, +month - 1, +day, +hour, +minute, +second, +millis.padEnd(3, '0'));
  // The zone's offset at that moment; asked twice so a wall time next to a DST change lands right.
  let instant = asUtc - zoneOffsetMs(asUtc, timeZone);
  instant = asUtc - zoneOffsetMs(instant, timeZone);
  return new Date(instant).toISOString();
}

/** How far `timeZone`'s wall clock is ahead of UTC at `instant`. */
function zoneOffsetMs(instant: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  for (const { type, value } of format.formatToParts(new Date(instant))) parts[type] = Number(value);
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return wall - Math.floor(instant / 1000) * 1000;
}
