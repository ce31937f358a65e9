/**
 * Exports (`POST /invoices/exports`, `GET /invoices/exports/{referenceNumber}` of open-api.json 2.8.1, CIRFMF/ksef-api;
 * pobieranie-faktur.md and przyrostowe-pobieranie-faktur.md of CIRFMF/ksef-docs): KSeF builds a package of invoices,
 * encrypted with a key of ours, split into parts on storage URLs. Here: a fresh key per export, the start, the wait,
 * the parts downloaded, checked, decrypted and joined (in memory, or in a temporary file when large), and the package
 * unpacked as a stream.
 *
 * What outlives a run lives in the state store: each export until it is delivered (reference and SEALED key, so a
 * slow one is resumed, never started twice) and the context's ledger (this client's running exports, named when KSeF
 * refuses another with 21182, and the recent start times that keep it within KSeF's export limits across restarts).
 */
import { createDecipheriv, createHash } from 'node:crypto';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock, Logger, Sleep, StatusInfo } from '../protocol/types';
import type { RateLimit } from '../protocol/model/rateLimits';
import { exportStatusMeaning } from '../protocol/model/statusCodes';
import { sha256Base64, sha256Hex } from '../protocol/crypto/hashes';
import type { SymmetricKey } from '../protocol/crypto/aes';
import { readArchive, type ArchiveFormat, type ArchiveSource } from '../protocol/archive/read';
import type { RequestFunction } from '../http/transport';
import { pollUntil } from '../http/backoff';
import {
  KsefError,
  KsefExportFailedError,
  KsefExportPendingError,
  KsefGoneError,
  KsefInputError,
  KsefNotFoundError,
  KsefRateLimitError,
  KsefTooManyExportsError,
} from '../http/errors';
import type { PublicKeys } from '../security/publicKeys';
import { openWithSessionKey } from '../sessions/sessionKey';
import type { JsonValue, StateStore } from '../state/stateStore';
import type { SealKey } from '../state/seal';
import { KsefIntegrityError, StorageClient } from '../storage/storageClient';
import { checkInvoiceQueryFilters, invoiceQueryFiltersBody, invoiceQueryWindows, MAX_INVOICE_QUERY_RANGE_DAYS } from './filters';
import type { ExportedInvoice, ExportOptions, ExportPackageSummary, InvoiceExport, InvoiceMetadata, InvoiceQueryFilters } from './types';

export interface ExportDeps {
  api: RequestFunction;
  publicKeys: PublicKeys;
  clock: Clock;
  sleep: Sleep;
  logger?: Logger;
  stateStore: StateStore;
  /** Names this client's context in state keys (e.g. `Nip:1234567890@<baseUrl>`). */
  scope: string;
  /** Seals the AES keys of exports kept in the state store (derived from the client's credential secret). */
  sealKey: SealKey;
  /** KSeF's export limits of this context (`invoiceExport` of `GET /rate-limits`, else the published ones). */
  exportLimit(): Promise<RateLimit>;
}

/** `POST /invoices/exports` without its `encryption` block: what identifies an export of the same request. */
export interface ExportRequest {
  filters: Record<string, unknown>;
  onlyMetadata: boolean;
  compressionType: ArchiveFormat;
}

/** An export started and not yet delivered: what resuming it needs. The key is sealed, never in clear. */
export interface PendingExport {
  [key: string]: JsonValue;
  referenceNumber: string;
  /** AES key and IV, sealed with `ExportDeps.sealKey`. */
  sealedKey: string;
  startedAt: string;
}

/** `InvoicePackagePart` of open-api.json. */
interface PackagePart {
  ordinalNumber: number;
  partName: string;
  method: string;
  url: string;
  partSize: number;
  partHash: string;
  encryptedPartSize: number;
  encryptedPartHash: string;
  expirationDate: string;
}

/** `InvoiceExportStatusResponse` of open-api.json. */
interface ExportStatus {
  status: StatusInfo;
  completedDate?: string | null;
  packageExpirationDate?: string | null;
  package?: (Omit<ExportPackageSummary, 'partCount' | 'compressionType'> & { parts: PackagePart[] }) | null;
}

/** An export KSeF finished (status 200), with the key that opens its parts. */
export interface ReadyExport {
  referenceNumber: string;
  key: SymmetricKey;
  status: ExportStatus & { package: NonNullable<ExportStatus['package']> };
}

const IN_PROGRESS = 100;
const DONE = 200;
const DEFAULT_MAX_WAIT_MS = 120_000;
/** When a pending export or a full context is worth asking about again. */
const RETRY_AFTER_MS = 60_000;
const HOUR_MS = 3_600_000;
/** KSeF keeps an export's status 7 days (pobieranie-faktur.md): an older entry of the ledger is forgotten. */
const EXPORT_STATUS_KEPT_MS = 7 * 24 * HOUR_MS;
/** KSeF receives a start a little after it leaves here; a start that arrives a moment early is refused (as the pacer allows). */
const TRANSIT_ALLOWANCE_MS = 500;
const METADATA_ENTRY = '_metadata.json';
/** `_metadata.json` of 10,000 invoices is some 20 MB. */
const MAX_METADATA_BYTES = 256 * 1024 * 1024;
/** An invoice is at most 1 MB, 3 MB with attachments (limity.md, CIRFMF/ksef-docs). */
const MAX_INVOICE_BYTES = 16 * 1024 * 1024;
/**
 * Packages up to this size (decrypted) are read in memory, larger ones through a temporary file: a package can be up
 * to 1 GB (pobieranie-faktur.md), which must not be held. 10,000 invoices of a few KB make 2.5 MB as TarGz, 12 MB as
 * ZIP; measured here (10,000 invoices, ZIP, load 12), the read took 0.45-0.49 s in memory against 0.58-0.60 s through
 * the file, but held in memory the 12 MB took the process's peak RSS to 1.26-1.35 x that of 1,000 invoices, beyond
 * the 1.3 x of `npm run bench:export`: what memory may hold is kept small.
 */
const DEFAULT_MAX_IN_MEMORY_BYTES = 8 * 1024 * 1024;

/**
 * Exports the invoices matching `filters`: resumes this client's pending export of the same request if there is one,
 * else starts one (within KSeF's export limits, or `KsefRateLimitError` before anything is sent), waits up to
 * `maxWaitMs` (then `KsefExportPendingError`: it stays pending) and returns the package ready to read.
 */
export async function exportInvoices(deps: ExportDeps, filters: InvoiceQueryFilters, options: ExportOptions = {}): Promise<InvoiceExport> {
  const { request, maxWaitMs, maxInMemoryBytes } = checkExportRequest(deps.clock, filters, options);
  const stateKey = exportStateKey(deps.scope, request);
  const saved = await deps.stateStore.get<PendingExport>(stateKey);
  if (!saved) {
    const slot = await nextExportSlot(deps);
    if (slot) throw new KsefRateLimitError(slot.reason, slot.at);
  }
  const forget = () => deps.stateStore.delete(stateKey);
  const ready = await awaitExport(deps, request, saved, maxWaitMs, (pending) => deps.stateStore.set(stateKey, pending)).catch(
    async (error: unknown) => {
      if (error instanceof KsefExportFailedError || error instanceof KsefNotFoundError || error instanceof KsefGoneError) await forget();
      throw error;
    },
  );
  return invoiceExport(deps, ready, request, forget, maxInMemoryBytes);
}

/** Checks the caller's filters and options; the range must fit one export (100 days). */
export function checkExportRequest(
  clock: Clock,
  filters: InvoiceQueryFilters,
  options: ExportOptions,
): { request: ExportRequest; maxWaitMs: number; maxInMemoryBytes: number } {
  const checked = checkInvoiceQueryFilters(filters, clock);
  if (invoiceQueryWindows(checked, clock).length > 1) {
    throw new KsefInputError(
      `filters.dateRange spans more than the ${MAX_INVOICE_QUERY_RANGE_DAYS} days one export may cover: export it in shorter ranges (or use sync, which moves through them).`,
      { field: 'filters.dateRange' },
    );
  }
  const record = (options ?? {}) as Record<string, unknown>;
  const onlyMetadata = record.onlyMetadata ?? false;
  if (typeof onlyMetadata !== 'boolean')
    throw new KsefInputError('options.onlyMetadata must be true or false.', { field: 'options.onlyMetadata' });
  return {
    request: {
      filters: invoiceQueryFiltersBody(checked),
      onlyMetadata,
      compressionType: checkCompressionType(record.compressionType, 'options.compressionType'),
    },
    maxWaitMs: checkMaxWait(record.maxWaitMs, 'options.maxWaitMs'),
    maxInMemoryBytes: checkMaxInMemoryBytes(record.maxInMemoryBytes),
  };
}

function checkMaxInMemoryBytes(value: unknown): number {
  const bytes = value ?? DEFAULT_MAX_IN_MEMORY_BYTES;
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) {
    throw new KsefInputError('options.maxInMemoryBytes must be a whole number of bytes, 0 or more.', { field: 'options.maxInMemoryBytes' });
  }
  return bytes;
}

export function checkCompressionType(value: unknown, field: string): ArchiveFormat {
  const format = value ?? 'Zip';
  if (format !== 'Zip' && format !== 'TarGz') throw new KsefInputError(`${field} must be 'Zip' or 'TarGz'.`, { field });
  return format;
}

export function checkMaxWait(value: unknown, field: string): number {
  const ms = value ?? DEFAULT_MAX_WAIT_MS;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw new KsefInputError(`${field} must be a non-negative number of milliseconds.`, { field });
  }
  return ms;
}

/** The state key of this client's export of `request`: the same filters and options resume the same export. */
function exportStateKey(scope: string, request: ExportRequest): string {
  return `ksef-flow/export/${scope}/${sha256Hex(JSON.stringify(request))}`;
}

/**
 * Resumes `pending`, or starts an export of `request` (calling `started` with what resuming it needs, before waiting),
 * then waits up to `maxWaitMs` for its package. Throws `KsefExportPendingError` when it is still being built and
 * `KsefExportFailedError` when KSeF ended it without a package.
 */
export async function awaitExport(
  deps: ExportDeps,
  request: ExportRequest,
  pending: PendingExport | undefined,
  maxWaitMs: number,
  started: (pending: PendingExport, starts: string[]) => Promise<void>,
): Promise<ReadyExport> {
  const { clock, sleep, api } = deps;
  let key = pending && unsealExportKey(deps.sealKey, pending);
  if (pending && key) {
    deps.logger?.info('Resuming a pending export', { referenceNumber: pending.referenceNumber });
  } else {
    if (pending) {
      // Sealed by another credential (or changed): its package could not be decrypted, so a new export replaces it.
      deps.logger?.warn('A pending export was sealed with another credential; starting a new one', {
        referenceNumber: pending.referenceNumber,
      });
      await forgetRunning(deps, pending.referenceNumber);
    }
    let starts: string[];
    ({ pending, key, starts } = await startExport(deps, request));
    await started(pending, starts);
  }
  const { referenceNumber, startedAt } = pending;
  const status = await pollUntil(
    async () => (await api<ExportStatus>({ method: 'GET', path: `/invoices/exports/${referenceNumber}` })).data,
    (read) => read.status.code !== IN_PROGRESS,
    { clock, sleep, timeoutMs: maxWaitMs, initialDelayMs: 500, maxDelayMs: 10_000 },
  );
  const { code, description } = status.status;
  if (code === IN_PROGRESS) {
    const retryAt = new Date(clock.now().getTime() + RETRY_AFTER_MS);
    throw new KsefExportPendingError(
      `KSeF is still preparing export ${referenceNumber} after ${maxWaitMs} ms (started ${startedAt}). It is kept: the next export with the same filters (or the next sync run) resumes it instead of starting another; try after ${retryAt.toISOString()}.`,
      referenceNumber,
      retryAt,
    );
  }
  if (code !== DONE || !status.package) {
    await forgetRunning(deps, referenceNumber);
    throw new KsefExportFailedError(
      `KSeF ended export ${referenceNumber} with status ${code} (${exportStatusMeaning(code) ?? 'undocumented status'}; KSeF: ${description}). ${nextStepAfter(code)}`,
      referenceNumber,
      status.status,
    );
  }
  return { referenceNumber, key, status: { ...status, package: status.package } };
}

/** What to do after an export ended with status `code`. */
function nextStepAfter(code: number): string {
  switch (code) {
    case 210:
      return 'Its saved state was removed: export again to get a new package.';
    case 415:
      return "KSeF could not open the key it was given: export again (a new key is wrapped with KSeF's current public key).";
    case 420:
      return 'KSeF has no complete data that far yet: start the range at or before the permanent-storage high-water mark, or try later.';
    case 550:
      return 'Export again.';
    default:
      return 'Export again later; if it fails again, report the reference number to KSeF support.';
  }
}

/**
 * `POST /invoices/exports` with a fresh AES key wrapped with KSeF's current public key; each POST sent is recorded in
 * the ledger and returned in `starts` (two when KSeF refused the first for a withdrawn key, 21470).
 */
async function startExport(
  deps: ExportDeps,
  request: ExportRequest,
): Promise<{ pending: PendingExport; key: SymmetricKey; starts: string[] }> {
  let startedAt = '';
  const starts: string[] = [];
  let opened;
  try {
    opened = await openWithSessionKey(deps.publicKeys, async (encryption) => {
      // Each POST is counted before it goes, also the one sent again with the new key after 21470: KSeF counts every
      // request of the context, one it refuses too (limity-api.md). Never sent again otherwise: a POST is repeated only
      // after a 429 (transport) or a 401 (auth hook), both refused before any processing.
      startedAt = deps.clock.now().toISOString();
      starts.push(startedAt);
      await updateLedger(deps, (ledger) => ({ ...ledger, starts: [...ledger.starts, startedAt] }));
      return deps.api<{ referenceNumber: string }>({ method: 'POST', path: '/invoices/exports', json: { encryption, ...request } });
    });
  } catch (error) {
    if (error instanceof KsefError && error.hasCode(TOO_MANY_EXPORTS)) throw await tooManyExports(deps, error);
    throw error;
  }
  const { key } = opened;
  const { referenceNumber } = opened.opened.data;
  const pending: PendingExport = {
    referenceNumber,
    sealedKey: deps.sealKey.seal(Buffer.concat([key.key, key.iv]), sealPurpose(referenceNumber)),
    startedAt,
  };
  await updateLedger(deps, (ledger) => ({ ...ledger, running: [...ledger.running, { referenceNumber, startedAt }] }));
  deps.logger?.info('Export started', { referenceNumber });
  return { pending, key, starts };
}

/** The export's key, or undefined when the sealed value does not open with this client's credential. */
function unsealExportKey(sealKey: SealKey, pending: PendingExport): SymmetricKey | undefined {
  try {
    const material = sealKey.open(pending.sealedKey, sealPurpose(pending.referenceNumber));
    return { key: material.subarray(0, 32), iv: material.subarray(32) };
  } catch (error) {
    if (error instanceof KsefError) return undefined;
    throw error;
  }
}

/** A sealed key opens only for the export it was made for. */
function sealPurpose(referenceNumber: string): string {
  return `export key ${referenceNumber}`;
}

/** "Too many concurrent exports" (open-api.json, `POST /invoices/exports`). */
const TOO_MANY_EXPORTS = 21182;

/** A 21182 as the exports of ours that are still running (their status asked again) and when to try again. */
async function tooManyExports(deps: ExportDeps, refusal: KsefError): Promise<KsefTooManyExportsError> {
  const running: { referenceNumber: string; startedAt: string }[] = [];
  for (const entry of (await readLedger(deps)).running) {
    try {
      const { data } = await deps.api<ExportStatus>({ method: 'GET', path: `/invoices/exports/${entry.referenceNumber}` });
      if (data.status.code === IN_PROGRESS) running.push(entry);
      else if (data.status.code !== DONE) await forgetRunning(deps, entry.referenceNumber);
    } catch (error) {
      // One unreadable status must not hide the refusal itself.
      deps.logger?.warn('Could not read the status of an export of ours', {
        referenceNumber: entry.referenceNumber,
        reason: (error as Error).message,
      });
    }
  }
  const retryAt = new Date(deps.clock.now().getTime() + RETRY_AFTER_MS);
  const ours =
    running.length > 0
      ? `Still running among this client's exports: ${running.map((e) => `${e.referenceNumber} (started ${e.startedAt})`).join(', ')}; an export with the same filters resumes its own instead of starting another.`
      : "None of the running exports is this client's: other integrations of this context run them.";
  return new KsefTooManyExportsError(
    `KSeF refused another export: this context already runs as many exports at once as KSeF allows (21182). ${ours} Try again after ${retryAt.toISOString()}.`,
    running,
    retryAt,
    { status: refusal.status, exceptions: refusal.exceptions, traceId: refusal.traceId, cause: refusal },
  );
}

/** The context's export ledger: this client's exports not yet delivered, and the export starts of the last hour. */
interface ExportLedger {
  [key: string]: JsonValue;
  running: { referenceNumber: string; startedAt: string }[];
  starts: string[];
}

function ledgerKey(scope: string): string {
  return `ksef-flow/exports/${scope}`;
}

async function readLedger(deps: ExportDeps): Promise<ExportLedger> {
  const ledger = await deps.stateStore.get<ExportLedger>(ledgerKey(deps.scope));
  return { running: ledger?.running ?? [], starts: ledger?.starts ?? [] };
}

/** Applies `change` and keeps the ledger small: starts of the last hour, running exports KSeF still knows. */
async function updateLedger(deps: ExportDeps, change: (ledger: ExportLedger) => ExportLedger): Promise<void> {
  const now = deps.clock.now().getTime();
  const changed = change(await readLedger(deps));
  await deps.stateStore.set(ledgerKey(deps.scope), {
    running: changed.running.filter((entry) => now - Date.parse(entry.startedAt) < EXPORT_STATUS_KEPT_MS),
    starts: changed.starts.filter((at) => now - Date.parse(at) < HOUR_MS + TRANSIT_ALLOWANCE_MS),
  });
}

/** The export is delivered or ended: no longer one of ours running. */
export async function forgetRunning(deps: ExportDeps, referenceNumber: string): Promise<void> {
  await updateLedger(deps, (ledger) => ({
    ...ledger,
    running: ledger.running.filter((entry) => entry.referenceNumber !== referenceNumber),
  }));
}

/**
 * When the next export may start within KSeF's export limits (per second, minute and hour, per context), counting
 * the starts recorded in the ledger and `moreStarts` (e.g. a sync checkpoint's), and which limit says so; undefined
 * when it may start now. The transport's pacer keeps the same windows, but only in this process's memory: this
 * survives restarts.
 */
export async function nextExportSlot(deps: ExportDeps, moreStarts: string[] = []): Promise<{ at: Date; reason: string } | undefined> {
  const limit = await deps.exportLimit();
  const now = deps.clock.now().getTime();
  const recorded = (await readLedger(deps)).starts;
  // `moreStarts` repeats starts the ledger may hold; the ledger's own entries all count, even two at the same instant.
  const starts = [...recorded, ...moreStarts.filter((at) => !recorded.includes(at))]
    .map((at) => Date.parse(at))
    .filter((at) => at > now - HOUR_MS - TRANSIT_ALLOWANCE_MS)
    .sort((a, b) => a - b);
  let slot: { at: number; reason: string } | undefined;
  for (const [ms, max, per] of [
    [1000, limit.perSecond, 'a second'],
    [60_000, limit.perMinute, 'a minute'],
    [HOUR_MS, limit.perHour, 'an hour'],
  ] as const) {
    if (starts.length < max) continue;
    const at = starts[starts.length - max] + ms + TRANSIT_ALLOWANCE_MS;
    if (at > (slot?.at ?? now))
      slot = { at, reason: `KSeF allows ${max} exports ${per} in this context and this client has started that many` };
  }
  return slot && { at: new Date(slot.at), reason: `${slot.reason}; the next export may start at ${new Date(slot.at).toISOString()}.` };
}

/** The finished export as the caller sees it; `delivered` runs once its invoices were all read. */
export function invoiceExport(
  deps: ExportDeps,
  ready: ReadyExport,
  request: ExportRequest,
  delivered: () => Promise<void>,
  maxInMemoryBytes = DEFAULT_MAX_IN_MEMORY_BYTES,
): InvoiceExport {
  const { status } = ready;
  const { parts, ...summary } = status.package;
  let read = false;
  return {
    referenceNumber: ready.referenceNumber,
    ...(status.completedDate && { completedDate: status.completedDate }),
    ...(status.packageExpirationDate && { packageExpirationDate: status.packageExpirationDate }),
    package: { ...summary, partCount: parts.length, compressionType: request.compressionType },
    invoices() {
      if (read) throw new KsefError(`The invoices of export ${ready.referenceNumber} were already read; export again to read them again.`);
      read = true;
      return readPackage(deps, ready, request, maxInMemoryBytes, async () => {
        await forgetRunning(deps, ready.referenceNumber);
        await delivered();
      });
    },
  };
}

/**
 * Downloads every part, decrypted and in order, into memory when the package is at most `maxInMemoryBytes`, else
 * into one temporary file (readable by this user only, removed however the reading ends), then unpacks it: memory
 * holds at most `maxInMemoryBytes` of package, one download chunk and one invoice at a time.
 */
async function* readPackage(
  deps: ExportDeps,
  { referenceNumber, key, status }: ReadyExport,
  { compressionType, onlyMetadata }: ExportRequest,
  maxInMemoryBytes: number,
  delivered: () => Promise<void>,
): AsyncGenerator<ExportedInvoice> {
  const { parts } = status.package;
  if (parts.length === 0) {
    await delivered();
    return;
  }
  const total = parts.reduce((sum, part) => sum + part.partSize, 0);
  const spool = total <= maxInMemoryBytes ? new MemorySpool() : await FileSpool.create(compressionType);
  const storage = new StorageClient({ clock: deps.clock, sleep: deps.sleep, logger: deps.logger });
  try {
    let offset = 0;
    let listed = inOrder(parts);
    for (let index = 0; index < listed.length; index++) {
      for (let relinked = false; ; relinked = true) {
        try {
          offset += await downloadPart(storage, listed[index], key, spool, offset, referenceNumber, deps.logger);
          break;
        } catch (error) {
          // Part links are valid for a while only (an hour on KSeF): a consumer that took longer gets fresh ones.
          if (relinked || !(error instanceof KsefGoneError)) throw error;
          deps.logger?.info('An export part link expired; asking KSeF for fresh links', {
            referenceNumber,
            ordinalNumber: listed[index].ordinalNumber,
          });
          listed = await relinkParts(deps, referenceNumber, listed.length);
        }
      }
    }
    yield* unpack(await spool.source(), compressionType, onlyMetadata, referenceNumber);
    await delivered();
  } finally {
    storage.close();
    await spool.remove();
  }
}

/** Where the decrypted parts are put together: each part's bytes at its offset, a failed attempt's overwritten. */
interface Spool {
  write(bytes: Buffer, offset: number): Promise<void>;
  /** Cuts off what lies beyond `offset` (a failed attempt's bytes). */
  truncate(offset: number): Promise<void>;
  /** The whole package, for `readArchive`. */
  source(): Promise<ArchiveSource>;
  remove(): Promise<void>;
}

/**
 * The package in memory, as the decrypted chunks came: copied into one buffer, a fresh 12 MB (10,000 invoices, ZIP)
 * cost 100-150 ms here in first touches of its memory pages, more than decrypting it.
 */
class MemorySpool implements Spool {
  private chunks: Buffer[] = [];
  private size = 0;

  async write(bytes: Buffer, offset: number): Promise<void> {
    if (offset !== this.size) throw new RangeError(`The package in memory is written in order: ${offset} is not its end, ${this.size}.`);
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  async truncate(offset: number): Promise<void> {
    while (this.size > offset) {
      const last = this.chunks.pop()!;
      this.size -= last.length;
      if (this.size < offset) {
        this.chunks.push(last.subarray(0, offset - this.size));
        this.size = offset;
      }
    }
  }

  async source(): Promise<Buffer[]> {
    return this.chunks;
  }

  async remove(): Promise<void> {
    this.chunks = [];
  }
}

/** The package in a temporary file, in a directory of its own. */
class FileSpool implements Spool {
  private constructor(
    private readonly directory: string,
    private readonly file: string,
    private readonly handle: FileHandle,
  ) {}

  static async create(format: ArchiveFormat): Promise<FileSpool> {
    const directory = await mkdtemp(join(tmpdir(), 'ksef-export-'));
    const file = join(directory, format === 'Zip' ? 'package.zip' : 'package.tar.gz');
    try {
      return new FileSpool(directory, file, await open(file, 'w+', 0o600));
    } catch (error) {
      await rm(directory, { recursive: true, force: true });
      throw error;
    }
  }

  async write(bytes: Buffer, offset: number): Promise<void> {
    for (let written = 0; written < bytes.length;) {
      written += (await this.handle.write(bytes, written, bytes.length - written, offset + written)).bytesWritten;
    }
  }

  async truncate(offset: number): Promise<void> {
    await this.handle.truncate(offset);
  }

  async source(): Promise<string> {
    await this.handle.close();
    return this.file;
  }

  async remove(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await rm(this.directory, { recursive: true, force: true });
  }
}

function inOrder(parts: PackagePart[]): PackagePart[] {
  return [...parts].sort((a, b) => a.ordinalNumber - b.ordinalNumber);
}

/** The parts of a finished export with freshly signed links, from its status read again. */
async function relinkParts(deps: ExportDeps, referenceNumber: string, partCount: number): Promise<PackagePart[]> {
  const { data } = await deps.api<ExportStatus>({ method: 'GET', path: `/invoices/exports/${referenceNumber}` });
  const { code, description } = data.status;
  if (code !== DONE) {
    throw new KsefExportFailedError(
      `Export ${referenceNumber} is now at status ${code} (${exportStatusMeaning(code) ?? 'undocumented status'}; KSeF: ${description}). ${nextStepAfter(code)}`,
      referenceNumber,
      data.status,
    );
  }
  const parts = inOrder(data.package?.parts ?? []);
  if (parts.length !== partCount) throw new KsefError(`Export ${referenceNumber} now lists ${parts.length} parts, not ${partCount}.`);
  return parts;
}

/**
 * One part put at `offset`: downloaded (its `encryptedPartHash` and size checked by the storage client), decrypted
 * (AES-256-CBC, PKCS#7) and hashed chunk by chunk as it arrives, its `partHash` and `partSize` checked. A part that
 * fails a check is downloaded once more; failing again, the export fails naming it. Returns the part's decrypted size.
 */
async function downloadPart(
  storage: StorageClient,
  part: PackagePart,
  key: SymmetricKey,
  spool: Spool,
  offset: number,
  referenceNumber: string,
  logger?: Logger,
): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      // A failed attempt's bytes are cut off before the next one writes.
      await spool.truncate(offset);
      const decipher = createDecipheriv('aes-256-cbc', key.key, key.iv);
      const plain = createHash('sha256');
      let size = 0;
      const put = async (bytes: Buffer) => {
        // Never beyond the part's announced size: the next part (or the end of the package) lies there.
        if (size + bytes.length > part.partSize) {
          throw new KsefIntegrityError(`decrypted, it has more than the ${part.partSize} bytes announced`);
        }
        plain.update(bytes);
        await spool.write(bytes, offset + size);
        size += bytes.length;
      };
      for await (const chunk of storage.download(part.url, {
        expectedSha256: part.encryptedPartHash,
        expectedSize: part.encryptedPartSize,
      }) as AsyncIterable<Buffer>) {
        await put(decipher.update(chunk));
      }
      await put(decipher.final());
      const sha256 = plain.digest('base64');
      if (size !== part.partSize || sha256 !== part.partHash) {
        throw new KsefIntegrityError(
          `decrypted, it has ${size} bytes with SHA-256 ${sha256}, not the ${part.partSize} bytes with ${part.partHash} announced`,
        );
      }
      return size;
    } catch (error) {
      const reason = integrityProblem(error);
      if (reason === undefined) throw error;
      if (attempt >= 2) {
        throw new KsefIntegrityError(
          `Part ${part.ordinalNumber} (${part.partName}) of export ${referenceNumber} failed its integrity check twice (${reason}); none of its invoices were delivered. The export stays pending: the next export with the same filters downloads it again.`,
          { cause: error },
        );
      }
      logger?.warn('An export part failed its integrity check; downloading it again', {
        referenceNumber,
        ordinalNumber: part.ordinalNumber,
        partName: part.partName,
        reason,
      });
    }
  }
}

/** Why a part's bytes are not the part's (a mismatch or a ciphertext that does not decrypt); undefined for other failures. */
function integrityProblem(error: unknown): string | undefined {
  if (error instanceof KsefIntegrityError) return error.message;
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && code.startsWith('ERR_OSSL')) return `it does not decrypt with the export's key (${code})`;
  return undefined;
}

/** The package's invoices: `_metadata.json` first, then each `{ksefNumber}.xml` with its metadata, its hash checked. */
async function* unpack(
  source: ArchiveSource,
  format: ArchiveFormat,
  onlyMetadata: boolean,
  referenceNumber: string,
): AsyncGenerator<ExportedInvoice> {
  const entries = readArchive(source, format, { first: METADATA_ENTRY });
  try {
    const first = await entries.next();
    if (first.done || first.value.name !== METADATA_ENTRY) {
      throw new KsefIntegrityError(`The package of export ${referenceNumber} has no ${METADATA_ENTRY}.`);
    }
    const waiting = new MetadataIndex(await first.value.read(MAX_METADATA_BYTES), referenceNumber);
    if (onlyMetadata) {
      for (const ksefNumber of waiting.ksefNumbers()) yield { ksefNumber, metadata: waiting.take(ksefNumber)! };
      return;
    }
    for (let next = await entries.next(); !next.done; next = await entries.next()) {
      const entry = next.value;
      const ksefNumber = /^(?:.*\/)?([^/]+)\.xml$/i.exec(entry.name)?.[1];
      const metadata = ksefNumber === undefined ? undefined : waiting.take(ksefNumber);
      if (!metadata) {
        throw new KsefIntegrityError(
          `The package of export ${referenceNumber} holds ${entry.name}, which its ${METADATA_ENTRY} does not list.`,
        );
      }
      const xml = await entry.read(MAX_INVOICE_BYTES);
      if (sha256Base64(xml) !== metadata.invoiceHash) {
        throw new KsefIntegrityError(
          `The package of export ${referenceNumber} holds ${entry.name} with another SHA-256 than its metadata's invoiceHash; it was not delivered.`,
        );
      }
      yield { ksefNumber: metadata.ksefNumber, metadata, xml };
    }
    const missing = [...waiting.ksefNumbers()];
    if (missing.length > 0) {
      throw new KsefIntegrityError(
        `The package of export ${referenceNumber} lacks the XML of ${missing.length} invoice(s) its ${METADATA_ENTRY} lists, e.g. ${missing[0]}.`,
      );
    }
  } finally {
    await entries.return(undefined);
  }
}

/**
 * `_metadata.json` (`{"invoices":[InvoiceMetadata, ...]}`, pobieranie-faktur.md) by KSeF number, kept as its bytes:
 * each invoice's object is found by its braces, its `ksefNumber` read as the scan passes it, and the object parsed
 * once, when asked for. Parsed whole, 10,000 invoices' metadata would stay in memory as some ten times more objects
 * than bytes for the whole read; parsed on the scan to find its KSeF number, it would be parsed twice (measured at
 * 10,000 invoices: a third of the read's time went to `JSON.parse`).
 */
class MetadataIndex {
  /** Where each invoice's JSON object lies in `bytes`, in the file's order. */
  private readonly spans = new Map<string, [number, number]>();

  constructor(
    private readonly bytes: Buffer,
    private readonly referenceNumber: string,
  ) {
    const QUOTE = 0x22;
    const BACKSLASH = 0x5c;
    const KSEF_NUMBER_KEY = Buffer.from('"ksefNumber"');
    /** The depth of an invoice's members: inside the root object, its `invoices` array and the invoice's object. */
    const INVOICE_MEMBER_DEPTH = 3;
    let depth = 0;
    let unterminated = false;
    /** Where the current member of the root object began (after `{` or `,`): its key tells which member it is. */
    let memberStart = 0;
    let inInvoices = false;
    let sawInvoices = false;
    let objectStart = 0;
    /** Within an invoice's object: after the key `"ksefNumber"` (1), after its colon (2), else 0. */
    let ksefNumberKey = 0;
    let ksefNumber: [number, number] | undefined;
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i];
      if (c === QUOTE) {
        // Strings are most of the bytes: their end is searched for natively, not byte by byte. A quote after an odd
        // number of backslashes is part of the string.
        const start = i;
        let end = bytes.indexOf(QUOTE, start + 1);
        for (;;) {
          if (end === -1) break;
          let backslashes = 0;
          while (bytes[end - 1 - backslashes] === BACKSLASH) backslashes++;
          if (backslashes % 2 === 0) break;
          end = bytes.indexOf(QUOTE, end + 1);
        }
        if (end === -1) {
          unterminated = true;
          break;
        }
        i = end;
        if (!inInvoices || depth !== INVOICE_MEMBER_DEPTH) continue;
        if (ksefNumberKey === 2) {
          ksefNumber = [start, end + 1];
          ksefNumberKey = 0;
        } else if (end + 1 - start === KSEF_NUMBER_KEY.length && KSEF_NUMBER_KEY.compare(bytes, start, end + 1) === 0) {
          ksefNumberKey = 1;
        }
      } else if (c === 0x3a) {
        if (inInvoices && depth === INVOICE_MEMBER_DEPTH && ksefNumberKey === 1) ksefNumberKey = 2;
      } else if (c === 0x7b || c === 0x5b) {
        if (depth === 1 && c === 0x5b && /"invoices"\s*:\s*$/.test(bytes.toString('utf8', memberStart, i))) inInvoices = sawInvoices = true;
        if (depth === 2 && inInvoices && c === 0x7b) {
          objectStart = i;
          ksefNumber = undefined;
        }
        ksefNumberKey = 0;
        depth++;
        if (depth === 1) memberStart = i + 1;
      } else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 2 && inInvoices && c === 0x7d) this.add(objectStart, i + 1, ksefNumber);
        if (depth === 1) inInvoices = false;
        if (depth < 0) break;
      } else if (c === 0x2c) {
        if (depth === 1) memberStart = i + 1;
        ksefNumberKey = 0;
      }
    }
    if (depth !== 0 || unterminated || !sawInvoices) {
      throw new KsefIntegrityError(`The ${METADATA_ENTRY} of export ${referenceNumber} is not a JSON object with a list of invoices.`);
    }
  }

  ksefNumbers(): IterableIterator<string> {
    return this.spans.keys();
  }

  /** The metadata of `ksefNumber`, given once. */
  take(ksefNumber: string): InvoiceMetadata | undefined {
    const span = this.spans.get(ksefNumber);
    if (!span) return undefined;
    this.spans.delete(ksefNumber);
    return this.parse(...span);
  }

  /** The invoice's object at `start` to `end`, its `ksefNumber` string (with its quotes) at `ksefNumber`. */
  private add(start: number, end: number, ksefNumber: [number, number] | undefined): void {
    if (!ksefNumber) {
      throw new KsefIntegrityError(`The ${METADATA_ENTRY} of export ${this.referenceNumber} lists an invoice without its ksefNumber.`);
    }
    const [from, to] = ksefNumber;
    // A KSeF number has no escapes (`{NIP}-{date}-{hex}-{checksum}`): its bytes are the string, without a JSON.parse.
    const escaped = this.bytes.subarray(from, to).includes(0x5c);
    this.spans.set(escaped ? this.parse<string>(from, to) : this.bytes.toString('utf8', from + 1, to - 1), [start, end]);
  }

  private parse<T = InvoiceMetadata>(start: number, end: number): T {
    try {
      return JSON.parse(this.bytes.toString('utf8', start, end)) as T;
    } catch (error) {
      throw new KsefIntegrityError(`The ${METADATA_ENTRY} of export ${this.referenceNumber} is not valid JSON.`, { cause: error });
    }
  }
}
