import type { InvoiceInput } from '../types';
import { INVOICE_SCHEMAS, type InvoiceSchema } from '../model/formCodes';
import { sha256Base64 } from '../crypto/hashes';
import { KsefInputError } from '../http/errors';
import { checkInvoiceXml } from '../validation/xmlRules';
import { readInvoiceFacts, schemaMismatch } from '../validation/invoiceFacts';

const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

/** One input after local checks: either ready to send or failed with a KsefInputError. */
export interface PreparedInvoice {
  index: number;
  xml: Buffer;
  invoiceHash: string;
  invoiceNumber?: string;
  offlineMode: boolean;
  hashOfCorrectedInvoice?: string;
  problem?: KsefInputError;
}

export function checkSchema(schema: InvoiceSchema | undefined): InvoiceSchema {
  const chosen = schema ?? 'FA(3)';
  if (!(chosen in INVOICE_SCHEMAS)) {
    throw new KsefInputError(`options.schema must be one of ${Object.keys(INVOICE_SCHEMAS).join(', ')}; got ${JSON.stringify(schema)}.`, {
      field: 'options.schema',
    });
  }
  return chosen;
}

export function prepareInvoice(input: InvoiceInput, index: number, schema: InvoiceSchema, defaultOffline: boolean): PreparedInvoice {
  const field = `invoices[${index}]`;
  const wrapped = typeof input === 'object' && input !== null && !Buffer.isBuffer(input);
  const raw = wrapped ? (input as { xml: unknown }).xml : input;
  const xml = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.isBuffer(raw) ? raw : undefined;
  const perInvoice = wrapped ? (input as { offlineMode?: unknown; hashOfCorrectedInvoice?: unknown }) : {};
  const base = {
    index,
    xml: xml ?? Buffer.alloc(0),
    invoiceHash: xml && xml.length > 0 ? sha256Base64(xml) : '',
    offlineMode: (perInvoice.offlineMode ?? defaultOffline) as boolean,
    hashOfCorrectedInvoice: perInvoice.hashOfCorrectedInvoice as string | undefined,
  };
  const fail = (message: string, failedField = field): PreparedInvoice => ({
    ...base,
    problem: new KsefInputError(message, { field: failedField }),
  });

  if (!xml) {
    return fail(`${field} must be the invoice XML as a string or Buffer, or an object { xml }; got ${describeValue(raw)}.`);
  }
  if (xml.length === 0 || xml.toString('utf8').trim() === '') {
    return fail(`${field} is empty: pass the invoice XML.`);
  }
  const violations = checkInvoiceXml(xml);
  const facts = readInvoiceFacts(xml);
  const prepared = { ...base, ...(facts.invoiceNumber && { invoiceNumber: facts.invoiceNumber }) };
  if (violations.length > 0) {
    return { ...prepared, problem: new KsefInputError(`${field} cannot be sent: ${violations.map((v) => v.message).join(' ')}`, { field }) };
  }
  const mismatch = schemaMismatch(facts, schema);
  if (mismatch.length > 0) {
    return { ...prepared, problem: new KsefInputError(`${field} does not fit the session schema ${schema} (options.schema): ${mismatch.join(' ')}`, { field }) };
  }
  if (typeof base.offlineMode !== 'boolean') {
    return fail(`${field}.offlineMode must be true or false.`, `${field}.offlineMode`);
  }
  if (base.hashOfCorrectedInvoice !== undefined && !BASE64_SHA256.test(String(base.hashOfCorrectedInvoice))) {
    return fail(
      `${field}.hashOfCorrectedInvoice must be the Base64 SHA-256 (44 characters) of the corrected invoice.`,
      `${field}.hashOfCorrectedInvoice`,
    );
  }
  return prepared;
}

function describeValue(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
