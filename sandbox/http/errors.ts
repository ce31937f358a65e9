/**
 * The sandbox's one error factory: handlers throw `SandboxHttpError`s, `renderError` turns them into the
 * bodies KSeF sends (open-api.json: ExceptionResponse and the *ProblemDetails schemas): ExceptionResponse for 400 by default, problem+json when the request
 * says `X-Error-Format: problem-details`, and always problem+json for 401/403/405/410.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { EXCEPTIONS, PROBLEM_DETAILS, type ExceptionCode } from '../catalogue';
import { formatDateTime } from '../dates';

export interface ApiError {
  code: number;
  description: string;
  details?: string[];
}

type ErrorKind =
  | { status: 400; errors: ApiError[] }
  | { status: 401; detail: string }
  | { status: 403; detail: string; reasonCode: string; security?: Record<string, unknown> }
  | { status: 404 }
  | { status: 405; method: string; allow: string[] }
  | { status: 410; detail: string }
  | { status: 429; detail: string; retryAfterSeconds: number };

export class SandboxHttpError extends Error {
  constructor(readonly kind: ErrorKind) {
    super(`HTTP ${kind.status}`);
  }
}

/** 400 with one KSeF exception, described as the catalogue has it. */
export function ksefException(code: ExceptionCode, ...details: string[]): SandboxHttpError {
  return new SandboxHttpError({
    status: 400,
    errors: [{ code, description: EXCEPTIONS[code], ...(details.length > 0 && { details }) }],
  });
}

export function inputValidationError(details: string[]): SandboxHttpError {
  return ksefException(21405, ...details);
}

export function unauthorized(detail: string = PROBLEM_DETAILS.authenticationRequired): SandboxHttpError {
  return new SandboxHttpError({ status: 401, detail });
}

export function missingPermissions(requiredAnyOf: string[], present: string[]): SandboxHttpError {
  return new SandboxHttpError({
    status: 403,
    reasonCode: 'missing-permissions',
    detail: PROBLEM_DETAILS.missingPermissions,
    security: { requiredAnyOfPermissions: requiredAnyOf, presentPermissions: present },
  });
}

/** 403 auth-method-not-allowed: the operation is not available to callers authenticated this way. */
export function authMethodNotAllowed(category: string, detail: string = PROBLEM_DETAILS.authMethodNotAllowed): SandboxHttpError {
  return new SandboxHttpError({
    status: 403,
    reasonCode: 'auth-method-not-allowed',
    detail,
    security: { authenticationMethodCategory: category },
  });
}

/** 403 ip-not-allowed: the token's authentication allowed other client addresses (its authorization policy). */
export function ipNotAllowed(clientIp: string): SandboxHttpError {
  return new SandboxHttpError({
    status: 403,
    reasonCode: 'ip-not-allowed',
    detail: PROBLEM_DETAILS.ipNotAllowed,
    security: { clientIp },
  });
}

export function gone(): SandboxHttpError {
  return new SandboxHttpError({ status: 410, detail: PROBLEM_DETAILS.gone });
}

export function notFound(): SandboxHttpError {
  return new SandboxHttpError({ status: 404 });
}

/** 405: the path exists, but not for this method; `allow` becomes the `Allow` header (RFC 9110 15.5.6). */
export function methodNotAllowed(method: string, allow: string[]): SandboxHttpError {
  return new SandboxHttpError({ status: 405, method, allow });
}

export function tooManyRequests(detail: string, retryAfterSeconds: number): SandboxHttpError {
  return new SandboxHttpError({ status: 429, detail, retryAfterSeconds });
}

export interface RenderedResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface ErrorRenderContext {
  problemDetails: boolean;
  /** Request path as received, e.g. `/v2/sessions/online`. */
  instance: string;
  now: Date;
}

const PROBLEM_JSON = 'application/problem+json';
const JSON_TYPE = 'application/json';

export function renderError(error: SandboxHttpError, ctx: ErrorRenderContext): RenderedResponse {
  const kind = error.kind;
  const timestamp = formatDateTime(ctx.now);
  const traceId = randomBytes(16).toString('hex');
  switch (kind.status) {
    case 404:
      return { status: 404, headers: {}, body: Buffer.alloc(0) };
    case 400:
      if (ctx.problemDetails) {
        return json(400, PROBLEM_JSON, {
          title: 'Bad Request',
          status: 400,
          instance: ctx.instance,
          detail: PROBLEM_DETAILS.badRequest,
          errors: kind.errors,
          timestamp,
          traceId,
        });
      }
      return json(400, JSON_TYPE, {
        exception: {
          exceptionDetailList: kind.errors.map((e) => ({
            exceptionCode: e.code,
            exceptionDescription: e.description,
            ...(e.details && { details: e.details }),
          })),
          referenceNumber: randomUUID(),
          serviceCode: `00-${traceId}-${randomBytes(8).toString('hex')}-00`,
          serviceCtx: 'srvSANDBOX',
          serviceName: 'Undefined',
          timestamp,
        },
      });
    case 401:
      return json(401, PROBLEM_JSON, {
        title: 'Unauthorized',
        status: 401,
        detail: kind.detail,
        instance: ctx.instance,
        traceId,
        timestamp,
      });
    case 403:
      return json(403, PROBLEM_JSON, {
        title: 'Forbidden',
        status: 403,
        detail: kind.detail,
        instance: ctx.instance,
        reasonCode: kind.reasonCode,
        ...(kind.security && { security: kind.security }),
        traceId,
        timestamp,
      });
    case 405:
      return withHeaders(
        json(405, PROBLEM_JSON, {
          title: 'Method Not Allowed',
          status: 405,
          instance: ctx.instance,
          detail: PROBLEM_DETAILS.methodNotAllowed(kind.method, kind.allow),
          traceId,
          timestamp,
        }),
        { allow: kind.allow.join(', ') },
      );
    case 410:
      return json(410, PROBLEM_JSON, { title: 'Gone', status: 410, instance: ctx.instance, detail: kind.detail, timestamp, traceId });
    case 429: {
      const headers = { 'retry-after': String(kind.retryAfterSeconds) };
      if (ctx.problemDetails) {
        return withHeaders(
          json(429, PROBLEM_JSON, {
            title: 'Too Many Requests',
            status: 429,
            instance: ctx.instance,
            detail: kind.detail,
            timestamp,
            traceId,
          }),
          headers,
        );
      }
      return withHeaders(
        json(429, JSON_TYPE, { status: { code: 429, description: 'Too Many Requests', details: [kind.detail] } }),
        headers,
      );
    }
  }
}

function json(status: number, contentType: string, body: unknown): RenderedResponse {
  return { status, headers: { 'content-type': `${contentType}; charset=utf-8` }, body: Buffer.from(JSON.stringify(body), 'utf8') };
}

function withHeaders(response: RenderedResponse, headers: Record<string, string>): RenderedResponse {
  return { ...response, headers: { ...response.headers, ...headers } };
}
