import { X509Certificate } from 'node:crypto';
import type {
  CertificateEnrollmentData,
  CertificateLimits,
  CertificateRevocationReason,
  Clock,
  EnrollCertificateOptions,
  EnrolledCertificate,
  KsefCertificateInfo,
  KsefCertificateStatus,
  KsefCertificateType,
  Logger,
  QueryCertificatesOptions,
  RetrievedCertificate,
  Sleep,
  StatusInfo,
} from '../types';
import { KsefError, KsefForbiddenError, KsefInputError, KsefTimeoutError } from '../http/errors';
import type { RequestFunction } from '../http/transport';
import { pollUntil } from '../http/backoff';
import { buildPkcs12 } from '../certificates/pkcs12';
import { certificateToPem, parseCertificate } from '../certificates/x509';
import { checkPageSize } from '../util/input';
import { generateCertificateRequest, type CsrKeyType } from './csr';

export interface KsefCertificateDeps {
  /** Authenticated requests. */
  api: RequestFunction;
  clock: Clock;
  sleep: Sleep;
  logger?: Logger;
}

const CERTIFICATE_TYPES: readonly KsefCertificateType[] = ['Authentication', 'Offline'];
const CERTIFICATE_STATUSES: readonly KsefCertificateStatus[] = ['Active', 'Blocked', 'Revoked', 'Expired'];
const REVOCATION_REASONS: readonly CertificateRevocationReason[] = ['Unspecified', 'Superseded', 'KeyCompromise'];
const KEY_TYPES: readonly CsrKeyType[] = ['EC', 'RSA'];
const CERTIFICATE_NAME_PATTERN = /^[a-zA-Z0-9_\- ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]{5,100}$/;
const SERIAL_NUMBER_PATTERN = /^[0-9A-F]{16}$/;
const DEFAULT_WAIT_FOR_CERTIFICATE_MS = 120_000;
const ENROLLMENT_IN_PROGRESS = 100;
const ENROLLMENT_DONE = 200;

/** KSeF's refusals of certificate operations to a caller authenticated with a KSeF token (NOTES.md 4.11, 4.13). */
const NOT_FOR_THIS_AUTH_METHOD_CODES = [25001, 25002];

export async function getEnrollmentData(api: RequestFunction): Promise<CertificateEnrollmentData> {
  try {
    return (await api<CertificateEnrollmentData>({ method: 'GET', path: '/certificates/enrollments/data' })).data;
  } catch (error) {
    throw explainAuthMethod(error);
  }
}

/** KSeF certifies only subjects that signed in with a certificate: say so, and how to fix it. */
function explainAuthMethod(error: unknown): unknown {
  if (!(error instanceof KsefError)) return error;
  const refused = NOT_FOR_THIS_AUTH_METHOD_CODES.some((code) => error.hasCode(code)) || error.reasonCode === 'auth-method-not-allowed';
  if (!refused) return error;
  return new KsefForbiddenError(
    `KSeF certificates can be requested only after authenticating with a certificate (credentials.method 'certificate'), not with a KSeF token. ${error.message}`,
    { status: error.status, exceptions: error.exceptions, traceId: error.traceId, reasonCode: error.reasonCode, field: 'credentials.method', cause: error },
  );
}

export async function getCertificateLimits(api: RequestFunction): Promise<CertificateLimits> {
  return (await api<CertificateLimits>({ method: 'GET', path: '/certificates/limits' })).data;
}

/**
 * The whole enrollment (certyfikaty-KSeF.md §2-6): enrollment data → new key pair and CSR → `POST
 * /certificates/enrollments` → wait for the verdict → retrieve → PKCS#12 with the caller's password.
 * The private key exists only in this process and in the result.
 */
export async function enrollCertificate(deps: KsefCertificateDeps, options: EnrollCertificateOptions): Promise<EnrolledCertificate> {
  const checked = checkEnrollOptions(options);
  const data = await getEnrollmentData(deps.api);
  const { csrDer, privateKey } = generateCertificateRequest(data, checked.keyType);

  const { data: enrollment } = await deps
    .api<{ referenceNumber: string; timestamp: string }>({
      method: 'POST',
      path: '/certificates/enrollments',
      json: {
        certificateName: checked.certificateName,
        certificateType: checked.certificateType,
        csr: csrDer.toString('base64'),
        ...(checked.validFrom && { validFrom: checked.validFrom }),
      },
    })
    .catch((error: unknown) => {
      throw explainAuthMethod(error);
    });
  const { referenceNumber } = enrollment;
  deps.logger?.info('KSeF certificate enrollment submitted', { referenceNumber, certificateType: checked.certificateType });

  const { status, certificateSerialNumber } = await pollUntil(
    async () =>
      (await deps.api<{ status: StatusInfo; certificateSerialNumber?: string }>({ method: 'GET', path: `/certificates/enrollments/${referenceNumber}` }))
        .data,
    (state) => state.status.code !== ENROLLMENT_IN_PROGRESS,
    {
      clock: deps.clock,
      sleep: deps.sleep,
      timeoutMs: checked.waitForCertificateMs,
      onTimeout: () =>
        new KsefTimeoutError(
          `KSeF did not issue the certificate of enrollment ${referenceNumber} within ${checked.waitForCertificateMs} ms. ` +
            'Its private key existed only in this call, so revoke that certificate once it appears and enroll again with a higher waitForCertificateMs.',
          { field: 'options.waitForCertificateMs' },
        ),
    },
  );
  if (status.code !== ENROLLMENT_DONE || !certificateSerialNumber) {
    const details = status.details?.length ? `: ${status.details.join(' ')}` : '';
    throw new KsefError(`KSeF rejected certificate enrollment ${referenceNumber} (${status.code} ${status.description})${details}`, {
      exceptions: [{ code: status.code, description: status.description, ...(status.details && { details: status.details }) }],
    });
  }

  const [retrieved] = await retrieveCertificates(deps.api, [certificateSerialNumber]);
  const der = Buffer.from(retrieved.certificatePem.replace(/-----[A-Z ]+-----|\s+/g, ''), 'base64');
  if (!new X509Certificate(der).checkPrivateKey(privateKey)) {
    throw new KsefError(`KSeF returned certificate ${certificateSerialNumber} for a different key than the one enrolled (${referenceNumber}).`);
  }
  const certificate = parseCertificate(der);
  deps.logger?.info('KSeF certificate issued', { referenceNumber, serialNumber: certificateSerialNumber, validTo: certificate.notAfter.toISOString() });
  return {
    referenceNumber,
    serialNumber: certificateSerialNumber,
    certificateName: retrieved.certificateName,
    certificateType: retrieved.certificateType,
    certificatePem: retrieved.certificatePem,
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    pkcs12: buildPkcs12(privateKey, der, checked.pkcs12Password, { friendlyName: checked.certificateName }),
    validFrom: certificate.notBefore.toISOString(),
    validTo: certificate.notAfter.toISOString(),
    fingerprintSha256: certificate.fingerprintSha256,
  };
}

function checkEnrollOptions(options: EnrollCertificateOptions) {
  if (!options || typeof options !== 'object') {
    throw new KsefInputError('certificates.enroll needs { certificateName, certificateType, pkcs12Password }.', { field: 'options' });
  }
  const { certificateName, certificateType, pkcs12Password } = options;
  if (typeof certificateName !== 'string' || !CERTIFICATE_NAME_PATTERN.test(certificateName)) {
    throw new KsefInputError('options.certificateName must be 5 to 100 letters (Polish too), digits, spaces, "_" or "-".', {
      field: 'options.certificateName',
    });
  }
  if (!CERTIFICATE_TYPES.includes(certificateType)) {
    throw new KsefInputError(`options.certificateType must be ${CERTIFICATE_TYPES.join(' or ')}.`, { field: 'options.certificateType' });
  }
  const keyType = options.keyType ?? 'EC';
  if (!KEY_TYPES.includes(keyType)) {
    throw new KsefInputError("options.keyType must be 'EC' (P-256) or 'RSA' (2048 bits).", { field: 'options.keyType' });
  }
  if (typeof pkcs12Password !== 'string' || pkcs12Password.length === 0) {
    throw new KsefInputError('options.pkcs12Password must be a non-empty string: it protects the PKCS#12 file with the new private key.', {
      field: 'options.pkcs12Password',
    });
  }
  const waitForCertificateMs = options.waitForCertificateMs ?? DEFAULT_WAIT_FOR_CERTIFICATE_MS;
  if (typeof waitForCertificateMs !== 'number' || !Number.isFinite(waitForCertificateMs) || waitForCertificateMs <= 0) {
    throw new KsefInputError('options.waitForCertificateMs must be a positive number of milliseconds.', { field: 'options.waitForCertificateMs' });
  }
  return {
    certificateName,
    certificateType,
    keyType,
    pkcs12Password,
    waitForCertificateMs,
    validFrom: options.validFrom === undefined ? undefined : isoDate(options.validFrom, 'options.validFrom'),
  };
}

/** `POST /certificates/query`: certificate metadata, newest request first, page by page (`pageOffset`). */
export async function* queryCertificates(api: RequestFunction, options: QueryCertificatesOptions = {}): AsyncGenerator<KsefCertificateInfo> {
  const pageSize = checkPageSize(options.pageSize, 50, 10, 50);
  if (options.certificateSerialNumber !== undefined) requireSerialNumber(options.certificateSerialNumber, 'options.certificateSerialNumber');
  if (options.type !== undefined && !CERTIFICATE_TYPES.includes(options.type)) {
    throw new KsefInputError(`options.type must be ${CERTIFICATE_TYPES.join(' or ')}.`, { field: 'options.type' });
  }
  if (options.status !== undefined && !CERTIFICATE_STATUSES.includes(options.status)) {
    throw new KsefInputError(`options.status must be one of ${CERTIFICATE_STATUSES.join(', ')}.`, { field: 'options.status' });
  }
  const filters = {
    certificateSerialNumber: options.certificateSerialNumber,
    name: options.name,
    type: options.type,
    status: options.status,
    expiresAfter: options.expiresAfter === undefined ? undefined : isoDate(options.expiresAfter, 'options.expiresAfter'),
  };
  for (let pageOffset = 0; ; pageOffset++) {
    const { data } = await api<{ certificates?: KsefCertificateInfo[]; hasMore?: boolean }>({
      method: 'POST',
      path: '/certificates/query',
      query: { pageSize, pageOffset },
      json: filters,
      // A query changes nothing.
      idempotent: true,
    });
    yield* data.certificates ?? [];
    if (!data.hasMore) return;
  }
}

/** `POST /certificates/retrieve` for 1 to 10 serial numbers; each certificate as PEM. */
export async function retrieveCertificates(api: RequestFunction, serialNumbers: string[]): Promise<RetrievedCertificate[]> {
  if (!Array.isArray(serialNumbers) || serialNumbers.length < 1 || serialNumbers.length > 10) {
    throw new KsefInputError('serialNumbers must list 1 to 10 certificate serial numbers.', { field: 'serialNumbers' });
  }
  serialNumbers.forEach((serial, i) => requireSerialNumber(serial, `serialNumbers[${i}]`));
  const { data } = await api<{ certificates: { certificate: string; certificateName: string; certificateSerialNumber: string; certificateType: KsefCertificateType }[] }>({
    method: 'POST',
    path: '/certificates/retrieve',
    json: { certificateSerialNumbers: serialNumbers },
    idempotent: true,
  });
  return data.certificates.map(({ certificate, ...rest }) => ({ ...rest, certificatePem: certificateToPem(Buffer.from(certificate, 'base64')) }));
}

/** `POST /certificates/{serial}/revoke`. */
export async function revokeCertificate(api: RequestFunction, serialNumber: string, reason?: CertificateRevocationReason): Promise<void> {
  const serial = requireSerialNumber(serialNumber, 'serialNumber');
  if (reason !== undefined && !REVOCATION_REASONS.includes(reason)) {
    throw new KsefInputError(`reason must be one of ${REVOCATION_REASONS.join(', ')}.`, { field: 'reason' });
  }
  await api({ method: 'POST', path: `/certificates/${serial}/revoke`, json: reason === undefined ? {} : { revocationReason: reason } });
}

function requireSerialNumber(value: unknown, field: string): string {
  if (typeof value !== 'string' || !SERIAL_NUMBER_PATTERN.test(value)) {
    throw new KsefInputError(`${field} must be a KSeF certificate serial number: 16 uppercase hex digits like 0321C82DA41B4362.`, { field });
  }
  return value;
}

function isoDate(value: Date | string, field: string): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new KsefInputError(`${field} must be a Date or an ISO 8601 date-time like 2026-01-31T12:00:00Z.`, { field });
  }
  return date.toISOString();
}
