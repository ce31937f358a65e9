/** Types of the online-session chapter ("Wysyłka interaktywna" and "Status wysyłki i UPO" of open-api.json, CIRFMF/ksef-api). */
import type { InvoiceSchema } from '../protocol/model/formCodes';
import type { StatusInfo } from '../protocol/types';
import type { EnvironmentName } from '../environments/types';

/** Invoice XML as text, or as its UTF-8 bytes (a Buffer, any other Uint8Array, or an ArrayBuffer). */
export type InvoiceXml = string | Uint8Array | ArrayBuffer;

/** One invoice to send: its XML, or the XML with per-invoice options. */
export type InvoiceInput =
  | InvoiceXml
  | {
      xml: InvoiceXml;
      /** Declares the invoice as issued in offline mode. */
      offlineMode?: boolean;
      /** Technical correction of a rejected offline invoice: Base64 SHA-256 of the original. */
      hashOfCorrectedInvoice?: string;
    };

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
