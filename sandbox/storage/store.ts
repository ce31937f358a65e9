/**
 * The sandbox's blob storage, in the manner of the Azure Blob SAS URLs KSeF hands out (open-api.json: UPO
 * `downloadUrl`, batch `partUploadRequests`, export `parts`): no access token, not rate-limited, every URL
 * HMAC-signed with its own expiry (`se`) and permission (`sp`: `r` read, `w` write), so it cannot be forged,
 * extended or used for the other direction. Uploaded parts go to temporary files, never whole into memory.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { DAY_MS } from '../dates';

export const UPO_LINK_VALIDITY_MS = 3 * DAY_MS;

/**
 * The largest part a slot accepts by default: KSeF's 100 MB per part before encryption (sesja-wsadowa.md,
 * CIRFMF/ksef-docs) plus the at most 16 bytes that AES-CBC/PKCS#7 padding adds.
 */
export const MAX_PART_BYTES = 100_000_000 + 16;

export type StoragePermission = 'r' | 'w';

/** What the batch-session open returns per part (`PartUploadRequest` of open-api.json), plus when it expires. */
export interface UploadSlot {
  method: 'PUT';
  url: string;
  headers: Record<string, string>;
  expiresAt: Date;
}

/** A blob received through an upload slot. */
export interface StoredBlob {
  file: string;
  size: number;
  /** Base64 SHA-256, the form of KSeF's `fileHash`. */
  sha256: string;
  etag: string;
  lastModified: Date;
  /** `x-ms-meta-*` headers of the PUT, which Azure keeps as the blob's metadata and returns on GET. */
  metadata: Record<string, string>;
}

/** An upload slot's state, kept by the storage host. */
export interface SlotState {
  maxBytes: number;
  /**
   * The PUT streaming into the slot. A new PUT replaces it, as a later Put Blob wins in Azure: a client that lost
   * its connection retries before the host has noticed the loss.
   */
  receiving?: Readable;
  blob?: StoredBlob;
}

export class SandboxStorage {
  private origin = '';
  private readonly slots = new Map<string, SlotState>();
  /** Blobs the sandbox wrote itself (export parts), by path. */
  private readonly written = new Map<string, StoredBlob>();
  /** Paths whose next downloads are served with one byte flipped, and how many (`corruptNextDownload`). */
  private readonly corruptions = new Map<string, number>();
  private folder?: Promise<string>;

  constructor(private readonly secret: Buffer) {}

  /** Set once the server listens: `http://127.0.0.1:N`. */
  setOrigin(origin: string): void {
    this.origin = origin;
  }

  /** A read URL; `blobPath` like `/storage/01/20250918-so-…/session-upo/upo_00.xml`. */
  sign(blobPath: string, expiresAt: Date): string {
    return this.signedUrl(blobPath, expiresAt, 'r');
  }

  /**
   * Opens `blobPath` for one upload until `expiresAt`, as KSeF does for each declared batch part. The URL takes
   * one PUT of at most `maxBytes` with the returned headers; `uploaded`/`openBlob` read back what arrived.
   */
  createUploadSlot(blobPath: string, expiresAt: Date, options: { maxBytes?: number } = {}): UploadSlot {
    if (this.slots.has(blobPath)) throw new Error(`sandbox storage: ${blobPath} already has an upload slot`);
    this.slots.set(blobPath, { maxBytes: options.maxBytes ?? MAX_PART_BYTES });
    return { method: 'PUT', url: this.signedUrl(blobPath, expiresAt, 'w'), headers: { 'x-ms-blob-type': 'BlockBlob' }, expiresAt };
  }

  /** The blob uploaded to `blobPath`, once its PUT completed. */
  uploaded(blobPath: string): StoredBlob | undefined {
    return this.slots.get(blobPath)?.blob;
  }

  /** The bytes of the blob at `blobPath` as a stream (from `start`, inclusive, to `end`, inclusive), or undefined. */
  openBlob(blobPath: string, range: { start?: number; end?: number } = {}): ReadStream | undefined {
    const blob = this.blob(blobPath);
    return blob && createReadStream(blob.file, range);
  }

  /** The blob at `blobPath`: uploaded through a slot or written by the sandbox. */
  blob(blobPath: string): StoredBlob | undefined {
    return this.written.get(blobPath) ?? this.uploaded(blobPath);
  }

  /** Serves `blob` (a file the sandbox wrote, e.g. an export part) at `blobPath` to signed read URLs. */
  addBlob(blobPath: string, blob: StoredBlob): void {
    this.written.set(blobPath, blob);
  }

  /** Deletes a blob the sandbox wrote: its URLs answer 404 from then on. Its file goes now, or with `close` if that fails. */
  async removeBlob(blobPath: string): Promise<void> {
    const blob = this.written.get(blobPath);
    this.written.delete(blobPath);
    if (blob) await rm(blob.file, { force: true }).catch(() => undefined);
  }

  /**
   * For tests of a client's integrity checks: the next `times` (default 1) downloads of the blob (a part URL or its
   * path) get one byte flipped in transit, the first byte each serves, while the headers (`x-ms-meta-hash`, length)
   * stay those of the stored bytes; later downloads are intact again, so a client that downloads once more recovers.
   */
  corruptNextDownload(urlOrBlobPath: string, times = 1): void {
    const blobPath = urlOrBlobPath.startsWith('/') ? urlOrBlobPath : new URL(urlOrBlobPath).pathname;
    if (!this.blob(blobPath)) throw new RangeError(`sandbox storage: no blob at ${blobPath}`);
    this.corruptions.set(blobPath, (this.corruptions.get(blobPath) ?? 0) + times);
  }

  /** Whether this download of `blobPath` is to be corrupted (counts down what `corruptNextDownload` asked for). */
  takeCorruption(blobPath: string): boolean {
    const left = this.corruptions.get(blobPath) ?? 0;
    if (left <= 1) return this.corruptions.delete(blobPath);
    this.corruptions.set(blobPath, left - 1);
    return true;
  }

  /** 'ok', or why the URL is refused: forged, expired, or signed for the other direction. */
  check(blobPath: string, query: URLSearchParams, permission: StoragePermission, now: Date): 'ok' | 'invalid' | 'expired' | 'permission' {
    const se = query.get('se');
    const sp = query.get('sp');
    const sig = query.get('sig');
    if (!se || !sp || !sig) return 'invalid';
    const expected = Buffer.from(this.signature(blobPath, se, sp));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'invalid';
    if (sp !== permission) return 'permission';
    return Date.parse(se) > now.getTime() ? 'ok' : 'expired';
  }

  /** The slot of an upload URL, for the storage route. */
  slot(blobPath: string): SlotState | undefined {
    return this.slots.get(blobPath);
  }

  /** A fresh temporary file name; the folder is created on first use and removed by `close`. */
  async temporaryFile(): Promise<string> {
    this.folder ??= mkdtemp(join(tmpdir(), 'ksef-sandbox-storage-'));
    return join(await this.folder, randomBytes(12).toString('hex'));
  }

  /** Removes every blob. */
  async close(): Promise<void> {
    this.slots.clear();
    this.written.clear();
    if (this.folder) await rm(await this.folder, { recursive: true, force: true });
    this.folder = undefined;
  }

  private signedUrl(blobPath: string, expiresAt: Date, sp: StoragePermission): string {
    const se = expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const query = new URLSearchParams({ sv: '2025-01-05', se, sr: 'b', sp, sig: this.signature(blobPath, se, sp) });
    return `${this.origin}${blobPath}?${query.toString()}`;
  }

  private signature(blobPath: string, se: string, sp: string): string {
    return createHmac('sha256', this.secret).update(`${blobPath}\n${se}\n${sp}`).digest('base64');
  }
}

export function invoiceUpoBlobPath(sessionReferenceNumber: string, ksefNumber: string): string {
  return `/storage/01/${sessionReferenceNumber.toLowerCase()}/invoice-upo/upo_${ksefNumber}.xml`;
}

export function sessionUpoBlobPath(sessionReferenceNumber: string, pageIndex: number): string {
  return `/storage/01/${sessionReferenceNumber.toLowerCase()}/session-upo/upo_${String(pageIndex).padStart(2, '0')}.xml`;
}

/** Where part `ordinalNumber` of a batch session is uploaded (as the `url` example of `PartUploadRequest`). */
export function batchPartBlobPath(sessionReferenceNumber: string, ordinalNumber: number): string {
  return `/storage/00/${sessionReferenceNumber.toLowerCase()}/batch-parts/${ordinalNumber}`;
}

/** Where part `partName` of an export's package is served (as the `url` example of `InvoicePackagePart`). */
export function exportPartBlobPath(exportReferenceNumber: string, partName: string): string {
  return `/storage/00/${exportReferenceNumber.toLowerCase()}/invoice-part/${partName}`;
}

/** The ETag Azure gives a blob, here derived from its SHA-256 digest. */
export function blobEtag(sha256: Buffer): string {
  return `"0x${sha256.toString('hex').slice(0, 15).toUpperCase()}"`;
}

export const STORAGE_BLOB_PATTERN = /^\/storage\/01\/([0-9a-z-]{36})\/(invoice-upo|session-upo)\/upo_([0-9A-Za-z-]+)\.xml$/;
