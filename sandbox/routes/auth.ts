/** Authentication with a KSeF token or a XAdES signature (uwierzytelnianie.md, auth/podpis-xades.md, CIRFMF/ksef-docs; open-api.json). */
import { randomBytes } from 'node:crypto';
import { SUBJECT_OIDS, type CertificateInfo } from '../../shared/protocol/x509/x509';
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { rsaOaepDecrypt } from '../../shared/protocol/crypto/rsa';
import { newReferenceNumber } from '../../shared/protocol/model/referenceNumber';
import type { AllowedIps, AuthTokenRequest } from '../../shared/protocol/xml/xades/authTokenRequest';
import { CONTEXT_TYPES } from '../../shared/protocol/model/identifiers';
import type { ContextIdentifier, ContextIdentifierType, TokenInfo } from '../../shared/protocol/types';
import { allowedIpsOfJson, restrictingAllowedIps } from '../authorizationPolicy';
import { keyFor, principalOf, type RouteDefinition, type SandboxContext, type SandboxRequest } from '../context';
import { DAY_MS, MINUTE_MS, formatDateTime } from '../dates';
import { SandboxHttpError, inputValidationError, ksefException } from '../errors';
import { JWT_ISSUER, signJwt, type KsefJwtClaims } from '../jwt';
import type { SandboxKey } from '../keys';
import {
  OWNER_PERMISSIONS,
  sameContext,
  subjectKey,
  type AuthenticationOperation,
  type CertificateSubjectData,
  type KsefCertificateRecord,
  type StatusInfo,
  type SubjectIdentifier,
} from '../state';
import { verifyXadesAuthTokenRequest, type CertificateIdentity } from '../xades/verify';
import { requireBase64, requireObject, requireString } from './input';

export const CHALLENGE_VALIDITY_MS = 10 * MINUTE_MS;
export const AUTHENTICATION_TOKEN_VALIDITY_MS = 45 * MINUTE_MS;
export const ACCESS_TOKEN_VALIDITY_MS = 15 * MINUTE_MS;
export const REFRESH_TOKEN_VALIDITY_MS = 7 * DAY_MS;

export const AUTH_STATUS = {
  inProgress: { code: 100, description: 'Uwierzytelnianie w toku' },
  succeeded: { code: 200, description: 'Uwierzytelnianie zakończone sukcesem' },
  badToken: (detail: string): StatusInfo => ({
    code: 450,
    description: 'Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu',
    details: [detail],
  }),
  noPermissions: { code: 415, description: 'Uwierzytelnianie zakończone niepowodzeniem', details: ['Brak przypisanych uprawnień'] } as StatusInfo,
  badCertificate: (detail: CertificateProblem): StatusInfo => ({
    code: 460,
    description: 'Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu',
    details: [detail],
  }),
  revoked: {
    code: 425,
    description: 'Uwierzytelnienie unieważnione',
    details: ['Uwierzytelnienie i powiązane refresh tokeny zostały unieważnione przez użytkownika'],
  } as StatusInfo,
} as const;

type CertificateProblem = 'Nieważny certyfikat' | 'Niezaufany łańcuch certyfikatów' | 'Certyfikat odwołany' | 'Niepoprawny certyfikat';

/**
 * How KSeF names a XAdES authentication (`authenticationMethod` in open-api.json). A KSeF certificate is `InternalCertificate`. Other
 * certificates are not checked for qualification here (TEST accepts self-signed ones), so they are named by
 * their subject: an organisation seal (organizationIdentifier VATPL-…) is `QualifiedSeal`, anything else a
 * `QualifiedSignature` — `PersonalSignature` (the e-ID card's signature) cannot be told from a certificate alone.
 */
function xadesMethod(identity: CertificateIdentity, ksefCertificate: KsefCertificateRecord | undefined): Pick<AuthenticationOperation, 'method' | 'methodInfo'> {
  if (ksefCertificate) {
    return { method: 'InternalCertificate', methodInfo: { category: 'XadesSignature', code: 'xades.internal-certificate', displayName: 'Certyfikat KSeF' } };
  }
  if (identity.kind === 'seal') {
    return { method: 'QualifiedSeal', methodInfo: { category: 'XadesSignature', code: 'xades.qualified-seal', displayName: 'Pieczęć kwalifikowana' } };
  }
  return { method: 'QualifiedSignature', methodInfo: { category: 'XadesSignature', code: 'xades.qualified-signature', displayName: 'Podpis kwalifikowany' } };
}

export function authRoutes(ctx: SandboxContext): RouteDefinition[] {
  const { state } = ctx;

  function issueJwt(operation: AuthenticationOperation, typ: KsefJwtClaims['typ'], now: Date, validityMs: number) {
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
  function completeTokenAuthentication(operation: AuthenticationOperation, encryptedToken: Buffer, challengeTimestampMs: number, key: SandboxKey): void {
    let plain: string;
    try {
      plain = rsaOaepDecrypt(key.privateKey, encryptedToken).toString('utf8');
    } catch {
      operation.status = AUTH_STATUS.badToken('Nieprawidłowe szyfrowanie tokena');
      return;
    }
    const separator = plain.lastIndexOf('|');
    const secret = separator > 0 ? plain.slice(0, separator) : plain;
    const timestamp = separator > 0 ? plain.slice(separator + 1) : '';
    const token = state.findKsefTokenBySecret(secret);
    // The details of 450 are those of AuthenticationOperationStatusResponse.status (open-api.json 2.8.1, CIRFMF/ksef-api).
    if (!token) {
      operation.status = AUTH_STATUS.badToken('Nieprawidłowy token');
    } else if (!sameContext(token.contextIdentifier, operation.contextIdentifier)) {
      operation.status = AUTH_STATUS.badToken(`Token nie może być użyty w kontekście ${operation.contextIdentifier.value}`);
    } else if (timestamp !== String(challengeTimestampMs)) {
      operation.status = AUTH_STATUS.badToken('Nieprawidłowy czas tokena');
    } else if (token.status === 'Revoked' || token.status === 'Revoking') {
      operation.status = AUTH_STATUS.badToken('Token unieważniony');
    } else if (token.status !== 'Active') {
      operation.status = AUTH_STATUS.badToken('Token nieaktywny');
    } else {
      token.lastUseDate = ctx.clock.now();
      operation.tokenReferenceNumber = token.referenceNumber;
      operation.subject = token.authorIdentifier;
      operation.permissions = [...token.requestedPermissions];
      operation.status = AUTH_STATUS.succeeded;
    }
  }

  /** Decides, off the request path, whether the verified signature authenticates the operation. */
  function completeXadesAuthentication(
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
    const permissions = isOwner ? [...OWNER_PERMISSIONS] : state.grantedPermissions(operation.contextIdentifier, subject);
    if (permissions.length === 0) {
      operation.status = AUTH_STATUS.noPermissions;
      return;
    }
    if (ksefCertificate) ksefCertificate.lastUseDate = now;
    state.xadesAuthenticatedSubjects.add(subjectKey(subject));
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

  function newOperation(
    req: SandboxRequest,
    contextIdentifier: ContextIdentifier,
    method: Pick<AuthenticationOperation, 'method' | 'methodInfo'>,
    allowedIps: AllowedIps | undefined,
  ): AuthenticationOperation {
    const operation: AuthenticationOperation = {
      referenceNumber: newReferenceNumber('AU', req.now),
      startDate: req.now,
      ...method,
      contextIdentifier,
      clientIp: req.clientIp,
      ...(allowedIps && { allowedIps }),
      status: AUTH_STATUS.inProgress,
      permissions: [],
      isTokenRedeemed: false,
    };
    state.authOperations.set(operation.referenceNumber, operation);
    return operation;
  }

  function initResponse(operation: AuthenticationOperation, now: Date) {
    const authenticationToken = issueJwt(operation, 'AuthenticationToken', now, AUTHENTICATION_TOKEN_VALIDITY_MS);
    return {
      status: 202,
      body: {
        referenceNumber: operation.referenceNumber,
        authenticationToken: tokenInfo(authenticationToken),
      },
    };
  }

  /** The challenge, marked used; 21111 when it is unknown, used or older than 10 minutes. */
  function takeChallenge(challengeText: string, now: Date) {
    const challenge = state.challenges.get(challengeText);
    if (!challenge || challenge.used || now.getTime() - challenge.timestamp.getTime() > CHALLENGE_VALIDITY_MS) throw ksefException(21111);
    return challenge;
  }

  function ksefTokenRevoked(operation: AuthenticationOperation): boolean {
    const token = operation.tokenReferenceNumber ? state.ksefTokens.get(operation.tokenReferenceNumber) : undefined;
    return !!token && token.status !== 'Active';
  }

  return [
    {
      method: 'POST',
      path: '/auth/challenge',
      auth: 'none',
      rateLimit: 'anonymous',
      handler: (req) => {
        const challenge = newReferenceNumber('CR', req.now);
        state.challenges.set(challenge, { challenge, timestamp: req.now, clientIp: req.clientIp, used: false });
        return {
          status: 200,
          body: { challenge, timestamp: formatDateTime(req.now), timestampMs: req.now.getTime(), clientIp: req.clientIp },
        };
      },
    },
    {
      method: 'POST',
      path: '/auth/ksef-token',
      auth: 'none',
      rateLimit: 'anonymous',
      handler: (req) => {
        const body = requireObject(req.json, '(body)');
        const challengeText = requireString(body, 'challenge');
        const context = requireObject(body.contextIdentifier, 'contextIdentifier');
        const contextType = requireString(context, 'type', 'contextIdentifier.type');
        const contextValue = requireString(context, 'value', 'contextIdentifier.value');
        if (!CONTEXT_TYPES.includes(contextType as ContextIdentifierType)) {
          throw inputValidationError([`'contextIdentifier.type' must be one of: ${CONTEXT_TYPES.join(', ')}.`]);
        }
        const encryptedToken = requireBase64(body, 'encryptedToken');
        const publicKeyId = body.publicKeyId == null ? undefined : requireString(body, 'publicKeyId');
        const allowedIps = allowedIpsOfJson(body.authorizationPolicy);

        const challenge = takeChallenge(challengeText, req.now);
        const key = keyFor(ctx, 'KsefTokenEncryption', publicKeyId);
        if (!key) throw ksefException(21470, `Klucz o identyfikatorze ${publicKeyId} nie jest wspierany.`);
        challenge.used = true;

        const operation = newOperation(req, { type: contextType as ContextIdentifierType, value: contextValue }, {
          method: 'Token',
          methodInfo: { category: 'Token', code: 'token.ksef', displayName: 'Token KSeF' },
        }, allowedIps);
        const challengeTimestampMs = challenge.timestamp.getTime();
        ctx.scheduler.after(ctx.processingDelayMs, () =>
          completeTokenAuthentication(operation, encryptedToken, challengeTimestampMs, key),
        );
        return initResponse(operation, req.now);
      },
    },
    {
      method: 'POST',
      path: '/auth/xades-signature',
      auth: 'none',
      rateLimit: 'anonymous',
      handler: async (req) => {
        // Undocumented but observed: anything but application/xml is refused before reading, with 415 (CIRFMF/ksef-api issue #109).
        if (!/^application\/xml\s*(;|$)/i.test(req.headers['content-type'] ?? '')) return { status: 415 };
        const verified = await verifyXadesAuthTokenRequest(req.body, { clock: ctx.clock, specDir: ctx.specDir, checkValidity: false });
        if (!verified.ok) {
          throw new SandboxHttpError({ status: 400, errors: [{ code: verified.code, description: verified.description, details: verified.details }] });
        }
        const { request, certificate, identity } = verified;
        const challenge = takeChallenge(request.challenge, req.now);
        challenge.used = true;

        const serialNumber = ctx.certificateAuthority.issuedSerialNumber(certificate.der);
        const ksefCertificate = serialNumber === undefined ? undefined : state.ksefCertificates.get(serialNumber);
        const operation = newOperation(
          req,
          request.contextIdentifier,
          xadesMethod(identity, ksefCertificate),
          restrictingAllowedIps(request.authorizationPolicy?.allowedIps),
        );
        operation.authenticationDocumentHash = sha256Base64(req.body);
        const verifyCertificateChain = req.query.get('verifyCertificateChain') === 'true';
        ctx.scheduler.after(ctx.processingDelayMs, () =>
          completeXadesAuthentication(operation, request, certificate, identity, ksefCertificate, verifyCertificateChain),
        );
        return initResponse(operation, req.now);
      },
    },
    {
      method: 'GET',
      path: '/auth/{referenceNumber}',
      auth: 'authenticationToken',
      rateLimit: 'anonymous',
      handler: (req) => {
        const referenceNumber = req.params.referenceNumber;
        const { operation } = principalOf(req);
        if (operation.referenceNumber !== referenceNumber) {
          throw ksefException(21304, `Operacja uwierzytelniania o numerze referencyjnym ${referenceNumber} nie została znaleziona.`);
        }
        return { status: 200, body: operationStatusBody(operation) };
      },
    },
    {
      method: 'POST',
      path: '/auth/token/redeem',
      auth: 'authenticationToken',
      rateLimit: 'anonymous',
      handler: (req) => {
        const { operation } = principalOf(req);
        if (operation.status.code !== 200) {
          throw ksefException(21301, `Status uwierzytelniania (${operation.status.code}) nie pozwala na pobranie tokenów.`);
        }
        if (operation.isTokenRedeemed) {
          throw ksefException(21301, `Tokeny dla operacji uwierzytelniania ${operation.referenceNumber} zostały już pobrane.`);
        }
        if (ksefTokenRevoked(operation)) throw ksefException(21301, 'Token KSeF został unieważniony.');
        const accessToken = issueJwt(operation, 'ContextToken', req.now, ACCESS_TOKEN_VALIDITY_MS);
        const refreshToken = issueJwt(operation, 'RefreshToken', req.now, REFRESH_TOKEN_VALIDITY_MS);
        operation.isTokenRedeemed = true;
        operation.refreshTokenValidUntil = refreshToken.validUntil;
        return {
          status: 200,
          body: {
            accessToken: tokenInfo(accessToken),
            refreshToken: tokenInfo(refreshToken),
          },
        };
      },
    },
    {
      method: 'POST',
      path: '/auth/token/refresh',
      auth: 'refreshToken',
      rateLimit: 'anonymous',
      handler: (req) => {
        const { operation } = principalOf(req);
        if (operation.status.code !== 200) {
          throw ksefException(21301, `Status uwierzytelniania (${operation.status.code}) nie pozwala na odświeżenie tokenu dostępowego.`);
        }
        if (ksefTokenRevoked(operation)) throw ksefException(21301, 'Token KSeF został unieważniony.');
        const accessToken = issueJwt(operation, 'ContextToken', req.now, ACCESS_TOKEN_VALIDITY_MS);
        operation.lastTokenRefreshDate = req.now;
        return { status: 200, body: { accessToken: tokenInfo(accessToken) } };
      },
    },
  ];
}

function tokenInfo(issued: { token: string; validUntil: Date }): TokenInfo {
  return { token: issued.token, validUntil: formatDateTime(issued.validUntil) };
}

export function operationStatusBody(operation: AuthenticationOperation): Record<string, unknown> {
  return {
    startDate: formatDateTime(operation.startDate),
    authenticationMethod: operation.method,
    authenticationMethodInfo: operation.methodInfo,
    status: operation.status,
    isTokenRedeemed: operation.isTokenRedeemed,
    ...(operation.lastTokenRefreshDate && { lastTokenRefreshDate: formatDateTime(operation.lastTokenRefreshDate) }),
    ...(operation.refreshTokenValidUntil && { refreshTokenValidUntil: formatDateTime(operation.refreshTokenValidUntil) }),
  };
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
