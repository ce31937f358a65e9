/**
 * Invoice exports as KSeF builds them (`POST /invoices/exports`, `GET /invoices/exports/{referenceNumber}` of
 * open-api.json 2.8.1, CIRFMF/ksef-api; pobieranie-faktur.md, przyrostowe-pobieranie-faktur.md and hwm.md,
 * CIRFMF/ksef-docs): asynchronous, at most 10 running per context, the invoices of the filters ascending by their
 * date type, cut at 10,000 invoices or 1 GB compressed, `{ksefNumber}.xml` files plus `_metadata.json`, ZIP or
 * TarGz, split into parts of at most 50 MB, each AES-256-CBC encrypted with the export's key, served by the storage
 * host until the package expires.
 *
 * The package is streamed: the archive is written entry by entry, cut into parts as it comes out, and each part is
 * encrypted and hashed on its way to its file, so memory holds archiver's buffers (a few MB) and a batch of metadata,
 * whatever the package size.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { deflateRawSync } from 'node:zlib';
import { ARCHIVE_COMPRESSION_LEVEL, writeArchive, type ArchiveFormat, type ArchiveInput } from '../../shared/protocol/archive/write';
import type { SymmetricKey } from '../../shared/protocol/crypto/aes';
import { newReferenceNumber } from '../../shared/protocol/model/referenceNumber';
import type { ContextIdentifier } from '../../shared/protocol/types';
import { sameContext } from '../auth/records';
import { EXPORT_STATUS, type StatusInfo } from '../catalogue';
import type { SandboxContext } from '../context';
import { formatDateTime } from '../dates';
import { gone, ksefException } from '../http/errors';
import { unwrapSymmetricKey, type EncryptionRequest } from '../security/rules';
import { blobEtag, exportPartBlobPath } from '../storage/store';
import {
  EXPORT_STATUS_RETENTION_MS,
  type ExportLimits,
  type ExportPackage,
  type ExportPart,
  type InvoiceExportRecord,
} from './exportRecords';
import { invoiceMetadataOf, type StoredInvoice } from './metadata';
import { effectiveRange, permanentStorageHwmDate, selectInvoices, type SandboxInvoiceFilters } from './query';

/** The name of the package's metadata file (pobieranie-faktur.md). */
const METADATA_ENTRY = '_metadata.json';

export interface ExportRequest {
  encryption: EncryptionRequest;
  filters: SandboxInvoiceFilters;
  onlyMetadata: boolean;
  compressionType: ArchiveFormat;
}

/**
 * Accepts an export of `context`'s invoices (status 100) and builds it in the background: 21182 while the context
 * already has `maxConcurrent` exports in progress. A key that cannot be decrypted is not refused here: the export
 * ends in status 415, as on KSeF.
 */
export function startExport(ctx: SandboxContext, context: ContextIdentifier, request: ExportRequest, now: Date): InvoiceExportRecord {
  const store = ctx.state.invoiceExports;
  expirePackages(ctx, now);
  const running = [...store.byReference.values()].filter((e) => sameContext(e.contextIdentifier, context) && e.status.code === 100);
  if (running.length >= store.limits.maxConcurrent) {
    throw ksefException(
      21182,
      `Dla uwierzytelnionego podmiotu w bieżącym kontekście osiągnięto maksymalny limit ${store.limits.maxConcurrent} równoczesnych eksportów faktur. Spróbuj ponownie później.`,
    );
  }
  // An open range ends when the export is requested: the package holds what KSeF had then, however long the build takes.
  const { dateRange } = request.filters;
  const filters = dateRange.to ? request.filters : { ...request.filters, dateRange: { ...dateRange, to: now } };
  // The 100-day range rule is the request's (21405 now); a range starting after the mark is the export's own status 420.
  if (!startsAfterHighWaterMark(ctx, filters)) effectiveRange(ctx, filters);
  const record: InvoiceExportRecord = {
    referenceNumber: newReferenceNumber('EH', now),
    contextIdentifier: context,
    symmetricKey: unwrapSymmetricKey(request.encryption),
    filters,
    onlyMetadata: request.onlyMetadata,
    compressionType: request.compressionType,
    status: EXPORT_STATUS.inProgress,
    dateCreated: now,
  };
  store.byReference.set(record.referenceNumber, record);
  scheduleBuild(ctx, record);
  return record;
}

/**
 * The export `referenceNumber` of `context` as of `now`: 21175 when there is none, 410 once its status is older than
 * 7 days; a package past its expiration date is deleted and its status becomes 210.
 */
export function exportOf(ctx: SandboxContext, context: ContextIdentifier, referenceNumber: string, now: Date): InvoiceExportRecord {
  const record = ctx.state.invoiceExports.byReference.get(referenceNumber);
  if (!record || !sameContext(record.contextIdentifier, context)) throw ksefException(21175);
  if (now.getTime() - record.dateCreated.getTime() > EXPORT_STATUS_RETENTION_MS) throw gone();
  expirePackages(ctx, now);
  return record;
}

/**
 * Holds every export at status 100 (`hold` true) or lets them finish (false): the test switch behind the handle's
 * `holdExports`, for clients that must cope with an export that takes long.
 */
export function holdExports(ctx: SandboxContext, hold: boolean): void {
  const store = ctx.state.invoiceExports;
  store.held = hold;
  if (hold) return;
  for (const record of store.byReference.values()) if (record.status.code === 100) scheduleBuild(ctx, record);
}

/** Deletes the packages whose expiration date has passed; their exports report 210 from then on. */
function expirePackages(ctx: SandboxContext, now: Date): void {
  for (const record of ctx.state.invoiceExports.byReference.values()) {
    if (record.status.code !== 200 || !record.packageExpirationDate || now < record.packageExpirationDate) continue;
    const parts = record.package?.parts ?? [];
    record.status = EXPORT_STATUS.expired;
    record.package = undefined;
    for (const part of parts) void ctx.storage.removeBlob(part.blobPath);
  }
}

function scheduleBuild(ctx: SandboxContext, record: InvoiceExportRecord): void {
  if (!ctx.state.invoiceExports.held) ctx.scheduler.after(ctx.processingDelayMs, () => buildExport(ctx, record));
}

/** Builds the export's package and sets its final status; runs once per export, unless held. */
async function buildExport(ctx: SandboxContext, record: InvoiceExportRecord): Promise<void> {
  const store = ctx.state.invoiceExports;
  if (store.held || record.building || record.status.code !== 100) return;
  record.building = true;
  const failure = store.failNextWith;
  store.failNextWith = undefined;
  let status: StatusInfo;
  let unexpected: unknown;
  if (failure) status = failure === 500 ? EXPORT_STATUS.unknownError : EXPORT_STATUS.cancelledBySystem;
  else if (!record.symmetricKey) status = EXPORT_STATUS.keyDecryptionFailed;
  else if (startsAfterHighWaterMark(ctx, record.filters)) status = EXPORT_STATUS.outsideDataRange;
  else {
    try {
      record.package = await buildPackage(ctx, record, record.symmetricKey);
      status = EXPORT_STATUS.succeeded;
    } catch (error) {
      // Nothing the client did: the export fails as KSeF's do on an internal error, and the scheduler logs why.
      status = EXPORT_STATUS.unknownError;
      unexpected = error;
    }
  }
  const completedDate = ctx.clock.now();
  record.completedDate = completedDate;
  if (status.code === 200) record.packageExpirationDate = new Date(completedDate.getTime() + store.limits.packageValidityMs);
  record.status = status;
  record.building = false;
  // A sandbox that is closing removes its storage under a running build; that failure is no news.
  if (unexpected !== undefined && ctx.scheduler.running) throw unexpected;
}

/** Status 420's condition (open-api.json): `dateRange.from` later than the high water mark with `restrictToPermanentStorageHwmDate`. */
function startsAfterHighWaterMark(ctx: SandboxContext, filters: SandboxInvoiceFilters): boolean {
  const { dateType, from, restrictToPermanentStorageHwmDate } = filters.dateRange;
  return dateType === 'PermanentStorage' && restrictToPermanentStorageHwmDate && from > permanentStorageHwmDate(ctx);
}

async function buildPackage(ctx: SandboxContext, record: InvoiceExportRecord, key: SymmetricKey): Promise<ExportPackage> {
  const { limits } = ctx.state.invoiceExports;
  const { filters, onlyMetadata, compressionType } = record;
  const { permanentStorageHwmDate: hwm } = effectiveRange(ctx, filters);
  const selected = selectInvoices(ctx, record.contextIdentifier, filters, 'Asc');
  const included = selected.slice(0, includedCount(selected, limits, compressionType, onlyMetadata));
  const isTruncated = included.length < selected.length;
  const last = included.at(-1);
  const archive = writeArchive(compressionType, packageEntries(included, onlyMetadata, ctx.clock.now()));
  const parts = await writeParts(ctx, record, archive, key, limits.partSize);
  return {
    invoiceCount: included.length,
    size: parts.reduce((sum, part) => sum + part.partSize, 0),
    parts,
    isTruncated,
    ...(isTruncated && last && { lastDate: dateOfType(last, filters.dateRange.dateType) }),
    ...(hwm && { permanentStorageHwmDate: hwm }),
    compressionType,
  };
}

/**
 * The package's files. `_metadata.json` comes first: a streaming reader (TarGz can only be read in order) then knows
 * every invoice's metadata before it meets the invoice's XML, and the cut is known before the archive is written, so
 * the metadata lists exactly the invoices that follow. KSeF does not document the order; clients must not rely on it.
 */
function* packageEntries(included: StoredInvoice[], onlyMetadata: boolean, date: Date): Generator<ArchiveInput> {
  yield metadataEntry(included, date);
  if (onlyMetadata) return;
  for (const stored of included) yield { name: `${stored.invoice.ksefNumber!}.xml`, content: stored.invoice.xml!, date };
}

/** Invoices whose metadata goes into one chunk of `_metadata.json`. */
const METADATA_BATCH = 100;

/**
 * `_metadata.json` = `{"invoices":[InvoiceMetadata…]}` as a stream of batches, so the metadata of 10,000 invoices
 * (about 7 MB) is never one string. Its size is counted first, from the same JSON, since a tar header states the
 * size before the body.
 */
function metadataEntry(included: StoredInvoice[], date: Date): ArchiveInput {
  const itemJson = (stored: StoredInvoice) => JSON.stringify(invoiceMetadataOf(stored));
  let size = Buffer.byteLength('{"invoices":[]}') + Math.max(included.length - 1, 0);
  for (const stored of included) size += Buffer.byteLength(itemJson(stored));
  function* chunks(): Generator<Buffer> {
    for (let start = 0; start < included.length || start === 0; start += METADATA_BATCH) {
      const items = included
        .slice(start, start + METADATA_BATCH)
        .map(itemJson)
        .join(',');
      const opening = start === 0 ? '{"invoices":[' : ',';
      const closing = start + METADATA_BATCH >= included.length ? ']}' : '';
      yield Buffer.from(opening + items + closing, 'utf8');
    }
  }
  return { name: METADATA_ENTRY, content: Readable.from(chunks()), size, date };
}

/**
 * How many of the `selected` invoices the package takes: at most `maxInvoices`, and no more than fit in
 * `maxPackageBytes` compressed (`_metadata.json` is not counted, open-api.json). The cut is decided before the
 * archive is written, from above: each invoice counts its raw size plus its archive overhead while all of them
 * together fit that way, otherwise its deflated size (what a ZIP entry holds; gzip over a tar compresses at least as
 * well) plus the overhead. At least one invoice is always taken, so consecutive exports make progress.
 */
function includedCount(selected: StoredInvoice[], limits: ExportLimits, format: ArchiveFormat, onlyMetadata: boolean): number {
  const candidates = selected.slice(0, limits.maxInvoices);
  if (onlyMetadata) return candidates.length;
  const overhead = (stored: StoredInvoice) => entryOverhead(format, `${stored.invoice.ksefNumber!}.xml`);
  // deflate stores incompressible data in blocks of at most 64 KB with 5 bytes of header each, plus its end.
  const rawBound = (stored: StoredInvoice) => stored.invoice.xml!.length + Math.ceil(stored.invoice.xml!.length / 65_535) * 5 + 8;
  const rawTotal = candidates.reduce((sum, stored) => sum + rawBound(stored) + overhead(stored), 0);
  if (rawTotal <= limits.maxPackageBytes) return candidates.length;
  let total = 0;
  for (let i = 0; i < candidates.length; i++) {
    total += deflateRawSync(candidates[i].invoice.xml!, { level: ARCHIVE_COMPRESSION_LEVEL }).length + overhead(candidates[i]);
    if (total > limits.maxPackageBytes) return Math.max(i, 1);
  }
  return candidates.length;
}

/**
 * The bytes an entry adds besides its compressed content. ZIP: local header (30) and central directory record (46),
 * each with the name, and a data descriptor (at most 24). TarGz: a 512-byte header and at most 511 bytes of padding,
 * counted before gzip, which only makes them smaller.
 */
function entryOverhead(format: ArchiveFormat, name: string): number {
  return format === 'Zip' ? 100 + 2 * Buffer.byteLength(name) : 1023;
}

/** The invoice's date of the filter's type, as the package's `last…Date` states it. */
function dateOfType(stored: StoredInvoice, dateType: SandboxInvoiceFilters['dateRange']['dateType']): string {
  const { invoice } = stored;
  if (dateType === 'Issue') return invoice.issueDate!;
  return formatDateTime(dateType === 'Invoicing' ? invoice.invoicingDate : invoice.permanentStorageDate!);
}

/**
 * Cuts the archive stream into parts of `partSize` bytes (the last one shorter), each encrypted on its own with the
 * export's key and IV (AES-256-CBC, PKCS#7), hashed before and after encryption and written to a storage blob.
 * Blobs of a build that fails are removed.
 */
async function writeParts(
  ctx: SandboxContext,
  record: InvoiceExportRecord,
  archive: Readable,
  key: SymmetricKey,
  partSize: number,
): Promise<ExportPart[]> {
  const parts: ExportPart[] = [];
  let current: PartWriter | undefined;
  try {
    for await (const chunk of archive as AsyncIterable<Buffer>) {
      for (let offset = 0; offset < chunk.length;) {
        current ??= await PartWriter.open(ctx, key);
        const piece = chunk.subarray(offset, offset + partSize - current.plainSize);
        await current.write(piece);
        offset += piece.length;
        if (current.plainSize === partSize) {
          parts.push(await current.close(ctx, record, parts.length + 1));
          current = undefined;
        }
      }
    }
    if (current) parts.push(await current.close(ctx, record, parts.length + 1));
    return parts;
  } catch (error) {
    archive.destroy();
    current?.abandon();
    await Promise.all(parts.map((part) => ctx.storage.removeBlob(part.blobPath)));
    throw error;
  }
}

/** One part on its way to its blob file: encrypted and hashed as its bytes arrive. */
class PartWriter {
  plainSize = 0;
  private encryptedSize = 0;
  private readonly plainHash = createHash('sha256');
  private readonly encryptedHash = createHash('sha256');
  private readonly cipher;
  private readonly file;

  private constructor(
    readonly path: string,
    key: SymmetricKey,
  ) {
    this.cipher = createCipheriv('aes-256-cbc', key.key, key.iv);
    this.file = createWriteStream(path);
  }

  static async open(ctx: SandboxContext, key: SymmetricKey): Promise<PartWriter> {
    // A closing sandbox has removed its storage folder; asking for a file would make a new one nobody removes.
    if (!ctx.scheduler.running) throw new Error('The sandbox closed while the package was being built.');
    return new PartWriter(await ctx.storage.temporaryFile(), key);
  }

  async write(piece: Buffer): Promise<void> {
    this.plainHash.update(piece);
    this.plainSize += piece.length;
    await this.writeEncrypted(this.cipher.update(piece));
  }

  /** Ends the part and hands its blob to the storage host. */
  async close(ctx: SandboxContext, record: InvoiceExportRecord, ordinalNumber: number): Promise<ExportPart> {
    const last = this.cipher.final();
    this.encryptedHash.update(last);
    this.encryptedSize += last.length;
    this.file.end(last);
    await finished(this.file);
    const digest = this.encryptedHash.digest();
    const encryptedPartHash = digest.toString('base64');
    const extension = record.compressionType === 'Zip' ? 'zip' : 'tar.gz';
    const partName = `${record.referenceNumber}-${String(ordinalNumber).padStart(3, '0')}.${extension}.aes`;
    const blobPath = exportPartBlobPath(record.referenceNumber, partName);
    ctx.storage.addBlob(blobPath, {
      file: this.path,
      size: this.encryptedSize,
      sha256: encryptedPartHash,
      etag: blobEtag(digest),
      lastModified: ctx.clock.now(),
      // KSeF's storage answers a part with its hash (open-api.json: InvoicePackagePart.url).
      metadata: { 'x-ms-meta-hash': encryptedPartHash },
    });
    return {
      ordinalNumber,
      partName,
      blobPath,
      partSize: this.plainSize,
      partHash: this.plainHash.digest('base64'),
      encryptedPartSize: this.encryptedSize,
      encryptedPartHash,
    };
  }

  /** Stops writing a part that will not be finished and deletes its file. */
  abandon(): void {
    this.file.destroy();
    void rm(this.path, { force: true });
  }

  private async writeEncrypted(bytes: Buffer): Promise<void> {
    if (bytes.length === 0) return;
    this.encryptedHash.update(bytes);
    this.encryptedSize += bytes.length;
    if (!this.file.write(bytes)) await once(this.file, 'drain');
  }
}
