/**
 * Batch sessions (sesja-wsadowa.md, CIRFMF/ksef-docs; "Wysyłka wsadowa" of open-api.json, CIRFMF/ksef-api): the
 * invoices go as one encrypted package per session, declared when the session opens, uploaded in parts to the
 * storage URLs KSeF returns, and processed after the close. Up to 10,000 invoices per session; a larger input goes
 * in several sessions, one after the other.
 *
 * Every step is recorded in the state store (`resume.ts`) before the next one, so a run that dies is finished by
 * the next run with the same invoices: it uploads only the parts still missing, or only reads the outcome of a
 * session already closed. No invoice goes to KSeF twice and none is lost.
 */
import { INVOICE_SCHEMAS, type InvoiceSchema } from '../../protocol/model/formCodes';
import { newSymmetricKey, type SymmetricKey } from '../../protocol/crypto/aes';
import { KsefError, KsefForbiddenError, KsefGoneError, KsefInputError } from '../../http/errors';
import { forEachWithConcurrency } from '../../util/concurrency';
import { StorageClient } from '../../storage/storageClient';
import { checkCompressionType, type ExportDeps } from '../../invoices/exports';
import type { BatchProgress, BatchSendOptions, BatchSendResult, BatchSessionResult, InvoiceInput, InvoiceResult } from '../types';
import { checkSchema } from '../prepare';
import { openWithSessionKey } from '../sessionKey';
import {
  batchFileInfo,
  buildBatchPackage,
  MAX_INVOICES_PER_PACKAGE,
  MAX_PART_BYTES,
  type BatchPackage,
  type BatchPackagePart,
} from './package';
import { BatchSessionStore, type BatchDeclaration, type BatchSessionState, type PartUploadRequest } from './resume';
import { closeBatchSession, collectBatchOutcome, sessionFailure, type BatchInvoice } from './close';

/** What a batch send needs: the export's dependencies (api, public keys, clock, sleep, logger, state store, scope, seal key). */
export type BatchSessionDeps = ExportDeps;

/**
 * The number of invoices from which `mode: 'auto'` sends in batch sessions. KSeF takes online invoices at 10 a
 * second but only 30 a minute and 180 an hour per context in production, and a batch session costs a fixed few
 * requests whatever its size (open and close: 20 a minute each; part uploads are not limited), then KSeF's
 * processing of the package, which it queues as one message (limity/limity-api.md, CIRFMF/ksef-docs, which
 * recommends batch sessions for more than one document). Online is kept for a few invoices because it gives each
 * KSeF number and invoice UPO soonest. Below 20 an online send stays within one minute's budget and leaves a third
 * of it to other senders of the context; from 20 on the minute's (and from 180 the hour's) budget makes online
 * slower than one batch session.
 */
export const DEFAULT_AUTO_BATCH_THRESHOLD = 20;

/** The schemas a batch session takes (`OpenBatchSessionRequest.formCode`, open-api.json): PEF goes online only. */
const BATCH_SCHEMAS: readonly InvoiceSchema[] = ['FA(2)', 'FA(3)', 'FA_RR(1)'];
const DEFAULT_UPLOAD_CONCURRENCY = 4;
const MAX_UPLOAD_CONCURRENCY = 50;
const DEFAULT_WAIT_FOR_PROCESSING_MS = 600_000;
/** "Łączny czas na wysyłkę każdego parta = liczba partów × 20 minut" (sesja-wsadowa.md, CIRFMF/ksef-docs). */
const UPLOAD_WINDOW_PER_PART_MS = 20 * 60_000;

interface BatchSettings {
  schema: InvoiceSchema;
  offlineMode: boolean;
  compressionType: 'Zip' | 'TarGz';
  partSizeBytes: number;
  maxInvoicesPerSession: number;
  uploadConcurrency: number;
  waitForProcessingMs: number;
  fetchUpo: boolean;
  onProgress?: (progress: BatchProgress) => void;
}

/**
 * Sends `inputs` in batch sessions of at most `maxInvoicesPerSession` invoices (by input position) and returns one
 * result per input, in input order. Invoices the local checks refuse get their own error and stay out of the
 * package. Throws when a session cannot be completed now (e.g. KSeF or the storage host unreachable after retries):
 * its state is kept, and the same call run again resumes it.
 */
export async function sendInvoicesInBatch(
  deps: BatchSessionDeps,
  inputs: InvoiceInput[],
  options: BatchSendOptions = {},
): Promise<Omit<BatchSendResult, 'environment'>> {
  const settings = checkBatchOptions(options);
  if (!Array.isArray(inputs)) {
    throw new KsefInputError('invoices must be an array of invoice XML strings, Buffers, { xml } objects or { open } stream sources.', {
      field: 'invoices',
    });
  }
  const sessionCount = Math.ceil(inputs.length / settings.maxInvoicesPerSession);
  const results: InvoiceResult[] = [];
  const sessions: BatchSessionResult[] = [];
  const finished: BatchSessionStore[] = [];
  const storage = new StorageClient({ clock: deps.clock, sleep: deps.sleep, logger: deps.logger });
  const runs: BatchSessionRun[] = [];
  try {
    // Every package is built (and checked against KSeF's limits) before the first session opens.
    for (let session = 1; session <= sessionCount; session++) {
      const first = (session - 1) * settings.maxInvoicesPerSession;
      const end = Math.min(inputs.length, first + settings.maxInvoicesPerSession);
      const run = new BatchSessionRun(deps, storage, settings, inputs, { first, end }, { session, sessions: sessionCount });
      runs.push(run);
      await run.pack();
    }
    for (const run of runs) {
      const outcome = await run.send();
      results.push(...outcome.invoices);
      if (outcome.session) sessions.push(outcome.session);
      if (outcome.done) finished.push(outcome.done);
      await run.dispose();
    }
  } finally {
    for (const run of runs) await run.dispose();
    storage.close();
  }
  // Only now has the caller the results: a run that died before this point finds the sessions' outcomes again.
  for (const store of finished) await store.remove();
  return { mode: 'batch', invoices: results.sort((a, b) => a.index - b.index), sessions };
}

function checkBatchOptions(options: BatchSendOptions): BatchSettings {
  const record = (options ?? {}) as Record<string, unknown>;
  const schema = checkSchema(record.schema as InvoiceSchema | undefined);
  if (!BATCH_SCHEMAS.includes(schema)) {
    throw new KsefInputError(
      `options.schema ${schema} cannot go in a batch session (KSeF takes ${BATCH_SCHEMAS.join(', ')}); send it online.`,
      {
        field: 'options.schema',
      },
    );
  }
  const offlineMode = record.offlineMode ?? false;
  if (typeof offlineMode !== 'boolean')
    throw new KsefInputError('options.offlineMode must be true or false.', { field: 'options.offlineMode' });
  if (record.onProgress !== undefined && typeof record.onProgress !== 'function') {
    throw new KsefInputError('options.onProgress must be a function.', { field: 'options.onProgress' });
  }
  const fetchUpo = record.fetchUpo ?? true;
  if (typeof fetchUpo !== 'boolean') throw new KsefInputError('options.fetchUpo must be true or false.', { field: 'options.fetchUpo' });
  return {
    schema,
    offlineMode,
    compressionType: checkCompressionType(record.compressionType, 'options.compressionType'),
    partSizeBytes: wholeNumber(record.partSizeBytes, MAX_PART_BYTES, 1, MAX_PART_BYTES, 'options.partSizeBytes'),
    maxInvoicesPerSession: wholeNumber(
      record.maxInvoicesPerSession,
      MAX_INVOICES_PER_PACKAGE,
      1,
      MAX_INVOICES_PER_PACKAGE,
      'options.maxInvoicesPerSession',
    ),
    uploadConcurrency: wholeNumber(
      record.uploadConcurrency,
      DEFAULT_UPLOAD_CONCURRENCY,
      1,
      MAX_UPLOAD_CONCURRENCY,
      'options.uploadConcurrency',
    ),
    waitForProcessingMs: wholeNumber(
      record.waitForProcessingMs,
      DEFAULT_WAIT_FOR_PROCESSING_MS,
      0,
      Number.MAX_SAFE_INTEGER,
      'options.waitForProcessingMs',
    ),
    fetchUpo,
    onProgress: record.onProgress as BatchSettings['onProgress'],
  };
}

function wholeNumber(value: unknown, fallback: number, min: number, max: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new KsefInputError(`${field} must be a whole number from ${min} to ${max}; got ${JSON.stringify(value)}.`, { field });
  }
  return value;
}

/** What one session of the call gives back; `done` is its state, to remove once the caller has the results. */
interface SessionOutcome {
  invoices: InvoiceResult[];
  session?: BatchSessionResult;
  done?: BatchSessionStore;
}

/** One batch session of the call: inputs `first` to `end` (exclusive). */
class BatchSessionRun {
  private progress: BatchProgress;
  private key = newSymmetricKey();
  private pkg?: BatchPackage;
  private store?: BatchSessionStore;

  constructor(
    private readonly deps: BatchSessionDeps,
    private readonly storage: StorageClient,
    private readonly settings: BatchSettings,
    private readonly inputs: InvoiceInput[],
    private readonly range: { first: number; end: number },
    position: { session: number; sessions: number },
  ) {
    this.progress = { ...position, phase: 'packing', partsUploaded: 0, parts: 0, invoicesProcessed: 0, invoices: range.end - range.first };
  }

  /** Builds the package with a fresh key: the invoices checked, KSeF's limits met, and what names the session's saved state. */
  async pack(): Promise<void> {
    this.report({ phase: 'packing' });
    this.pkg = await this.build(this.key);
    // Its parts are known as soon as it is built.
    this.report({ invoices: this.pkg.entries.length, parts: this.pkg.parts.length });
    this.store = BatchSessionStore.of(this.deps.stateStore, this.deps.sealKey, this.deps.scope, {
      options: {
        schema: this.settings.schema,
        offlineMode: this.settings.offlineMode,
        compressionType: this.settings.compressionType,
        partSizeBytes: this.settings.partSizeBytes,
      },
      pkg: this.pkg,
    });
  }

  /** Removes the package's spooled parts. */
  async dispose(): Promise<void> {
    const { pkg } = this;
    this.pkg = undefined;
    await pkg?.dispose();
  }

  /** Opens (or resumes) the session, uploads, closes and collects the outcome. */
  async send(): Promise<SessionOutcome> {
    let pkg = this.pkg!;
    const store = this.store!;
    const refused = pkg.rejected.map((rejection): InvoiceResult => ({
      index: rejection.index,
      fileName: rejection.fileName,
      accepted: false,
      pending: false,
      invoiceHash: rejection.invoiceHash,
      ...(rejection.invoiceNumber !== undefined && { invoiceNumber: rejection.invoiceNumber }),
      error: rejection.problem.toJSON(),
    }));
    if (pkg.entries.length === 0) return { invoices: refused };

    let key = this.key;
    let state = await store.read();
    if (state) {
      key = store.openSessionKey(state);
      this.deps.logger?.info('Resuming a batch session of an earlier run', {
        sessionReferenceNumber: state.referenceNumber,
        partsDone: state.partsDone.length,
        closed: state.closed,
      });
      if (!state.closed) {
        // The parts still to upload must be the very bytes declared: the package is built again with the saved key.
        await this.dispose();
        pkg = this.pkg = await this.build(key);
        checkSameDeclaration(state.declaration, batchFileInfo(pkg), state.referenceNumber);
      }
    } else {
      state = {
        createdAt: this.deps.clock.now().toISOString(),
        sealedKey: store.sealSessionKey(key),
        declaration: batchFileInfo(pkg),
        invoices: pkg.entries.map(({ index, fileName, invoiceHash }) => ({ index, fileName, sha256: invoiceHash })),
        partsDone: [],
        closed: false,
      };
      await store.write(state);
    }
    this.report({ invoices: pkg.entries.length, parts: state.declaration.fileParts.length, partsUploaded: state.partsDone.length });
    if (!state.referenceNumber) await this.open(store, state, key);
    const referenceNumber = state.referenceNumber!;

    const invoices: BatchInvoice[] = pkg.entries.map((entry) => ({
      fileName: entry.fileName,
      result: {
        index: entry.index,
        fileName: entry.fileName,
        accepted: false,
        pending: false,
        invoiceHash: entry.invoiceHash,
        ...(entry.invoiceNumber !== undefined && { invoiceNumber: entry.invoiceNumber }),
        sessionReferenceNumber: referenceNumber,
      },
    }));
    const all = () => [...refused, ...invoices.map((invoice) => invoice.result)];
    const session = { sessionReferenceNumber: referenceNumber, invoiceCount: invoices.length, partCount: pkg.parts.length };

    if (!state.closed) {
      const missed = (await this.upload(pkg, store, state)) ?? (await closeBatchSession(this.deps, referenceNumber));
      if (missed) {
        for (const { result } of invoices) result.error = sessionFailure(referenceNumber, result.index, missed).toJSON();
        this.report({ phase: 'done' });
        return { invoices: all(), session, done: store };
      }
      state.closed = true;
      await store.write(state);
    }

    this.report({ phase: 'processing' });
    const outcome = await collectBatchOutcome(this.deps, referenceNumber, invoices, {
      deadline: this.deps.clock.now().getTime() + this.settings.waitForProcessingMs,
      fetchUpo: this.settings.fetchUpo,
      partCount: pkg.parts.length,
      onStatus: (status) => {
        if (status.status.code >= 150)
          this.report({ invoicesProcessed: (status.successfulInvoiceCount ?? 0) + (status.failedInvoiceCount ?? 0) });
      },
    });
    this.report({ phase: 'done' });
    // A session still processing keeps its state: the next run with the same invoices reads its outcome.
    return { invoices: all(), session: outcome.session, ...(outcome.final && { done: store }) };
  }

  private build(key: SymmetricKey): Promise<BatchPackage> {
    const { inputs, range, settings } = this;
    function* sources() {
      for (let index = range.first; index < range.end; index++) yield { index, input: inputs[index] };
    }
    return buildBatchPackage(sources(), {
      key,
      compressionType: settings.compressionType,
      partSizeBytes: settings.partSizeBytes,
      schema: settings.schema,
      offlineMode: settings.offlineMode,
    });
  }

  /** `POST /sessions/batch` with the declaration, the session's key wrapped for KSeF; the reference and upload URLs recorded at once. */
  private async open(store: BatchSessionStore, state: BatchSessionState, key: SymmetricKey): Promise<void> {
    const { api, publicKeys, clock, logger } = this.deps;
    const { opened } = await openWithSessionKey(
      publicKeys,
      (encryption) =>
        api<{ referenceNumber: string; partUploadRequests: PartUploadRequest[] }>({
          method: 'POST',
          path: '/sessions/batch',
          json: {
            formCode: INVOICE_SCHEMAS[this.settings.schema].formCode,
            batchFile: state.declaration,
            encryption,
            offlineMode: this.settings.offlineMode,
          },
          // A second session, if the first answer was lost, gets no parts: KSeF cancels it when its window ends.
          idempotent: true,
        }),
      key,
    );
    const { referenceNumber, partUploadRequests } = opened.data;
    state.referenceNumber = referenceNumber;
    state.uploadDeadline = new Date(clock.now().getTime() + state.declaration.fileParts.length * UPLOAD_WINDOW_PER_PART_MS).toISOString();
    state.sealedUploads = store.sealUploads(partUploadRequests);
    await store.write(state);
    logger?.info('KSeF batch session opened', { sessionReferenceNumber: referenceNumber, parts: partUploadRequests.length });
  }

  /**
   * Uploads the parts not yet done, `uploadConcurrency` at a time, each recorded as done once the storage host
   * confirmed it (a 409 means an earlier run's upload of it completed). Returns why the session cannot go on when
   * its upload window is over; throws any other failure (the parts done stay recorded for the next run).
   */
  private async upload(pkg: BatchPackage, store: BatchSessionStore, state: BatchSessionState): Promise<string | undefined> {
    const { clock, logger } = this.deps;
    const uploads = new Map(store.openUploads(state).map((request) => [request.ordinalNumber, request]));
    const deadline = Date.parse(state.uploadDeadline!);
    const windowOver = (part: BatchPackagePart) =>
      `could not take part ${part.ordinalNumber}: its upload window (${pkg.parts.length} part(s) x 20 minutes) ended at ${state.uploadDeadline} with ${state.partsDone.length} of ${pkg.parts.length} parts uploaded, and KSeF cancels such a session (status 440)`;
    let failure: unknown;
    let missed: string | undefined;
    const missing = pkg.parts.filter((part) => !state.partsDone.includes(part.ordinalNumber));
    this.report({ phase: 'uploading' });
    await forEachWithConcurrency(missing, this.settings.uploadConcurrency, async (part) => {
      if (failure !== undefined || missed) return;
      if (clock.now().getTime() >= deadline) {
        missed = windowOver(part);
        return;
      }
      try {
        const request = uploads.get(part.ordinalNumber);
        if (!request)
          throw new KsefError(`KSeF gave no upload URL for part ${part.ordinalNumber} of batch session ${state.referenceNumber}.`);
        await this.uploadPart(request, pkg, part);
        state.partsDone.push(part.ordinalNumber);
        await store.write(state);
        this.report({ partsUploaded: state.partsDone.length });
      } catch (error) {
        if (error instanceof KsefGoneError || (error instanceof KsefForbiddenError && clock.now().getTime() >= deadline))
          missed = windowOver(part);
        else failure ??= error;
      }
    });
    if (failure !== undefined) {
      logger?.warn('A batch session stopped during the upload; the same invoices sent again resume it', {
        sessionReferenceNumber: state.referenceNumber,
        partsDone: state.partsDone.length,
        parts: pkg.parts.length,
      });
      throw failure;
    }
    return missed;
  }

  private async uploadPart(request: PartUploadRequest, pkg: BatchPackage, part: BatchPackagePart): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers ?? {})) if (value !== null) headers[name] = value;
    try {
      await this.storage.upload(request.url, request.method, headers, () => pkg.openPart(part.ordinalNumber), { size: part.fileSize });
    } catch (error) {
      // Each part URL takes one upload: a 409 on the first attempt means an earlier run's upload completed.
      if (!(error instanceof KsefError && error.status === 409)) throw error;
      this.deps.logger?.info('A batch part was already uploaded by an earlier run', { ordinalNumber: part.ordinalNumber });
    }
  }

  private report(change: Partial<BatchProgress>): void {
    this.progress = { ...this.progress, ...change };
    this.settings.onProgress?.({ ...this.progress });
  }
}

/** The rebuilt package must be the declared one, byte for byte (its hashes), or its parts cannot complete the session. */
function checkSameDeclaration(declared: BatchDeclaration, rebuilt: BatchDeclaration, referenceNumber: string | undefined): void {
  const same =
    declared.fileHash === rebuilt.fileHash &&
    declared.fileSize === rebuilt.fileSize &&
    declared.fileParts.length === rebuilt.fileParts.length &&
    declared.fileParts.every(
      (part, i) => part.fileHash === rebuilt.fileParts[i].fileHash && part.fileSize === rebuilt.fileParts[i].fileSize,
    );
  if (same) return;
  throw new KsefError(
    `The invoices give another package than the one declared for batch session ${referenceNumber ?? '(not yet opened)'} by an earlier run (SHA-256 ${rebuilt.fileHash} instead of ${declared.fileHash}), so its missing parts cannot be uploaded. ` +
      'The invoice files are the same (their hashes are), so the package was built differently (another version of this package?). That session will be cancelled by KSeF when its upload window ends; check in KSeF that none of its invoices is there, then remove its saved state to send them anew.',
  );
}
