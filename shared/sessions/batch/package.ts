/**
 * The package of a batch session (sesja-wsadowa.md, CIRFMF/ksef-docs; `OpenBatchSessionRequest.batchFile` in
 * open-api.json, CIRFMF/ksef-api): the invoices in one ZIP or tar.gz, split binarily into parts of at most 100 MB,
 * each part encrypted on its own with AES-256-CBC/PKCS#7 under the session's key and IV (the official clients encrypt
 * every raw part from its start with the same key and IV, no IV prefix). KSeF wants the size and SHA-256 of the whole
 * unencrypted package and of every encrypted part when the session opens, before any part is uploaded, so the
 * encrypted parts are kept while those are computed, all in one pass over the invoices: in memory while the package
 * is small (IN_MEMORY_PACKAGE_BYTES), else spooled to temporary files.
 */
import { createCipheriv, createHash, type Cipher, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { types } from 'node:util';
import { finished } from 'node:stream/promises';
import { KsefError, KsefInputError } from '../../http/errors';
import type { ArchiveFormat } from '../../protocol/archive/read';
import { assembleArchive, inBlocks, type ArchiveSegment } from '../../protocol/archive/bufferArchives';
import type { SymmetricKey } from '../../protocol/crypto/aes';
import type { InvoiceSchema } from '../../protocol/model/formCodes';
import { DEFAULT_MAX_INVOICE_BYTES, DEFAULT_MAX_INVOICE_WITH_ATTACHMENT_BYTES, type XmlSizeLimits } from '../../protocol/xml/xmlRules';
import { prepareInvoiceSource, type PreparedInvoice } from '../prepare';
import { isInputObject, isStreamInput } from '../streamInput';
import type { InvoiceInput } from '../types';
import { ConcurrencyLimit } from '../../util/concurrency';
import { asBuffer, ownBuffer } from '../../protocol/workerPool';
import { packWorkers, type PackedInvoice, type PackItem } from './packWorker';

/** Largest part before encryption: "100MB" (`BatchFileInfo.fileParts`), taken as the official clients take it, 100 * 1000 * 1000 bytes. */
export const MAX_PART_BYTES = 100_000_000;
/** Most parts of one package (`BatchFileInfo.fileParts` maxItems). */
export const MAX_PARTS = 50;
/** Largest package before encryption (`BatchFileInfo.fileSize` maximum, "5GB"). */
export const MAX_PACKAGE_BYTES = 5_000_000_000;
/** Most invoices of one batch session (`GET /limits/context` batchSession.maxInvoices default). */
export const MAX_INVOICES_PER_PACKAGE = 10_000;
/** Longest file name KSeF reports back (`SessionInvoiceStatusResponse.invoiceFileName` maxLength). */
const MAX_FILE_NAME_LENGTH = 128;
/** Path separators and control characters, which would make a name mean something else inside the archive. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_FILE_NAME = /[/\\\u0000-\u001f\u007f]/;
/** Spool files are written and read in large chunks: fewer system calls and stream turns per byte. */
const SPOOL_CHUNK = 1024 * 1024;
/**
 * The archive's bytes are hashed and encrypted in blocks of this size: a ZIP gives a header and a few kB of deflated
 * invoice at a time, and each cipher update and hash update costs a call into OpenSSL with its own set-up.
 */
const PACKAGE_BLOCK_BYTES = 256 * 1024;
/**
 * Encrypted parts are kept in memory while the package is at most this large (about 7,000 typical invoices as a
 * ZIP), and spooled to temporary files once it grows past it: a small package then costs no temporary directory,
 * file writes and reads (thread-pool round trips that took longer than building a package of 100 invoices), and
 * memory stays bounded whatever the package's size.
 */
export const IN_MEMORY_PACKAGE_BYTES = 8 * 1024 * 1024;
/**
 * Invoices packed by a worker at a time. A ZIP compresses every entry on its own: its runs need only be long enough
 * to make a message's cost small (building a 10,000-invoice ZIP took 5-10% less time in runs of 64 than of 16) and
 * short enough to spread 100 invoices over two workers. A tar.gz run is one piece of the package's deflate stream,
 * compressed without the history of the runs before it, so its runs are long: measured on 10,000 FA(3) invoices of
 * 2.5 KB, the package was 1.26 MB in runs of 16, 0.60 MB in runs of 64, 0.42 MB in runs of 256 and 0.35 MB as one
 * gzip stream.
 */
export const INVOICES_PER_RUN: Record<ArchiveFormat, number> = { Zip: 64, TarGz: 256 };
/** A run also ends once the invoices given in memory reach this many bytes: they are copied to the worker. */
export const RUN_BYTES = 4 * 1024 * 1024;
/** Stream inputs read at once (each a thread-pool round trip or a download at a time; a few overlap their waits). */
export const STREAMS_READ_AT_ONCE = 8;
/** Runs given to the workers beyond the one awaited: keeps every worker busy, and memory to a few runs' invoices. */
export const RUNS_AT_ONCE = 2 * packWorkers.size;

/** One invoice of the package: its position in the caller's input and the input itself. */
export interface BatchPackageSource {
  /** Position in the caller's input: names errors (`invoices[index]`) and the default file name. */
  index: number;
  input: InvoiceInput;
}

export interface BuildBatchPackageOptions {
  /** The session's AES-256 key and IV. */
  key: SymmetricKey;
  /** Default Zip. */
  compressionType?: ArchiveFormat;
  /** Largest part before encryption (default and maximum `MAX_PART_BYTES`). */
  partSizeBytes?: number;
  /** Schema every invoice must declare (default FA(3)). */
  schema?: InvoiceSchema;
  /** Default offline mode of invoices that do not set it. */
  offlineMode?: boolean;
  /** The batch session's invoice size limits (`GET /limits/context` batchSession; default KSeF's 1 MB and 3 MB). */
  limits?: XmlSizeLimits;
  /** Most invoices in the package (default and maximum `MAX_INVOICES_PER_PACKAGE`). */
  maxInvoices?: number;
  /** Where the encrypted parts are spooled (default `os.tmpdir()`). */
  tempDir?: string;
  /** Largest package whose encrypted parts stay in memory, not spooled (default `IN_MEMORY_PACKAGE_BYTES`). */
  maxInMemoryBytes?: number;
}

/** An invoice in the package. */
export interface BatchPackageEntry {
  index: number;
  /** Its name in the archive, which KSeF reports back as `invoiceFileName`. */
  fileName: string;
  /** Base64 SHA-256 of the original XML, which KSeF reports back as `invoiceHash`. */
  invoiceHash: string;
  invoiceSize: number;
  invoiceNumber?: string;
  offlineMode: boolean;
}

/** An invoice left out of the package by the local checks. */
export interface BatchPackageRejection {
  index: number;
  fileName: string;
  /** Base64 SHA-256 of the XML, empty when there were no bytes to hash. */
  invoiceHash: string;
  invoiceNumber?: string;
  problem: KsefInputError;
}

/** A part as `BatchFilePartInfo` declares it: size and hash of the encrypted part; `plainSize` before encryption. */
export interface BatchPackagePart {
  ordinalNumber: number;
  fileSize: number;
  fileHash: string;
  plainSize: number;
}

/**
 * A built package. Building is deterministic: the same sources (same bytes, order and file names), options and key
 * give the same archive and parts byte for byte (fixed entry dates; on the same Node.js build, whose zlib compresses),
 * so a resumed batch can rebuild the package and compare `fileHash` with the hash it declared when the session opened.
 */
export interface BatchPackage {
  compressionType: ArchiveFormat;
  /** Size and Base64 SHA-256 of the whole unencrypted package. */
  fileSize: number;
  fileHash: string;
  parts: BatchPackagePart[];
  /** The invoices in the package, in archive order. */
  entries: BatchPackageEntry[];
  /** The invoices the local checks refused, in input order; not in the package. */
  rejected: BatchPackageRejection[];
  /** The encrypted part, from memory or its spool file; may be called again (a retried upload). */
  openPart(ordinalNumber: number): Readable;
  /** Lets the parts go (removes the spooled ones); the package cannot be read afterwards. */
  dispose(): Promise<void>;
}

/** The `batchFile` block of `POST /sessions/batch` (`BatchFileInfo`, open-api.json, CIRFMF/ksef-api). */
export function batchFileInfo(pkg: BatchPackage): {
  fileSize: number;
  fileHash: string;
  compressionType: ArchiveFormat;
  fileParts: { ordinalNumber: number; fileSize: number; fileHash: string }[];
} {
  return {
    fileSize: pkg.fileSize,
    fileHash: pkg.fileHash,
    compressionType: pkg.compressionType,
    fileParts: pkg.parts.map(({ ordinalNumber, fileSize, fileHash }) => ({ ordinalNumber, fileSize, fileHash })),
  };
}

/** The name of an invoice in the package when its input does not give one. */
export function defaultFileName(index: number): string {
  return `invoice-${index + 1}.xml`;
}

/**
 * Packs `sources` (in order, each read at most to KSeF's per-invoice size) into the archive, checking every invoice as
 * an online send does (batch sessions also take attachments); those that fail go to `rejected` instead. Invoices are
 * read, checked and compressed on the package workers, a few runs (`INVOICES_PER_RUN`) at once; the archive is
 * hashed, split, encrypted and kept (in memory up to `maxInMemoryBytes`, else spooled) here as its runs come back in
 * order: memory holds the runs in flight and a few MB of buffers, whatever the package's size. Throws a KsefInputError
 * before anything is sent when the package cannot be declared (duplicate or bad file names, more invoices than
 * `maxInvoices`, more than 50 parts or 5 GB); the temporary files are then removed.
 */
export async function buildBatchPackage(
  sources: Iterable<BatchPackageSource> | AsyncIterable<BatchPackageSource>,
  options: BuildBatchPackageOptions,
): Promise<BatchPackage> {
  const compressionType = options.compressionType ?? 'Zip';
  if (compressionType !== 'Zip' && compressionType !== 'TarGz') {
    throw new KsefInputError(`options.compressionType must be 'Zip' or 'TarGz'; got ${JSON.stringify(compressionType)}.`, {
      field: 'options.compressionType',
    });
  }
  const partSize = options.partSizeBytes ?? MAX_PART_BYTES;
  if (!Number.isInteger(partSize) || partSize < 1 || partSize > MAX_PART_BYTES) {
    throw new KsefInputError(
      `options.partSizeBytes must be a whole number of bytes from 1 to ${MAX_PART_BYTES} (KSeF's 100 MB); got ${partSize}.`,
      {
        field: 'options.partSizeBytes',
      },
    );
  }
  const maxInvoices = options.maxInvoices ?? MAX_INVOICES_PER_PACKAGE;
  if (!Number.isInteger(maxInvoices) || maxInvoices < 1 || maxInvoices > MAX_INVOICES_PER_PACKAGE) {
    throw new KsefInputError(`options.maxInvoices must be a whole number from 1 to ${MAX_INVOICES_PER_PACKAGE}; got ${maxInvoices}.`, {
      field: 'options.maxInvoices',
    });
  }
  if (options.key?.key?.length !== 32 || options.key.iv?.length !== 16) {
    throw new KsefInputError('options.key must hold a 32-byte AES-256 key and a 16-byte IV.', { field: 'options.key' });
  }

  const maxInMemoryBytes = options.maxInMemoryBytes ?? IN_MEMORY_PACKAGE_BYTES;
  const spool = new PartSpool(options.tempDir ?? tmpdir(), partSize, options.key, maxInMemoryBytes);
  const packer = new InvoicePacker(compressionType, options, maxInvoices);
  try {
    // Not archiver: its per-entry streams cost several times the compression (measured in bufferArchives.ts).
    const archive = assembleArchive(compressionType, packer.segments(sources));
    for await (const block of inBlocks(archive, PACKAGE_BLOCK_BYTES)) {
      await spool.write(block, packer.entriesPacked());
    }
    await spool.finish();
  } catch (error) {
    await spool.dispose();
    throw error;
  }
  return {
    compressionType,
    fileSize: spool.packageSize,
    fileHash: spool.packageHash.digest('base64'),
    parts: spool.parts,
    entries: packer.packed,
    rejected: packer.rejected,
    openPart: (ordinalNumber) => spool.openPart(ordinalNumber),
    dispose: () => spool.dispose(),
  };
}

/**
 * Turns sources into archive segments: names every invoice here, in input order, and has it read, checked and
 * compressed on the package workers (`packWorkers`) in runs (`INVOICES_PER_RUN`, `RUN_BYTES`), a few runs at once;
 * keeps what KSeF will report back. Stream inputs are read here (`STREAMS_READ_AT_ONCE`) and checked here too: a
 * stream cannot go to another thread. So is an input whose values cannot be copied to one (a function, say), which the checks refuse.
 */
class InvoicePacker {
  readonly packed: BatchPackageEntry[] = [];
  readonly rejected: BatchPackageRejection[] = [];
  private readonly fileNames = new Set<string>();
  private readonly limits: Required<XmlSizeLimits>;
  private readonly schema: InvoiceSchema;
  private readonly offlineMode: boolean;
  private readonly streamReads = new ConcurrencyLimit(STREAMS_READ_AT_ONCE);

  constructor(
    private readonly format: ArchiveFormat,
    options: BuildBatchPackageOptions,
    private readonly maxInvoices: number,
  ) {
    this.limits = {
      maxBytes: options.limits?.maxBytes ?? DEFAULT_MAX_INVOICE_BYTES,
      maxBytesWithAttachment: options.limits?.maxBytesWithAttachment ?? DEFAULT_MAX_INVOICE_WITH_ATTACHMENT_BYTES,
    };
    this.schema = options.schema ?? 'FA(3)';
    this.offlineMode = options.offlineMode ?? false;
  }

  entriesPacked(): number {
    return this.packed.length;
  }

  async *segments(sources: Iterable<BatchPackageSource> | AsyncIterable<BatchPackageSource>): AsyncGenerator<ArchiveSegment> {
    const running: Promise<Run>[] = [];
    let run: RunItem[] = [];
    let runBytes = 0;
    try {
      for await (const { index, input } of sources) {
        const item = this.runItem(index, input);
        run.push(item);
        runBytes += item.knownBytes;
        if (run.length < INVOICES_PER_RUN[this.format] && runBytes < RUN_BYTES) continue;
        running.push(this.pack(run));
        run = [];
        runBytes = 0;
        if (running.length > RUNS_AT_ONCE) yield this.taken(await running.shift()!);
      }
      if (run.length > 0) running.push(this.pack(run));
      while (running.length > 0) yield this.taken(await running.shift()!);
    } finally {
      // Runs still going when the build stops (a failed invoice, a failed part) must not count as unhandled.
      for (const left of running) left.catch(() => undefined);
    }
  }

  /** The invoice named (a bad name fails the build in its turn), a stream input being read and checked meanwhile. */
  private runItem(index: number, input: InvoiceInput): RunItem {
    let fileName = '';
    let nameError: KsefInputError | undefined;
    try {
      fileName = this.fileNameOf(input, index);
    } catch (error) {
      nameError = error as KsefInputError;
    }
    if (!isStreamInput(input) && canGoToWorker(input))
      return { index, fileName, nameError, input: inputForWorker(input), knownBytes: bytesGiven(input) };
    const preparing = this.streamReads.run(() =>
      prepareInvoiceSource(input, index, this.schema, this.offlineMode, { session: 'batch', limits: this.limits }),
    );
    // Awaited in its run's turn; failing while an earlier run is packed, it must not count as unhandled meanwhile.
    preparing.catch(() => undefined);
    return { index, fileName, nameError, input, preparing, knownBytes: 0 };
  }

  /** The run packed by a worker; stream inputs read first. Its verdicts are taken in input order by `taken`. */
  private async pack(items: RunItem[]): Promise<Run> {
    const verdicts = new Map<number, PackedInvoice>();
    const toPack: PackItem[] = [];
    for (const item of items) {
      if (item.nameError) break;
      if (!item.preparing) {
        toPack.push({ index: item.index, fileName: item.fileName, input: item.input });
        continue;
      }
      let prepared: PreparedInvoice;
      try {
        prepared = await item.preparing;
      } catch (error) {
        verdicts.set(item.index, {
          index: item.index,
          invoiceHash: '',
          invoiceSize: 0,
          offlineMode: false,
          unreadable: error as KsefError,
        });
        break;
      }
      if (prepared.problem) {
        const { index, invoiceHash, xml, offlineMode, invoiceNumber, problem } = prepared;
        verdicts.set(index, {
          index,
          invoiceHash,
          invoiceSize: xml.length,
          offlineMode,
          invoiceNumber: invoiceNumber && ownCopy(invoiceNumber),
          problem,
        });
      } else toPack.push({ index: item.index, fileName: item.fileName, prepared: { ...prepared, xml: ownBuffer(prepared.xml) } });
    }
    const answer = await packWorkers
      .run({ format: this.format, schema: this.schema, offlineMode: this.offlineMode, limits: this.limits, items: toPack })
      .catch((error: Error) => {
        throw new KsefError(`The batch package could not be built: ${error.message}`, { cause: error });
      });
    for (const verdict of answer.invoices) verdicts.set(verdict.index, verdict);
    return { items, verdicts, segment: { ...answer.segment, bytes: asBuffer(answer.segment.bytes) } };
  }

  /** The run's segment, once each of its invoices has been taken in order: packed, rejected, or failing the build. */
  private taken({ items, verdicts, segment }: Run): ArchiveSegment {
    for (const { index, fileName, nameError } of items) {
      if (nameError) throw nameError;
      const verdict = verdicts.get(index);
      if (!verdict) throw new KsefError(`invoices[${index}] was not packed.`, { field: `invoices[${index}]` });
      if (verdict.unreadable) {
        const { message, field } = verdict.unreadable;
        throw verdict.unreadable instanceof KsefError ? verdict.unreadable : new KsefError(message, { field });
      }
      const said = {
        index,
        fileName,
        invoiceHash: verdict.invoiceHash,
        // Copied from another thread, or made whole here: never a slice keeping an invoice's text alive.
        ...(verdict.invoiceNumber !== undefined && { invoiceNumber: verdict.invoiceNumber }),
      };
      if (verdict.problem) {
        const { message, field } = verdict.problem;
        const problem = verdict.problem instanceof KsefInputError ? verdict.problem : new KsefInputError(message, { field });
        this.rejected.push({ ...said, problem });
        continue;
      }
      if (this.packed.length === this.maxInvoices) {
        throw new KsefInputError(
          `invoices[${index}] would be invoice ${this.maxInvoices + 1} of one batch package; a batch session takes at most ${this.maxInvoices}. Send fewer invoices per session (maxInvoicesPerSession).`,
          { field: `invoices[${index}]` },
        );
      }
      this.packed.push({ ...said, invoiceSize: verdict.invoiceSize, offlineMode: verdict.offlineMode });
    }
    return segment;
  }

  private fileNameOf(input: InvoiceInput, index: number): string {
    const field = `invoices[${index}].fileName`;
    const given = isInputObject(input) ? (input as { fileName?: unknown }).fileName : undefined;
    const fileName = given ?? defaultFileName(index);
    if (
      typeof fileName !== 'string' ||
      fileName.length === 0 ||
      fileName.length > MAX_FILE_NAME_LENGTH ||
      UNSAFE_FILE_NAME.test(fileName)
    ) {
      throw new KsefInputError(
        `${field} must be a file name of 1 to ${MAX_FILE_NAME_LENGTH} characters without '/', '\\' or control characters (KSeF reports it back as invoiceFileName); got ${JSON.stringify(fileName)}.`,
        { field },
      );
    }
    if (this.fileNames.has(fileName)) {
      throw new KsefInputError(
        `${field} is ${JSON.stringify(fileName)}, the name of an earlier invoice of the same package: give every invoice its own file name (KSeF reports results by it).`,
        { field },
      );
    }
    this.fileNames.add(fileName);
    return fileName;
  }
}

/** An invoice of a run: named, and either to be read and checked by the worker (`input`) or here (`preparing`). */
interface RunItem {
  index: number;
  fileName: string;
  nameError?: KsefInputError;
  input: InvoiceInput;
  preparing?: Promise<PreparedInvoice>;
  /** Bytes of XML given in memory, copied to the worker with the run. */
  knownBytes: number;
}

/**
 * A run packed: its invoices, the verdict on each by index (from the worker, or the errors themselves for those
 * checked here) and its segment of the archive.
 */
interface Run {
  items: RunItem[];
  verdicts: Map<number, PackedInvoice>;
  segment: ArchiveSegment;
}

/** Bytes (about, for text) of the XML an input gives in memory; 0 for a file. */
function bytesGiven(input: InvoiceInput): number {
  const xml: unknown = isInputObject(input) ? (input as { xml?: unknown }).xml : input;
  if (typeof xml === 'string') return xml.length;
  return types.isUint8Array(xml) || types.isArrayBuffer(xml) ? xml.byteLength : 0;
}

/**
 * Whether the input can be copied to a worker as it is (structured clone): the XML as text or bytes, or an object of
 * such XML, a path, a file name and plain values. Anything else is checked here, and refused by the checks.
 */
function canGoToWorker(input: InvoiceInput): boolean {
  if (!isInputObject(input)) return typeof input === 'string' || types.isUint8Array(input) || types.isArrayBuffer(input);
  // A plain object, of this realm or another's (n8n's Code node runs in a vm): one a copy keeps whole.
  const prototype = Object.getPrototypeOf(input) as object | null;
  if (prototype !== null && Object.getPrototypeOf(prototype) !== null) return false;
  return Object.values(input as object).every(
    (value) =>
      value === undefined ||
      ['string', 'boolean', 'number'].includes(typeof value) ||
      types.isUint8Array(value) ||
      types.isArrayBuffer(value),
  );
}

/**
 * The input as it goes to a worker: an invoice that is a slice of a larger buffer (Node.js's 8 KB pool, or one file
 * of many invoices read at once) as a copy of its own bytes (`ownBuffer`), which the structured clone copies once per
 * run; the caller's buffer is left as it is (never transferred).
 */
export function inputForWorker(input: InvoiceInput): InvoiceInput {
  if (types.isUint8Array(input)) return ownBuffer(input);
  if (!isInputObject(input)) return input;
  const { xml } = input as { xml?: unknown };
  return types.isUint8Array(xml) ? { ...(input as object), xml: ownBuffer(xml) } : input;
}

/**
 * The package's bytes as they are written: hashed whole, cut into parts of `partSize`, each part encrypted from its
 * start and hashed, and kept in memory until the package passes `maxInMemoryBytes`; from then on every part goes to a
 * file of its own (0600, in a private temporary directory made then).
 */
class PartSpool {
  readonly packageHash = createHash('sha256');
  packageSize = 0;
  readonly parts: BatchPackagePart[] = [];
  /** The finished parts still in memory: their encrypted chunks, by ordinal number. */
  private readonly held = new Map<number, Buffer[]>();
  /** Encrypted bytes of the finished parts in `held`. */
  private heldBytes = 0;
  /** Made once the package passes `maxInMemoryBytes`. */
  private directory?: string;
  private current?: EncryptedPart;
  private disposed = false;

  constructor(
    private readonly tempDir: string,
    private readonly partSize: number,
    private readonly key: SymmetricKey,
    private readonly maxInMemoryBytes: number,
  ) {}

  /** Takes the next bytes of the package; `invoicesPacked` only words the error of a package too large. */
  async write(chunk: Buffer, invoicesPacked: number): Promise<void> {
    this.packageHash.update(chunk);
    this.packageSize += chunk.length;
    if (this.packageSize > MAX_PACKAGE_BYTES) {
      throw new KsefInputError(
        `The batch package grew past KSeF's ${MAX_PACKAGE_BYTES} bytes (5 GB) with ${invoicesPacked} invoices: send fewer invoices per session (maxInvoicesPerSession).`,
        { field: 'invoices' },
      );
    }
    let offset = 0;
    while (offset < chunk.length) {
      const part = this.current ?? this.startPart(invoicesPacked);
      const take = Math.min(chunk.length - offset, this.partSize - part.plainSize);
      await part.write(offset === 0 && take === chunk.length ? chunk : chunk.subarray(offset, offset + take));
      offset += take;
      if (part.plainSize === this.partSize) await this.finishPart();
      if (this.directory === undefined && this.heldBytes + (this.current?.encryptedSize ?? 0) > this.maxInMemoryBytes) await this.spill();
    }
  }

  async finish(): Promise<void> {
    if (this.current) await this.finishPart();
  }

  openPart(ordinalNumber: number): Readable {
    if (this.disposed) throw new KsefError('The batch package was disposed: its parts are no longer kept.');
    if (!this.parts.some((part) => part.ordinalNumber === ordinalNumber)) {
      throw new KsefInputError(`The batch package has parts 1 to ${this.parts.length}; there is no part ${ordinalNumber}.`, {
        field: 'ordinalNumber',
      });
    }
    const held = this.held.get(ordinalNumber);
    if (held) return Readable.from(held, { objectMode: false });
    return createReadStream(this.pathOf(ordinalNumber), { highWaterMark: SPOOL_CHUNK });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.held.clear();
    this.heldBytes = 0;
    this.current?.abort();
    this.current = undefined;
    if (this.directory !== undefined) await rm(this.directory, { recursive: true, force: true });
  }

  private startPart(invoicesPacked: number): EncryptedPart {
    const ordinalNumber = this.parts.length + 1;
    if (ordinalNumber > MAX_PARTS) {
      const fix =
        this.partSize < MAX_PART_BYTES
          ? `raise partSizeBytes (now ${this.partSize}, at most ${MAX_PART_BYTES}) or send fewer invoices per session (maxInvoicesPerSession)`
          : 'send fewer invoices per session (maxInvoicesPerSession)';
      throw new KsefInputError(
        `The batch package needs more than KSeF's ${MAX_PARTS} parts of ${this.partSize} bytes (${invoicesPacked} invoices filled them): ${fix}.`,
        { field: 'options.partSizeBytes' },
      );
    }
    this.current = new EncryptedPart(ordinalNumber, this.key);
    if (this.directory !== undefined) this.current.toFile(this.pathOf(ordinalNumber));
    return this.current;
  }

  private async finishPart(): Promise<void> {
    const part = this.current!;
    this.current = undefined;
    const { info, held } = await part.finish();
    this.parts.push(info);
    if (held) {
      this.held.set(info.ordinalNumber, held);
      this.heldBytes += info.fileSize;
    }
  }

  /** The package outgrew memory: the directory is made, the finished parts held written to their files, the current part continues in its own. */
  private async spill(): Promise<void> {
    // mkdtemp makes the directory 0700: only this user may list or open the parts.
    this.directory = await mkdtemp(join(this.tempDir, 'ksef-batch-'));
    for (const [ordinalNumber, chunks] of this.held) {
      const file = await open(this.pathOf(ordinalNumber), 'wx', 0o600);
      try {
        await file.writev(chunks);
      } finally {
        await file.close();
      }
      this.held.delete(ordinalNumber);
    }
    this.heldBytes = 0;
    this.current?.toFile(this.pathOf(this.current.ordinalNumber));
  }

  private pathOf(ordinalNumber: number): string {
    return join(this.directory!, `part-${ordinalNumber}.aes`);
  }
}

/** One part being encrypted: into memory, or (`toFile`) into its spool file. */
class EncryptedPart {
  plainSize = 0;
  encryptedSize = 0;
  private readonly cipher: Cipher;
  private readonly hash: Hash = createHash('sha256');
  /** The encrypted chunks while the part is in memory. */
  private held: Buffer[] | undefined = [];
  private file?: WriteStream;
  private written?: Promise<void>;
  /** Bytes given to the corked file since it last wrote. */
  private unwritten = 0;

  constructor(
    readonly ordinalNumber: number,
    key: SymmetricKey,
  ) {
    this.cipher = createCipheriv('aes-256-cbc', key.key, key.iv);
  }

  /** From now on into the file at `path` (0600, which must not exist yet), what is held first. */
  toFile(path: string): void {
    const file = createWriteStream(path, { flags: 'wx', mode: 0o600, highWaterMark: SPOOL_CHUNK });
    this.file = file;
    this.written = finished(file);
    // Awaited in write and finish; a failure in between must not go unhandled meanwhile.
    this.written.catch(() => undefined);
    file.cork();
    for (const chunk of this.held!) file.write(chunk);
    this.unwritten = this.encryptedSize;
    this.held = undefined;
  }

  async write(plain: Buffer): Promise<void> {
    this.plainSize += plain.length;
    const encrypted = this.cipher.update(plain);
    if (encrypted.length === 0) return;
    this.hash.update(encrypted);
    this.encryptedSize += encrypted.length;
    if (this.held) {
      this.held.push(encrypted);
      return;
    }
    const file = this.file!;
    file.write(encrypted);
    this.unwritten += encrypted.length;
    // Small ciphertexts go to disk together, in one writev per SPOOL_CHUNK: a write each would cost a thread-pool
    // round trip each, beside the compression.
    if (this.unwritten < SPOOL_CHUNK) return;
    this.unwritten = 0;
    file.uncork();
    if (file.writableNeedDrain) {
      await Promise.race([new Promise<void>((resolve) => file.once('drain', () => resolve())), this.written]);
    }
    if (file.errored) throw file.errored;
    file.cork();
  }

  /** The part as declared, and its encrypted chunks when it is in memory. */
  async finish(): Promise<{ info: BatchPackagePart; held?: Buffer[] }> {
    const last = this.cipher.final();
    this.hash.update(last);
    this.encryptedSize += last.length;
    const held = this.held;
    if (held) held.push(last);
    else {
      // end() also writes what the cork still holds.
      this.file!.end(last);
      await this.written;
    }
    const info = {
      ordinalNumber: this.ordinalNumber,
      fileSize: this.encryptedSize,
      fileHash: this.hash.digest('base64'),
      plainSize: this.plainSize,
    };
    return { info, ...(held && { held }) };
  }

  abort(): void {
    this.held = undefined;
    this.file?.destroy();
  }
}

/**
 * A string of its own. Text read out of an invoice may be a slice of the whole invoice's text, which it would keep
 * alive for as long as the package's entries live: thousands of invoices, in memory until the batch ends.
 */
function ownCopy(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}
