/**
 * Incremental sync as KSeF recommends it (przyrostowe-pobieranie-faktur.md and hwm.md of CIRFMF/ksef-docs): exports
 * by PermanentStorage date with `restrictToPermanentStorageHwmDate`, one checkpoint per subject type, adjacent windows.
 * The next window starts at `lastPermanentStorageDate` when the package was truncated and at `permanentStorageHwmDate`
 * otherwise; never the reverse, which would skip the invoices between the two. Invoices met again at a window's
 * shared boundary are dropped by KSeF number (`seenAtFrom`).
 *
 * Two phases: a run returns the batch and the checkpoint that follows it, and the caller stores that checkpoint only
 * after it took the batch; a crash in between gives the same batch again, never a gap. A run also keeps within KSeF's
 * export limits by itself: instead of starting an export that would earn a 429, it says when the next run may fetch.
 */
import { INVOICE_SUBJECT_TYPES } from '../protocol/model/invoiceMetadata';
import {
  KsefError,
  KsefExportFailedError,
  KsefExportPendingError,
  KsefInputError,
  KsefRateLimitError,
  KsefTooManyExportsError,
} from '../http/errors';
import {
  awaitExport,
  checkCompressionType,
  checkMaxWait,
  invoiceExport,
  nextExportSlot,
  type ExportDeps,
  type ExportRequest,
  type PendingExport,
  type ReadyExport,
} from './exports';
import { checkInvoiceQueryFilters, invoiceQueryFiltersBody, invoiceQueryWindows } from './filters';
import type { ExportedInvoice, InvoiceSubjectType, SyncBatch, SyncCheckpoint, SyncOptions, SyncPendingExport } from './types';

const HOUR_MS = 3_600_000;
/** How long to wait when KSeF's complete data do not reach the checkpoint yet (status 420): the HWM moves in minutes. */
const HWM_RETRY_MS = 5 * 60_000;
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/** One run: the invoices after `options.checkpoint` (or `startFrom`) and the checkpoint to store once they are taken. */
export async function syncInvoices(deps: ExportDeps, options: SyncOptions): Promise<SyncBatch> {
  const { clock } = deps;
  // One reading of the clock: a first run's start ("now") must not fall a millisecond before the `now` it is compared with.
  const startedAt = clock.now();
  const { checkpoint, includeXml, compressionType, maxWaitMs } = checkSyncOptions(options, startedAt);
  const now = startedAt.getTime();
  const exportStarts = (checkpoint.exportStarts ?? []).filter((at) => Date.parse(at) > now - HOUR_MS);
  const base: SyncCheckpoint = { ...checkpoint, pending: null, exportStarts };
  const wait = (at: Date, reason: string, kept: SyncCheckpoint = base): SyncBatch => ({
    invoices: [],
    checkpoint: kept,
    more: false,
    nextFetchAt: at.toISOString(),
    nextFetchReason: reason,
  });

  let pending: SyncPendingExport | undefined = checkpoint.pending ?? undefined;
  let request: ExportRequest;
  let windowTo: string | null = null;
  if (pending) {
    windowTo = pending.to;
    request = {
      filters: windowFilters(checkpoint, windowTo),
      onlyMetadata: pending.onlyMetadata,
      compressionType: pending.compressionType,
    };
  } else {
    // Nothing can have been stored after now: a first run from now only sets the starting point.
    if (Date.parse(checkpoint.from) >= now) return { invoices: [], checkpoint: base, more: false };
    const slot = await nextExportSlot(deps, exportStarts);
    if (slot) return wait(slot.at, slot.reason);
    const checked = checkInvoiceQueryFilters(
      {
        subjectType: checkpoint.subjectType,
        dateRange: { dateType: 'PermanentStorage', from: checkpoint.from, restrictToPermanentStorageHwmDate: true },
      },
      clock,
      'options.checkpoint',
    );
    // A checkpoint further back than one export may reach: this run takes the first window, `more` asks for the rest.
    const [window, ...later] = invoiceQueryWindows(checked, clock);
    windowTo = later.length > 0 ? window.to!.text : null;
    request = { filters: invoiceQueryFiltersBody(checked, window), onlyMetadata: !includeXml, compressionType };
  }

  let ready: ReadyExport;
  try {
    ready = await awaitExport(deps, request, pending, maxWaitMs, async (started: PendingExport, starts: string[]) => {
      pending = { ...started, to: windowTo, onlyMetadata: request.onlyMetadata, compressionType: request.compressionType };
      // Every POST sent, as KSeF counts them: a run on a new host has only the checkpoint to count by.
      exportStarts.push(...starts);
    });
  } catch (error) {
    if (error instanceof KsefExportPendingError && pending) {
      return wait(error.retryAt, `KSeF is still preparing export ${error.referenceNumber}; the next run resumes it.`, { ...base, pending });
    }
    // KSeF's limits, met through other integrations of the context or exports of other syncs: wait, do not fail.
    if (error instanceof KsefTooManyExportsError || error instanceof KsefRateLimitError) return wait(error.retryAt, error.message);
    if (error instanceof KsefExportFailedError && error.statusCode === 420) {
      return wait(
        new Date(now + HWM_RETRY_MS),
        `KSeF's complete data (its permanent-storage high-water mark) do not reach ${checkpoint.from} yet (export ${error.referenceNumber}: 420).`,
      );
    }
    // A resumed export that expired or failed is dropped: the next run (at once) starts a new one for the same window.
    if (error instanceof KsefExportFailedError && checkpoint.pending) {
      deps.logger?.warn('The pending export of this sync ended without a package; the next run starts another', {
        referenceNumber: error.referenceNumber,
        statusCode: error.statusCode,
      });
      return { invoices: [], checkpoint: base, more: true };
    }
    throw error;
  }

  const seen = new Set(checkpoint.seenAtFrom);
  const received: ExportedInvoice[] = [];
  for await (const invoice of invoiceExport(deps, ready, request, async () => undefined).invoices()) received.push(invoice);
  const invoices = received.filter((invoice) => !seen.has(invoice.ksefNumber));

  const { next, more } = nextWindowStart(ready, checkpoint.from, windowTo);
  const nextTime = Date.parse(next);
  if (more && invoices.length === 0 && nextTime === Date.parse(checkpoint.from) && ready.status.package.isTruncated) {
    // Only possible with more invoices of one instant than a package holds: asking again would give the same package.
    throw new KsefError(
      `KSeF truncated export ${ready.referenceNumber} at the checkpoint's own instant ${next} with nothing new: more invoices share that instant than one package holds.`,
    );
  }
  const atNext = received.filter((invoice) => Date.parse(invoice.metadata.permanentStorageDate) === nextTime).map((i) => i.ksefNumber);
  const seenAtFrom = nextTime === Date.parse(checkpoint.from) ? [...new Set([...checkpoint.seenAtFrom, ...atNext])] : atNext;
  return { invoices, checkpoint: { ...base, from: next, seenAtFrom }, more };
}

/**
 * Where the next window starts (przyrostowe-pobieranie-faktur.md): at `lastPermanentStorageDate` of a truncated package
 * (more is waiting), else at the end of this window: its `to` when it was clamped, else `permanentStorageHwmDate`.
 * Compared at millisecond precision, the dates are passed on as KSeF wrote them. Never before `from`.
 */
function nextWindowStart(ready: ReadyExport, from: string, windowTo: string | null): { next: string; more: boolean } {
  const summary = ready.status.package;
  const later = (a: string, b: string) => (Date.parse(a) >= Date.parse(b) ? a : b);
  if (summary.isTruncated) {
    if (!summary.lastPermanentStorageDate) {
      throw new KsefError(
        `KSeF truncated export ${ready.referenceNumber} without its lastPermanentStorageDate; the sync cannot go on safely.`,
      );
    }
    return { next: later(summary.lastPermanentStorageDate, from), more: true };
  }
  const hwm = summary.permanentStorageHwmDate ?? undefined;
  if (windowTo && (!hwm || Date.parse(hwm) >= Date.parse(windowTo))) return { next: windowTo, more: true };
  if (!hwm) {
    throw new KsefError(`KSeF gave export ${ready.referenceNumber} no permanentStorageHwmDate; the sync cannot tell where to go on.`);
  }
  return { next: later(hwm, from), more: false };
}

/** The PermanentStorage range from the checkpoint, restricted to the HWM, as KSeF's filters. */
function windowFilters(checkpoint: SyncCheckpoint, to: string | null): Record<string, unknown> {
  return {
    subjectType: checkpoint.subjectType,
    dateRange: { dateType: 'PermanentStorage', from: checkpoint.from, ...(to && { to }), restrictToPermanentStorageHwmDate: true },
  };
}

function checkSyncOptions(
  options: SyncOptions,
  now: Date,
): { checkpoint: SyncCheckpoint; includeXml: boolean; compressionType: 'Zip' | 'TarGz'; maxWaitMs: number } {
  const record = (options ?? {}) as unknown as Record<string, unknown>;
  const subjectType = record.subjectType as InvoiceSubjectType;
  if (!INVOICE_SUBJECT_TYPES.includes(subjectType)) {
    throw new KsefInputError(`options.subjectType must be one of ${INVOICE_SUBJECT_TYPES.map((t) => `'${t}'`).join(', ')}.`, {
      field: 'options.subjectType',
    });
  }
  const includeXml = record.includeXml ?? true;
  if (typeof includeXml !== 'boolean')
    throw new KsefInputError('options.includeXml must be true or false.', { field: 'options.includeXml' });
  const given = record.checkpoint as SyncCheckpoint | null | undefined;
  const checkpoint = given ? checkCheckpoint(given, subjectType) : firstCheckpoint(subjectType, record.startFrom, now);
  return {
    checkpoint,
    includeXml,
    compressionType: checkCompressionType(record.compressionType, 'options.compressionType'),
    maxWaitMs: checkMaxWait(record.maxWaitMs, 'options.maxWaitMs'),
  };
}

function firstCheckpoint(subjectType: InvoiceSubjectType, startFrom: unknown, now: Date): SyncCheckpoint {
  let from: string;
  if (startFrom === undefined || startFrom === null) from = now.toISOString();
  else if (startFrom instanceof Date && !Number.isNaN(startFrom.getTime())) from = startFrom.toISOString();
  else if (typeof startFrom === 'string' && ISO_WITH_OFFSET.test(startFrom.trim()) && !Number.isNaN(Date.parse(startFrom)))
    from = startFrom.trim();
  else {
    throw new KsefInputError('options.startFrom must be an ISO 8601 date-time with a UTC offset (e.g. 2026-01-01T00:00:00Z) or a Date.', {
      field: 'options.startFrom',
    });
  }
  return { version: 1, subjectType, from, seenAtFrom: [], pending: null, exportStarts: [] };
}

/** A checkpoint as a previous run returned it (a host may have kept it as JSON text, changed by hand). */
function checkCheckpoint(checkpoint: SyncCheckpoint, subjectType: InvoiceSubjectType): SyncCheckpoint {
  const field = 'options.checkpoint';
  const valid =
    typeof checkpoint === 'object' &&
    checkpoint.version === 1 &&
    typeof checkpoint.from === 'string' &&
    ISO_WITH_OFFSET.test(checkpoint.from) &&
    Array.isArray(checkpoint.seenAtFrom) &&
    checkpoint.seenAtFrom.every((n) => typeof n === 'string');
  if (!valid) {
    throw new KsefInputError(
      `${field} is not a checkpoint a sync returned (version 1, from, seenAtFrom): give it back as it was returned.`,
      {
        field,
      },
    );
  }
  if (checkpoint.subjectType !== subjectType) {
    throw new KsefInputError(
      `${field} belongs to the sync of ${checkpoint.subjectType}, not ${subjectType}: keep one checkpoint per subject type.`,
      { field: `${field}.subjectType` },
    );
  }
  return {
    ...checkpoint,
    pending: checkpoint.pending ?? null,
    exportStarts: Array.isArray(checkpoint.exportStarts) ? checkpoint.exportStarts : [],
  };
}
