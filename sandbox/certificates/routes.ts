/**
 * KSeF certificates: the HTTP side (certyfikaty-KSeF.md, CIRFMF/ksef-docs; open-api.json): enrollment data, CSR
 * enrollment, enrollment status, retrieval, query, revocation and limits. The rules are in `rules.ts`.
 */
import type { KsefCertificateType } from '../../shared/protocol/types';
import type { SandboxContext } from '../context';
import { formatDateTime } from '../dates';
import { inputValidationError, ksefException } from '../http/errors';
import {
  checkString,
  queryInteger,
  requireArray,
  requireBase64,
  requireObject,
  requireOneOf,
  requireString,
  type JsonRecord,
} from '../http/input';
import { principalOf, type RouteDefinition } from '../http/route';
import {
  certificateStatus,
  certificateUsage,
  enrollmentOf,
  ownedCertificates,
  revokeCertificate,
  subjectOf,
  submitEnrollment,
} from './rules';

const CERTIFICATE_TYPES: readonly KsefCertificateType[] = ['Authentication', 'Offline'];
const CERTIFICATE_NAME_PATTERN = /^[a-zA-Z0-9_\- ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]+$/;
const SERIAL_NUMBER_PATTERN = /^[0-9A-F]{16}$/;

export function certificateRoutes(ctx: SandboxContext): RouteDefinition[] {
  return [
    {
      method: 'GET',
      path: '/certificates/limits',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const { operation } = principalOf(req);
        const limits = certificateUsage(ctx, subjectOf(operation), req.now);
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
        const { operation } = principalOf(req);
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
        const body = requireObject(req.json, '(body)');
        const enrollment = submitEnrollment(
          ctx,
          principalOf(req).operation,
          {
            name: requireString(body, 'certificateName', 'certificateName', {
              minLength: 5,
              maxLength: 100,
              pattern: CERTIFICATE_NAME_PATTERN,
            }),
            type: requireOneOf(body.certificateType, CERTIFICATE_TYPES, 'certificateType'),
            csr: requireBase64(body, 'csr'),
            validFrom: optionalDate(body, 'validFrom'),
          },
          req.now,
        );
        return { status: 202, body: { referenceNumber: enrollment.referenceNumber, timestamp: formatDateTime(req.now) } };
      },
    },
    {
      method: 'GET',
      path: '/certificates/enrollments/{referenceNumber}',
      auth: 'accessToken',
      rateLimit: 'other',
      handler: (req) => {
        const enrollment = enrollmentOf(ctx, subjectOf(principalOf(req).operation), req.params.referenceNumber, req.now);
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
        const subject = subjectOf(principalOf(req).operation);
        const serials = requireArray(requireObject(req.json, '(body)'), 'certificateSerialNumbers', { minItems: 1, maxItems: 10 }).map(
          (serial, i) => checkString(serial, `certificateSerialNumbers[${i}]`, { pattern: SERIAL_NUMBER_PATTERN }),
        );
        const owned = new Map(ownedCertificates(ctx, subject).map((c) => [c.serialNumber, c]));
        const certificates = serials.flatMap((serial) => {
          const certificate = owned.get(serial);
          return certificate
            ? [
                {
                  certificate: certificate.der.toString('base64'),
                  certificateName: certificate.name,
                  certificateSerialNumber: certificate.serialNumber,
                  certificateType: certificate.type,
                },
              ]
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
        const subject = subjectOf(principalOf(req).operation);
        const filter = req.json === undefined ? {} : requireObject(req.json, '(body)');
        const name = typeof filter.name === 'string' ? filter.name.toLowerCase() : undefined;
        const expiresAfter = optionalDate(filter, 'expiresAfter');
        const matching = ownedCertificates(ctx, subject)
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
        const body: JsonRecord = req.json === undefined ? {} : requireObject(req.json, '(body)');
        const reason = typeof body.revocationReason === 'string' ? body.revocationReason : 'Unspecified';
        revokeCertificate(ctx, principalOf(req).operation, req.params.certificateSerialNumber, reason, req.now);
        return { status: 204 };
      },
    },
  ];
}

function optionalDate(body: JsonRecord, key: string): Date | undefined {
  const value = body[key];
  if (value == null) return undefined;
  const date = typeof value === 'string' ? new Date(value) : new Date(NaN);
  if (Number.isNaN(date.getTime())) throw inputValidationError([`'${key}' must be an ISO-8601 date-time.`]);
  return date;
}
