import { X509Certificate, type KeyObject } from 'node:crypto';
/** The KSeF certificates chapter ("Certyfikaty" of open-api.json, CIRFMF/ksef-api; certyfikaty-KSeF.md, CIRFMF/ksef-docs). */
import type { CertificateEnrollmentData, Clock, KsefCertificateType, Logger, Sleep } from '../protocol/types';
import type {
  CertificateEnrollmentResult,
  CertificateEnrollmentStatus,
  CertificateLimits,
  CertificateRevocationReason,
  CompleteEnrollmentOptions,
  CreateCertificateRequestOptions,
  EnrollCertificateOptions,
  EnrolledCertificate,
  GeneratedCertificateRequest,
  KsefCertificateInfo,
  KsefCertificateStatus,
  QueryCertificatesOptions,
  RetrievedCertificate,
} from './types';
import { KsefError, KsefForbiddenError, KsefInputError, KsefTimeoutError } from '../http/errors';
import type { RequestFunction } from '../http/transport';
import { pollUntil } from '../http/backoff';
import { buildPkcs12 } from '../protocol/x509/pkcs12';
import { readPrivateKeyPem } from '../protocol/x509/keyMaterial';
import { certificateToPem, derToPem, parseCertificate, pemCertificates } from '../protocol/x509/x509';
import { referenceNumberCheck, requireReferenceNumber } from '../util/input';
import { callEndpoint, endpoint, noResult, pagedEndpoint } from '../http/endpoints';
import { offsetPaging } from '../http/paging';
import { generateCertificateRequest, type CsrKeyType } from '../protocol/x509/csr';

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
const ENROLLMENT_REFERENCE_EXAMPLE = '20251010-EH-1B6C9EB000-4B15D3AEB9-89';

/** KSeF's refusals of certificate operations to a caller authenticated with a KSeF token (open-api.json, CIRFMF/ksef-api). */
const NOT_FOR_THIS_AUTH_METHOD_CODES = [25001, 25002];

/** KSeF certifies only subjects that signed in with a certificate: say so, and how to fix it. */
function explainAuthMethod(error: unknown): unknown {
  if (!(error instanceof KsefError)) return error;
  const refused = NOT_FOR_THIS_AUTH_METHOD_CODES.some((code) => error.hasCode(code)) || error.reasonCode === 'auth-method-not-allowed';
  if (!refused) return error;
  return new KsefForbiddenError(
    `KSeF certificates can be requested only after authenticating with a certificate (authentication method 'certificate'), not with a KSeF token. ${error.message}`,
    {
      status: error.status,
      exceptions: error.exceptions,
      traceId: error.traceId,
      reasonCode: error.reasonCode,
      field: 'credentials.method',
      cause: error,
    },
  );
}

/**
 * The whole enrollment (certyfikaty-KSeF.md §2-6): enrollment data → new key pair and CSR → `POST
 * /certificates/enrollments` → wait for the verdict → retrieve → PKCS#12 with the caller's password.
 * The private key exists only in this process and in the result. Once KSeF has accepted the request it issues
 * the certificate (and counts it against the limits) whatever happens here, so when waiting or retrieving fails
 * the result is `Pending`: the reference number and the key encrypted with the caller's password, which
 * `completeEnrollment` turns into the certificate later.
 */
export async function enrollCertificate(
  deps: KsefCertificateDeps,
  options: EnrollCertificateOptions,
): Promise<CertificateEnrollmentResult> {
  const checked = checkEnrollOptions(options);
  const data = await callEndpoint(deps.api, certificateEndpoints.enrollmentData);
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

  let verdict: EnrollmentVerdict;
  try {
    verdict = await awaitVerdict(deps, referenceNumber, checked.waitForCertificateMs);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    deps.logger?.warn('KSeF certificate not fetched; returning the enrollment as Pending with its encrypted private key', {
      referenceNumber,
      reason,
    });
    return {
      status: 'Pending',
      referenceNumber,
      certificateName: checked.certificateName,
      certificateType: checked.certificateType,
      encryptedPrivateKeyPem: encryptPrivateKey(privateKey, checked.pkcs12Password),
      reason,
    };
  }
  return issuedCertificate(
    deps,
    verdict,
    privateKey,
    checked.pkcs12Password,
    () =>
      new KsefError(
        `KSeF returned certificate ${verdict.status.certificateSerialNumber} of enrollment ${referenceNumber} for a different key than the one enrolled.`,
      ),
  );
}

/**
 * Finishes an enrollment whose certificate `enrollCertificate` could not fetch: waits for the verdict, retrieves
 * the certificate, checks it is the given key's and builds the PKCS#12, as enroll would have.
 */
export async function completeEnrollment(deps: KsefCertificateDeps, options: CompleteEnrollmentOptions): Promise<EnrolledCertificate> {
  if (!options || typeof options !== 'object') {
    throw new KsefInputError('certificates.completeEnrollment needs { referenceNumber, encryptedPrivateKeyPem, pkcs12Password }.', {
      field: 'options',
    });
  }
  const referenceNumber = requireReferenceNumber(options.referenceNumber, 'options.referenceNumber', ENROLLMENT_REFERENCE_EXAMPLE);
  const pkcs12Password = requirePassword(
    options.pkcs12Password,
    'options.pkcs12Password',
    'the one given to enroll; it decrypts options.encryptedPrivateKeyPem and protects the PKCS#12',
  );
  const waitForCertificateMs = checkWaitForCertificateMs(options.waitForCertificateMs);
  const privateKey = readPrivateKeyPem(options.encryptedPrivateKeyPem, pkcs12Password, {
    key: 'options.encryptedPrivateKeyPem',
    passphrase: 'options.pkcs12Password',
  });
  const verdict = await awaitVerdict(deps, referenceNumber, waitForCertificateMs);
  return issuedCertificate(
    deps,
    verdict,
    privateKey,
    pkcs12Password,
    () =>
      new KsefInputError(
        `options.encryptedPrivateKeyPem is not the key of enrollment ${referenceNumber} (certificate ${verdict.status.certificateSerialNumber}): ` +
          'give the encryptedPrivateKeyPem that enroll returned with this reference number.',
        { field: 'options.encryptedPrivateKeyPem' },
      ),
  );
}

/**
 * A new key pair and PKCS#10 request for the enrollment data (`readEnrollmentData()` when the caller gives none),
 * the key encrypted with the caller's password. Options are checked before anything is read.
 */
export async function createCertificateRequest(
  options: CreateCertificateRequestOptions,
  readEnrollmentData: () => Promise<CertificateEnrollmentData>,
): Promise<GeneratedCertificateRequest> {
  if (!options || typeof options !== 'object') {
    throw new KsefInputError('certificates.createRequest needs { privateKeyPassword } and optionally { enrollmentData, keyType }.', {
      field: 'options',
    });
  }
  const keyType = checkKeyType(options.keyType);
  const password = requirePassword(options.privateKeyPassword, 'options.privateKeyPassword', 'it encrypts the new private key');
  const given = options.enrollmentData;
  if (
    given !== undefined &&
    (typeof given !== 'object' || given === null || typeof given.commonName !== 'string' || typeof given.countryName !== 'string')
  ) {
    throw new KsefInputError(
      'options.enrollmentData must be what certificates.enrollmentData() returns (with at least commonName and countryName); leave it out to read it from KSeF.',
      { field: 'options.enrollmentData' },
    );
  }
  const { csrDer, privateKey } = generateCertificateRequest(given ?? (await readEnrollmentData()), keyType);
  return {
    keyType,
    csrPem: derToPem(csrDer, 'CERTIFICATE REQUEST'),
    csrBase64: csrDer.toString('base64'),
    encryptedPrivateKeyPem: encryptPrivateKey(privateKey, password),
  };
}

/** KSeF's final status of an enrollment and, when it issued one, the certificate. */
interface EnrollmentVerdict {
  status: CertificateEnrollmentStatus;
  certificate?: RetrievedCertificate;
}

/**
 * Waits until KSeF has decided on the enrollment and retrieves the certificate it issued. A rejection is a
 * verdict, not an error; errors mean the verdict or the certificate could not be read (yet).
 */
async function awaitVerdict(deps: KsefCertificateDeps, referenceNumber: string, waitForCertificateMs: number): Promise<EnrollmentVerdict> {
  const status = await pollUntil(
    () => callEndpoint(deps.api, certificateEndpoints.enrollmentStatus, referenceNumber),
    (state) => state.status.code !== ENROLLMENT_IN_PROGRESS,
    {
      clock: deps.clock,
      sleep: deps.sleep,
      timeoutMs: waitForCertificateMs,
      onTimeout: () =>
        new KsefTimeoutError(
          `KSeF did not issue the certificate of enrollment ${referenceNumber} within ${waitForCertificateMs} ms. ` +
            'Complete the enrollment later with its reference number and private key, or wait longer (waitForCertificateMs).',
          { field: 'options.waitForCertificateMs' },
        ),
    },
  );
  if (status.status.code !== ENROLLMENT_DONE) return { status };
  const serialNumber = status.certificateSerialNumber;
  if (!serialNumber) throw new KsefError(`KSeF reported enrollment ${referenceNumber} done without the serial number of its certificate.`);
  const [certificate] = await callEndpoint(deps.api, certificateEndpoints.retrieve, [serialNumber]);
  if (!certificate) throw new KsefError(`KSeF did not return certificate ${serialNumber} of enrollment ${referenceNumber}.`);
  return { status, certificate };
}

/** The enrolled certificate of a verdict, or why there is none; `mismatch` is the error for a certificate of another key. */
function issuedCertificate(
  deps: KsefCertificateDeps,
  verdict: EnrollmentVerdict,
  privateKey: KeyObject,
  pkcs12Password: string,
  mismatch: () => Error,
): EnrolledCertificate {
  const { referenceNumber, status } = verdict.status;
  const retrieved = verdict.certificate;
  if (!retrieved) {
    const details = status.details?.length ? `: ${status.details.join(' ')}` : '';
    throw new KsefError(`KSeF rejected certificate enrollment ${referenceNumber} (${status.code} ${status.description})${details}`, {
      exceptions: [{ code: status.code, description: status.description, ...(status.details && { details: status.details }) }],
    });
  }
  const [der] = pemCertificates(retrieved.certificatePem);
  if (!new X509Certificate(der).checkPrivateKey(privateKey)) throw mismatch();
  const certificate = parseCertificate(der);
  const serialNumber = retrieved.certificateSerialNumber;
  deps.logger?.info('KSeF certificate issued', { referenceNumber, serialNumber, validTo: certificate.notAfter.toISOString() });
  return {
    status: 'Issued',
    referenceNumber,
    serialNumber,
    certificateName: retrieved.certificateName,
    certificateType: retrieved.certificateType,
    certificatePem: retrieved.certificatePem,
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    pkcs12: buildPkcs12(privateKey, der, pkcs12Password, { friendlyName: retrieved.certificateName }),
    validFrom: certificate.notBefore.toISOString(),
    validTo: certificate.notAfter.toISOString(),
    fingerprintSha256: certificate.fingerprintSha256,
  };
}

/** Encrypted PKCS#8 PEM (PBES2, AES-256-CBC), which OpenSSL and node:crypto read with the password. */
function encryptPrivateKey(privateKey: KeyObject, password: string): string {
  return privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: password }).toString();
}

function checkEnrollOptions(options: EnrollCertificateOptions) {
  if (!options || typeof options !== 'object') {
    throw new KsefInputError('certificates.enroll needs { certificateName, certificateType, pkcs12Password }.', { field: 'options' });
  }
  const { certificateName, certificateType } = options;
  if (typeof certificateName !== 'string' || !CERTIFICATE_NAME_PATTERN.test(certificateName)) {
    throw new KsefInputError('options.certificateName must be 5 to 100 letters (Polish too), digits, spaces, "_" or "-".', {
      field: 'options.certificateName',
    });
  }
  if (!CERTIFICATE_TYPES.includes(certificateType)) {
    throw new KsefInputError(`options.certificateType must be ${CERTIFICATE_TYPES.join(' or ')}.`, { field: 'options.certificateType' });
  }
  return {
    certificateName,
    certificateType,
    keyType: checkKeyType(options.keyType),
    pkcs12Password: requirePassword(
      options.pkcs12Password,
      'options.pkcs12Password',
      'it protects the PKCS#12 file with the new private key',
    ),
    waitForCertificateMs: checkWaitForCertificateMs(options.waitForCertificateMs),
    validFrom: options.validFrom === undefined ? undefined : isoDate(options.validFrom, 'options.validFrom'),
  };
}

function checkKeyType(keyType: CsrKeyType | undefined = 'EC'): CsrKeyType {
  if (!KEY_TYPES.includes(keyType)) {
    throw new KsefInputError("options.keyType must be 'EC' (P-256) or 'RSA' (2048 bits).", { field: 'options.keyType' });
  }
  return keyType;
}

function requirePassword(password: unknown, field: string, purpose: string): string {
  if (typeof password !== 'string' || password.length === 0) {
    throw new KsefInputError(`${field} must be a non-empty string: ${purpose}.`, { field });
  }
  return password;
}

function checkWaitForCertificateMs(value: number | undefined = DEFAULT_WAIT_FOR_CERTIFICATE_MS): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new KsefInputError('options.waitForCertificateMs must be a positive number of milliseconds.', {
      field: 'options.waitForCertificateMs',
    });
  }
  return value;
}

/** `POST /certificates/query` filters, checked; `pageSize` is the table's. */
function certificateFilters(options: QueryCertificatesOptions = {}) {
  if (options.certificateSerialNumber !== undefined)
    requireSerialNumber(options.certificateSerialNumber, 'options.certificateSerialNumber');
  if (options.type !== undefined && !CERTIFICATE_TYPES.includes(options.type)) {
    throw new KsefInputError(`options.type must be ${CERTIFICATE_TYPES.join(' or ')}.`, { field: 'options.type' });
  }
  if (options.status !== undefined && !CERTIFICATE_STATUSES.includes(options.status)) {
    throw new KsefInputError(`options.status must be one of ${CERTIFICATE_STATUSES.join(', ')}.`, { field: 'options.status' });
  }
  return {
    certificateSerialNumber: options.certificateSerialNumber,
    name: options.name,
    type: options.type,
    status: options.status,
    expiresAfter: options.expiresAfter === undefined ? undefined : isoDate(options.expiresAfter, 'options.expiresAfter'),
  };
}

function serialNumberList(serialNumbers: string[], field: string): string[] {
  if (!Array.isArray(serialNumbers) || serialNumbers.length < 1 || serialNumbers.length > 10) {
    throw new KsefInputError(`${field} must list 1 to 10 certificate serial numbers.`, { field });
  }
  serialNumbers.forEach((serial, i) => requireSerialNumber(serial, `${field}[${i}]`));
  return serialNumbers;
}

function revocationReason(reason: CertificateRevocationReason | undefined, field: string): CertificateRevocationReason | undefined {
  if (reason !== undefined && !REVOCATION_REASONS.includes(reason)) {
    throw new KsefInputError(`${field} must be one of ${REVOCATION_REASONS.join(', ')}.`, { field });
  }
  return reason;
}

interface RetrievedCertificates {
  certificates: { certificate: string; certificateName: string; certificateSerialNumber: string; certificateType: KsefCertificateType }[];
}

/** The simple endpoints of the chapter (see `shared/http/endpoints.ts`). */
export const certificateEndpoints = {
  /** The subject a KSeF certificate of the caller carries; only after certificate authentication. */
  enrollmentData: endpoint<[], CertificateEnrollmentData>({
    route: 'GET /certificates/enrollments/data',
    args: [],
    explainError: explainAuthMethod,
  }),
  limits: endpoint<[], CertificateLimits>({ route: 'GET /certificates/limits', args: [] }),
  /** KSeF's verdict so far on an enrollment. */
  enrollmentStatus: endpoint<[referenceNumber: string], CertificateEnrollmentStatus>({
    route: 'GET /certificates/enrollments/{referenceNumber}',
    args: [{ in: 'path', name: 'referenceNumber', check: referenceNumberCheck(ENROLLMENT_REFERENCE_EXAMPLE) }],
    result: (data: Omit<CertificateEnrollmentStatus, 'referenceNumber'>, [referenceNumber]) => ({ referenceNumber, ...data }),
  }),
  /** Certificate metadata, newest request first, page by page (`pageOffset`). */
  query: pagedEndpoint<[options?: QueryCertificatesOptions], KsefCertificateInfo>({
    route: 'POST /certificates/query',
    args: [{ in: 'body', check: certificateFilters }],
    // A query changes nothing.
    idempotent: true,
    paging: offsetPaging('certificates'),
    pageSize: { fallback: 50, min: 10, max: 50 },
  }),
  /** 1 to 10 certificates by serial number, each as PEM. */
  retrieve: endpoint<[serialNumbers: string[]], RetrievedCertificate[]>({
    route: 'POST /certificates/retrieve',
    args: [{ in: 'body', name: 'certificateSerialNumbers', field: 'serialNumbers', check: serialNumberList }],
    idempotent: true,
    result: (data: RetrievedCertificates) =>
      data.certificates.map(({ certificate, ...rest }) => ({
        ...rest,
        certificatePem: certificateToPem(Buffer.from(certificate, 'base64')),
      })),
  }),
  revoke: endpoint<[serialNumber: string, reason?: CertificateRevocationReason], void>({
    route: 'POST /certificates/{serialNumber}/revoke',
    args: [
      { in: 'path', name: 'serialNumber', check: requireSerialNumber },
      { in: 'body', name: 'revocationReason', field: 'reason', check: revocationReason },
    ],
    result: noResult,
  }),
};

function requireSerialNumber(value: unknown, field: string): string {
  if (typeof value !== 'string' || !SERIAL_NUMBER_PATTERN.test(value)) {
    throw new KsefInputError(`${field} must be a KSeF certificate serial number: 16 uppercase hex digits like 0321C82DA41B4362.`, {
      field,
    });
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
