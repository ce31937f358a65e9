/**
 * The engine's public contract: what adapters (n8n, Node-RED) and users of `createKsefClient` rely on.
 */
import type { InvoiceSchema } from './protocol/model/formCodes';
import type { AllowedIps, AuthTokenRequestSchemaVersion, SubjectIdentifierType } from './protocol/xml/xades/authTokenRequest';
import type { SubjectLimits } from './limits/types';

import type {
  CertificateEnrollmentData,
  Clock,
  ContextIdentifier,
  ContextIdentifierType,
  KsefCertificateType,
  KsefTokenPermission,
  KsefTokenStatus,
  Logger,
  StatusInfo,
  TokenInfo,
} from './protocol/types';

export type { AllowedIps, AuthTokenRequestSchemaVersion, SubjectIdentifierType };
export type { SubjectLimits };
export type {
  CertificateEnrollmentData,
  Clock,
  ContextIdentifier,
  ContextIdentifierType,
  KsefCertificateType,
  KsefTokenPermission,
  KsefTokenStatus,
  Logger,
  StatusInfo,
  TokenInfo,
};

/** Which environment answered, as results report it (`environment`). */
export type EnvironmentName = 'sandbox' | 'test' | 'demo' | 'production' | 'custom';

/**
 * An environment handed to the engine as an object instead of named: the embedded sandbox (`embeddedSandbox()` of
 * the package's `dist/sandbox` entry). The engine never loads a simulator itself, so a script that names no
 * environment fails instead of sending invoices to one.
 */
export interface EnvironmentProvider {
  /** What results report as `environment`: only the simulator is handed in. */
  readonly name: 'sandbox';
  /** Where its API is (starting it when needed), with the demo context and KSeF token for credentials left out. */
  connect(): Promise<ProvidedEnvironment>;
}

export interface ProvidedEnvironment {
  /** The API root, e.g. `http://127.0.0.1:40123/v2`. */
  baseUrl: string;
  contextIdentifier: ContextIdentifier;
  ksefToken: string;
  /** What the caller should know about this environment, logged as a warning (e.g. it validates less than KSeF). */
  warning?: string;
}

/** Where a client sends: an official environment, `custom` (with `baseUrl`), or a provided one (the embedded sandbox). */
export type KsefEnvironment = 'test' | 'demo' | 'production' | 'custom' | EnvironmentProvider;

/** Authentication with a KSeF token. */
export interface KsefTokenCredentials {
  method: 'ksefToken';
  /** May be omitted with the embedded sandbox: its demo context is used. */
  contextIdentifier?: ContextIdentifier;
  /** May be omitted with the embedded sandbox: its owner token is used. */
  ksefToken?: string;
}

/**
 * The signing certificate with its private key: a PKCS#12 file (`pkcs12` + `password`), or PEM
 * (`certificatePem` + `privateKeyPem`, plus `passphrase` when the key is encrypted). All of it is secret
 * except the certificate: the engine never logs or reports it.
 */
export interface CertificateSource {
  /** PKCS#12 (.p12/.pfx) bytes, or their Base64 text. */
  pkcs12?: Buffer | string;
  /** Opens `pkcs12`. */
  password?: string;
  certificatePem?: string | Buffer;
  privateKeyPem?: string | Buffer;
  /** Decrypts an encrypted `privateKeyPem`. */
  passphrase?: string;
}

/** Which client IP addresses may use the tokens a certificate authentication yields. */
export interface CertificateAuthorizationPolicy {
  allowedIps?: AllowedIps;
  /**
   * Also allow the address KSeF saw when it issued the challenge (its `clientIp`, which must be IPv4). It takes one
   * of the 10 places of `allowedIps.ip4Addresses`, so those may then list at most 9.
   */
  allowChallengeClientIp?: boolean;
}

/** Authentication with a certificate: a XAdES-signed AuthTokenRequest (`POST /auth/xades-signature`). */
export interface CertificateCredentials {
  method: 'certificate';
  /** May be omitted on the sandbox: the embedded sandbox's demo context is used. */
  contextIdentifier?: ContextIdentifier;
  certificate: CertificateSource;
  /** How KSeF identifies the signer: by the certificate's subject (default) or its SHA-256 fingerprint. */
  subjectIdentifierType?: SubjectIdentifierType;
  /** AuthTokenRequest schema version (default 2.0, like the official clients). */
  authTokenRequestSchema?: AuthTokenRequestSchemaVersion;
  authorizationPolicy?: CertificateAuthorizationPolicy;
}

export type KsefCredentials = KsefTokenCredentials | CertificateCredentials;

export type Sleep = (ms: number) => Promise<void>;

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
  /** Required, never defaulted: `'test'`, `'demo'`, `'production'`, `'custom'` or the embedded sandbox (`embeddedSandbox()`). */
  environment: KsefEnvironment;
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
  /**
   * Longest wait for KSeF's rate limits (the client's own pacing or a 429's `Retry-After`) of a request without a
   * caller deadline (default 30 s); longer ones throw `KsefRateLimitError` with `retryAt`. Sending invoices has its
   * own deadline (`sendDeadlineMs`, `waitForProcessingMs`) and waits as long as that allows.
   */
  maxRetryAfterMs?: number;
}

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

export interface GenerateKsefTokenOptions {
  permissions: KsefTokenPermission[];
  /** 5 to 256 characters; helps find the token later. */
  description: string;
  /** Wait until KSeF has activated the token (default true). */
  waitUntilActive?: boolean;
  /** How long to wait for activation (default 60 s). */
  activationTimeoutMs?: number;
}

export interface GeneratedKsefToken {
  referenceNumber: string;
  /** The token secret. KSeF shows it only this once: store it as a secret. */
  token: string;
  status: KsefTokenStatus;
}

/** A KSeF token's metadata (`GET /tokens`, `GET /tokens/{ref}`); never its secret. */
export interface KsefTokenInfo {
  referenceNumber: string;
  authorIdentifier: { type: 'Nip' | 'Pesel' | 'Fingerprint'; value: string };
  contextIdentifier: ContextIdentifier;
  description: string;
  requestedPermissions: KsefTokenPermission[];
  dateCreated: string;
  lastUseDate?: string;
  status: KsefTokenStatus;
  statusDetails?: string[];
}

export interface ListKsefTokensOptions {
  status?: KsefTokenStatus | KsefTokenStatus[];
  /** Case-insensitive part of the description (at least 3 characters). */
  description?: string;
  /** Case-insensitive part of the author's identifier (at least 3 characters). */
  authorIdentifier?: string;
  authorIdentifierType?: 'Nip' | 'Pesel' | 'Fingerprint';
  /** Page size asked from KSeF (10-100, default 100). */
  pageSize?: number;
}

/** One authentication session of the context (`GET /auth/sessions`). */
export interface AuthSessionInfo {
  referenceNumber: string;
  /** True for the session of the tokens this client uses. */
  isCurrent?: boolean;
  startDate: string;
  authenticationMethod: string;
  authenticationMethodInfo: { category: string; code: string; displayName: string };
  status: StatusInfo;
  isTokenRedeemed?: boolean;
  lastTokenRefreshDate?: string;
  refreshTokenValidUntil?: string;
}

export interface ListAuthSessionsOptions {
  /** Page size asked from KSeF (10-100, default 100). */
  pageSize?: number;
}

export interface CertificateLimits {
  canRequest: boolean;
  enrollment: { remaining: number; limit: number };
  certificate: { remaining: number; limit: number };
}

export interface EnrollCertificateOptions {
  /** 5 to 100 letters (Polish too), digits, spaces, `_` or `-`. */
  certificateName: string;
  /** `Authentication` signs in to KSeF; `Offline` only signs offline invoices (QR code II). */
  certificateType: KsefCertificateType;
  /** Key pair to generate: `EC` P-256 (default, KSeF's recommendation) or `RSA` 2048. */
  keyType?: 'RSA' | 'EC';
  /** When the certificate becomes valid (default: when issued). */
  validFrom?: Date | string;
  /** Protects the returned PKCS#12; chosen by the caller and never stored by the engine. */
  pkcs12Password: string;
  /** How long to wait for KSeF to issue the certificate (default 120 s). */
  waitForCertificateMs?: number;
}

/** A KSeF certificate with the private key generated for it. `privateKeyPem` and `pkcs12` are secrets. */
export interface EnrolledCertificate {
  status: 'Issued';
  /** Reference number of the enrollment. */
  referenceNumber: string;
  serialNumber: string;
  certificateName: string;
  certificateType: KsefCertificateType;
  certificatePem: string;
  /** Unencrypted PKCS#8 PEM. */
  privateKeyPem: string;
  /** Certificate and private key, protected by `pkcs12Password`. */
  pkcs12: Buffer;
  validFrom: string;
  validTo: string;
  /** Uppercase hex SHA-256 of the certificate. */
  fingerprintSha256: string;
}

/**
 * An enrollment KSeF accepted whose certificate could not be fetched in this call (the wait timed out, or reading
 * the status or the certificate failed). KSeF still issues the certificate: finish with
 * `certificates.completeEnrollment` and this result's `referenceNumber` and `encryptedPrivateKeyPem`.
 */
export interface PendingCertificateEnrollment {
  status: 'Pending';
  /** Reference number of the enrollment. */
  referenceNumber: string;
  certificateName: string;
  certificateType: KsefCertificateType;
  /**
   * The new private key as encrypted PKCS#8 PEM, protected by the `pkcs12Password` given to enroll. It exists
   * nowhere else (KSeF never sees it): store it, or the certificate KSeF issues cannot be used.
   */
  encryptedPrivateKeyPem: string;
  /** Why the certificate is not here yet. */
  reason: string;
}

export type CertificateEnrollmentResult = EnrolledCertificate | PendingCertificateEnrollment;

export interface CompleteEnrollmentOptions {
  /** Reference number of the enrollment (`referenceNumber` of the pending result). */
  referenceNumber: string;
  /** The private key of the enrollment (`encryptedPrivateKeyPem` of the pending result). */
  encryptedPrivateKeyPem: string;
  /** The password given to enroll: it decrypts the key and protects the returned PKCS#12. */
  pkcs12Password: string;
  /** How long to wait for KSeF to issue the certificate (default 120 s). */
  waitForCertificateMs?: number;
}

/** KSeF's verdict so far on a certificate enrollment (`GET /certificates/enrollments/{ref}`, kept for 30 days). */
export interface CertificateEnrollmentStatus {
  referenceNumber: string;
  requestDate: string;
  /** 100 in progress, 200 issued (`certificateSerialNumber` set), 400 rejected, 500 unknown error, 550 cancelled by KSeF. */
  status: StatusInfo;
  certificateSerialNumber?: string;
}

export interface CreateCertificateRequestOptions {
  /** The subject the request carries (default: read from KSeF, as `certificates.enrollmentData()`). */
  enrollmentData?: CertificateEnrollmentData;
  /** Key pair to generate: `EC` P-256 (default) or `RSA` 2048. */
  keyType?: 'RSA' | 'EC';
  /** Encrypts the returned private key; chosen by the caller and never stored by the engine. */
  privateKeyPassword: string;
}

/** A new key pair's PKCS#10 certificate request. `encryptedPrivateKeyPem` is a secret. */
export interface GeneratedCertificateRequest {
  keyType: 'RSA' | 'EC';
  /** PEM (`CERTIFICATE REQUEST`). */
  csrPem: string;
  /** Base64 DER, as `POST /certificates/enrollments` takes it. */
  csrBase64: string;
  /** Encrypted PKCS#8 PEM, protected by `privateKeyPassword`. */
  encryptedPrivateKeyPem: string;
}

export type KsefCertificateStatus = 'Active' | 'Blocked' | 'Revoked' | 'Expired';

/** One KSeF certificate's metadata (`POST /certificates/query`). */
export interface KsefCertificateInfo {
  certificateSerialNumber: string;
  name: string;
  type: KsefCertificateType;
  commonName: string;
  status: KsefCertificateStatus;
  subjectIdentifier: { type: string; value: string };
  validFrom: string;
  validTo: string;
  lastUseDate?: string;
  requestDate: string;
}

export interface QueryCertificatesOptions {
  /** Exact serial number (16 uppercase hex digits). */
  certificateSerialNumber?: string;
  /** Part of the certificate name. */
  name?: string;
  type?: KsefCertificateType;
  status?: KsefCertificateStatus;
  expiresAfter?: Date | string;
  /** Page size asked from KSeF (10-50, default 50). */
  pageSize?: number;
}

export interface RetrievedCertificate {
  certificateSerialNumber: string;
  certificateName: string;
  certificateType: KsefCertificateType;
  certificatePem: string;
}

export type CertificateRevocationReason = 'Unspecified' | 'Superseded' | 'KeyCompromise';

export interface KsefClient {
  /** Authenticates (or reuses cached tokens) and reports the authentication; proves the credentials work. */
  authenticate(options?: AuthenticateOptions): Promise<AuthenticationResult>;
  sessions: {
    online: {
      send(invoices: InvoiceInput[], options?: SendInvoicesOptions): Promise<SendInvoicesResult>;
    };
    /** Every invoice of a session, page by page (`x-continuation-token`). */
    invoices(sessionReferenceNumber: string, options?: ListSessionInvoicesOptions): AsyncIterable<SessionInvoiceStatus>;
    /** One invoice's status and, once accepted, its UPO (e.g. of a send that came back pending). */
    invoiceStatus(options: GetInvoiceStatusOptions): Promise<InvoiceStatusResult>;
  };
  /** KSeF tokens of the context. */
  tokens: {
    /** Generates a token; its secret is in the result only, never logged. */
    generate(options: GenerateKsefTokenOptions): Promise<GeneratedKsefToken>;
    /** Tokens visible to the caller, newest first, page by page. */
    list(options?: ListKsefTokensOptions): AsyncIterable<KsefTokenInfo>;
    get(referenceNumber: string): Promise<KsefTokenInfo>;
    revoke(referenceNumber: string): Promise<void>;
  };
  /** Authentication sessions of the context. */
  authSessions: {
    list(options?: ListAuthSessionsOptions): AsyncIterable<AuthSessionInfo>;
    /** Revokes this client's session: its refresh token stops working and the client forgets its tokens. */
    revokeCurrent(): Promise<void>;
    revoke(referenceNumber: string): Promise<void>;
  };
  /** KSeF certificates of the authenticated subject (requires certificate authentication). */
  certificates: {
    enrollmentData(): Promise<CertificateEnrollmentData>;
    limits(): Promise<CertificateLimits>;
    /**
     * Generates a key pair and CSR from the enrollment data, enrolls, waits for and retrieves the certificate. When
     * KSeF accepted the request but the certificate could not be fetched, the result is `Pending` (finish it with
     * `completeEnrollment`).
     */
    enroll(options: EnrollCertificateOptions): Promise<CertificateEnrollmentResult>;
    /** Finishes a pending enrollment: waits for and retrieves the certificate, checks it is the key's, builds the PKCS#12. */
    completeEnrollment(options: CompleteEnrollmentOptions): Promise<EnrolledCertificate>;
    enrollmentStatus(referenceNumber: string): Promise<CertificateEnrollmentStatus>;
    /** A new key pair and certificate request (CSR) for the enrollment data; nothing is sent to KSeF but a read of the data when not given. */
    createRequest(options: CreateCertificateRequestOptions): Promise<GeneratedCertificateRequest>;
    query(options?: QueryCertificatesOptions): AsyncIterable<KsefCertificateInfo>;
    retrieve(serialNumbers: string[]): Promise<RetrievedCertificate[]>;
    revoke(serialNumber: string, reason?: CertificateRevocationReason): Promise<void>;
  };
  /** The limits KSeF applies to the caller. */
  limits: {
    /** The KSeF certificate limits of the authenticated subject (`GET /limits/subject`). */
    subject(): Promise<SubjectLimits>;
  };
  /** Releases connections; cached tokens stay in the token store for the next client. */
  close(): Promise<void>;
}
