/** Invoice inputs given as stream sources (`InvoiceStreamInput`): recognised and read here, for the online and the batch path alike. */
import { Readable } from 'node:stream';
import { types } from 'node:util';
import { KsefError, KsefInputError } from '../http/errors';
import type { InvoiceInput, InvoiceStreamInput } from './types';

export function isStreamInput(input: InvoiceInput): input is InvoiceStreamInput {
  return isInputObject(input) && 'open' in (input as object);
}

/** An `{ xml }` or stream input object (not the XML itself given as text or bytes). */
export function isInputObject(input: unknown): boolean {
  return typeof input === 'object' && input !== null && !types.isUint8Array(input) && !types.isArrayBuffer(input) && !Array.isArray(input);
}

/**
 * The invoice's bytes, read up to `maxBytes`: a source giving more is refused as too large without the rest of it
 * read (leaving the loop destroys the stream). A misused source (no `open`, no stream, a wrong `size`) or one too
 * large is the invoice's own `KsefInputError`; a source that fails while read is a `KsefError`, since it says nothing
 * of the invoice and callers must not take it for a verdict.
 */
export async function readInvoiceStream(input: InvoiceStreamInput, field: string, maxBytes: number, limitText: string): Promise<Buffer> {
  const tooLarge = (size: string) => new KsefInputError(`${field} has ${size} bytes; ${limitText}`, { field });
  if (typeof input.open !== 'function') {
    throw new KsefInputError(`${field}.open must be a function that returns the invoice XML as a readable stream.`, {
      field: `${field}.open`,
    });
  }
  if (input.size !== undefined && !(Number.isInteger(input.size) && input.size >= 0)) {
    throw new KsefInputError(`${field}.size must be the invoice's byte size; got ${JSON.stringify(input.size)}.`, {
      field: `${field}.size`,
    });
  }
  if (input.size !== undefined && input.size > maxBytes) throw tooLarge(String(input.size));
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    const stream: unknown = await input.open();
    if (!isReadableStream(stream)) {
      const got = stream === null ? 'null' : Buffer.isBuffer(stream) ? 'a Buffer (pass it as { xml } instead)' : typeof stream;
      throw new KsefInputError(`${field}.open() must return a readable stream of the invoice XML; it returned ${got}.`, {
        field: `${field}.open`,
      });
    }
    for await (const chunk of stream) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
      length += bytes.length;
      if (length > maxBytes) throw tooLarge(`more than ${maxBytes}`);
      chunks.push(bytes);
    }
  } catch (error) {
    if (error instanceof KsefInputError) throw error;
    throw new KsefError(`${field} could not be read: ${(error as Error).message}`, { field, cause: error });
  }
  if (input.size !== undefined && input.size !== length) {
    throw new KsefInputError(`${field} gave ${length} bytes, but its size says ${input.size}: the stream must give exactly the invoice.`, {
      field: `${field}.size`,
    });
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length);
}

function isReadableStream(value: unknown): value is Readable {
  return (
    value instanceof Readable ||
    (typeof value === 'object' && value !== null && typeof (value as Readable).pipe === 'function' && Symbol.asyncIterator in value)
  );
}
