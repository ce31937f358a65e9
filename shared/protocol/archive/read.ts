/**
 * Reading KSeF's package archives: export packages (`{ksefNumber}.xml` files plus `_metadata.json`, ZIP or TarGz;
 * pobieranie-faktur.md of CIRFMF/ksef-docs) and, for the sandbox, batch-session packages (ZIP). Entries come out one
 * at a time as streams, so memory stays bounded whatever the archive's size; the archive itself is read from a
 * file (or bytes already in memory, whole or in chunks), with maintained libraries: `yauzl` for ZIP, `tar-stream` over zlib for TarGz.
 */
import { createReadStream } from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import { constants as zlibConstants, createGunzip, inflateRawSync } from 'node:zlib';
import * as tar from 'tar-stream';
import * as yauzl from 'yauzl';
import { KsefError } from '../errors';

export type ArchiveFormat = 'Zip' | 'TarGz';

/** A file of an archive. Its content is read (at most once) before the next entry is asked for. */
export interface ArchiveEntry {
  /** The path inside the archive, e.g. `5265877635-20250826-0100001AF629-AF.xml`. */
  name: string;
  /** Uncompressed size in bytes, as the archive declares it. */
  size: number;
  /** The content as a stream. */
  open(): Promise<Readable>;
  /** The whole content; an entry larger than `maxBytes` is refused before it is read. */
  read(maxBytes: number): Promise<Buffer>;
}

export interface ReadArchiveOptions {
  /**
   * The entry to give before all others (e.g. `_metadata.json`, which tells what the other entries are), wherever
   * it lies in the archive. Without it, entries come in archive order.
   */
  first?: string;
}

/** The archive's content is not what a ZIP or a tar.gz of this kind must be. */
export class ArchiveFormatError extends KsefError {}

/** An archive: the path of its file, or its bytes (whole, or as consecutive chunks). */
export type ArchiveSource = string | Buffer | readonly Buffer[];

/**
 * The regular files of the archive at `source`, `options.first` first, then the others in archive order. Directories
 * are skipped. Stopping the iteration early closes the archive.
 */
export function readArchive(source: ArchiveSource, format: ArchiveFormat, options: ReadArchiveOptions = {}): AsyncGenerator<ArchiveEntry> {
  return format === 'Zip' ? readZip(source, options) : readTarGz(source, options);
}

/**
 * ZIP: yauzl reads the central directory one record at a time as the entries are given, so no list of entries is
 * held whatever their number; when `first` is not the first record, the directory (names and sizes only) is read a
 * second time for the entries before it, and no entry's data twice. yauzl parses the directory and the local headers;
 * their bytes and each entry's stored data come from `ZipSource`, which reads the file in blocks, and `read`
 * inflates an entry in one call. With invoices of a few KB, yauzl's default of a stream (and a system call) for
 * every read and a zlib stream for every entry cost several times the inflating itself (3,000 entries of 2 KB,
 * measured here: 0.2-0.7 s of CPU with block reads and one-call inflates, 0.6-2.0 s through yauzl's streams). yauzl
 * checks no CRC-32 either way: every package comes with a SHA-256 its reader checks (open-api.json).
 */
async function* readZip(source: ArchiveSource, { first }: ReadArchiveOptions): AsyncGenerator<ArchiveEntry> {
  let bytes: ZipSource;
  try {
    bytes = typeof source === 'string' ? await ZipSource.ofFile(source) : ZipSource.ofChunks(Buffer.isBuffer(source) ? [source] : source);
  } catch (error) {
    throw new ArchiveFormatError(`The package is not a readable ZIP archive: ${(error as Error).message}.`, { cause: error });
  }
  // Held across the passes: each pass's yauzl ZipFile lets go of the source when it closes.
  bytes.ref();
  try {
    yield* firstThenRest(() => zipEntries(bytes), first);
  } finally {
    bytes.unref();
  }
}

/** One pass over the files of a ZIP, in the central directory's order. */
async function* zipEntries(bytes: ZipSource): AsyncGenerator<ArchiveEntry> {
  // Names are decoded here (`entryName`), not by yauzl.
  const options: yauzl.Options = { lazyEntries: true, autoClose: false, validateEntrySizes: true, decodeStrings: false };
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromRandomAccessReaderPromise(bytes, bytes.size, options);
  } catch (error) {
    throw new ArchiveFormatError(`The package is not a readable ZIP archive: ${(error as Error).message}.`, { cause: error });
  }
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entryName(entry);
      if (name.endsWith('/')) continue;
      let opened: Readable | undefined;
      let taken = false;
      const take = (): void => {
        if (taken) throw new Error(`The ZIP entry ${name} was already read.`);
        taken = true;
      };
      const open = async () => {
        take();
        opened = await zip.openReadStreamPromise(entry);
        return opened;
      };
      const readWhole = async (maxBytes: number) => {
        take();
        return inflateEntry(entry, name, await zip.readLocalFileHeaderPromise(entry, { minimal: true }), bytes, maxBytes);
      };
      yield archiveEntry(name, entry.uncompressedSize, open, readWhole);
      // What the consumer did not read is not read at all: the next record says where the next entry lies.
      opened?.destroy();
    }
  } catch (error) {
    throw asFormatError(error, 'ZIP');
  } finally {
    zip.close();
  }
}

/**
 * The entry's name as yauzl would decode it (`decodeStrings`, `strictFileNames`), but an ASCII name, as every name of
 * a KSeF package is, without decoding it character by character from CP437 (what yauzl does for names without the
 * UTF-8 flag, which `archiver` sets only on non-ASCII names): 10,000 KSeF-number names took 26-105 ms so, 6-17 ms as
 * latin1 (measured here; inflating their entries takes ~90 ms).
 */
function entryName(entry: yauzl.Entry): string {
  const raw = entry.fileName as unknown as Buffer;
  const ascii = raw.toString('latin1');
  const name =
    /^[\x20-\x7e]*$/.test(ascii) && !entry.extraFields.some(({ id }) => id === INFO_ZIP_UNICODE_PATH)
      ? ascii
      : yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, raw, entry.extraFields, true);
  const invalid = yauzl.validateFileName(name);
  if (invalid !== null) throw new ArchiveFormatError(`The ZIP archive holds an entry whose name is unsafe (${invalid}).`);
  return name;
}

/** The Info-ZIP Unicode Path extra field, whose UTF-8 name takes the place of the header's (APPNOTE.TXT 4.6.9). */
const INFO_ZIP_UNICODE_PATH = 0x7075;

/** A stored or deflated entry's content, inflated in one call, checked against its directory record. */
async function inflateEntry(
  entry: yauzl.Entry,
  name: string,
  { fileDataStart }: { fileDataStart: number },
  source: ZipSource,
  maxBytes: number,
): Promise<Buffer> {
  const where = `The ZIP entry ${name}`;
  if (entry.isEncrypted()) throw new ArchiveFormatError(`${where} is encrypted; package entries are not.`);
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
    throw new ArchiveFormatError(`${where} uses compression method ${entry.compressionMethod}; only stored and deflated entries are read.`);
  }
  // Deflate never grows data by more than a few bytes per 64 KB block: anything larger is not this entry.
  if (entry.compressedSize > maxBytes + Math.ceil(maxBytes / 65_535) * 5 + 1024) {
    throw new ArchiveFormatError(`${where} stores ${entry.compressedSize} bytes, more than the ${maxBytes} allowed.`);
  }
  const stored = await source.bytes(fileDataStart, fileDataStart + entry.compressedSize);
  let content: Buffer;
  try {
    content =
      entry.compressionMethod === 0
        ? Buffer.from(stored)
        : inflateRawSync(stored, {
            maxOutputLength: Math.max(1, maxBytes),
            // Zlib's default is a fresh 16 KB output buffer per call: for invoices of a few KB that is most of the
            // memory allocated, and of the collector's work. One byte more than declared ends in one call.
            chunkSize: Math.max(zlibConstants.Z_MIN_CHUNK, Math.min(entry.uncompressedSize, maxBytes) + 1),
          });
  } catch (error) {
    throw new ArchiveFormatError(`${where} does not inflate to what its directory declares: ${(error as Error).message}.`, {
      cause: error,
    });
  }
  if (content.length !== entry.uncompressedSize) {
    throw new ArchiveFormatError(`${where} holds ${content.length} bytes, not the ${entry.uncompressedSize} its directory declares.`);
  }
  return content;
}

/**
 * The bytes of a ZIP for yauzl, from a file read in blocks (consecutive entries' small reads cost one system call per
 * block) or from memory (chunks, found by binary search); `read` answers from a block without a stream, and from
 * memory at once, without a turn of the event loop.
 */
class ZipSource extends yauzl.RandomAccessReader {
  private static readonly BLOCK_BYTES = 1024 * 1024;
  /**
   * File: the blocks read last, most recent first: two, as the reads advance in two places at once, the central
   * directory at the end of the file and the entries' data from its start. Memory: every chunk, in order.
   */
  private blocks: { start: number; bytes: Buffer }[] = [];
  /** yauzl's reference count (in its README, not in its type declarations): the source closes when it drops to zero. */
  declare ref: () => void;
  declare unref: () => void;

  private constructor(
    readonly size: number,
    private readonly file?: FileHandle,
    chunks: readonly Buffer[] = [],
  ) {
    super();
    let start = 0;
    for (const bytes of chunks) {
      if (bytes.length === 0) continue;
      this.blocks.push({ start, bytes });
      start += bytes.length;
    }
  }

  static async ofFile(path: string): Promise<ZipSource> {
    const file = await openFile(path, 'r');
    try {
      return new ZipSource((await file.stat()).size, file);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  static ofChunks(chunks: readonly Buffer[]): ZipSource {
    return new ZipSource(
      chunks.reduce((sum, chunk) => sum + chunk.length, 0),
      undefined,
      chunks,
    );
  }

  /** Bytes `start` to `end` (exclusive): a view of a block, or of a copy when they span chunks in memory. */
  async bytes(start: number, end: number): Promise<Buffer> {
    if (!this.file) return this.inMemory(start, end);
    let block = this.blocks.find((candidate) => start >= candidate.start && end <= candidate.start + candidate.bytes.length);
    if (!block) {
      if (end > this.size) throw new RangeError(`Bytes ${start}-${end} are beyond the archive's ${this.size}.`);
      const length = Math.min(Math.max(end - start, ZipSource.BLOCK_BYTES), this.size - start);
      const bytes = Buffer.allocUnsafe(length);
      const { bytesRead } = await this.file.read(bytes, 0, length, start);
      block = { start, bytes: bytes.subarray(0, bytesRead) };
      // An entry larger than a block is read on its own, without evicting a block.
      if (end - start <= ZipSource.BLOCK_BYTES) this.blocks = [block, ...this.blocks.slice(0, 1)];
    } else if (block !== this.blocks[0]) {
      this.blocks = [block, ...this.blocks.filter((other) => other !== block)];
    }
    return block.bytes.subarray(start - block.start, end - block.start);
  }

  private inMemory(start: number, end: number): Buffer {
    if (start < 0 || end > this.size || start > end) throw new RangeError(`Bytes ${start}-${end} are beyond the archive's ${this.size}.`);
    if (start === end) return Buffer.alloc(0);
    let low = 0;
    let high = this.blocks.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.blocks[middle].start <= start) low = middle;
      else high = middle - 1;
    }
    const first = this.blocks[low];
    if (end <= first.start + first.bytes.length) return first.bytes.subarray(start - first.start, end - first.start);
    const spanned: Buffer[] = [];
    for (let index = low; index < this.blocks.length && this.blocks[index].start < end; index++) {
      const { start: at, bytes } = this.blocks[index];
      spanned.push(bytes.subarray(Math.max(start - at, 0), Math.min(end - at, bytes.length)));
    }
    return Buffer.concat(spanned, end - start);
  }

  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (error: Error | null, bytesRead: number) => void,
  ): void {
    if (!this.file) {
      let bytes: Buffer;
      try {
        bytes = this.inMemory(position, position + length);
      } catch (error) {
        return callback(error as Error, 0);
      }
      return callback(null, bytes.copy(buffer, offset));
    }
    this.bytes(position, position + length).then(
      (bytes) => callback(null, bytes.copy(buffer, offset)),
      (error: Error) => callback(error, 0),
    );
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const stream = new PassThrough();
    this.bytes(start, end).then(
      (bytes) => stream.end(Buffer.from(bytes)),
      (error: Error) => stream.destroy(error),
    );
    return stream;
  }

  override close(callback: (error: Error | null) => void): void {
    if (!this.file) return callback(null);
    this.file.close().then(
      () => callback(null),
      (error: Error) => callback(error),
    );
  }
}

/**
 * TarGz can only be read in order. When `first` is not the archive's first file, the archive is read twice: the
 * first pass inflates up to `first` and skips the other bodies, the second gives the rest (no second pass when `first`
 * leads, as in the packages the sandbox writes; KSeF does not document its order). The alternative, spooling every
 * entry before `first` to temporary files, costs about the same time: measured here on 200 MB of invoice-like XML
 * (2 busy cores), streaming inflate ran at 45-74 MB/s and writing plus reading back the spool at 52-61 MB/s. But the
 * spool holds the entries uncompressed, several times the package's size on disk (XML deflates about tenfold), where
 * two passes need no space beyond the package itself.
 */
async function* readTarGz(source: ArchiveSource, { first }: ReadArchiveOptions): AsyncGenerator<ArchiveEntry> {
  yield* firstThenRest(() => tarEntries(source), first);
}

/**
 * The files of `pass()` with `first` first: in one pass when it leads (or is not asked for), else the first pass
 * stops at it and a second gives every other file, in order.
 */
async function* firstThenRest(pass: () => AsyncGenerator<ArchiveEntry>, first: string | undefined): AsyncGenerator<ArchiveEntry> {
  /** Where `first` lies among the files; -1 until it is found. */
  let firstAt = -1;
  let index = 0;
  for await (const entry of pass()) {
    if (first === undefined || firstAt === 0) {
      yield entry;
    } else if (firstAt === -1 && entry.name === first) {
      firstAt = index;
      yield entry;
      if (firstAt > 0) break;
    }
    index++;
  }
  if (first === undefined || firstAt === 0) return;
  // `first` came after other files (or not at all): the second pass gives every file but it.
  index = 0;
  for await (const entry of pass()) if (index++ !== firstAt) yield entry;
}

/** The files of a tar.gz in order; a body the consumer does not open is skipped unread. */
async function* tarEntries(source: ArchiveSource): AsyncGenerator<ArchiveEntry> {
  // Large reads and inflated chunks: per chunk, each stage of the pipe costs about as much as inflating 16 KB (their defaults: 64 KB and 16 KB).
  const input =
    typeof source === 'string'
      ? createReadStream(source, { highWaterMark: 1024 * 1024 })
      : Readable.from(Buffer.isBuffer(source) ? [source] : source, { objectMode: false });
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  const extract = tar.extract();
  input.on('error', (error: Error) => gunzip.destroy(error));
  gunzip.on('error', (error) => extract.destroy(error));
  input.pipe(gunzip).pipe(extract as unknown as NodeJS.WritableStream);
  try {
    for await (const body of extract) {
      const { name, size, type } = body.header;
      if (type !== 'file' && type !== 'contiguous-file') {
        body.resume();
        continue;
      }
      const stream = body as unknown as Readable;
      let opened = false;
      const open = async () => {
        if (opened) throw new Error(`The tar entry ${name} was already read.`);
        opened = true;
        return stream;
      };
      yield archiveEntry(name, size, open);
      // The next header comes after this body: what the consumer left is drained.
      if (!opened) body.resume();
    }
  } catch (error) {
    throw asFormatError(error, 'tar.gz');
  } finally {
    extract.destroy();
    gunzip.destroy();
    input.destroy();
  }
}

function archiveEntry(
  name: string,
  size: number,
  open: () => Promise<Readable>,
  readWhole?: (maxBytes: number) => Promise<Buffer>,
): ArchiveEntry {
  return {
    name,
    size,
    open,
    async read(maxBytes) {
      if (size > maxBytes) throw new ArchiveFormatError(`The archive entry ${name} has ${size} bytes, more than the ${maxBytes} allowed.`);
      if (readWhole) return readWhole(maxBytes);
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of await open()) {
        total += (chunk as Buffer).length;
        if (total > maxBytes) throw new ArchiveFormatError(`The archive entry ${name} holds more than the ${maxBytes} bytes allowed.`);
        chunks.push(chunk as Buffer);
      }
      // An entry within one chunk (most invoices) is that chunk, not a copy: 10,000 copies cost more than their
      // inflating. It is a view of the inflated block (at most 256 KB) and keeps it alive while it is kept.
      return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
    },
  };
}

function asFormatError(error: unknown, kind: string): Error {
  if (error instanceof KsefError) return error;
  return new ArchiveFormatError(`The package is not a readable ${kind} archive: ${(error as Error)?.message ?? String(error)}.`, {
    cause: error,
  });
}
