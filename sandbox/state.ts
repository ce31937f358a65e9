/**
 * Everything the sandbox remembers, in memory: one store per API chapter, whose records live with the chapter
 * (`auth/records.ts`, `tokens/records.ts`, `sessions/records.ts`, `certificates/records.ts`, `limits/records.ts`,
 * `invoices/exportRecords.ts`).
 * Tests reach it through the sandbox handle to set up what KSeF's management and test-data endpoints would.
 */
import type { ContextIdentifier, KsefTokenPermission } from '../shared/protocol/types';
import {
  sameContext,
  type AuthenticationOperation,
  type ChallengeRecord,
  type PermissionGrant,
  type SubjectIdentifier,
} from './auth/records';
import type { CertificateEnrollmentRecord, CertificateLimits, KsefCertificateRecord } from './certificates/records';
import { LimitStore, type RateLimit, type RateLimitGroup } from './limits/records';
import { InvoiceExportStore } from './invoices/exportRecords';
import type { StoredInvoice } from './invoices/metadata';
import type { BatchSession, DuplicateEntry, OnlineSession } from './sessions/records';
import { MAX_DOCUMENTS_PER_UPO_PAGE } from './sessions/upo';
import { hasSecret, newKsefTokenRecord, type KsefTokenRecord, type NewKsefToken } from './tokens/records';

export class SandboxState {
  /** Rate and session limits, per context. */
  readonly limits: LimitStore;

  constructor(defaultRateLimits: Record<RateLimitGroup, RateLimit>) {
    this.limits = new LimitStore(defaultRateLimits);
  }

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
  readonly batchSessions = new Map<string, BatchSession>();
  /** Documents per session UPO page: KSeF's 10,000 (sesja-sprawdzenie-stanu-i-pobranie-upo.md); tests lower it to see several pages. */
  sessionUpoPageSize = MAX_DOCUMENTS_PER_UPO_PAGE;
  /**
   * Online sessions KSeF made temporarily unavailable for service work: sending to them is answered 21184 "Sesja
   * tymczasowo niedostępna" (open-api.json 2.8.1, CIRFMF/ksef-api), which tells the client to open a new session.
   * Nothing in the API causes it; tests add reference numbers here.
   */
  readonly sessionsUnderMaintenance = new Set<string>();
  /** KSeF number → the accepted invoice: where it was sent, its record and its metadata summary (received ones too). */
  readonly invoicesByKsefNumber = new Map<string, StoredInvoice>();
  /** Invoice exports, the limits that shape their packages (lowered by tests) and the test switches. */
  readonly invoiceExports = new InvoiceExportStore();
  /** `sellerNip|RodzajFaktury|P_2` of every accepted invoice (KSeF keeps it 10 years: forever here). */
  readonly duplicateIndex = new Map<string, DuplicateEntry>();
  /** NIPs enabled for invoices with attachments (what `POST /testdata/attachment` records); tests add to it. */
  readonly attachmentNips = new Set<string>();

  issueKsefToken(input: NewKsefToken): KsefTokenRecord {
    const record = newKsefTokenRecord(input);
    this.ksefTokens.set(record.referenceNumber, record);
    return record;
  }

  /** The token whose secret is exactly `secret` (compared in constant time). */
  findKsefTokenBySecret(secret: string): KsefTokenRecord | undefined {
    const record = this.ksefTokens.get(secret.split('|')[0]);
    return record && hasSecret(record, secret) ? record : undefined;
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
}
