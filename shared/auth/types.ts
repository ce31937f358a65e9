/** Types of authentication ("Uzyskiwanie dostępu" of open-api.json, CIRFMF/ksef-api): credentials, tokens, their store. */
import type { AllowedIps, AuthTokenRequestSchemaVersion, SubjectIdentifierType } from '../protocol/xml/xades/authTokenRequest';
import type { ContextIdentifier, TokenInfo } from '../protocol/types';

export type { AllowedIps, AuthTokenRequestSchemaVersion, SubjectIdentifierType };

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
