/** Types of the KSeF certificates chapter ("Certyfikaty" of open-api.json, CIRFMF/ksef-api). */
import type { CertificateEnrollmentData, KsefCertificateType, StatusInfo } from '../protocol/types';

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
