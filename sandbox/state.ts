/**
 * Everything the sandbox remembers, in memory. Records mirror KSeF's own objects (KSeF tokens, authentication
 * operations, challenges, sessions, invoices) so later endpoints — token generate/list/revoke, auth sessions,
 * KSeF certificates, permissions — add maps here rather than new stores.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { InvoiceSchema, FormCode } from '../shared/protocol/model/formCodes';
import { newReferenceNumber } from '../shared/protocol/model/referenceNumber';
import type { ContextIdentifier, KsefCertificateType, KsefTokenPermission, KsefTokenStatus, StatusInfo as KsefStatusInfo } from '../shared/protocol/types';
import type { SymmetricKey } from '../shared/protocol/crypto/aes';
import type { AllowedIps } from '../shared/protocol/xml/xades/authTokenRequest';
import type { UpoAuthentication } from './processing/upo';

/** Statuses of operations and sessions; only an invoice's status carries `extensions`. */
export type StatusInfo = Omit<KsefStatusInfo, 'extensions'>;

export type InvoiceStatusInfo = KsefStatusInfo;

/** Everything an owner may do in its own context (bailiffs' EnforcementOperations is not an owner's). */
export const OWNER_PERMISSIONS: KsefTokenPermission[] = ['InvoiceRead', 'InvoiceWrite', 'CredentialsRead', 'CredentialsManage', 'SubunitManage', 'Introspection'];

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

export interface KsefTokenRecord {
  referenceNumber: string;
  /** The secret `{ref}|{contextType}-{contextValue}|{64 hex}`; never logged or returned after creation. */
  secret: string;
  contextIdentifier: ContextIdentifier;
  authorIdentifier: SubjectIdentifier;
  description: string;
  requestedPermissions: KsefTokenPermission[];
  dateCreated: Date;
  lastUseDate?: Date;
  status: KsefTokenStatus;
  statusDetails?: string[];
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

export interface SessionInvoice {
  ordinalNumber: number;
  referenceNumber: string;
  invoiceHash: string;
  invoiceSize: number;
  encryptedContent: Buffer;
  offlineMode: boolean;
  hashOfCorrectedInvoice?: string;
  invoicingDate: Date;
  status: InvoiceStatusInfo;
  invoiceNumber?: string;
  ksefNumber?: string;
  acquisitionDate?: Date;
  permanentStorageDate?: Date;
  invoicingMode?: 'Online' | 'Offline';
  /** Decrypted original, kept once accepted (GET /invoices/ksef). */
  xml?: Buffer;
  sellerNip?: string;
  issueDate?: string;
  upo?: string;
}

export interface UpoPage {
  referenceNumber: string;
  xml: string;
}

export interface OnlineSession {
  referenceNumber: string;
  schema: InvoiceSchema;
  formCode: FormCode;
  /** Undefined when `encryptedSymmetricKey` could not be decrypted (the session then ends in status 415). */
  symmetricKey?: SymmetricKey;
  contextIdentifier: ContextIdentifier;
  authReferenceNumber: string;
  /** How the session's UPOs name the authentication (KSeF token reference or signed-document hash). */
  upoAuthentication: UpoAuthentication;
  status: StatusInfo;
  dateCreated: Date;
  dateUpdated: Date;
  validUntil: Date;
  invoices: SessionInvoice[];
  upoPages: UpoPage[];
}

export interface DuplicateEntry {
  ksefNumber: string;
  sessionReferenceNumber: string;
}

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

export interface PermissionGrant {
  contextIdentifier: ContextIdentifier;
  subject: SubjectIdentifier;
  permissions: KsefTokenPermission[];
}

export class SandboxState {
  readonly ksefTokens = new Map<string, KsefTokenRecord>();
  /**
   * Subjects that have authenticated with a signature at least once, the prerequisite of generating KSeF tokens
   * (tokeny-ksef.md); the provisioned owner counts as having done so.
   */
  readonly xadesAuthenticatedSubjects = new Set<string>();
  /** Permissions held by non-owners, as KSeF's grant endpoints (or /testdata/permissions) would record them. */
  readonly permissionGrants: PermissionGrant[] = [];
  readonly ksefCertificates = new Map<string, KsefCertificateRecord>();
  readonly certificateEnrollments = new Map<string, CertificateEnrollmentRecord>();
  /** Per identifier type, limity/limity.md; tests may lower them as `/testdata/limits/subject/certificate` would. */
  readonly certificateLimits: Record<SubjectIdentifier['type'], CertificateLimits> = {
    Nip: { maxEnrollments: 300, maxCertificates: 100 },
    Pesel: { maxEnrollments: 12, maxCertificates: 6 },
    Fingerprint: { maxEnrollments: 12, maxCertificates: 6 },
  };
  readonly challenges = new Map<string, ChallengeRecord>();
  readonly authOperations = new Map<string, AuthenticationOperation>();
  readonly onlineSessions = new Map<string, OnlineSession>();
  /**
   * Online sessions KSeF made temporarily unavailable for service work: sending to them is answered 21184 "Sesja
   * tymczasowo niedostępna" (open-api.json 2.8.1, CIRFMF/ksef-api), which tells the client to open a new session.
   * Nothing in the API causes it; tests add reference numbers here.
   */
  readonly sessionsUnderMaintenance = new Set<string>();
  /** KSeF number → where the accepted invoice lives. */
  readonly invoicesByKsefNumber = new Map<string, { session: OnlineSession; invoice: SessionInvoice }>();
  /** `sellerNip|RodzajFaktury|P_2` of every accepted invoice (KSeF keeps it 10 years: forever here). */
  readonly duplicateIndex = new Map<string, DuplicateEntry>();
  /** NIPs enabled for invoices with attachments (what `POST /testdata/attachment` records); tests add to it. */
  readonly attachmentNips = new Set<string>();

  issueKsefToken(input: {
    contextIdentifier: ContextIdentifier;
    authorIdentifier: KsefTokenRecord['authorIdentifier'];
    description: string;
    permissions: KsefTokenPermission[];
    now: Date;
    status?: KsefTokenStatus;
  }): KsefTokenRecord {
    const referenceNumber = newReferenceNumber('EC', input.now);
    const contextPart = `${input.contextIdentifier.type.charAt(0).toLowerCase()}${input.contextIdentifier.type.slice(1)}-${input.contextIdentifier.value}`;
    const record: KsefTokenRecord = {
      referenceNumber,
      secret: `${referenceNumber}|${contextPart}|${randomBytes(32).toString('hex')}`,
      contextIdentifier: input.contextIdentifier,
      authorIdentifier: input.authorIdentifier,
      description: input.description,
      requestedPermissions: input.permissions,
      dateCreated: input.now,
      status: input.status ?? 'Active',
    };
    this.ksefTokens.set(referenceNumber, record);
    return record;
  }

  /** The token whose secret is exactly `secret` (compared in constant time). */
  findKsefTokenBySecret(secret: string): KsefTokenRecord | undefined {
    const record = this.ksefTokens.get(secret.split('|')[0]);
    if (!record) return undefined;
    const given = Buffer.from(secret, 'utf8');
    const known = Buffer.from(record.secret, 'utf8');
    return given.length === known.length && timingSafeEqual(given, known) ? record : undefined;
  }

  grantPermissions(contextIdentifier: ContextIdentifier, subject: SubjectIdentifier, permissions: KsefTokenPermission[]): void {
    this.permissionGrants.push({ contextIdentifier, subject, permissions });
  }

  /** What `subject` may do in `context` through grants (owners are recognised separately). */
  grantedPermissions(contextIdentifier: ContextIdentifier, subject: SubjectIdentifier): KsefTokenPermission[] {
    const granted = this.permissionGrants
      .filter((g) => sameContext(g.contextIdentifier, contextIdentifier))
      .filter((g) => g.subject.type === subject.type && g.subject.value.toUpperCase() === subject.value.toUpperCase())
      .flatMap((g) => g.permissions);
    return [...new Set(granted)];
  }

  static duplicateKey(sellerNip: string, invoiceType: string, invoiceNumber: string): string {
    return `${sellerNip}|${invoiceType}|${invoiceNumber}`;
  }
}
