/**
 * KSeF's own data shapes and the injected clock and logger: what the engine and the sandbox both speak. The engine's
 * public contract (`shared/types.ts`) re-exports them.
 */

export type ContextIdentifierType = 'Nip' | 'InternalId' | 'NipVatUe' | 'PeppolId';

export interface ContextIdentifier {
  type: ContextIdentifierType;
  value: string;
}

export interface Clock {
  now(): Date;
}

/** Waits `ms` (injected like the clock, so tests control time). */
export type Sleep = (ms: number) => Promise<void>;

/** Structured logger; the engine never passes secrets to it. */
export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

/** An access, refresh or authentication token with its expiry (`TokenInfo` of open-api.json). */
export interface TokenInfo {
  token: string;
  validUntil: string;
}

/** KSeF's status of a session, an invoice or an authentication (`StatusInfo` of open-api.json). */
export interface StatusInfo {
  code: number;
  description: string;
  details?: string[];
  extensions?: Record<string, string | null>;
}

export type KsefTokenPermission =
  'InvoiceRead' | 'InvoiceWrite' | 'CredentialsRead' | 'CredentialsManage' | 'SubunitManage' | 'EnforcementOperations' | 'Introspection';

/** `Pending` (being activated) → `Active` → `Revoking` → `Revoked`; `Failed` when activation failed. */
export type KsefTokenStatus = 'Pending' | 'Active' | 'Revoking' | 'Revoked' | 'Failed';

/** The subject attributes a KSeF certificate request must carry, read by KSeF from the authenticating certificate. */
export interface CertificateEnrollmentData {
  commonName: string;
  countryName: string;
  /** One or more given names. */
  givenName?: string | string[];
  surname?: string;
  serialNumber?: string;
  uniqueIdentifier?: string;
  organizationName?: string;
  organizationIdentifier?: string;
}

export type KsefCertificateType = 'Authentication' | 'Offline';

/** What a key of `GET /security/public-key-certificates` encrypts. */
export type PublicKeyUsage = 'KsefTokenEncryption' | 'SymmetricKeyEncryption';
