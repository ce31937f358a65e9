/** Invoice exports and their packages as the sandbox keeps them (pobieranie-faktur.md, CIRFMF/ksef-docs; open-api.json). */
import type { SymmetricKey } from '../../shared/protocol/crypto/aes';
import type { ArchiveFormat } from '../../shared/protocol/archive/write';
import type { ContextIdentifier } from '../../shared/protocol/types';
import type { StatusInfo } from '../catalogue';
import { DAY_MS } from '../dates';
import type { SandboxInvoiceFilters } from './query';

/** One encrypted part of a package, kept as a storage blob. */
export interface ExportPart {
  ordinalNumber: number;
  partName: string;
  /** Where the storage host serves it. */
  blobPath: string;
  partSize: number;
  /** Base64 SHA-256 of the part before encryption. */
  partHash: string;
  encryptedPartSize: number;
  encryptedPartHash: string;
}

/** What `InvoicePackage` says of a built package, less the part links, which are signed afresh on every read. */
export interface ExportPackage {
  invoiceCount: number;
  /** Bytes of the whole (unencrypted) archive: the sum of the parts' sizes. */
  size: number;
  parts: ExportPart[];
  isTruncated: boolean;
  /** The last included invoice's date of the filter's date type, set when truncated (`Issue` dates are days). */
  lastDate?: string;
  permanentStorageHwmDate?: Date;
  compressionType: ArchiveFormat;
}

export interface InvoiceExportRecord {
  referenceNumber: string;
  contextIdentifier: ContextIdentifier;
  /** Undefined when the request's key could not be decrypted: the export ends in status 415. */
  symmetricKey?: SymmetricKey;
  filters: SandboxInvoiceFilters;
  onlyMetadata: boolean;
  compressionType: ArchiveFormat;
  status: StatusInfo;
  dateCreated: Date;
  completedDate?: Date;
  packageExpirationDate?: Date;
  package?: ExportPackage;
  /** True while its package is being built (a held export released twice is still built once). */
  building?: boolean;
}

/** The limits that shape a package (open-api.json `POST /invoices/exports` and `GET /invoices/exports/{referenceNumber}`). */
export interface ExportLimits {
  /** At most this many invoices per package (10,000). */
  maxInvoices: number;
  /** At most this many compressed bytes of invoices per package (1 GB; `_metadata.json` is not counted). */
  maxPackageBytes: number;
  /** Parts of at most this many bytes before encryption (50 MB). */
  partSize: number;
  /** At most this many exports of a context at status 100 at once (10; more is 21182). */
  maxConcurrent: number;
  /**
   * How long a built package can be downloaded; after that its status is 210. KSeF states the date
   * (`packageExpirationDate`) but does not publish the period: the sandbox keeps packages a day.
   */
  packageValidityMs: number;
  /** How long a part link is valid from the status read that signed it (an hour in open-api.json's example), at most until the package expires. */
  partLinkValidityMs: number;
}

export const DEFAULT_EXPORT_LIMITS: ExportLimits = {
  maxInvoices: 10_000,
  maxPackageBytes: 1_000_000_000,
  partSize: 50_000_000,
  maxConcurrent: 10,
  packageValidityMs: DAY_MS,
  partLinkValidityMs: DAY_MS / 24,
};

/** The export status is kept this long, then its reads are answered 410 (open-api.json: "dostępny przez 7 dni"). */
export const EXPORT_STATUS_RETENTION_MS = 7 * DAY_MS;

/** The exports of every context, the limits that shape their packages and the switches tests use. */
export class InvoiceExportStore {
  readonly byReference = new Map<string, InvoiceExportRecord>();
  /** Lowered by tests (the sandbox's `exportLimits` option, or at run time here); KSeF's values by default. */
  limits: ExportLimits;
  /** While true, exports stay at status 100 (`holdExports` of the sandbox handle switches it and resumes them). */
  held = false;
  /**
   * The next export to be built ends with this status instead: 500 (unknown error) or 550 (cancelled by the
   * system), failures nothing in the API can provoke; consumed by that export.
   */
  failNextWith?: 500 | 550;

  constructor(limits: Partial<ExportLimits> = {}) {
    this.limits = { ...DEFAULT_EXPORT_LIMITS, ...limits };
  }
}
