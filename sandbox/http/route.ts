/** A route of the API and the request and answer its handler works with: the HTTP side of every chapter. */
import type { IncomingHttpHeaders } from 'node:http';
import type { KsefJwtClaims } from '../auth/jwt';
import type { AuthenticationOperation } from '../auth/records';
import type { RateLimitGroup } from '../limits/records';

/** `sessionToken`: an access or a refresh token (DELETE /auth/sessions/current accepts either). */
export type AuthRequirement = 'none' | 'authenticationToken' | 'accessToken' | 'refreshToken' | 'sessionToken';

export interface Principal {
  claims: KsefJwtClaims;
  operation: AuthenticationOperation;
}

export interface SandboxRequest {
  method: string;
  /** Path below `/v2`, e.g. `/sessions/online`. */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Parsed JSON body, when the body is JSON. */
  json?: unknown;
  clientIp: string;
  now: Date;
  principal?: Principal;
}

export interface SandboxResponse {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings and buffers as they are, with `contentType`. */
  body?: unknown;
  contentType?: string;
}

export interface RouteDefinition {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT';
  /** The OpenAPI path template, e.g. `/sessions/{referenceNumber}` — also the key of its schema. */
  path: string;
  auth: AuthRequirement;
  rateLimit: RateLimitGroup;
  /** Any one of these is required (403 missing-permissions otherwise). */
  permissions?: string[];
  handler(req: SandboxRequest): SandboxResponse | Promise<SandboxResponse>;
}

export function principalOf(req: SandboxRequest): Principal {
  if (!req.principal) throw new Error(`route ${req.method} ${req.path} used without authentication`);
  return req.principal;
}
