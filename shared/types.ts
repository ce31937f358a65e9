/**
 * The engine's public contract: what adapters (n8n, Node-RED) and users of `createKsefClient` rely on. Each
 * chapter keeps its types beside its code (`shared/<chapter>/types.ts`); this file re-exports them and holds the
 * client's own: its options and the `KsefClient` interface, whose simple endpoints come from the chapters' tables.
 */
import type { Clock, Logger, Sleep } from './protocol/types';
import type { EndpointMethods } from './http/endpoints';
import type { KsefEnvironment } from './environments/types';
import type { AuthenticateOptions, AuthenticationResult, KsefCredentials, TokenStore } from './auth/types';
import type {
  GetInvoiceStatusOptions,
  InvoiceInput,
  InvoiceStatusResult,
  ListSessionInvoicesOptions,
  SendInvoicesOptions,
  SendInvoicesResult,
  BatchSendOptions,
  BatchSendResult,
  SendOptions,
  SessionInvoiceStatus,
} from './sessions/types';
import type { GenerateKsefTokenOptions, GeneratedKsefToken } from './tokens/types';
import type { tokenEndpoints } from './tokens/tokens';
import type { authSessionEndpoints } from './authSessions/authSessions';
import type {
  CertificateEnrollmentResult,
  CompleteEnrollmentOptions,
  CreateCertificateRequestOptions,
  EnrollCertificateOptions,
  EnrolledCertificate,
  GeneratedCertificateRequest,
} from './certificates/types';
import type { certificateEndpoints } from './certificates/certificates';
import type { limitEndpoints } from './limits/limits';
import type { StateStore } from './state/stateStore';
import type {
  DownloadedInvoice,
  ExportOptions,
  GetInvoiceOptions,
  InvoiceExport,
  InvoiceMetadata,
  InvoiceQueryFilters,
  QueryInvoicesOptions,
  SyncBatch,
  SyncOptions,
} from './invoices/types';

export type {
  CertificateEnrollmentData,
  Clock,
  ContextIdentifier,
  ContextIdentifierType,
  KsefCertificateType,
  KsefTokenPermission,
  KsefTokenStatus,
  Logger,
  Sleep,
  StatusInfo,
  TokenInfo,
} from './protocol/types';
export type * from './environments/types';
export type * from './auth/types';
export type * from './sessions/types';
export type * from './tokens/types';
export type * from './authSessions/types';
export type * from './certificates/types';
export type * from './limits/types';
export type * from './invoices/types';
export type { FriendlyInvoice, FriendlyLine, FriendlyParty, FriendlyThirdParty, FriendlyVatSummary } from './protocol/xml/invoiceJson';

export interface KsefClientOptions {
  /** Required, never defaulted: `'test'`, `'demo'`, `'production'`, `'custom'` or the embedded sandbox (`embeddedSandbox()`). */
  environment: KsefEnvironment;
  /** Required when environment is `custom`: the API root, e.g. `https://host/v2`. */
  baseUrl?: string;
  credentials: KsefCredentials;
  clock?: Clock;
  sleep?: Sleep;
  logger?: Logger;
  tokenStore?: TokenStore;
  /**
   * Where what must outlive one run is kept: exports still being built and batch sessions not yet finished (resumed
   * by the next run with the same request or invoices; their keys and upload URLs sealed with the credential).
   * Default: this process's memory. Hosts pass theirs (n8n workflow static data, Node-RED node context, a file).
   */
  stateStore?: StateStore;
  /** Per-request timeout (default 30 s). */
  requestTimeoutMs?: number;
  /** How long to wait for an authentication to finish (default 60 s). */
  authTimeoutMs?: number;
  /**
   * Longest wait for KSeF's rate limits (the client's own pacing or a 429's `Retry-After`) of a request without a
   * caller deadline (default 30 s); longer ones throw `KsefRateLimitError` with `retryAt`. Sending invoices has its
   * own deadline (`sendDeadlineMs`, `waitForProcessingMs`) and waits as long as that allows.
   */
  maxRetryAfterMs?: number;
}

export interface KsefClient {
  /** Authenticates (or reuses cached tokens) and reports the authentication; proves the credentials work. */
  authenticate(options?: AuthenticateOptions): Promise<AuthenticationResult>;
  sessions: {
    /** Sends in the chosen mode ('online' by default, 'batch', or 'auto' by the number of invoices). */
    send(invoices: InvoiceInput[], options?: SendOptions): Promise<SendInvoicesResult | BatchSendResult>;
    online: {
      send(invoices: InvoiceInput[], options?: SendInvoicesOptions): Promise<SendInvoicesResult>;
    };
    batch: {
      /**
       * Sends invoices as batch packages: built as a stream, split into parts, encrypted, uploaded and processed; a
       * run that stopped half way is resumed from the state store by the next run with the same invoices.
       */
      send(invoices: InvoiceInput[], options?: BatchSendOptions): Promise<BatchSendResult>;
    };
    /** Every invoice of a session, page by page (`x-continuation-token`). */
    invoices(sessionReferenceNumber: string, options?: ListSessionInvoicesOptions): AsyncIterable<SessionInvoiceStatus>;
    /** One invoice's status and, once accepted, its UPO (e.g. of a send that came back pending). */
    invoiceStatus(options: GetInvoiceStatusOptions): Promise<InvoiceStatusResult>;
  };
  /** Invoices in KSeF: search, download, export and incremental sync (pobieranie-faktur, CIRFMF/ksef-docs). */
  invoices: {
    /**
     * Metadata of the invoices matching `filters`, paged within KSeF's limits. A range longer than KSeF allows is
     * read as adjacent windows; KSeF's 10,000-record cap (`isTruncated`) is passed by moving the window start to
     * the last record's date, without repeating a record.
     */
    query(filters: InvoiceQueryFilters, options?: QueryInvoicesOptions): AsyncIterable<InvoiceMetadata>;
    /** One invoice's original XML by KSeF number, its hash checked. */
    get(ksefNumber: string, options?: GetInvoiceOptions): Promise<DownloadedInvoice>;
    /** Exports the invoices matching `filters` (one package: at most 10,000 invoices, see `package.isTruncated`). */
    export(filters: InvoiceQueryFilters, options?: ExportOptions): Promise<InvoiceExport>;
    /** One run of an incremental sync: the invoices after `checkpoint` and the checkpoint to store once they were taken. */
    sync(options: SyncOptions): Promise<SyncBatch>;
  };
  /** KSeF tokens of the context. */
  tokens: EndpointMethods<typeof tokenEndpoints> & {
    /** Generates a token; its secret is in the result only, never logged. */
    generate(options: GenerateKsefTokenOptions): Promise<GeneratedKsefToken>;
  };
  /**
   * Authentication sessions of the context. `revokeCurrent()` revokes this client's session: its refresh token stops
   * working and the client forgets its tokens (as `revoke` does for this client's own session).
   */
  authSessions: EndpointMethods<typeof authSessionEndpoints>;
  /** KSeF certificates of the authenticated subject (requires certificate authentication). */
  certificates: EndpointMethods<typeof certificateEndpoints> & {
    /**
     * Generates a key pair and CSR from the enrollment data, enrolls, waits for and retrieves the certificate. When
     * KSeF accepted the request but the certificate could not be fetched, the result is `Pending` (finish it with
     * `completeEnrollment`).
     */
    enroll(options: EnrollCertificateOptions): Promise<CertificateEnrollmentResult>;
    /** Finishes a pending enrollment: waits for and retrieves the certificate, checks it is the key's, builds the PKCS#12. */
    completeEnrollment(options: CompleteEnrollmentOptions): Promise<EnrolledCertificate>;
    /** A new key pair and certificate request (CSR) for the enrollment data; nothing is sent to KSeF but a read of the data when not given. */
    createRequest(options: CreateCertificateRequestOptions): Promise<GeneratedCertificateRequest>;
  };
  /** The limits KSeF applies to the caller. */
  limits: EndpointMethods<typeof limitEndpoints>;
  /** Releases connections; cached tokens stay in the token store for the next client. */
  close(): Promise<void>;
}
