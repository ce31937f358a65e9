/**
 * HS256 JWTs with the short claim names the real KSeF uses (those the official C# client, CIRFMF/ksef-client-csharp, reads). The secret is per sandbox, so
 * tokens of one sandbox are worthless to another.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type JwtType = 'AuthenticationToken' | 'ContextToken' | 'RefreshToken';

export interface KsefJwtClaims {
  typ: JwtType;
  /** Authentication operation (AU) reference. */
  arn: string;
  /** Context identifier type and value. */
  cit?: string;
  civ?: string;
  /** Authentication method, e.g. `Token`. */
  aum?: string;
  per?: string[];
  pec?: string[];
  rol?: string[];
  pep?: string[];
  /** Subject details (JSON text): who signed, for XAdES authentications. */
  sud?: string;
  /** IP policy (JSON text `{"OnClientIpChange": …}`), when the authentication set one. */
  ipp?: string;
  /** Unique id so two tokens issued in the same second differ. */
  jti: string;
  iss: string;
  aud: string;
  iat: number;
  exp: number;
}

export const JWT_ISSUER = 'ksef-api-sandbox';

export function signJwt(claims: KsefJwtClaims, secret: Buffer): string {
  const header = base64Url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64Url(JSON.stringify(claims));
  return `${header}.${payload}.${signature(`${header}.${payload}`, secret)}`;
}

/** The claims of a token this sandbox signed and that has not expired at `now`; undefined otherwise. */
export function verifyJwt(token: string, secret: Buffer, now: Date): KsefJwtClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const expected = Buffer.from(signature(`${parts[0]}.${parts[1]}`, secret));
  const given = Buffer.from(parts[2]);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  let claims: KsefJwtClaims;
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as KsefJwtClaims;
  } catch {
    return undefined;
  }
  return typeof claims.exp === 'number' && claims.exp * 1000 > now.getTime() ? claims : undefined;
}

function signature(data: string, secret: Buffer): string {
  return createHmac('sha256', secret).update(data).digest('base64url');
}

function base64Url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
