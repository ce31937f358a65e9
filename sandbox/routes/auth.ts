/** Authentication with a KSeF token (NOTES.md 3.1, 3.7, 4.1-4.4). */
import { randomBytes } from 'node:crypto';
import { rsaOaepDecrypt } from '../../shared/crypto/rsa';
import { newReferenceNumber } from '../../shared/model/referenceNumber';
import type { ContextIdentifier, ContextIdentifierType } from '../../shared/types';
import { keyFor, principalOf, type RouteDefinition, type SandboxContext } from '../context';
import { DAY_MS, MINUTE_MS, formatDateTime } from '../dates';
import { inputValidationError, ksefException } from '../errors';
import { JWT_ISSUER, signJwt, type KsefJwtClaims } from '../jwt';
import type { SandboxKey } from '../keys';
import type { AuthenticationOperation, StatusInfo } from '../state';
import { requireBase64, requireObject, requireString } from './input';

export const CHALLENGE_VALIDITY_MS = 10 * MINUTE_MS;
export const AUTHENTICATION_TOKEN_VALIDITY_MS = 45 * MINUTE_MS;
export const ACCESS_TOKEN_VALIDITY_MS = 15 * MINUTE_MS;
export const REFRESH_TOKEN_VALIDITY_MS = 7 * DAY_MS;

const CONTEXT_TYPES: ContextIdentifierType[] = ['Nip', 'InternalId', 'NipVatUe', 'PeppolId'];

export const AUTH_STATUS = {
  inProgress: { code: 100, description: 'Uwierzytelnianie w toku' },
  succeeded: { code: 200, description: 'Uwierzytelnianie zakończone sukcesem' },
  badToken: (detail: string): StatusInfo => ({
    code: 450,
    description: 'Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu',
    details: [detail],
  }),
} as const;

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
            per: operation.permissions,
            pec: [],
            rol: [],
            pep: operation.permissions,
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
      operation.status = AUTH_STATUS.badToken('Nieprawidłowy token');
      return;
    }
    const separator = plain.lastIndexOf('|');
    const secret = separator > 0 ? plain.slice(0, separator) : plain;
    const timestamp = separator > 0 ? plain.slice(separator + 1) : '';
    const token = state.findKsefTokenBySecret(secret);
    if (!token || !sameContext(token.contextIdentifier, operation.contextIdentifier)) {
      operation.status = AUTH_STATUS.badToken('Nieprawidłowy token');
    } else if (timestamp !== String(challengeTimestampMs)) {
      operation.status = AUTH_STATUS.badToken('Nieprawidłowy czas tokena');
    } else if (token.status === 'Revoked' || token.status === 'Revoking') {
      operation.status = AUTH_STATUS.badToken('Token unieważniony');
    } else if (token.status !== 'Active') {
      operation.status = AUTH_STATUS.badToken('Token nieaktywny');
    } else {
      token.lastUseDate = ctx.clock.now();
      operation.tokenReferenceNumber = token.referenceNumber;
      operation.permissions = [...token.requestedPermissions];
      operation.status = AUTH_STATUS.succeeded;
    }
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
      rateLimit: 'public',
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
      rateLimit: 'public',
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

        const challenge = state.challenges.get(challengeText);
        if (!challenge || challenge.used || req.now.getTime() - challenge.timestamp.getTime() > CHALLENGE_VALIDITY_MS) {
          throw ksefException(21111);
        }
        const key = keyFor(ctx, 'KsefTokenEncryption', publicKeyId);
        if (!key) throw ksefException(21470, `Klucz o identyfikatorze ${publicKeyId} nie jest wspierany.`);
        challenge.used = true;

        const operation: AuthenticationOperation = {
          referenceNumber: newReferenceNumber('AU', req.now),
          startDate: req.now,
          method: 'Token',
          methodInfo: { category: 'Token', code: 'token.ksef', displayName: 'Token KSeF' },
          contextIdentifier: { type: contextType as ContextIdentifierType, value: contextValue },
          clientIp: req.clientIp,
          status: AUTH_STATUS.inProgress,
          permissions: [],
          isTokenRedeemed: false,
        };
        state.authOperations.set(operation.referenceNumber, operation);
        const challengeTimestampMs = challenge.timestamp.getTime();
        ctx.scheduler.after(ctx.processingDelayMs, () =>
          completeTokenAuthentication(operation, encryptedToken, challengeTimestampMs, key),
        );

        const authenticationToken = issueJwt(operation, 'AuthenticationToken', req.now, AUTHENTICATION_TOKEN_VALIDITY_MS);
        return {
          status: 202,
          body: {
            referenceNumber: operation.referenceNumber,
            authenticationToken: { token: authenticationToken.token, validUntil: formatDateTime(authenticationToken.validUntil) },
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/auth/{referenceNumber}',
      auth: 'authenticationToken',
      rateLimit: 'public',
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
      rateLimit: 'public',
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
            accessToken: { token: accessToken.token, validUntil: formatDateTime(accessToken.validUntil) },
            refreshToken: { token: refreshToken.token, validUntil: formatDateTime(refreshToken.validUntil) },
          },
        };
      },
    },
    {
      method: 'POST',
      path: '/auth/token/refresh',
      auth: 'refreshToken',
      rateLimit: 'public',
      handler: (req) => {
        const { operation } = principalOf(req);
        if (ksefTokenRevoked(operation)) throw ksefException(21301, 'Token KSeF został unieważniony.');
        const accessToken = issueJwt(operation, 'ContextToken', req.now, ACCESS_TOKEN_VALIDITY_MS);
        operation.lastTokenRefreshDate = req.now;
        return { status: 200, body: { accessToken: { token: accessToken.token, validUntil: formatDateTime(accessToken.validUntil) } } };
      },
    },
  ];
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

function sameContext(a: ContextIdentifier, b: ContextIdentifier): boolean {
  return a.type === b.type && a.value === b.value;
}
