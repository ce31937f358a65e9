/** `client.sessions.send`: which path the invoices take ('online', 'batch' or 'auto'), and stream inputs made ready for the online path. */
import { types } from 'node:util';
import { KsefError, KsefInputError } from '../http/errors';
import { DEFAULT_MAX_INVOICE_WITH_ATTACHMENT_BYTES } from '../protocol/xml/xmlRules';
import { DEFAULT_AUTO_BATCH_THRESHOLD } from './batch/batch';
import type { InvoiceInput, InvoiceStreamInput, SendOptions } from './types';

const SEND_MODES = ['online', 'batch', 'auto'] as const;

/** The path `invoices` take: the mode given (default 'online'); 'auto' goes batch from `autoBatchThreshold` invoices on. */
export function chooseSendMode(invoices: InvoiceInput[], options: SendOptions = {}): 'online' | 'batch' {
  const mode = options.mode ?? 'online';
  if (!SEND_MODES.includes(mode)) {
    throw new KsefInputError(`options.mode must be one of ${SEND_MODES.join(', ')}; got ${JSON.stringify(mode)}.`, {
      field: 'options.mode',
    });
  }
  const threshold = options.autoBatchThreshold ?? DEFAULT_AUTO_BATCH_THRESHOLD;
  if (!Number.isInteger(threshold) || threshold < 1) {
    throw new KsefInputError(
      `options.autoBatchThreshold must be a whole number of invoices, 1 or more; got ${JSON.stringify(threshold)}.`,
      {
        field: 'options.autoBatchThreshold',
      },
    );
  }
  if (mode !== 'auto') return mode;
  return Array.isArray(invoices) && invoices.length >= threshold ? 'batch' : 'online';
}

/**
 * The inputs with every stream source read into its bytes, for the online path, which sends each invoice in one
 * request. A stream is read up to one byte past KSeF's largest invoice (3 MB with an attachment): a longer one then
 * fails the size check with its own error, without the rest of it in memory.
 */
export async function readStreamInputs(invoices: InvoiceInput[]): Promise<InvoiceInput[]> {
  if (!Array.isArray(invoices) || !invoices.some(isStreamInput)) return invoices;
  const read: InvoiceInput[] = [];
  for (const [index, input] of invoices.entries()) {
    if (!isStreamInput(input)) {
      read.push(input);
      continue;
    }
    const { open, size, ...options } = input;
    void size;
    read.push({ ...options, xml: await readBounded(open, index, DEFAULT_MAX_INVOICE_WITH_ATTACHMENT_BYTES + 1) });
  }
  return read;
}

async function readBounded(open: InvoiceStreamInput['open'], index: number, maxBytes: number): Promise<Buffer> {
  if (typeof open !== 'function') {
    throw new KsefInputError(`invoices[${index}].open must be a function that returns the invoice XML as a readable stream.`, {
      field: `invoices[${index}].open`,
    });
  }
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of await open()) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
      chunks.push(bytes);
      length += bytes.length;
      // Leaving the loop destroys the stream: nothing more of it is read.
      if (length >= maxBytes) break;
    }
  } catch (error) {
    throw new KsefError(`invoices[${index}] could not be read: ${(error as Error).message}`, { field: `invoices[${index}]`, cause: error });
  }
  return Buffer.concat(chunks, length).subarray(0, maxBytes);
}

function isStreamInput(input: InvoiceInput): input is InvoiceStreamInput {
  return typeof input === 'object' && input !== null && !types.isUint8Array(input) && !types.isArrayBuffer(input) && 'open' in input;
}
