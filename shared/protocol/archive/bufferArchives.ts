/**
 * ZIP and tar.gz archives of entries already in memory, written as streams of chunks. Made for batch packages of
 * thousands of small invoices, where archiver's per-entry streams cost several times the compression itself
 * (measured on 1,000 FA(3) invoices, 3.5 MB: about 0.7 s of CPU for a ZIP against 0.09 s of deflating the entries,
 * and 0.2 s for a tar.gz against 0.01-0.07 s of gzip), and whose entries are packed in runs (segments) on several
 * threads at once: `SegmentPacker` compresses a run of entries wherever they are, `assembleArchive` puts the runs
 * together in order.
 *
 * ZIP: APPNOTE.TXT of PKWARE, local headers with sizes and CRC known up front, a central directory, ZIP64 end records
 * when offsets pass 4 GB. Tar: POSIX ustar headers, a pax `path` record for names over 100 bytes, one gzip member
 * whose single deflate stream is made of the segments' sync-flushed pieces (RFC 1951 allows a stream to go on after
 * a sync flush's empty stored block; pigz writes its parallel gzip the same way).
 */
import { constants, crc32, deflateRawSync } from 'node:zlib';
import { DeflateRaw } from 'minizlib';
import type { ArchiveFormat } from './read';
import { ownBuffer } from '../workerPool';
import { ARCHIVE_COMPRESSION_LEVEL } from './write';

/** An entry whose content is in memory. */
export interface BufferEntry {
  name: string;
  content: Buffer;
  /** Modification time, stored as an MS-DOS date and time in UTC. */
  date: Date;
}

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
const ZIP64_END_LOCATOR = 0x07064b50;
const ZIP64_EXTRA_FIELD = 0x0001;
const METHOD_DEFLATE = 8;
/** General purpose bit 11: the name is UTF-8. */
const FLAG_UTF8_NAME = 0x0800;
const VERSION_DEFLATE = 20;
const VERSION_ZIP64 = 45;
/** Regular files readable by everyone. */
const FILE_MODE = 0o644;
/** Made by Unix (upper byte 3), so the external attributes carry a Unix mode. */
const MADE_BY_UNIX = 3 << 8;
/** A regular file readable by everyone (S_IFREG | 0644) in the upper half of the external attributes. */
const REGULAR_FILE_ATTRIBUTES = ((0o100000 | FILE_MODE) << 16) >>> 0;
const MAX_32 = 0xffffffff;
const MAX_16 = 0xffff;

export interface ZipRecord {
  /** Kept as text: a small Buffer would be a slice of a shared 8 KB pool block and keep all of that block alive. */
  name: string;
  nameLength: number;
  crc: number;
  compressedSize: number;
  size: number;
  offset: number;
  time: number;
  date: number;
}

/**
 * Packs consecutive entries into a segment of the archive, on whichever thread holds them: a batch package's
 * invoices are packed in runs of a few on worker threads while the package is assembled (`assembleArchive`) on
 * another. ZIP entries are deflated one by one; a run of tar entries is deflated as one piece of the tar's gzip
 * stream, which `assembleArchive` joins to the others. The same entries in the same runs give the same bytes.
 */
export class SegmentPacker {
  private readonly deflater: ReusedDeflater;
  private parts: Buffer[] = [];
  private length = 0;
  private records: ZipRecord[] = [];
  private crc = 0;
  /** Tar bytes gathered in `parts` and not yet given to the deflate stream. */
  private pending = 0;

  constructor(
    readonly format: ArchiveFormat,
    level = ARCHIVE_COMPRESSION_LEVEL,
  ) {
    this.deflater = new ReusedDeflater(level);
  }

  add(entry: BufferEntry): void {
    if (this.format === 'Zip') this.addZipEntry(entry);
    else for (const piece of tarEntry(entry)) this.addTarPiece(piece);
  }

  /** The segment of the entries added since the last `take`, in one buffer of its own (transferable to another thread). */
  take(): ArchiveSegment {
    const segment: ArchiveSegment =
      this.format === 'Zip'
        ? { bytes: ownBuffer(Buffer.concat(this.parts, this.length)), records: this.records, crc: 0, rawSize: 0 }
        : {
            // Sync-flushed, not finished: the deflate stream goes on in the next segment (RFC 1951 3.2.3, as pigz joins its pieces).
            bytes: this.length === 0 ? Buffer.alloc(0) : ownBuffer(this.endTarRun()),
            records: [],
            crc: this.crc,
            rawSize: this.length,
          };
    this.parts = [];
    this.length = 0;
    this.records = [];
    this.crc = 0;
    return segment;
  }

  close(): void {
    this.deflater.close();
  }

  private endTarRun(): Buffer {
    this.deflatePending();
    return this.deflater.end(constants.Z_SYNC_FLUSH);
  }

  private addZipEntry(entry: BufferEntry): void {
    if (entry.content.length >= MAX_32) throw new RangeError(`The ZIP entry ${entry.name} is larger than 4 GB.`);
    const deflated = this.deflater.deflate(entry.content);
    const record: ZipRecord = {
      name: entry.name,
      nameLength: Buffer.byteLength(entry.name, 'utf8'),
      crc: crc32(entry.content),
      compressedSize: deflated.length,
      size: entry.content.length,
      offset: this.length,
      ...dosDateTime(entry.date),
    };
    this.records.push(record);
    this.push(localHeader(record));
    this.push(deflated);
  }

  private push(piece: Buffer): void {
    this.parts.push(piece);
    this.length += piece.length;
  }

  /**
   * Tar bytes are gathered and go to the deflate stream a block of `TAR_DEFLATE_BLOCK_BYTES` at a time: zlib's cost
   * per call (an output buffer, a stream turn) is more than compressing a header of 512 bytes, and only the
   * compressed form of the run is held until `take`.
   */
  private addTarPiece(piece: Buffer): void {
    this.push(piece);
    this.pending += piece.length;
    if (this.pending >= TAR_DEFLATE_BLOCK_BYTES) this.deflatePending();
  }

  private deflatePending(): void {
    if (this.pending === 0) return;
    const block = Buffer.concat(this.parts.splice(0), this.pending);
    this.crc = crc32(block, this.crc);
    this.deflater.write(block);
    this.pending = 0;
  }
}

/** Consecutive entries of an archive, packed (`SegmentPacker.take`). */
export interface ArchiveSegment {
  /** ZIP: the entries' local headers and deflated contents. tar.gz: the entries' tar bytes as a sync-flushed piece of raw deflate. */
  bytes: Buffer;
  /** ZIP: the entries' central directory records, offsets counted from the segment's start. */
  records: ZipRecord[];
  /** tar.gz: CRC-32 and length of the tar bytes in the segment. */
  crc: number;
  rawSize: number;
}

/**
 * The archive of `segments` (in order, as `SegmentPacker` packed them) as chunks: ZIP with the central directory
 * after them (the segments' records are taken over, their offsets made the archive's); tar.gz as one gzip member (RFC 1952) whose deflate stream the segments continue one after another,
 * ended by the tar's two zero blocks, with the CRC-32 of the whole tar combined from the segments'.
 */
export async function* assembleArchive(
  format: ArchiveFormat,
  segments: Iterable<ArchiveSegment> | AsyncIterable<ArchiveSegment>,
  level = ARCHIVE_COMPRESSION_LEVEL,
): AsyncGenerator<Buffer> {
  if (format === 'Zip') {
    const records: ZipRecord[] = [];
    let offset = 0;
    for await (const segment of segments) {
      for (const record of segment.records) {
        record.offset += offset;
        records.push(record);
      }
      offset += segment.bytes.length;
      yield segment.bytes;
    }
    yield centralDirectory(records, offset);
    return;
  }
  yield GZIP_HEADER;
  let crc = 0;
  let size = 0;
  for await (const segment of segments) {
    crc = crc32Combine(crc, segment.crc, segment.rawSize);
    size += segment.rawSize;
    if (segment.bytes.length > 0) yield segment.bytes;
  }
  // The end of the tar, two zero blocks, in the final deflate block.
  const end = Buffer.alloc(2 * TAR_BLOCK);
  yield deflateRawSync(end, { level });
  crc = crc32Combine(crc, crc32(end), end.length);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  // ISIZE: the size modulo 2^32.
  trailer.writeUInt32LE((size + end.length) % 2 ** 32, 4);
  yield trailer;
}

/** A gzip member header: deflate, no flags, no modification time (the same package always gives the same bytes), Unix. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);

/**
 * One raw deflate stream for everything this thread compresses, reset between pieces: minizlib keeps zlib's handle
 * open across synchronous calls, where `deflateRawSync` makes and drops a zlib stream per call, and node's
 * asynchronous zlib streams cost a thread-pool round trip per call. Measured on 10,000 FA(3) invoices of 2.5 KB
 * (24.9 MB): deflateRawSync 418 ms, one minizlib stream reset per entry 378 ms; handing each entry to the thread pool
 * (a zlib stream reset per entry, write and Z_FINISH flush) took 90 us of this thread per entry on this machine, more
 * than compressing it.
 */
class ReusedDeflater {
  private readonly zlib: DeflateRaw;
  private output: Buffer[] = [];

  constructor(level: number) {
    this.zlib = new DeflateRaw({ level });
    this.zlib.on('data', (chunk: Buffer) => this.output.push(chunk));
  }

  /** `content` as a complete raw deflate stream of its own (Z_FINISH), as a ZIP entry holds it. */
  deflate(content: Buffer): Buffer {
    this.write(content);
    return this.end(constants.Z_FINISH);
  }

  write(content: Buffer): void {
    this.zlib.write(content);
  }

  /** What was written since the last end, compressed and flushed with `flush` (Z_FINISH, Z_SYNC_FLUSH); the stream starts anew. */
  end(flush: number): Buffer {
    this.zlib.flush(flush);
    const deflated = this.output.length === 1 ? this.output[0] : Buffer.concat(this.output);
    this.output = [];
    this.zlib.reset();
    return deflated;
  }

  close(): void {
    this.zlib.close();
  }
}

/**
 * The CRC-32 of two byte runs one after the other, from the CRC-32 of each and the length of the second (zlib's
 * crc32_combine): appending `length2` bytes multiplies the first CRC by x^(8 * length2) modulo the CRC polynomial,
 * computed by repeated squaring, before adding the second.
 */
export function crc32Combine(crc1: number, crc2: number, length2: number): number {
  let product = ONE;
  let remaining = length2;
  // x^(8 * length2) = product of x^(2^k) for the bits of 8 * length2, i.e. of length2 from k = 3.
  for (let k = 3; remaining > 0; k++, remaining = Math.floor(remaining / 2)) {
    if (remaining % 2 === 1) product = multiplyModP(X_POWERS[k % 32], product);
  }
  return (multiplyModP(product, crc1) ^ crc2) >>> 0;
}

/** The reflected CRC-32 polynomial; in this bit order x^0 is the top bit (0x80000000). */
const CRC_POLYNOMIAL = 0xedb88320;
const ONE = 0x80000000;

/** a * b modulo the CRC-32 polynomial, both in reflected bit order. */
function multiplyModP(a: number, b: number): number {
  let product = 0;
  for (let bit = ONE; bit !== 0; bit >>>= 1) {
    if (a & bit) product ^= b;
    b = b & 1 ? (b >>> 1) ^ CRC_POLYNOMIAL : b >>> 1;
  }
  return product >>> 0;
}

/** x^(2^k) modulo the polynomial for k = 0..31; the powers repeat with period 32 beyond what lengths need. */
const X_POWERS: number[] = (() => {
  const powers = [ONE >>> 1];
  for (let k = 1; k < 32; k++) powers.push(multiplyModP(powers[k - 1], powers[k - 1]));
  return powers;
})();

function localHeader(record: ZipRecord): Buffer {
  const header = Buffer.alloc(30 + record.nameLength);
  header.writeUInt32LE(LOCAL_HEADER, 0);
  header.writeUInt16LE(VERSION_DEFLATE, 4);
  header.writeUInt16LE(FLAG_UTF8_NAME, 6);
  header.writeUInt16LE(METHOD_DEFLATE, 8);
  header.writeUInt16LE(record.time, 10);
  header.writeUInt16LE(record.date, 12);
  header.writeUInt32LE(record.crc, 14);
  header.writeUInt32LE(record.compressedSize, 18);
  header.writeUInt32LE(record.size, 22);
  header.writeUInt16LE(record.nameLength, 26);
  header.writeUInt16LE(0, 28);
  header.write(record.name, 30, 'utf8');
  return header;
}

/** The central directory and its end records; ZIP64 ones when an offset or the directory passes 32 bits. */
function centralDirectory(records: ZipRecord[], start: number): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  for (const record of records) {
    const zip64 = record.offset >= MAX_32;
    const header = Buffer.alloc(46 + record.nameLength + (zip64 ? 12 : 0));
    header.writeUInt32LE(CENTRAL_HEADER, 0);
    header.writeUInt16LE(MADE_BY_UNIX | (zip64 ? VERSION_ZIP64 : VERSION_DEFLATE), 4);
    header.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_DEFLATE, 6);
    header.writeUInt16LE(FLAG_UTF8_NAME, 8);
    header.writeUInt16LE(METHOD_DEFLATE, 10);
    header.writeUInt16LE(record.time, 12);
    header.writeUInt16LE(record.date, 14);
    header.writeUInt32LE(record.crc, 16);
    header.writeUInt32LE(record.compressedSize, 20);
    header.writeUInt32LE(record.size, 24);
    header.writeUInt16LE(record.nameLength, 28);
    header.writeUInt16LE(zip64 ? 12 : 0, 30);
    // Comment length, disk number and internal attributes stay 0.
    header.writeUInt32LE(REGULAR_FILE_ATTRIBUTES, 38);
    header.writeUInt32LE(zip64 ? MAX_32 : record.offset, 42);
    header.write(record.name, 46, 'utf8');
    if (zip64) {
      const extra = 46 + record.nameLength;
      header.writeUInt16LE(ZIP64_EXTRA_FIELD, extra);
      header.writeUInt16LE(8, extra + 2);
      header.writeBigUInt64LE(BigInt(record.offset), extra + 4);
    }
    parts.push(header);
    size += header.length;
  }
  const zip64 = start >= MAX_32 || size >= MAX_32 || records.length >= MAX_16;
  if (zip64) {
    const end64 = Buffer.alloc(56 + 20);
    end64.writeUInt32LE(ZIP64_END_OF_CENTRAL_DIRECTORY, 0);
    end64.writeBigUInt64LE(44n, 4);
    end64.writeUInt16LE(MADE_BY_UNIX | VERSION_ZIP64, 12);
    end64.writeUInt16LE(VERSION_ZIP64, 14);
    end64.writeBigUInt64LE(BigInt(records.length), 24);
    end64.writeBigUInt64LE(BigInt(records.length), 32);
    end64.writeBigUInt64LE(BigInt(size), 40);
    end64.writeBigUInt64LE(BigInt(start), 48);
    end64.writeUInt32LE(ZIP64_END_LOCATOR, 56);
    end64.writeBigUInt64LE(BigInt(start + size), 64);
    end64.writeUInt32LE(1, 72);
    parts.push(end64);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY, 0);
  end.writeUInt16LE(Math.min(records.length, MAX_16), 8);
  end.writeUInt16LE(Math.min(records.length, MAX_16), 10);
  end.writeUInt32LE(Math.min(size, MAX_32), 12);
  end.writeUInt32LE(Math.min(start, MAX_32), 16);
  parts.push(end);
  return Buffer.concat(parts);
}

/** MS-DOS date and time (2-second resolution, years from 1980) of `date` in UTC. */
function dosDateTime(date: Date): { time: number; date: number } {
  return {
    time: (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | Math.floor(date.getUTCSeconds() / 2),
    date: ((date.getUTCFullYear() - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate(),
  };
}

const TAR_BLOCK = 512;
/** Tar bytes given to zlib at a time (see `SegmentPacker.addTarPiece`). */
const TAR_DEFLATE_BLOCK_BYTES = 256 * 1024;
const TAR_NAME_BYTES = 100;

/**
 * `chunks` gathered into buffers of at least `blockBytes` (the last one shorter): the same bytes in fewer, larger
 * pieces, for a consumer that pays per piece (a zlib or cipher call, a hash update). A chunk of `blockBytes` or more
 * that comes alone passes as it is.
 */
export async function* inBlocks(chunks: Iterable<Buffer> | AsyncIterable<Buffer>, blockBytes: number): AsyncGenerator<Buffer> {
  let gathered: Buffer[] = [];
  let length = 0;
  for await (const chunk of chunks) {
    gathered.push(chunk);
    length += chunk.length;
    if (length < blockBytes) continue;
    yield gathered.length === 1 ? gathered[0] : Buffer.concat(gathered, length);
    gathered = [];
    length = 0;
  }
  if (length > 0) yield gathered.length === 1 ? gathered[0] : Buffer.concat(gathered, length);
}

/** An entry's tar records: a pax `path` record first when the name is longer than ustar's 100 bytes, its header, content and padding. */
function* tarEntry(entry: BufferEntry): Generator<Buffer> {
  const name = Buffer.from(entry.name, 'utf8');
  const mtime = Math.floor(entry.date.getTime() / 1000);
  if (name.length > TAR_NAME_BYTES) {
    // The pax extended header's `path` record: "<length> path=<name>\n", the length counting itself.
    const body = ` path=${entry.name}\n`;
    let length = Buffer.byteLength(body) + 1;
    while (String(length).length + Buffer.byteLength(body) > length) length++;
    const record = Buffer.from(`${length}${body}`, 'utf8');
    yield tarHeader(Buffer.from('PaxHeader', 'utf8'), record.length, mtime, 'x');
    yield Buffer.concat([record, padding(record.length)]);
  }
  yield tarHeader(name.subarray(0, TAR_NAME_BYTES), entry.content.length, mtime, '0');
  yield entry.content;
  if (entry.content.length % TAR_BLOCK !== 0) yield padding(entry.content.length);
}

/** What every header holds alike: mode, owner and group, and the ustar magic and version. */
const TAR_HEADER_TEMPLATE = (() => {
  const header = Buffer.alloc(TAR_BLOCK);
  writeOctal(header, 100, FILE_MODE, 7);
  writeOctal(header, 108, 0, 7);
  writeOctal(header, 116, 0, 7);
  header.write('ustar\u000000', 257, 'ascii');
  return header;
})();
/** Zero bytes enough to pad any entry to a whole block. */
const ZERO_BLOCK = Buffer.alloc(TAR_BLOCK);

/** A ustar header, built from the template byte by byte: a tar of thousands of invoices writes thousands of them. */
function tarHeader(name: Buffer, size: number, mtime: number, type: '0' | 'x'): Buffer {
  const header = Buffer.allocUnsafe(TAR_BLOCK);
  TAR_HEADER_TEMPLATE.copy(header);
  name.copy(header, 0);
  writeOctal(header, 124, size, 11);
  writeOctal(header, 136, mtime, 11);
  header[156] = type.charCodeAt(0);
  // The checksum is the sum of the header's bytes with its own field read as spaces.
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += header[i];
  writeOctal(header, 148, sum, 6);
  return header;
}

/** `value` in octal at `offset`, zero-padded to `digits` and NUL-terminated, as tar numeric fields are. */
function writeOctal(header: Buffer, offset: number, value: number, digits: number): void {
  let rest = value;
  for (let i = digits - 1; i >= 0; i--) {
    header[offset + i] = 0x30 + (rest % 8);
    rest = Math.floor(rest / 8);
  }
  header[offset + digits] = 0;
}

function padding(size: number): Buffer {
  return ZERO_BLOCK.subarray(0, (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK);
}
