/**
 * KSeF certificates as KSeF issues them (certyfikaty-KSeF.md, CIRFMF/ksef-docs; open-api.json): limits per subject,
 * enrollment of a CSR that matches the authenticating certificate's subject, asynchronous issuing by the sandbox CA,
 * status and revocation. Certificates belong to the authenticated subject (NIP, PESEL or fingerprint), not to the context.
 *
 * Enrollment reference numbers use the type code `CE`: KSeF's own code is not documented (open-api.json's example reuses an export reference).
 * Validity is two years from `validFrom` (what the official query example shows; the docs give no period).
 */
import { createHash } from 'node:crypto';
import { newReferenceNumber } from '../../shared/protocol/model/referenceNumber';
import type { KsefCertificateType } from '../../shared/protocol/types';
import { SUBJECT_OIDS, type NameAttribute } from '../../shared/protocol/x509/x509';
import { subjectKey, type AuthenticationOperation, type CertificateSubjectData, type SubjectIdentifier } from '../auth/records';
import { ENROLLMENT_STATUS } from '../catalogue';
import type { SandboxContext } from '../context';
import { DAY_MS } from '../dates';
import { authMethodNotAllowed, gone, ksefException } from '../http/errors';
import { CertificationRequestError, readCertificationRequest, type CertificationRequest } from './ca';
import type { CertificateEnrollmentRecord, KsefCertificateRecord } from './records';

const CERTIFICATE_VALIDITY_MS = 730 * DAY_MS;
const ENROLLMENT_STATUS_RETENTION_MS = 30 * DAY_MS;

const ENROLLMENT_DATA_OIDS: Record<keyof CertificateSubjectData, string> = {
  commonName: SUBJECT_OIDS.commonName,
  countryName: SUBJECT_OIDS.countryName,
  givenName: SUBJECT_OIDS.givenName,
  surname: SUBJECT_OIDS.surname,
  serialNumber: SUBJECT_OIDS.serialNumber,
  uniqueIdentifier: SUBJECT_OIDS.uniqueIdentifier,
  organizationName: SUBJECT_OIDS.organizationName,
  organizationIdentifier: SUBJECT_OIDS.organizationIdentifier,
};

export function ownedCertificates(ctx: SandboxContext, subject: SubjectIdentifier): KsefCertificateRecord[] {
  return [...ctx.state.ksefCertificates.values()].filter((c) => subjectKey(c.subjectIdentifier) === subjectKey(subject));
}

export function certificateUsage(ctx: SandboxContext, subject: SubjectIdentifier, now: Date) {
  const limits = ctx.state.certificateLimits[subject.type];
  const enrollments = [...ctx.state.certificateEnrollments.values()].filter(
    (e) => subjectKey(e.subjectIdentifier) === subjectKey(subject),
  ).length;
  const active = ownedCertificates(ctx, subject).filter((c) => certificateStatus(c, now) === 'Active').length;
  return {
    enrollment: { remaining: Math.max(0, limits.maxEnrollments - enrollments), limit: limits.maxEnrollments },
    certificate: { remaining: Math.max(0, limits.maxCertificates - active), limit: limits.maxCertificates },
  };
}

function processEnrollment(
  ctx: SandboxContext,
  enrollment: CertificateEnrollmentRecord,
  request: CertificationRequest,
  name: string,
  type: KsefCertificateType,
  validFrom: Date | undefined,
): void {
  const now = ctx.clock.now();
  const publicKeyId = createHash('sha256').update(request.spkiDer).digest('base64');
  if ([...ctx.state.ksefCertificates.values()].some((c) => c.publicKeyId === publicKeyId)) {
    enrollment.status = ENROLLMENT_STATUS.rejected('Klucz publiczny został już certyfikowany przez inny podmiot.');
    return;
  }
  if (certificateUsage(ctx, enrollment.subjectIdentifier, now).certificate.remaining === 0) {
    enrollment.status = ENROLLMENT_STATUS.rejected('Osiągnięto dopuszczalny limit posiadanych certyfikatów.');
    return;
  }
  const from = validFrom ?? now;
  const validTo = new Date(from.getTime() + CERTIFICATE_VALIDITY_MS);
  const issued = ctx.certificateAuthority.issue({ certificationRequest: request, type, validFrom: from, validTo });
  ctx.state.ksefCertificates.set(issued.serialNumber, {
    serialNumber: issued.serialNumber,
    name,
    type,
    der: issued.der,
    commonName: request.subject.find((a) => a.oid === SUBJECT_OIDS.commonName)?.value ?? '',
    subjectIdentifier: enrollment.subjectIdentifier,
    validFrom: from,
    validTo,
    requestDate: enrollment.requestDate,
    publicKeyId,
  });
  enrollment.certificateSerialNumber = issued.serialNumber;
  enrollment.status = ENROLLMENT_STATUS.issued;
}

export interface EnrollmentRequest {
  name: string;
  type: KsefCertificateType;
  csr: Buffer;
  validFrom?: Date;
}

/**
 * Accepts an enrollment for the subject that authenticated with a signature (25002 otherwise): the CSR must be
 * readable (25004, 25010, 25011), name exactly the authenticating certificate's subject (25003) and fit the limits
 * (25006, 25007). The certificate is issued, or the enrollment rejected, after the processing delay.
 */
export function submitEnrollment(
  ctx: SandboxContext,
  operation: AuthenticationOperation,
  enrollmentRequest: EnrollmentRequest,
  now: Date,
): CertificateEnrollmentRecord {
  const subject = subjectOf(operation);
  if (!operation.certificateSubject) throw ksefException(25002);
  let request: CertificationRequest;
  try {
    request = readCertificationRequest(enrollmentRequest.csr);
  } catch (error) {
    if (error instanceof CertificationRequestError) throw ksefException(error.code, error.message);
    throw error;
  }
  const mismatch = subjectMismatch(request.subject, operation.certificateSubject);
  if (mismatch) throw ksefException(25003, mismatch);
  const limits = certificateUsage(ctx, subject, now);
  if (limits.enrollment.remaining === 0) throw ksefException(25006, `Limit wniosków: ${limits.enrollment.limit}.`);
  if (limits.certificate.remaining === 0) throw ksefException(25007, `Limit certyfikatów: ${limits.certificate.limit}.`);

  const enrollment: CertificateEnrollmentRecord = {
    referenceNumber: newReferenceNumber('CE', now),
    requestDate: now,
    subjectIdentifier: subject,
    status: ENROLLMENT_STATUS.accepted,
  };
  ctx.state.certificateEnrollments.set(enrollment.referenceNumber, enrollment);
  const { name, type, validFrom } = enrollmentRequest;
  ctx.scheduler.after(ctx.processingDelayMs, () => processEnrollment(ctx, enrollment, request, name, type, validFrom));
  return enrollment;
}

/** The subject's enrollment (25005 otherwise); 410 once its status is older than KSeF keeps it. */
export function enrollmentOf(
  ctx: SandboxContext,
  subject: SubjectIdentifier,
  referenceNumber: string,
  now: Date,
): CertificateEnrollmentRecord {
  const enrollment = ctx.state.certificateEnrollments.get(referenceNumber);
  if (!enrollment || subjectKey(enrollment.subjectIdentifier) !== subjectKey(subject)) throw ksefException(25005);
  if (now.getTime() - enrollment.requestDate.getTime() > ENROLLMENT_STATUS_RETENTION_MS) throw gone();
  return enrollment;
}

/** Revokes the subject's active certificate; not for callers authenticated with a KSeF token (open-api.json). */
export function revokeCertificate(
  ctx: SandboxContext,
  operation: AuthenticationOperation,
  serialNumber: string,
  reason: string,
  now: Date,
): void {
  const subject = subjectOf(operation);
  // "Operacja nie jest dostępna dla podmiotu uwierzytelnionego tokenem KSeF." (open-api.json)
  if (operation.method === 'Token') throw authMethodNotAllowed('Token');
  const certificate = ownedCertificates(ctx, subject).find((c) => c.serialNumber === serialNumber);
  if (!certificate) throw ksefException(25008);
  if (certificateStatus(certificate, now) !== 'Active') throw ksefException(25009);
  certificate.revoked = { date: now, reason };
}

/** The subject that authenticated: certificates are its own, whatever the context. */
export function subjectOf(operation: AuthenticationOperation): SubjectIdentifier {
  if (!operation.subject) throw new Error(`authentication ${operation.referenceNumber} succeeded without a subject`);
  return operation.subject;
}

export function certificateStatus(certificate: KsefCertificateRecord, now: Date): 'Active' | 'Revoked' | 'Expired' {
  if (certificate.revoked) return 'Revoked';
  return now > certificate.validTo ? 'Expired' : 'Active';
}

/** Why the CSR subject differs from the enrollment data (attribute by attribute), or undefined when it is the same. */
function subjectMismatch(csrSubject: NameAttribute[], expected: CertificateSubjectData): string | undefined {
  const wanted = Object.entries(expected)
    .filter(([, value]) => value !== undefined)
    .map(([field, value]) => `${ENROLLMENT_DATA_OIDS[field as keyof CertificateSubjectData]}=${value as string}`)
    .sort();
  const given = csrSubject.map((a) => `${a.oid}=${a.value}`).sort();
  const missing = wanted.filter((w) => !given.includes(w));
  const extra = given.filter((g) => !wanted.includes(g));
  if (missing.length === 0 && extra.length === 0) return undefined;
  return [missing.length > 0 && `brak w CSR: ${missing.join(', ')}`, extra.length > 0 && `nadmiarowe w CSR: ${extra.join(', ')}`]
    .filter(Boolean)
    .join('; ');
}
