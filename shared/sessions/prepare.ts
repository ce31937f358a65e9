import { types } from 'node:util';
import type { InvoiceFileInput, InvoiceInput, InvoiceStreamInput } from './types';
import { isFileInput, isStreamInput, readInvoiceFile, readInvoiceStream } from './streamInput';
import { INVOICE_SCHEMAS, type InvoiceSchema } from '../protocol/model/formCodes';
import { sha256Base64 } from '../protocol/crypto/hashes';
import { aesEncrypt, type SymmetricKey } from '../protocol/crypto/aes';
import { KsefInputError } from '../http/errors';
import {
  checkInvoiceText,
  inspectInvoiceXml,
  DEFAULT_MAX_INVOICE_BYTES,
  DEFAULT_MAX_INVOICE_WITH_ATTACHMENT_BYTES,
  type XmlSizeLimits,
} from '../protocol/xml/xmlRules';
import { schemaMismatch } from '../protocol/xml/invoiceFacts';

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

/** An invoice encrypted with the session's key: the hashes and sizes KSeF checks, and the bytes sent. */
export interface EncryptedInvoice {
  invoiceHash: string;
  invoiceSize: number;
  encryptedInvoiceHash: string;
  encryptedInvoiceSize: number;
  encryptedInvoiceContent: string;
}

/**
 * The invoice's part of `POST /sessions/online/{ref}/invoices` (`SendInvoiceRequest` in open-api.json,
 * CIRFMF/ksef-api): AES-256-CBC with the session's key and IV, SHA-256 (Base64) and size of the XML and of the
 * ciphertext (sesja-interaktywna.md, CIRFMF/ksef-docs).
 */
export function encryptInvoice(invoice: PreparedInvoice, key: SymmetricKey): EncryptedInvoice {
  const encrypted = aesEncrypt(invoice.xml, key);
  return {
    invoiceHash: invoice.invoiceHash,
    invoiceSize: invoice.xml.length,
    encryptedInvoiceHash: sha256Base64(encrypted),
    encryptedInvoiceSize: encrypted.length,
    encryptedInvoiceContent: encrypted.toString('base64'),
  };
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

/** Which session the invoice goes to: batch sessions take attachments; `limits` are the session's invoice size limits (`GET /limits/context`). */
export interface PrepareRules {
  session?: 'online' | 'batch';
  limits?: XmlSizeLimits;
}

/**
 * `prepareInvoice` for any input, a stream or file source read first: at most the larger of the session's size
 * limits, so one too large fails on its own without the rest of it in memory. A source that fails while read throws
 * (KsefError): that is no verdict on the invoice.
 */
export async function prepareInvoiceSource(
  input: InvoiceInput,
  index: number,
  schema: InvoiceSchema,
  defaultOffline: boolean,
  rules: PrepareRules = {},
): Promise<PreparedInvoice> {
  const stream = isStreamInput(input);
  if (!stream && !isFileInput(input)) return prepareInvoice(input, index, schema, defaultOffline, rules);
  const maxBytes = rules.limits?.maxBytes ?? DEFAULT_MAX_INVOICE_BYTES;
  const maxBytesWithAttachment =
    rules.session === 'batch' ? (rules.limits?.maxBytesWithAttachment ?? DEFAULT_MAX_INVOICE_WITH_ATTACHMENT_BYTES) : 0;
  const limitText =
    `KSeF takes at most ${maxBytes} bytes per invoice` +
    (maxBytesWithAttachment > 0 ? ` in a batch session (${maxBytesWithAttachment} with an attachment)` : '') +
    '. Split it or reduce the attachment.';
  const field = `invoices[${index}]`;
  const readLimit = Math.max(maxBytes, maxBytesWithAttachment);
  // What is said of the invoice besides where to read it goes on with its XML.
  const { open, size, path, ...options } = input as Partial<InvoiceStreamInput & InvoiceFileInput>;
  try {
    const xml = stream
      ? await readInvoiceStream({ open: open!, size }, field, readLimit, limitText)
      : readInvoiceFile(input as InvoiceFileInput, field, readLimit, limitText);
    return prepareInvoice({ ...options, xml }, index, schema, defaultOffline, rules);
  } catch (error) {
    if (!(error instanceof KsefInputError)) throw error;
    return { index, xml: Buffer.alloc(0), invoiceHash: '', offlineMode: options.offlineMode ?? defaultOffline, problem: error };
  }
}

export function prepareInvoice(
  input: InvoiceInput,
  index: number,
  schema: InvoiceSchema,
  defaultOffline: boolean,
  rules: PrepareRules = {},
): PreparedInvoice {
  const field = `invoices[${index}]`;
  const wrapped = typeof input === 'object' && input !== null && !isBinary(input) && !Array.isArray(input);
  const raw = wrapped ? (input as { xml: unknown }).xml : input;
  const textProblems = typeof raw === 'string' ? checkInvoiceText(raw) : [];
  // Bytes of text that cannot be encoded as written are not the caller's invoice: no hash of them is reported.
  const xml = textProblems.length > 0 ? undefined : invoiceBytes(raw);
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

  if (Array.isArray(input)) {
    return fail(
      `${field} is an array of ${input.length} items, not an invoice: pass a flat list of invoices (e.g. invoices.flat()), each an XML string, Buffer, Uint8Array, ArrayBuffer or { xml }.`,
    );
  }
  if (textProblems.length > 0) {
    return fail(`${field} cannot be sent: ${textProblems.map((v) => v.message).join(' ')}`);
  }
  if (!xml) {
    return fail(
      `${field} must be the invoice XML as a string, Buffer, Uint8Array or ArrayBuffer, or an object { xml }; got ${describeValue(raw)}.`,
    );
  }
  // An invoice starts with '<' (anything else is rare): the whole text is decoded only then.
  if (xml.length === 0 || (xml[0] !== 0x3c && xml.toString('utf8').trim() === '')) {
    return fail(`${field} is empty: pass the invoice XML.`);
  }
  const { violations, facts } = inspectInvoiceXml(xml, rules.limits);
  const prepared = { ...base, ...(facts.invoiceNumber && { invoiceNumber: facts.invoiceNumber }) };
  if (violations.length > 0) {
    return {
      ...prepared,
      problem: new KsefInputError(`${field} cannot be sent: ${violations.map((v) => v.message).join(' ')}`, { field }),
    };
  }
  const mismatch = schemaMismatch(facts, schema);
  if (mismatch.length > 0) {
    return {
      ...prepared,
      problem: new KsefInputError(`${field} does not fit the session schema ${schema} (options.schema): ${mismatch.join(' ')}`, { field }),
    };
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
  // KSeF takes invoices with attachments only in batch sessions; the one exception is the technical correction of
  // an offline invoice, which may only go online (faktury/weryfikacja-faktury.md "Ograniczenia dotyczące
  // załączników", offline/korekta-techniczna.md, CIRFMF/ksef-docs).
  if (rules.session !== 'batch' && facts.hasAttachment && !(base.offlineMode && base.hashOfCorrectedInvoice !== undefined)) {
    return {
      ...prepared,
      problem: new KsefInputError(
        `${field} has an attachment (Zalacznik): KSeF accepts invoices with attachments only in batch sessions (and only for sellers who enabled them in e-Urząd Skarbowy), not in an online session. ` +
          'The one exception is a technical correction of an offline invoice (offlineMode with hashOfCorrectedInvoice). Send it in a batch session, or without the attachment.',
        { field },
      ),
    };
  }
  return prepared;
}

/** A Buffer, another Uint8Array or an ArrayBuffer. `util.types` also recognises those made in another realm (a vm sandbox such as n8n's Code node), where `instanceof` fails. */
function isBinary(value: unknown): value is Uint8Array | ArrayBuffer {
  return types.isUint8Array(value) || types.isArrayBuffer(value);
}

/** The UTF-8 bytes of an invoice given as text or bytes (a view keeps its own range of its buffer); undefined for anything else. */
function invoiceBytes(value: unknown): Buffer | undefined {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (types.isUint8Array(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (types.isArrayBuffer(value)) return Buffer.from(value);
  return undefined;
}

function describeValue(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
