/** What route handlers share: state, keys, time, configuration. */
import type { IncomingHttpHeaders } from 'node:http';
import type { Clock } from '../shared/protocol/types';
import type { SandboxCertificateAuthority } from './ca';
import type { KsefJwtClaims } from './jwt';
import { currentKey, type SandboxKey } from './keys';
import type { PublicKeyUsage } from '../shared/protocol/types';
import type { OpenApiSpec } from './openapi';
import type { RateLimit, RateLimitGroup } from './rateLimits';
import type { AuthenticationOperation, SandboxState } from './state';
import type { SandboxStorage } from './storage';

export interface Scheduler {
  /** Runs `task` after `delayMs` of real time; pending tasks are dropped when the sandbox closes. */
  after(delayMs: number, task: () => void | Promise<void>): void;
  /** False once the sandbox is closing: queued work is dropped instead of started. */
  readonly running: boolean;
}

export interface SandboxContext {
  state: SandboxState;
  keys: SandboxKey[];
  clock: Clock;
  jwtSecret: Buffer;
  processingDelayMs: number;
  /** The official spec folder, when the sandbox has one. */
  specDir?: string;
  spec?: OpenApiSpec;
  rateLimits: Record<RateLimitGroup, RateLimit>;
  scheduler: Scheduler;
  storage: SandboxStorage;
  /** Issues KSeF certificates. */
  certificateAuthority: SandboxCertificateAuthority;
}

/** The published key a request names by `publicKeyId`, or the current one when it names none. */
export function keyFor(ctx: SandboxContext, usage: PublicKeyUsage, publicKeyId?: string | null): SandboxKey | undefined {
  if (publicKeyId == null) return currentKey(ctx.keys, usage, ctx.clock.now());
  return ctx.keys.find((k) => k.usage === usage && k.publicKeyId === publicKeyId);
}

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
