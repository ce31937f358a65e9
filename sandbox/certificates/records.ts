/** KSeF certificates and their enrollments (certyfikaty-KSeF.md, CIRFMF/ksef-docs). */
import type { KsefCertificateType } from '../../shared/protocol/types';
import type { StatusInfo } from '../catalogue';
import type { SubjectIdentifier } from '../auth/records';

export interface KsefCertificateRecord {
  serialNumber: string;
  name: string;
  type: KsefCertificateType;
  der: Buffer;
  commonName: string;
  /** The identity the certificate carries: the enrolling subject's. */
  subjectIdentifier: SubjectIdentifier;
  validFrom: Date;
  validTo: Date;
  requestDate: Date;
  /** Base64 SHA-256 of the SubjectPublicKeyInfo: a key is certified once. */
  publicKeyId: string;
  revoked?: { date: Date; reason: string };
  lastUseDate?: Date;
}

export interface CertificateEnrollmentRecord {
  referenceNumber: string;
  requestDate: Date;
  subjectIdentifier: SubjectIdentifier;
  status: StatusInfo;
  certificateSerialNumber?: string;
}

export interface CertificateLimits {
  maxEnrollments: number;
  maxCertificates: number;
}
