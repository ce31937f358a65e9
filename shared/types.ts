/**
 * The engine's public contract: what adapters (n8n, Node-RED) and users of `createKsefClient` rely on.
 */
import type { InvoiceSchema } from './model/formCodes';

export type EnvironmentName = 'sandbox' | 'test' | 'demo' | 'production' | 'custom';

export type ContextIdentifierType = 'Nip' | 'InternalId' | 'NipVatUe' | 'PeppolId';

export interface ContextIdentifier {
  type: ContextIdentifierType;
  value: string;
}

/** Authentication with a KSeF token. Certificate (XAdES) credentials join this union later. */
export interface KsefTokenCredentials {
  method: 'ksefToken';
  /** May be omitted on the sandbox: the embedded sandbox's demo context is used. */
  contextIdentifier?: ContextIdentifier;
  /** May be omitted on the sandbox: the embedded sandbox's owner token is used. */
  ksefToken?: string;
}

export type KsefCredentials = KsefTokenCredentials;

export interface Clock {
  now(): Date;
}

export type Sleep = (ms: number) => Promise<void>;

/** Structured logger; the engine never passes secrets to it. */
export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export interface TokenInfo {
  token: string;
  validUntil: string;
}

export interface AuthTokens {
  accessToken: TokenInfo;
  refreshToken: TokenInfo;
  /** Reference number (AU) of the authentication operation that produced the tokens. */
  referenceNumber?: string;
}

/** What `client.authenticate()` reports; no token values. */
export interface AuthenticationResult {
  /** Reference number (AU) of the authentication operation. */
  referenceNumber: string;
  contextIdentifier: ContextIdentifier;
  accessTokenValidUntil: string;
  refreshTokenValidUntil: string;
}

export interface AuthenticateOptions {
  /** Authenticate anew even when valid tokens are cached (default false). */
  force?: boolean;
}

/** Where access/refresh tokens are kept between runs. Values must be treated as secrets. */
export interface TokenStore {
  get(key: string): Promise<AuthTokens | undefined> | AuthTokens | undefined;
  set(key: string, tokens: AuthTokens): Promise<void> | void;
  delete(key: string): Promise<void> | void;
}

export interface KsefClientOptions {
  environment: EnvironmentName;
  /** Required when environment is `custom`: the API root, e.g. `https://host/v2`. */
  baseUrl?: string;
  credentials: KsefCredentials;
  clock?: Clock;
  sleep?: Sleep;
  logger?: Logger;
  tokenStore?: TokenStore;
  /** Per-request timeout (default 30 s). */
  requestTimeoutMs?: number;
  /** How long to wait for an authentication to finish (default 60 s). */
  authTimeoutMs?: number;
  /** Longest `Retry-After` the client waits by itself on 429 (default 30 s); longer ones throw `KsefRateLimitError`. */
  maxRetryAfterMs?: number;
}

export interface StatusInfo {
  code: number;
  description: string;
  details?: string[];
  extensions?: Record<string, string | null>;
}

/** One invoice to send: its XML, or the XML with per-invoice options. */
export type InvoiceInput =
  | string
  | Buffer
  | {
      xml: string | Buffer;
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
  /** How long to wait for KSeF to finish processing (default 120 s); 0 returns right after sending. */
  waitForProcessingMs?: number;
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
  ksefNumber?: string;
  status?: StatusInfo;
  invoicingDate?: string;
  acquisitionDate?: string;
  permanentStorageDate?: string;
  invoicingMode?: 'Online' | 'Offline';
  /** UPO XML of this invoice, when accepted and requested. */
  upo?: string;
  /** Set when a timed-out send was resolved to an earlier, identical submission (KSeF 440 duplicate). */
  resolvedFromDuplicate?: { originalSessionReferenceNumber: string };
  /** Why the invoice was not accepted (local validation, a send error, or KSeF's rejection). */
  error?: Record<string, unknown>;
}

export interface SessionUpoPage {
  referenceNumber: string;
  upo: string;
}

export interface SendInvoicesResult {
  sessionReferenceNumber: string;
  sessionStatus?: StatusInfo;
  invoices: InvoiceResult[];
  /** The session UPO pages, when the session was closed and processing finished in time. */
  sessionUpo?: SessionUpoPage[];
}

/** One invoice of a session as `GET /sessions/{ref}/invoices[/{invoiceRef}]` reports it (NOTES.md 4.7). */
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

export interface ListSessionInvoicesOptions {
  /** Page size asked from KSeF (10-1000, default 100). */
  pageSize?: number;
  /** Only the invoices KSeF rejected (`/invoices/failed`). */
  failedOnly?: boolean;
}

export interface KsefClient {
  /** Authenticates (or reuses cached tokens) and reports the authentication; proves the credentials work. */
  authenticate(options?: AuthenticateOptions): Promise<AuthenticationResult>;
  sessions: {
    online: {
      send(invoices: InvoiceInput[], options?: SendInvoicesOptions): Promise<SendInvoicesResult>;
    };
    /** Every invoice of a session, page by page (`x-continuation-token`). */
    invoices(sessionReferenceNumber: string, options?: ListSessionInvoicesOptions): AsyncIterable<SessionInvoiceStatus>;
  };
  /** Releases connections; cached tokens stay in the token store for the next client. */
  close(): Promise<void>;
}
