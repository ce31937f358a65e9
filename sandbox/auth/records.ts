/** Who authenticates and how: subjects, challenges and authentication operations (uwierzytelnianie.md, CIRFMF/ksef-docs). */
import type { ContextIdentifier, KsefTokenPermission } from '../../shared/protocol/types';
import type { AllowedIps } from '../../shared/protocol/xml/xades/authTokenRequest';
import type { StatusInfo } from '../catalogue';

/** Everything an owner may do in its own context (bailiffs' EnforcementOperations is not an owner's). */
export const OWNER_PERMISSIONS: KsefTokenPermission[] = [
  'InvoiceRead',
  'InvoiceWrite',
  'CredentialsRead',
  'CredentialsManage',
  'SubunitManage',
  'Introspection',
];

/** Who authenticated: KSeF identifies subjects by NIP, PESEL or certificate fingerprint (uwierzytelnianie.md, CIRFMF/ksef-docs). */
export interface SubjectIdentifier {
  type: 'Nip' | 'Pesel' | 'Fingerprint';
  value: string;
}

export function sameContext(a: ContextIdentifier, b: ContextIdentifier): boolean {
  return a.type === b.type && a.value === b.value;
}

export function subjectKey(subject: SubjectIdentifier): string {
  return `${subject.type}:${subject.value}`;
}

/** The X.500 attributes of the authenticating certificate, as `GET /certificates/enrollments/data` returns them. */
export interface CertificateSubjectData {
  commonName: string;
  countryName: string;
  givenName?: string;
  surname?: string;
  serialNumber?: string;
  uniqueIdentifier?: string;
  organizationName?: string;
  organizationIdentifier?: string;
}

export interface ChallengeRecord {
  challenge: string;
  timestamp: Date;
  clientIp: string;
  used: boolean;
}

export type AuthenticationMethod = 'Token' | 'QualifiedSignature' | 'QualifiedSeal' | 'PersonalSignature' | 'InternalCertificate';

export interface AuthenticationOperation {
  referenceNumber: string;
  startDate: Date;
  method: AuthenticationMethod;
  methodInfo: { category: 'Token' | 'XadesSignature' | 'NationalNode' | 'Other'; code: string; displayName: string };
  contextIdentifier: ContextIdentifier;
  clientIp: string;
  /** The authorization policy's addresses: only these may use the access and refresh tokens (none: any). */
  allowedIps?: AllowedIps;
  status: StatusInfo;
  /** Set when authenticated with a KSeF token. */
  tokenReferenceNumber?: string;
  /** Who authenticated (for a KSeF token: its author); set once authentication succeeds. */
  subject?: SubjectIdentifier;
  /** True when the subject is the context's owner (its NIP is the context's). */
  isOwner?: boolean;
  /** XAdES only: the signing certificate's subject (what a KSeF certificate may be requested for). */
  certificateSubject?: CertificateSubjectData;
  /** XAdES only: Base64 SHA-256 of the signed document as received (named in UPOs). */
  authenticationDocumentHash?: string;
  /** XAdES only: person and seal claims of the access token (`sud`). */
  subjectDetails?: Record<string, unknown>;
  /** Permissions the access tokens of this operation carry (empty until authentication succeeds). */
  permissions: string[];
  isTokenRedeemed: boolean;
  lastTokenRefreshDate?: Date;
  refreshTokenValidUntil?: Date;
}

/** Permissions held by a non-owner in a context (uprawnienia.md); the permissions chapter will own these. */
export interface PermissionGrant {
  contextIdentifier: ContextIdentifier;
  subject: SubjectIdentifier;
  permissions: KsefTokenPermission[];
}
