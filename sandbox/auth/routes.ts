/** Authentication with a KSeF token or a XAdES signature (uwierzytelnianie.md, auth/podpis-xades.md, CIRFMF/ksef-docs; open-api.json). */
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { CONTEXT_TYPES } from '../../shared/protocol/model/identifiers';
import type { ContextIdentifierType, TokenInfo } from '../../shared/protocol/types';
import type { SandboxContext } from '../context';
import { formatDateTime } from '../dates';
import { SandboxHttpError, inputValidationError, ksefException } from '../http/errors';
import { requireBase64, requireObject, requireString } from '../http/input';
import { principalOf, type RouteDefinition } from '../http/route';
import { keyFor } from '../security/rules';
import { allowedIpsOfJson, restrictingAllowedIps } from './authorizationPolicy';
import type { AuthenticationOperation } from './records';
import {
  ACCESS_TOKEN_VALIDITY_MS,
  AUTHENTICATION_TOKEN_VALIDITY_MS,
  REFRESH_TOKEN_VALIDITY_MS,
  completeTokenAuthentication,
  completeXadesAuthentication,
  issueJwt,
  ksefTokenRevoked,
  newChallenge,
  newOperation,
  takeChallenge,
  xadesMethod,
} from './rules';
import { verifyXadesAuthTokenRequest } from './xades';

export function authRoutes(ctx: SandboxContext): RouteDefinition[] {
  const { state } = ctx;

  function initResponse(operation: AuthenticationOperation, now: Date) {
    const authenticationToken = issueJwt(ctx, operation, 'AuthenticationToken', now, AUTHENTICATION_TOKEN_VALIDITY_MS);
    return {
      status: 202,
      body: {
        referenceNumber: operation.referenceNumber,
        authenticationToken: tokenInfo(authenticationToken),
      },
    };
  }

  return [
    {
      method: 'POST',
      path: '/auth/challenge',
      auth: 'none',
      rateLimit: 'anonymous',
      handler: (req) => {
        const { challenge, timestamp, clientIp } = newChallenge(ctx, req);
        return { status: 200, body: { challenge, timestamp: formatDateTime(timestamp), timestampMs: timestamp.getTime(), clientIp } };
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

        const challenge = takeChallenge(ctx, challengeText, req.now);
        const key = keyFor(ctx, 'KsefTokenEncryption', publicKeyId);
        if (!key) throw ksefException(21470, `Klucz o identyfikatorze ${publicKeyId} nie jest wspierany.`);
        challenge.used = true;

        const operation = newOperation(
          ctx,
          req,
          { type: contextType as ContextIdentifierType, value: contextValue },
          {
            method: 'Token',
            methodInfo: { category: 'Token', code: 'token.ksef', displayName: 'Token KSeF' },
          },
          allowedIps,
        );
        const challengeTimestampMs = challenge.timestamp.getTime();
        ctx.scheduler.after(ctx.processingDelayMs, () =>
          completeTokenAuthentication(ctx, operation, encryptedToken, challengeTimestampMs, key),
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
          throw new SandboxHttpError({
            status: 400,
            errors: [{ code: verified.code, description: verified.description, details: verified.details }],
          });
        }
        const { request, certificate, identity } = verified;
        const challenge = takeChallenge(ctx, request.challenge, req.now);
        challenge.used = true;

        const serialNumber = ctx.certificateAuthority.issuedSerialNumber(certificate.der);
        const ksefCertificate = serialNumber === undefined ? undefined : state.ksefCertificates.get(serialNumber);
        const operation = newOperation(
          ctx,
          req,
          request.contextIdentifier,
          xadesMethod(identity, ksefCertificate),
          restrictingAllowedIps(request.authorizationPolicy?.allowedIps),
        );
        operation.authenticationDocumentHash = sha256Base64(req.body);
        const verifyCertificateChain = req.query.get('verifyCertificateChain') === 'true';
        ctx.scheduler.after(ctx.processingDelayMs, () =>
          completeXadesAuthentication(ctx, operation, request, certificate, identity, ksefCertificate, verifyCertificateChain),
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
        if (ksefTokenRevoked(ctx, operation)) throw ksefException(21301, 'Token KSeF został unieważniony.');
        const accessToken = issueJwt(ctx, operation, 'ContextToken', req.now, ACCESS_TOKEN_VALIDITY_MS);
        const refreshToken = issueJwt(ctx, operation, 'RefreshToken', req.now, REFRESH_TOKEN_VALIDITY_MS);
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
        if (ksefTokenRevoked(ctx, operation)) throw ksefException(21301, 'Token KSeF został unieważniony.');
        const accessToken = issueJwt(ctx, operation, 'ContextToken', req.now, ACCESS_TOKEN_VALIDITY_MS);
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
