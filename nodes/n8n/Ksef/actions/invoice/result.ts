import type { IBinaryKeyData, IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { invoiceStatusMeaning, type EnvironmentName, type StatusInfo } from '../../../../../shared';
import { itemLabel } from '../../helpers/items';

/** What happened to an invoice, in one word a workflow (or an AI agent) can branch on. */
export type InvoiceOutcome = 'accepted' | 'alreadySent' | 'pending' | 'rejected' | 'notSent';

/** The facts of an invoice that Send and Get Status report alike. */
export interface InvoiceFacts {
  accepted: boolean;
  pending: boolean;
  invoiceNumber?: string;
  ksefNumber?: string;
  status?: StatusInfo;
  referenceNumber?: string;
  invoiceHash?: string;
  invoicingMode?: string;
  invoicingDate?: string;
  acquisitionDate?: string;
  permanentStorageDate?: string;
  resolvedFromDuplicate?: { originalSessionReferenceNumber: string };
  /** The engine error (`toJSON()`) of an invoice that was not accepted. */
  error?: Record<string, unknown>;
  /** Why an accepted invoice came without its UPO (engine error `toJSON()`). */
  upoError?: Record<string, unknown>;
}

export function outcomeOf(invoice: InvoiceFacts): InvoiceOutcome {
  if (invoice.accepted) return invoice.resolvedFromDuplicate ? 'alreadySent' : 'accepted';
  if (invoice.pending) return 'pending';
  return invoice.status && invoice.status.code >= 300 ? 'rejected' : 'notSent';
}

/** KSeF's times in one form, ISO 8601 in UTC; a value that is not a time is kept as KSeF gave it. */
function isoTime(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? value : time.toISOString();
}

/** Which session and environment an invoice's result came from (a send result, or a status read). */
export interface AnswerSource {
  sessionReferenceNumber?: string;
  environment: EnvironmentName;
}

/** Beside a sandbox result, so nobody files a simulator's KSeF number as a real one. */
const SANDBOX_NOTE =
  'Answered by the embedded KSeF sandbox, a simulator: this KSeF number and UPO are not real and no invoice was issued in KSeF.';

/**
 * An invoice as a person reads it: KSeF number, invoice number and outcome first, then KSeF's status in Polish
 * with its English meaning, the environment that answered, then the references and times. Undefined fields are
 * left out.
 */
export function invoiceJson(invoice: InvoiceFacts, { sessionReferenceNumber, environment }: AnswerSource): IDataObject {
  const outcome = outcomeOf(invoice);
  const { status, error } = invoice;
  const duplicateOf = invoice.resolvedFromDuplicate?.originalSessionReferenceNumber;
  const json: IDataObject = {
    ksefNumber: invoice.ksefNumber,
    invoiceNumber: invoice.invoiceNumber,
    status: outcome,
    statusCode: status?.code,
    statusDescription: status?.description,
    statusMeaning:
      outcome === 'alreadySent'
        ? `Already sent: this same invoice was accepted before (session ${duplicateOf}); this is its KSeF number and nothing new was issued`
        : status && invoiceStatusMeaning(status.code),
    statusDetails: status?.details?.length ? status.details : undefined,
    environment,
    sandboxNote: environment === 'sandbox' ? SANDBOX_NOTE : undefined,
    accepted: invoice.accepted,
    alreadySent: outcome === 'alreadySent' || undefined,
    pending: invoice.pending,
    referenceNumber: invoice.referenceNumber,
    // No session is opened when every invoice failed the local checks.
    sessionReferenceNumber: sessionReferenceNumber || undefined,
    originalSessionReferenceNumber: duplicateOf,
    invoicingMode: invoice.invoicingMode,
    invoicingDate: isoTime(invoice.invoicingDate),
    acquisitionDate: isoTime(invoice.acquisitionDate),
    permanentStorageDate: isoTime(invoice.permanentStorageDate),
    invoiceHash: invoice.invoiceHash || undefined,
    // Any engine error kind (a KSeF rejection, a local check, a rate limit deadline) travels the same way.
    errorName: typeof error?.name === 'string' ? error.name : undefined,
    retryAt: typeof error?.retryAt === 'string' ? error.retryAt : undefined,
    upoError:
      typeof invoice.upoError?.message === 'string' ? `${invoice.upoError.message} Read it later with Invoice > Get Status.` : undefined,
  };
  for (const key of Object.keys(json)) if (json[key] === undefined) delete json[key];
  return json;
}

/** How messages name an invoice: by its number when it has one, always with the editor's item number. */
export function invoiceLabel(invoiceNumber: string | undefined, itemIndex: number): string {
  return invoiceNumber ? `invoice ${invoiceNumber} (${itemLabel(itemIndex)})` : `the invoice of ${itemLabel(itemIndex)}`;
}

/** Why an invoice was not accepted, in words, naming it as `invoiceLabel` does (not as the engine's `invoices[k]`). */
export function rejectionReason(invoice: InvoiceFacts & { index?: number }, itemIndex: number): string {
  const name = invoiceLabel(invoice.invoiceNumber, itemIndex);
  const { status } = invoice;
  if (status && outcomeOf(invoice) === 'rejected') {
    const meaning = invoiceStatusMeaning(status.code);
    const details = status.details?.length ? ` ${status.details.join(' ')}` : '';
    return `KSeF rejected ${name}: ${status.code} ${status.description}${meaning ? ` (${meaning})` : ''}.${details}`;
  }
  const engineName = invoice.index === undefined ? undefined : `invoices[${invoice.index}]`;
  const message = typeof invoice.error?.message === 'string' ? invoice.error.message : undefined;
  let reason: string;
  if (message && engineName && message.includes(engineName)) reason = message.split(engineName).join(name);
  else if (message) reason = `${name} was not accepted: ${message}`;
  else reason = `${name} was not accepted and KSeF gave no reason`;
  return reason.charAt(0).toUpperCase() + reason.slice(1);
}

/** What the user can do about a failed invoice, by the kind of engine error. */
export function rejectionFix(invoice: InvoiceFacts): string {
  const retryAt = typeof invoice.error?.retryAt === 'string' ? invoice.error.retryAt : undefined;
  if (retryAt)
    return `KSeF's rate limit did not let this invoice go out in time; nothing was issued for it. Send it again after ${retryAt}.`;
  if (outcomeOf(invoice) === 'rejected') return 'KSeF issued nothing for this invoice: correct it and send it again.';
  return 'Nothing was sent to KSeF for this invoice: correct it and send it again.';
}

export const UPO_PROPERTIES: INodeProperties[] = [
  {
    displayName: 'Download UPO',
    name: 'downloadUpo',
    type: 'boolean',
    default: true,
    description: 'Whether to attach the official receipt (UPO XML) of each accepted invoice as binary data',
  },
  {
    displayName: 'Put UPO in Field',
    name: 'upoBinaryPropertyName',
    type: 'string',
    default: 'upo',
    required: true,
    displayOptions: { show: { downloadUpo: [true] } },
    description: 'Name of the output binary property that receives the UPO XML',
  },
];

/** The UPO as the binary property the user named, when there is one. */
export async function upoBinary(
  this: IExecuteFunctions,
  upo: string | undefined,
  ksefNumber: string | undefined,
  property: string | undefined,
): Promise<IBinaryKeyData> {
  if (!property || !upo) return {};
  return { [property]: await this.helpers.prepareBinaryData(Buffer.from(upo, 'utf8'), `UPO-${ksefNumber}.xml`, 'application/xml') };
}
