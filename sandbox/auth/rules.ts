/**
 * Authentication as KSeF decides it (uwierzytelnianie.md, auth/podpis-xades.md, auth/sesje.md, CIRFMF/ksef-docs):
 * challenges, authentication operations, whether a KSeF token or a signature authenticates, and the JWTs issued.
 */
import { randomBytes } from 'node:crypto';
import { SUBJECT_OIDS, type CertificateInfo } from '../../shared/protocol/x509/x509';
import { rsaOaepDecrypt } from '../../shared/protocol/crypto/rsa';
import { newReferenceNumber } from '../../shared/protocol/model/referenceNumber';
import type { AllowedIps, AuthTokenRequest } from '../../shared/protocol/xml/xades/authTokenRequest';
import type { ContextIdentifier } from '../../shared/protocol/types';
import { AUTH_STATUS, BAD_TOKEN_DETAILS, type CertificateProblem } from '../catalogue';
import type { SandboxContext } from '../context';
import { DAY_MS, MINUTE_MS } from '../dates';
import { ksefException } from '../http/errors';
import type { SandboxKey } from '../security/keys';
import type { KsefCertificateRecord } from '../certificates/records';
import { JWT_ISSUER, signJwt, type KsefJwtClaims } from './jwt';
import {
  OWNER_PERMISSIONS,
  sameContext,
  subjectKey,
  type AuthenticationOperation,
  type ChallengeRecord,
  type CertificateSubjectData,
  type SubjectIdentifier,
} from './records';
import type { CertificateIdentity } from './xades';

const CHALLENGE_VALIDITY_MS = 10 * MINUTE_MS;
export const AUTHENTICATION_TOKEN_VALIDITY_MS = 45 * MINUTE_MS;
export const ACCESS_TOKEN_VALIDITY_MS = 15 * MINUTE_MS;
export const REFRESH_TOKEN_VALIDITY_MS = 7 * DAY_MS;

/**
 * How KSeF names a XAdES authentication (`authenticationMethod` in open-api.json). A KSeF certificate is `InternalCertificate`. Other
 * certificates are not checked for qualification here (TEST accepts self-signed ones), so they are named by
 * their subject: an organisation seal (organizationIdentifier VATPL-…) is `QualifiedSeal`, anything else a
 * `QualifiedSignature` — `PersonalSignature` (the e-ID card's signature) cannot be told from a certificate alone.
 */
export function xadesMethod(
  identity: CertificateIdentity,
  ksefCertificate: KsefCertificateRecord | undefined,
): Pick<AuthenticationOperation, 'method' | 'methodInfo'> {
  if (ksefCertificate) {
    return {
      method: 'InternalCertificate',
      methodInfo: { category: 'XadesSignature', code: 'xades.internal-certificate', displayName: 'Certyfikat KSeF' },
    };
  }
  if (identity.kind === 'seal') {
    return {
      method: 'QualifiedSeal',
      methodInfo: { category: 'XadesSignature', code: 'xades.qualified-seal', displayName: 'Pieczęć kwalifikowana' },
    };
  }
  return {
    method: 'QualifiedSignature',
    methodInfo: { category: 'XadesSignature', code: 'xades.qualified-signature', displayName: 'Podpis kwalifikowany' },
  };
}

export function issueJwt(
  ctx: SandboxContext,
  operation: AuthenticationOperation,
  typ: KsefJwtClaims['typ'],
  now: Date,
  validityMs: number,
) {
  const validUntil = new Date(now.getTime() + validityMs);
  const contextClaims: Partial<KsefJwtClaims> =
    typ === 'ContextToken'
      ? {
          cit: operation.contextIdentifier.type,
          civ: operation.contextIdentifier.value,
          aum: operation.method,
          // The real service names an owner's rights `Owner` (the official C# client's E2E tests expect it); others get their permissions.
          per: operation.isOwner ? ['Owner'] : operation.permissions,
          pec: [],
          rol: [],
          pep: operation.permissions,
          ...(operation.subjectDetails && { sud: JSON.stringify(operation.subjectDetails) }),
          // The claim the official C# client (CIRFMF/ksef-client-csharp) reads; a request from an address outside the policy is refused.
          ...(operation.allowedIps && { ipp: JSON.stringify({ OnClientIpChange: 'reject' }) }),
        }
      : {};
  const token = signJwt(
    {
      typ,
      arn: operation.referenceNumber,
      ...contextClaims,
      jti: randomBytes(12).toString('hex'),
      iss: JWT_ISSUER,
      aud: JWT_ISSUER,
      iat: Math.floor(now.getTime() / 1000),
      exp: Math.floor(validUntil.getTime() / 1000),
    },
    ctx.jwtSecret,
  );
  return { token, validUntil };
}

/** Decides, off the request path, whether the KSeF token in `encryptedToken` authenticates the operation. */
export function completeTokenAuthentication(
  ctx: SandboxContext,
  operation: AuthenticationOperation,
  encryptedToken: Buffer,
  challengeTimestampMs: number,
  key: SandboxKey,
): void {
  let plain: string;
  try {
    plain = rsaOaepDecrypt(key.privateKey, encryptedToken).toString('utf8');
  } catch {
    operation.status = AUTH_STATUS.badToken(BAD_TOKEN_DETAILS.encryption);
    return;
  }
  const separator = plain.lastIndexOf('|');
  const secret = separator > 0 ? plain.slice(0, separator) : plain;
  const timestamp = separator > 0 ? plain.slice(separator + 1) : '';
  const token = ctx.state.findKsefTokenBySecret(secret);
  // The details of 450 are those of AuthenticationOperationStatusResponse.status (open-api.json 2.8.1, CIRFMF/ksef-api).
  if (!token) {
    operation.status = AUTH_STATUS.badToken(BAD_TOKEN_DETAILS.unknown);
  } else if (!sameContext(token.contextIdentifier, operation.contextIdentifier)) {
    operation.status = AUTH_STATUS.badToken(BAD_TOKEN_DETAILS.otherContext(operation.contextIdentifier.value));
  } else if (timestamp !== String(challengeTimestampMs)) {
    operation.status = AUTH_STATUS.badToken(BAD_TOKEN_DETAILS.timestamp);
  } else if (token.status === 'Revoked' || token.status === 'Revoking') {
    operation.status = AUTH_STATUS.badToken(BAD_TOKEN_DETAILS.revoked);
  } else if (token.status !== 'Active') {
    operation.status = AUTH_STATUS.badToken(BAD_TOKEN_DETAILS.inactive);
  } else {
    token.lastUseDate = ctx.clock.now();
    operation.tokenReferenceNumber = token.referenceNumber;
    operation.subject = token.authorIdentifier;
    operation.permissions = [...token.requestedPermissions];
    operation.status = AUTH_STATUS.succeeded;
  }
}

/** Decides, off the request path, whether the verified signature authenticates the operation. */
export function completeXadesAuthentication(
  ctx: SandboxContext,
  operation: AuthenticationOperation,
  request: AuthTokenRequest,
  certificate: CertificateInfo,
  identity: CertificateIdentity,
  ksefCertificate: KsefCertificateRecord | undefined,
  verifyCertificateChain: boolean,
): void {
  const now = ctx.clock.now();
  let problem: CertificateProblem | undefined;
  if (now < certificate.notBefore || now > certificate.notAfter) problem = 'Nieważny certyfikat';
  else if (ksefCertificate?.revoked) problem = 'Certyfikat odwołany';
  // An Offline certificate only signs offline invoices (QR code II); it cannot authenticate (certyfikaty-KSeF.md).
  else if (ksefCertificate?.type === 'Offline') problem = 'Niepoprawny certyfikat';
  // Only the sandbox's own CA is trusted: with verifyCertificateChain, self-signed certificates fail as on TEST.
  else if (!ksefCertificate && verifyCertificateChain) problem = 'Niezaufany łańcuch certyfikatów';
  if (problem) {
    operation.status = AUTH_STATUS.badCertificate(problem);
    return;
  }

  const subject = ksefCertificate?.subjectIdentifier ?? signerOf(request, identity);
  const isOwner = ownsContext(subject, operation.contextIdentifier);
  const permissions = isOwner ? [...OWNER_PERMISSIONS] : ctx.state.grantedPermissions(operation.contextIdentifier, subject);
  if (permissions.length === 0) {
    operation.status = AUTH_STATUS.noPermissions;
    return;
  }
  if (ksefCertificate) ksefCertificate.lastUseDate = now;
  ctx.state.xadesAuthenticatedSubjects.add(subjectKey(subject));
  const succeeded: Partial<AuthenticationOperation> = {
    subject,
    isOwner,
    permissions,
    certificateSubject: enrollmentDataOf(certificate, identity),
    subjectDetails: {
      SubjectIdentifier: { Type: subject.type, Value: subject.value },
      ...(identity.givenName && { GivenNames: [identity.givenName] }),
      ...(identity.surname && { Surname: identity.surname }),
      ...(identity.serialNumber && { SerialNumber: identity.serialNumber }),
      ...(identity.commonName && { CommonName: identity.commonName }),
      ...(identity.countryName && { CountryName: identity.countryName }),
    },
    status: AUTH_STATUS.succeeded,
  };
  Object.assign(operation, succeeded);
}

export function newOperation(
  ctx: SandboxContext,
  origin: { now: Date; clientIp: string },
  contextIdentifier: ContextIdentifier,
  method: Pick<AuthenticationOperation, 'method' | 'methodInfo'>,
  allowedIps: AllowedIps | undefined,
): AuthenticationOperation {
  const operation: AuthenticationOperation = {
    referenceNumber: newReferenceNumber('AU', origin.now),
    startDate: origin.now,
    ...method,
    contextIdentifier,
    clientIp: origin.clientIp,
    ...(allowedIps && { allowedIps }),
    status: AUTH_STATUS.inProgress,
    permissions: [],
    isTokenRedeemed: false,
  };
  ctx.state.authOperations.set(operation.referenceNumber, operation);
  return operation;
}

/** A new challenge for the client at `origin`, valid for 10 minutes (uwierzytelnianie.md). */
export function newChallenge(ctx: SandboxContext, origin: { now: Date; clientIp: string }): ChallengeRecord {
  const challenge: ChallengeRecord = {
    challenge: newReferenceNumber('CR', origin.now),
    timestamp: origin.now,
    clientIp: origin.clientIp,
    used: false,
  };
  ctx.state.challenges.set(challenge.challenge, challenge);
  return challenge;
}

/** The challenge the request answers (the caller marks it used); 21111 when it is unknown, used or older than 10 minutes. */
export function takeChallenge(ctx: SandboxContext, challengeText: string, now: Date) {
  const challenge = ctx.state.challenges.get(challengeText);
  if (!challenge || challenge.used || now.getTime() - challenge.timestamp.getTime() > CHALLENGE_VALIDITY_MS) throw ksefException(21111);
  return challenge;
}

export function ksefTokenRevoked(ctx: SandboxContext, operation: AuthenticationOperation): boolean {
  const token = operation.tokenReferenceNumber ? ctx.state.ksefTokens.get(operation.tokenReferenceNumber) : undefined;
  return !!token && token.status !== 'Active';
}

/** The signer's identity: the fingerprint when asked for, else the NIP or PESEL of the subject (auth/podpis-xades.md). */
function signerOf(request: AuthTokenRequest, identity: CertificateIdentity): SubjectIdentifier {
  if (request.subjectIdentifierType === 'certificateFingerprint' || identity.kind === 'unrecognised') {
    return { type: 'Fingerprint', value: identity.fingerprintSha256 };
  }
  return identity.nip ? { type: 'Nip', value: identity.nip } : { type: 'Pesel', value: identity.pesel! };
}

/** Owner: the subject's NIP is the context's own (for an InternalId, the NIP it belongs to) — uprawnienia.md. */
function ownsContext(subject: SubjectIdentifier, context: ContextIdentifier): boolean {
  if (subject.type !== 'Nip') return false;
  if (context.type === 'Nip') return context.value === subject.value;
  return context.type === 'InternalId' && context.value.split('-')[0] === subject.value;
}

/** What a KSeF certificate may be requested for: the subject of the certificate that authenticated. */
function enrollmentDataOf(certificate: CertificateInfo, identity: CertificateIdentity): CertificateSubjectData | undefined {
  if (!identity.commonName || !identity.countryName) return undefined;
  const uniqueIdentifier = certificate.subject.find((a) => a.oid === SUBJECT_OIDS.uniqueIdentifier)?.value;
  return {
    commonName: identity.commonName,
    countryName: identity.countryName,
    ...(identity.givenName && { givenName: identity.givenName }),
    ...(identity.surname && { surname: identity.surname }),
    ...(identity.serialNumber && { serialNumber: identity.serialNumber }),
    ...(uniqueIdentifier && { uniqueIdentifier }),
    ...(identity.organizationName && { organizationName: identity.organizationName }),
    ...(identity.organizationIdentifier && { organizationIdentifier: identity.organizationIdentifier }),
  };
}
