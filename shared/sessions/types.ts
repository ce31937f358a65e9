/** Types of the online-session chapter ("Wysyłka interaktywna" and "Status wysyłki i UPO" of open-api.json, CIRFMF/ksef-api). */
import type { InvoiceSchema } from '../protocol/model/formCodes';
import type { StatusInfo } from '../protocol/types';
import type { EnvironmentName } from '../environments/types';

import type { Readable } from 'node:stream';

/** Invoice XML as text, or as its UTF-8 bytes (a Buffer, any other Uint8Array, or an ArrayBuffer). */
export type InvoiceXml = string | Uint8Array | ArrayBuffer;

/** What may be said of one invoice besides its XML. */
export interface InvoiceInputOptions {
  /** Declares the invoice as issued in offline mode. */
  offlineMode?: boolean;
  /** Technical correction of a rejected offline invoice: Base64 SHA-256 of the original. */
  hashOfCorrectedInvoice?: string;
  /** Its file name inside a batch package (default: derived from its position); must be unique in the input. */
  fileName?: string;
}

/**
 * An invoice read from a stream when it is needed (n8n binary data in filesystem mode, files): `open` may be called
 * more than once (e.g. to build a package again when a batch is resumed), each time giving the same bytes.
 */
export interface InvoiceStreamInput extends InvoiceInputOptions {
  open: () => Readable | Promise<Readable>;
  /** Byte size when known: an invoice over KSeF's size limits is refused before it is read. */
  size?: number;
}

/**
 * An invoice in a local file, read when it is needed (and again when a resumed batch builds its package again). The
 * file is read in one synchronous call: for a file of a few KB on a local disk that is a few microseconds, where each
 * step of an asynchronous read is a round trip through Node's thread pool (10,000 invoice files of 2.5 KB, measured
 * here: 0.1 s read so, 0.8-1.5 s through streams or `fs.promises.readFile`). For files on a network share that may
 * stall, give a stream input (`open`) instead.
 */
export interface InvoiceFileInput extends InvoiceInputOptions {
  path: string;
}

/** One invoice to send: its XML, the XML with per-invoice options, a stream source or a file. */
export type InvoiceInput = InvoiceXml | (InvoiceInputOptions & { xml: InvoiceXml }) | InvoiceStreamInput | InvoiceFileInput;

/**
 * How invoices go to KSeF: 'online' one by one in an online session (sesja-interaktywna.md), 'batch' as encrypted
 * package parts in batch sessions (sesja-wsadowa.md, CIRFMF/ksef-docs), 'auto' online for a few invoices and batch
 * from `autoBatchThreshold` on.
 */
export type SendMode = 'online' | 'batch' | 'auto';

export interface BatchSendOptions {
  /** Schema of all invoices (default FA(3)). */
  schema?: InvoiceSchema;
  /** Default offline mode (the whole session: KSeF declares it per batch session). */
  offlineMode?: boolean;
  /** Package format (default Zip). */
  compressionType?: 'Zip' | 'TarGz';
  /** Largest part before encryption (default and maximum 100 MB, KSeF's limit); lower for tests. */
  partSizeBytes?: number;
  /** Invoices per batch session (default and maximum 10,000): a larger input goes in several sessions. */
  maxInvoicesPerSession?: number;
  /** Parts uploaded at once (default 4). */
  uploadConcurrency?: number;
  /** How long to wait for KSeF to process a closed session (default 10 min); later verdicts come back pending. */
  waitForProcessingMs?: number;
  /** Fetch the session UPO pages (default true). */
  fetchUpo?: boolean;
  /** Called as the work moves on (Node-RED status, logs). */
  onProgress?: (progress: BatchProgress) => void;
}

export interface BatchProgress {
  phase: 'packing' | 'uploading' | 'processing' | 'done';
  /** 1-based session of `sessions`. */
  session: number;
  sessions: number;
  partsUploaded: number;
  parts: number;
  invoicesProcessed: number;
  invoices: number;
}

export interface SendOptions extends SendInvoicesOptions, BatchSendOptions {
  /** Default 'online'. */
  mode?: SendMode;
  /** 'auto' sends this many invoices or more in batch sessions (default: see the engine's DEFAULT_AUTO_BATCH_THRESHOLD). */
  autoBatchThreshold?: number;
}

/** One batch session of a batch send. */
export interface BatchSessionResult {
  sessionReferenceNumber: string;
  status?: StatusInfo;
  invoiceCount: number;
  partCount: number;
  /** The session UPO pages (at most 10,000 invoices each), when processing finished in time and they were requested. */
  sessionUpo?: SessionUpoPage[];
  sessionUpoError?: Record<string, unknown>;
}

export interface BatchSendResult {
  environment: EnvironmentName;
  mode: 'batch';
  /** Per input invoice, in input order (`index`), each with its session, `fileName` and `ordinalNumber`. */
  invoices: InvoiceResult[];
  sessions: BatchSessionResult[];
}

export interface SendInvoicesOptions {
  /** Schema of all invoices in the session (default FA(3)). */
  schema?: InvoiceSchema;
  /** Default offline mode for invoices that do not set it. */
  offlineMode?: boolean;
  /**
   * How long to wait for KSeF to finish processing, counted from when the last invoice was sent (default 120 s); 0
   * returns right after sending. Includes waits for KSeF's rate limits while reading statuses.
   */
  waitForProcessingMs?: number;
  /**
   * The longest the sending phase may take, counted from the call, waits for KSeF's rate limits and Retry-After
   * included (default 10 min; KSeF's production limit lets 30 invoices a minute and 180 an hour go). Invoices that
   * could go only later are not sent: their `error` is a `KsefRateLimitError` with `retryAt`.
   */
  sendDeadlineMs?: number;
  /** Fetch each accepted invoice's UPO XML (default true). */
  fetchUpo?: boolean;
  /** Close the session after sending and fetch the session UPO (default true). */
  closeSession?: boolean;
}

export interface InvoiceResult {
  /** Position of the invoice in the input. */
  index: number;
  /** Batch: its file name in the package and its ordinal number in the session. */
  fileName?: string;
  ordinalNumber?: number;
  /** True when KSeF assigned a KSeF number. */
  accepted: boolean;
  /** True when processing had not finished within `waitForProcessingMs`. */
  pending: boolean;
  invoiceNumber?: string;
  invoiceHash: string;
  referenceNumber?: string;
  /**
   * The session this invoice was sent in, when it is not the result's `sessionReferenceNumber`: KSeF made that
   * session temporarily unavailable (21184) and the invoices not yet sent went on in a new one.
   */
  sessionReferenceNumber?: string;
  ksefNumber?: string;
  status?: StatusInfo;
  invoicingDate?: string;
  acquisitionDate?: string;
  permanentStorageDate?: string;
  invoicingMode?: 'Online' | 'Offline';
  /** UPO XML of this invoice, when accepted and requested. */
  upo?: string;
  /**
   * Set when KSeF answered 440 (duplicate) and the original has the same content hash: this is the earlier
   * submission's result (after a lost answer, a timeout, or a re-run with the same data), not a second invoice.
   */
  resolvedFromDuplicate?: { originalSessionReferenceNumber: string };
  /**
   * Why the invoice was not accepted (local validation, a send error, or KSeF's rejection); `field` is always
   * `invoices[i]` (or a part of it). An invoice not sent because of KSeF's rate limits has name `KsefRateLimitError`
   * and `retryAt` (ISO time from which it may be sent).
   */
  error?: Record<string, unknown>;
  /** Why an accepted invoice has no `upo`: no source gave this invoice's UPO (e.g. only an HTML page came back). */
  upoError?: Record<string, unknown>;
}

export interface SessionUpoPage {
  referenceNumber: string;
  upo: string;
}

export interface SendInvoicesResult {
  /** Which environment answered, so a sandbox KSeF number is never taken for a real one. */
  environment: EnvironmentName;
  mode: 'online';
  sessionReferenceNumber: string;
  sessionStatus?: StatusInfo;
  invoices: InvoiceResult[];
  /** The session UPO pages, when the session was closed and processing finished in time. */
  sessionUpo?: SessionUpoPage[];
  /** Why some or all session UPO pages are missing from `sessionUpo`. */
  sessionUpoError?: Record<string, unknown>;
}

/** One invoice of a session as `GET /sessions/{ref}/invoices[/{invoiceRef}]` reports it (SessionInvoiceStatusResponse, open-api.json, CIRFMF/ksef-api). */
export interface SessionInvoiceStatus {
  ordinalNumber: number;
  referenceNumber: string;
  invoiceHash: string;
  invoicingDate: string;
  status: StatusInfo;
  invoiceNumber?: string;
  ksefNumber?: string;
  invoiceFileName?: string;
  acquisitionDate?: string;
  permanentStorageDate?: string;
  upoDownloadUrl?: string;
  upoDownloadUrlExpirationDate?: string;
  invoicingMode?: 'Online' | 'Offline';
}

/** Which invoice of which session to read the status of: by its reference number or by its KSeF number. */
export interface GetInvoiceStatusOptions {
  sessionReferenceNumber: string;
  /** The invoice's reference number (`referenceNumber` of a send result); or `ksefNumber`, not both. */
  invoiceReferenceNumber?: string;
  ksefNumber?: string;
  /** Download the UPO when the invoice is accepted (default true). */
  fetchUpo?: boolean;
}

/** An invoice's status read later; the storage URL of its UPO is replaced by the UPO itself. */
export interface InvoiceStatusResult extends Omit<SessionInvoiceStatus, 'upoDownloadUrl' | 'upoDownloadUrlExpirationDate'> {
  /** Which environment answered, so a sandbox KSeF number is never taken for a real one. */
  environment: EnvironmentName;
  sessionReferenceNumber: string;
  /** True when KSeF assigned a KSeF number (status 200). */
  accepted: boolean;
  /** True while KSeF is still processing (status below 200). */
  pending: boolean;
  /** UPO XML, when accepted and requested. */
  upo?: string;
}

export interface ListSessionInvoicesOptions {
  /** Page size asked from KSeF (10-1000, default 100). */
  pageSize?: number;
  /** Only the invoices KSeF rejected (`/invoices/failed`). */
  failedOnly?: boolean;
}
