/**
 * KSeF certificates (certyfikaty-KSeF.md, CIRFMF/ksef-docs): enrollment data and CSR enrollment (after a XAdES
 * authentication only), asynchronous issuing by the sandbox CA, retrieval, query, revocation and limits.
 * Certificates belong to the authenticated subject (NIP, PESEL or fingerprint), not to the context.
 *
 * Enrollment reference numbers use the type code `CE`: KSeF's own code is not documented (open-api.json's example reuses an export reference).
 * Validity is two years from `validFrom` (what the official query example shows; the docs give no period).
 */
import { createHash } from 'node:crypto';
import { SUBJECT_OIDS, type NameAttribute } from '../../shared/protocol/x509/x509';
import { newReferenceNumber } from '../../shared/protocol/model/referenceNumber';
import { CertificationRequestError, readCertificationRequest, type CertificationRequest } from '../ca';
import { principalOf, type RouteDefinition, type SandboxContext, type SandboxRequest } from '../context';
import { DAY_MS, formatDateTime } from '../dates';
import { authMethodNotAllowed, gone, inputValidationError, ksefException } from '../errors';
import {
  subjectKey,
  type AuthenticationOperation,
  type CertificateEnrollmentRecord,
  type CertificateSubjectData,
  type KsefCertificateRecord,
  type SubjectIdentifier,
} from '../state';
import type { KsefCertificateType } from '../../shared/protocol/types';
import { checkString, queryInteger, requireArray, requireBase64, requireObject, requireOneOf, requireString, type JsonRecord } from './input';

const CERTIFICATE_VALIDITY_MS = 730 * DAY_MS;
const CERTIFICATE_TYPES: readonly KsefCertificateType[] = ['Authentication', 'Offline'];
const CERTIFICATE_NAME_PATTERN = /^[a-zA-Z0-9_\- ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]+$/;
const SERIAL_NUMBER_PATTERN = /^[0-9A-F]{16}$/;
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

const ENROLLMENT_STATUS = {
  accepted: { code: 100, description: 'Wniosek przyjęty do realizacji' },
  issued: { code: 200, description: 'Wniosek obsłużony (certyfikat wygenerowany)' },
  rejected: (detail: string) => ({ code: 400, description: 'Wniosek odrzucony', details: [detail] }),
} as const;

export function certificateRoutes(ctx: SandboxContext): RouteDefinition[] {
  const { state } = ctx;

  function subjectOf(req: SandboxRequest): { operation: AuthenticationOperation; subject: SubjectIdentifier } {
    const { operation } = principalOf(req);
    if (!operation.subject) throw new Error(`authentication ${operation.referenceNumber} succeeded without a subject`);
    return { operation, subject: operation.subject };
  }

  function ownedCertificates(subject: SubjectIdentifier): KsefCertificateRecord[] {
    return [...state.ksefCertificates.values()].filter((c) => subjectKey(c.subjectIdentifier) === subjectKey(subject));
  }

  function usage(subject: SubjectIdentifier, now: Date) {
    const limits = state.certificateLimits[subject.type];
    const enrollments = [...state.certificateEnrollments.values()].filter((e) => subjectKey(e.subjectIdentifier) === subjectKey(subject)).length;
    const active = ownedCertificates(subject).filter((c) => certificateStatus(c, now) === 'Active').length;
    return {
      enrollment: { remaining: Math.max(0, limits.maxEnrollments - enrollments), limit: limits.maxEnrollments },
      certificate: { remaining: Math.max(0, limits.maxCertificates - active), limit: limits.maxCertificates },
    };
  }

  function processEnrollment(enrollment: CertificateEnrollmentRecord, request: CertificationRequest, name: string, type: KsefCertificateType, validFrom: Date | undefined): void {
    const now = ctx.clock.now();
    const publicKeyId = createHash('sha256').update(request.spkiDer).digest('base64');
    if ([...state.ksefCertificates.values()].some((c) => c.publicKeyId === publicKeyId)) {
      enrollment.status = ENROLLMENT_STATUS.rejected('Klucz publiczny został już certyfikowany przez inny podmiot.');
      return;
    }
    if (usage(enrollment.subjectIdentifier, now).certificate.remaining === 0) {
      enrollment.status = ENROLLMENT_STATUS.rejected('Osiągnięto dopuszczalny limit posiadanych certyfikatów.');
      return;
    }
    const from = validFrom ?? now;
    const validTo = new Date(from.getTime() + CERTIFICATE_VALIDITY_MS);
    const issued = ctx.certificateAuthority.issue({ certificationRequest: request, type, validFrom: from, validTo });
    state.ksefCertificates.set(issued.serialNumber, {
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

  return [
    {
      method: 'GET',
      path: '/certificates/limits',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const { operation, subject } = subjectOf(req);
        const limits = usage(subject, req.now);
        const canRequest = operation.method !== 'Token' && limits.enrollment.remaining > 0 && limits.certificate.remaining > 0;
        return { status: 200, body: { canRequest, ...limits } };
      },
    },
    {
      method: 'GET',
      path: '/certificates/enrollments/data',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const { operation } = subjectOf(req);
        if (!operation.certificateSubject) throw ksefException(25001);
        return { status: 200, body: operation.certificateSubject };
      },
    },
    {
      method: 'POST',
      path: '/certificates/enrollments',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const { operation, subject } = subjectOf(req);
        if (!operation.certificateSubject) throw ksefException(25002);
        const body = requireObject(req.json, '(body)');
        const name = requireString(body, 'certificateName', 'certificateName', { minLength: 5, maxLength: 100, pattern: CERTIFICATE_NAME_PATTERN });
        const type = requireOneOf(body.certificateType, CERTIFICATE_TYPES, 'certificateType');
        const csr = requireBase64(body, 'csr');
        const validFrom = optionalDate(body, 'validFrom');

        let request: CertificationRequest;
        try {
          request = readCertificationRequest(csr);
        } catch (error) {
          if (error instanceof CertificationRequestError) throw ksefException(error.code, error.message);
          throw error;
        }
        const mismatch = subjectMismatch(request.subject, operation.certificateSubject);
        if (mismatch) throw ksefException(25003, mismatch);
        const limits = usage(subject, req.now);
        if (limits.enrollment.remaining === 0) throw ksefException(25006, `Limit wniosków: ${limits.enrollment.limit}.`);
        if (limits.certificate.remaining === 0) throw ksefException(25007, `Limit certyfikatów: ${limits.certificate.limit}.`);

        const enrollment: CertificateEnrollmentRecord = {
          referenceNumber: newReferenceNumber('CE', req.now),
          requestDate: req.now,
          subjectIdentifier: subject,
          status: ENROLLMENT_STATUS.accepted,
        };
        state.certificateEnrollments.set(enrollment.referenceNumber, enrollment);
        ctx.scheduler.after(ctx.processingDelayMs, () => processEnrollment(enrollment, request, name, type, validFrom));
        return { status: 202, body: { referenceNumber: enrollment.referenceNumber, timestamp: formatDateTime(req.now) } };
      },
    },
    {
      method: 'GET',
      path: '/certificates/enrollments/{referenceNumber}',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const { subject } = subjectOf(req);
        const enrollment = state.certificateEnrollments.get(req.params.referenceNumber);
        if (!enrollment || subjectKey(enrollment.subjectIdentifier) !== subjectKey(subject)) throw ksefException(25005);
        if (req.now.getTime() - enrollment.requestDate.getTime() > ENROLLMENT_STATUS_RETENTION_MS) throw gone();
        return {
          status: 200,
          body: {
            requestDate: formatDateTime(enrollment.requestDate),
            status: enrollment.status,
            ...(enrollment.certificateSerialNumber && { certificateSerialNumber: enrollment.certificateSerialNumber }),
          },
        };
      },
    },
    {
      method: 'POST',
      path: '/certificates/retrieve',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const { subject } = subjectOf(req);
        const serials = requireArray(requireObject(req.json, '(body)'), 'certificateSerialNumbers', { minItems: 1, maxItems: 10 }).map((serial, i) =>
          checkString(serial, `certificateSerialNumbers[${i}]`, { pattern: SERIAL_NUMBER_PATTERN }),
        );
        const owned = new Map(ownedCertificates(subject).map((c) => [c.serialNumber, c]));
        const certificates = serials.flatMap((serial) => {
          const certificate = owned.get(serial);
          return certificate
            ? [{ certificate: certificate.der.toString('base64'), certificateName: certificate.name, certificateSerialNumber: certificate.serialNumber, certificateType: certificate.type }]
            : [];
        });
        return { status: 200, body: { certificates } };
      },
    },
    {
      method: 'POST',
      path: '/certificates/query',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const { subject } = subjectOf(req);
        const filter = req.json === undefined ? {} : requireObject(req.json, '(body)');
        const name = typeof filter.name === 'string' ? filter.name.toLowerCase() : undefined;
        const expiresAfter = optionalDate(filter, 'expiresAfter');
        const matching = ownedCertificates(subject)
          .filter((c) => !filter.certificateSerialNumber || c.serialNumber === filter.certificateSerialNumber)
          .filter((c) => !name || c.name.toLowerCase().includes(name))
          .filter((c) => !filter.type || c.type === filter.type)
          .filter((c) => !filter.status || certificateStatus(c, req.now) === filter.status)
          .filter((c) => !expiresAfter || c.validTo > expiresAfter)
          .sort((a, b) => b.requestDate.getTime() - a.requestDate.getTime());
        const pageSize = queryInteger(req, 'pageSize', 10, 10, 50);
        const offset = queryInteger(req, 'pageOffset', 0, 0) * pageSize;
        return {
          status: 200,
          body: {
            certificates: matching.slice(offset, offset + pageSize).map((c) => ({
              certificateSerialNumber: c.serialNumber,
              name: c.name,
              type: c.type,
              commonName: c.commonName,
              status: certificateStatus(c, req.now),
              subjectIdentifier: c.subjectIdentifier,
              validFrom: formatDateTime(c.validFrom),
              validTo: formatDateTime(c.validTo),
              ...(c.lastUseDate && { lastUseDate: formatDateTime(c.lastUseDate) }),
              requestDate: formatDateTime(c.requestDate),
            })),
            hasMore: offset + pageSize < matching.length,
          },
        };
      },
    },
    {
      method: 'POST',
      path: '/certificates/{certificateSerialNumber}/revoke',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const { operation, subject } = subjectOf(req);
        // "Operacja nie jest dostępna dla podmiotu uwierzytelnionego tokenem KSeF." (open-api.json)
        if (operation.method === 'Token') throw authMethodNotAllowed('Token');
        const certificate = ownedCertificates(subject).find((c) => c.serialNumber === req.params.certificateSerialNumber);
        if (!certificate) throw ksefException(25008);
        if (certificateStatus(certificate, req.now) !== 'Active') throw ksefException(25009);
        const body: JsonRecord = req.json === undefined ? {} : requireObject(req.json, '(body)');
        certificate.revoked = { date: req.now, reason: typeof body.revocationReason === 'string' ? body.revocationReason : 'Unspecified' };
        return { status: 204 };
      },
    },
  ];
}

function certificateStatus(certificate: KsefCertificateRecord, now: Date): 'Active' | 'Revoked' | 'Expired' {
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
  return [missing.length > 0 && `brak w CSR: ${missing.join(', ')}`, extra.length > 0 && `nadmiarowe w CSR: ${extra.join(', ')}`].filter(Boolean).join('; ');
}

function optionalDate(body: JsonRecord, key: string): Date | undefined {
  const value = body[key];
  if (value == null) return undefined;
  const date = typeof value === 'string' ? new Date(value) : new Date(NaN);
  if (Number.isNaN(date.getTime())) throw inputValidationError([`'${key}' must be an ISO-8601 date-time.`]);
  return date;
}
