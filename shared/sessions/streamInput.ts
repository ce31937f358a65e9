/**
 * Invoice inputs given as sources to read (`InvoiceStreamInput`, `InvoiceFileInput`): recognised and read here, for
 * the online and the batch path alike.
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { types } from 'node:util';
import { KsefError, KsefInputError } from '../http/errors';
import type { InvoiceFileInput, InvoiceInput, InvoiceStreamInput } from './types';

export function isStreamInput(input: InvoiceInput): input is InvoiceStreamInput {
  return isInputObject(input) && 'open' in (input as object);
}

export function isFileInput(input: InvoiceInput): input is InvoiceFileInput {
  return isInputObject(input) && (input as { path?: unknown }).path !== undefined && !('open' in (input as object));
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

/**
 * Bytes of an invoice file read at once, into a buffer this thread keeps: a typical invoice (a few kB) is read whole
 * by one positional read, without asking the file's size first. Building a package of 10,000 files, the `fstat` and
 * the second read that finds the end took about as long as opening and reading each file.
 */
export const FILE_READ_BYTES = 64 * 1024;
/** This thread's read buffer (each worker thread loads this module, and so has its own); reads are synchronous. */
let readBuffer: Buffer | undefined;

/**
 * The invoice's bytes from the file at `input.path`, read synchronously (see `InvoiceFileInput`) up to `maxBytes`: a
 * file larger than that is refused from its size, unread beyond its first `FILE_READ_BYTES`. A path that names no
 * regular file is the invoice's own `KsefInputError`; any other failure to read it is a `KsefError` (no verdict on
 * the invoice).
 */
export function readInvoiceFile(input: InvoiceFileInput, field: string, maxBytes: number, limitText: string): Buffer {
  const pathField = `${field}.path`;
  if ((input as { xml?: unknown }).xml !== undefined) {
    throw new KsefInputError(`${field} gives both xml and path: give the invoice once, as its XML or as the path of its file.`, {
      field,
    });
  }
  if (typeof input.path !== 'string' || input.path.length === 0 || input.path.includes('\0')) {
    throw new KsefInputError(`${pathField} must be the path of a file holding the invoice XML; got ${JSON.stringify(input.path)}.`, {
      field: pathField,
    });
  }
  const notAFile = () =>
    new KsefInputError(`${pathField} must name a regular file with the invoice XML; ${input.path} is not one.`, { field: pathField });
  const tooLarge = (size: string) => new KsefInputError(`${field} has ${size} bytes; ${limitText}`, { field });
  let fd: number;
  try {
    // Non-blocking: opening a named pipe would otherwise wait, with the event loop, for a writer. Reads of a regular
    // file are not affected.
    fd = openSync(input.path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (error) {
    throw unreadableFile(error, field, pathField, input.path);
  }
  try {
    // Positional reads (pread): a pipe refuses them (ESPIPE), a directory any read (EISDIR). A regular file gives
    // fewer bytes than asked only at its end.
    const buffer = (readBuffer ??= Buffer.allocUnsafeSlow(FILE_READ_BYTES));
    const first = readSync(fd, buffer, 0, buffer.length, 0);
    if (first < buffer.length) {
      if (first > maxBytes) throw tooLarge(String(first));
      const bytes = Buffer.allocUnsafe(first);
      buffer.copy(bytes, 0, 0, first);
      return bytes;
    }
    // A large file: judged from its size before the rest is read.
    const stat = fstatSync(fd);
    // A device might never end.
    if (!stat.isFile()) throw notAFile();
    if (stat.size > maxBytes) throw tooLarge(String(stat.size));
    // One byte more than the size: a file that grew since is still read to its end (up to the limit).
    let bytes = Buffer.allocUnsafe(Math.max(stat.size, first) + 1);
    buffer.copy(bytes, 0, 0, first);
    let length = first;
    for (;;) {
      const read = readSync(fd, bytes, length, bytes.length - length, length);
      if (read === 0) break;
      length += read;
      if (length > maxBytes) throw tooLarge(`more than ${maxBytes}`);
      if (length === bytes.length) {
        const grown = Buffer.allocUnsafe(Math.min(bytes.length * 2, maxBytes + 1));
        bytes.copy(grown, 0, 0, length);
        bytes = grown;
      }
    }
    return bytes.subarray(0, length);
  } catch (error) {
    if (error instanceof KsefError) throw error;
    const code = (error as NodeJS.ErrnoException)?.code;
    if (code === 'ESPIPE' || code === 'EISDIR') throw notAFile();
    throw unreadableFile(error, field, pathField, input.path);
  } finally {
    closeSync(fd);
  }
}

/** A file that cannot be opened or read: the caller's mistake when there is no such file, else the system's failure. */
function unreadableFile(error: unknown, field: string, pathField: string, path: string): KsefError {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
    return new KsefInputError(`${pathField} names no file with the invoice XML: ${path} (${code}).`, { field: pathField });
  }
  return new KsefError(`${field} could not be read from ${path} (${code ?? (error as Error).message}).`, { field, cause: error });
}

function isReadableStream(value: unknown): value is Readable {
  return (
    value instanceof Readable ||
    (typeof value === 'object' && value !== null && typeof (value as Readable).pipe === 'function' && Symbol.asyncIterator in value)
  );
}
