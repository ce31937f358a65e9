/**
 * A batch package's invoices packed in runs on worker threads (`WorkerPool`): each run of a few invoices is read
 * (file inputs), hashed, checked as an online send checks it and compressed into a segment of the archive
 * (`SegmentPacker`) on a worker, while the caller's thread assembles, hashes and encrypts the package from the
 * segments in order. On a machine of two cores this roughly halves the time to build a package of thousands of
 * invoices, and keeps the host's event loop free meanwhile.
 */
import { KsefError } from '../../http/errors';
import { SegmentPacker, type ArchiveSegment } from '../../protocol/archive/bufferArchives';
import type { ArchiveFormat } from '../../protocol/archive/read';
import type { InvoiceSchema } from '../../protocol/model/formCodes';
import type { XmlSizeLimits } from '../../protocol/xml/xmlRules';
import { asBuffer, WorkerPool, workersPerCore, type WorkerAnswer } from '../../protocol/workerPool';
import { prepareInvoiceSource, type PreparedInvoice } from '../prepare';
import type { InvoiceInput } from '../types';

/** Every entry's modification time, so the same invoices always give the same archive bytes (ZIP stores it in UTC). */
const ENTRY_DATE = new Date(Date.UTC(2026, 0, 1));

/** A run of invoices to pack, and how. */
export interface PackRequest {
  format: ArchiveFormat;
  schema: InvoiceSchema;
  /** Default offline mode of invoices that do not set it. */
  offlineMode: boolean;
  limits: Required<XmlSizeLimits>;
  items: PackItem[];
}

/** An invoice of the run: its input to read and check here, or its XML already read and checked (`prepared`). */
export interface PackItem {
  index: number;
  fileName: string;
  input?: InvoiceInput;
  prepared?: Pick<PreparedInvoice, 'invoiceHash' | 'invoiceNumber' | 'offlineMode'> & { xml: Uint8Array };
}

/** What became of an invoice of the run: packed, refused by the checks (`problem`), or not readable (`unreadable`). */
export interface PackedInvoice {
  index: number;
  invoiceHash: string;
  invoiceSize: number;
  offlineMode: boolean;
  invoiceNumber?: string;
  problem?: { message: string; field?: string };
  /** The source failed while read (a `KsefError`, no verdict on the invoice); the rest of the run was not packed. */
  unreadable?: { message: string; field?: string };
}

export interface PackAnswer {
  invoices: PackedInvoice[];
  /** The packed invoices in archive order; its bytes are moved, not copied, to the caller. */
  segment: ArchiveSegment;
}

/** One packer per format and thread, its zlib stream reused across runs. */
const packers = new Map<ArchiveFormat, SegmentPacker>();

/** Packs a run (on a worker thread; exported for `WorkerPool`). */
export async function packInvoices(request: PackRequest): Promise<WorkerAnswer<PackAnswer>> {
  let packer = packers.get(request.format);
  if (!packer) packers.set(request.format, (packer = new SegmentPacker(request.format)));
  const invoices: PackedInvoice[] = [];
  try {
    for (const item of request.items) {
      let prepared: PreparedInvoice;
      try {
        prepared = item.prepared
          ? { index: item.index, ...item.prepared, xml: asBuffer(item.prepared.xml) }
          : await prepareInvoiceSource(item.input!, item.index, request.schema, request.offlineMode, {
              session: 'batch',
              limits: request.limits,
            });
      } catch (error) {
        if (!(error instanceof KsefError)) throw error;
        invoices.push({ index: item.index, invoiceHash: '', invoiceSize: 0, offlineMode: false, unreadable: errorText(error) });
        break;
      }
      invoices.push({
        index: item.index,
        invoiceHash: prepared.invoiceHash,
        invoiceSize: prepared.xml.length,
        offlineMode: prepared.offlineMode,
        ...(prepared.invoiceNumber !== undefined && { invoiceNumber: prepared.invoiceNumber }),
        ...(prepared.problem && { problem: errorText(prepared.problem) }),
      });
      if (!prepared.problem) packer.add({ name: item.fileName, content: prepared.xml, date: ENTRY_DATE });
    }
  } catch (error) {
    // What the failed run left in the packer must not go into the next run's segment.
    packers.delete(request.format);
    packer.close();
    throw error;
  }
  const segment = packer.take();
  return { value: { invoices, segment }, transfer: segment.bytes.length > 0 ? [segment.bytes.buffer as ArrayBuffer] : [] };
}

/** Threads packing batch packages, shared by every package being built in this process. */
export const packWorkers = new WorkerPool<PackRequest, PackAnswer>({
  script: { modulePath: require.resolve('./packWorker'), functionName: 'packInvoices' },
  size: workersPerCore(4),
  // Long enough for the sessions of one large send, short enough not to keep threads for a daily one.
  idleMs: 10_000,
  // V8 grows a thread's young generation up to 16 MB per semi-space while a long build keeps allocating. Capped,
  // building a package of 10,000 invoices peaked at 141-146 MB of RSS against 150-167 MB uncapped, in about the same
  // time; a cap of 4 MB saved a little more and made tar.gz packages ~25% slower (more objects promoted and collected).
  resourceLimits: { maxYoungGenerationSizeMb: 8 },
  label: 'batch package worker',
});

function errorText(error: KsefError): { message: string; field?: string } {
  return { message: error.message, ...(error.field !== undefined && { field: error.field }) };
}
