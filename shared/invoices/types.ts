/**
 * Types of the invoice-retrieval chapter ("Pobieranie faktur" of open-api.json 2.8.1, CIRFMF/ksef-api;
 * pobieranie-faktur/pobieranie-faktur.md, przyrostowe-pobieranie-faktur.md and hwm.md of CIRFMF/ksef-docs): the
 * metadata query, one invoice's XML, exports, and the incremental sync built on them.
 */
import type { FriendlyInvoice } from '../protocol/xml/invoiceJson';
import type {
  BuyerIdentifierType,
  InvoiceDateType,
  InvoiceKind,
  InvoiceMetadata,
  InvoiceSubjectType,
} from '../protocol/model/invoiceMetadata';

export type {
  BuyerIdentifierType,
  InvoiceDateType,
  InvoiceKind,
  InvoiceMetadata,
  InvoiceSubjectType,
  ThirdSubjectIdentifierType,
} from '../protocol/model/invoiceMetadata';

/** A date-time as an ISO 8601 string with an offset (or `Z`), or a Date. */
export type DateTimeInput = string | Date;

/** `InvoiceQueryFilters` of open-api.json; checked before any request (`KsefInputError` naming the field). */
export interface InvoiceQueryFilters {
  subjectType: InvoiceSubjectType;
  dateRange: {
    dateType: InvoiceDateType;
    from: DateTimeInput;
    /** Default: now. A range longer than KSeF allows (100 days in API 2.8.1) is queried as adjacent windows. */
    to?: DateTimeInput;
    /** Only with `PermanentStorage`: stop at `permanentStorageHwmDate`, below which the set is complete (hwm.md). */
    restrictToPermanentStorageHwmDate?: boolean;
  };
  ksefNumber?: string;
  /** Exact invoice number (P_2), at most 256 characters. */
  invoiceNumber?: string;
  amount?: { type: 'Brutto' | 'Netto' | 'Vat'; from?: number; to?: number };
  sellerNip?: string;
  buyerIdentifier?: { type: BuyerIdentifierType; value?: string };
  /** ISO 4217 codes. */
  currencyCodes?: string[];
  invoicingMode?: 'Online' | 'Offline';
  isSelfInvoicing?: boolean;
  formType?: 'FA' | 'PEF' | 'FA_RR';
  invoiceTypes?: InvoiceKind[];
  hasAttachment?: boolean;
}

export interface QueryInvoicesOptions {
  /** By the filter's date type (default Asc). */
  sortOrder?: 'Asc' | 'Desc';
  /** Records per request, 10-250 (default 250). */
  pageSize?: number;
}

export interface GetInvoiceOptions {
  /**
   * How long to keep asking while KSeF answers 21165 ("processed but not yet available"), with backoff (default
   * 60 s); then `KsefNotFoundError` says so and when to try again.
   */
  maxWaitMs?: number;
}

/** One invoice's original XML, its SHA-256 checked against KSeF's `x-ms-meta-hash`. */
export interface DownloadedInvoice {
  ksefNumber: string;
  xml: Buffer;
  /** Base64 SHA-256 of `xml`. */
  sha256: string;
}

export interface ExportOptions {
  /** Only `_metadata.json`, no invoice XML (default false). */
  onlyMetadata?: boolean;
  /** Package format (default Zip). */
  compressionType?: 'Zip' | 'TarGz';
  /**
   * How long to wait for KSeF to build the package (default 120 s). An export still at status 100 then is kept in
   * the state store (reference and sealed key) and `KsefExportPendingError` is thrown: the next `export` with the
   * same filters resumes it instead of starting another.
   */
  maxWaitMs?: number;
  /**
   * Packages of up to this many bytes (decrypted) are read in memory; larger ones go through a temporary file
   * readable by this user only, so memory stays bounded whatever the package size (default 8 MB).
   */
  maxInMemoryBytes?: number;
}

/** What KSeF says of a finished package (`InvoicePackage` of open-api.json), without its part URLs. */
export interface ExportPackageSummary {
  invoiceCount: number;
  /** Bytes of the unencrypted package. */
  size: number;
  partCount: number;
  compressionType: 'Zip' | 'TarGz';
  /** KSeF stopped at 10,000 invoices or its size limit: the next window starts at the matching `last*Date`. */
  isTruncated: boolean;
  lastIssueDate?: string;
  lastInvoicingDate?: string;
  lastPermanentStorageDate?: string;
  permanentStorageHwmDate?: string;
}

/** One invoice of a package: its metadata (from `_metadata.json`) and, unless `onlyMetadata`, its XML. */
export interface ExportedInvoice {
  ksefNumber: string;
  metadata: InvoiceMetadata;
  xml?: Buffer;
}

export interface InvoiceExport {
  /** EH reference number of the export. */
  referenceNumber: string;
  completedDate?: string;
  packageExpirationDate?: string;
  package: ExportPackageSummary;
  /**
   * The package's invoices in ascending order of the filter's date, read once: every part is downloaded without the
   * access token, its `encryptedPartHash`/`partHash` checked (a mismatch is downloaded again once, then
   * `KsefIntegrityError` names the part: corrupt bytes are never yielded), decrypted and unpacked as a stream, so
   * memory stays bounded whatever the package size. Temporary files are removed when the iteration ends.
   */
  invoices(): AsyncIterable<ExportedInvoice>;
}

/**
 * Where an incremental sync of one subject type stands (hwm.md): a small JSON value the caller keeps through the
 * state port and gives back on the next run. Opaque to callers but readable.
 */
export interface SyncCheckpoint {
  [key: string]: import('../state/stateStore').JsonValue;
  version: 1;
  subjectType: InvoiceSubjectType;
  /** Start of the next window (PermanentStorage date). */
  from: string;
  /** KSeF numbers delivered with a PermanentStorage date equal to `from`, not to deliver again. */
  seenAtFrom: string[];
  /**
   * An export this sync started that KSeF was still preparing (its AES key sealed with the client's credential, never
   * in clear): the next run resumes it instead of starting another. Null when none is pending.
   */
  pending: SyncPendingExport | null;
  /** This sync's `POST /invoices/exports` of the last hour (each counts with KSeF), so its export limits are kept across restarts. */
  exportStarts: string[];
}

/** The export a sync run left pending: its reference, sealed key and the request it was started with. */
export interface SyncPendingExport {
  [key: string]: import('../state/stateStore').JsonValue;
  referenceNumber: string;
  sealedKey: string;
  startedAt: string;
  /** End of the window when it was clamped to KSeF's longest range; null for an open window (up to the HWM). */
  to: string | null;
  onlyMetadata: boolean;
  compressionType: 'Zip' | 'TarGz';
}

export interface SyncOptions {
  subjectType: InvoiceSubjectType;
  /** What the last delivered batch returned; absent on the first run, which starts at `startFrom`. */
  checkpoint?: SyncCheckpoint | null;
  /** First run only: where to start (default now, i.e. only invoices stored from now on). */
  startFrom?: DateTimeInput;
  /** Fetch each invoice's XML (default true); without it the batch carries metadata only. */
  includeXml?: boolean;
  compressionType?: 'Zip' | 'TarGz';
  /** How long one run waits for KSeF's export (default 120 s); a slower export is resumed by the next run. */
  maxWaitMs?: number;
}

/** One run of an incremental sync: deliver `invoices`, then store `checkpoint`. */
export interface SyncBatch {
  /** New invoices, each exactly once across runs that stored the checkpoint they were given. */
  invoices: ExportedInvoice[];
  checkpoint: SyncCheckpoint;
  /** More invoices are waiting (the package was truncated): run again at once with the new checkpoint. */
  more: boolean;
  /**
   * Set when this run fetched nothing because KSeF's export limits (20 exports an hour per context) or a pending
   * export say to wait: the ISO time from which the next run may fetch, and why.
   */
  nextFetchAt?: string;
  nextFetchReason?: string;
}

export type { FriendlyInvoice };
