import {
  KsefAuthError,
  KsefError,
  KsefForbiddenError,
  KsefGoneError,
  KsefNotFoundError,
  KsefRateLimitError,
  KsefServerError,
  KsefValidationError,
  type KsefErrorOptions,
  type KsefExceptionDetail,
} from './errors';
import { bodyExcerpt, redactJson } from '../util/redact';

/** KSeF exception codes that mean "no such object", whatever HTTP status carries them (open-api.json, CIRFMF/ksef-docs). */
const NOT_FOUND_CODES = new Set([21164, 21173, 21175, 21178, 21304, 25005, 25008]);
/** Exception codes that mean the credential or token was refused. */
const AUTH_CODES = new Set([21111, 21301, 21308]);

/**
 * What the error factory knows about a failed response; request headers and bodies are never part of it. The
 * response body may still echo them (gateways' error pages do): every text taken from it has secrets removed.
 */
export interface FailedResponse {
  method: string;
  /** Path or storage URL without its query string. */
  path: string;
  status: number;
  body: unknown;
  retryAt?: Date;
}

interface ParsedBody {
  exceptions: KsefExceptionDetail[];
  /** Human-readable summary when the body has no exception list (problem+json `detail`, 429 `status.details`). */
  detail?: string;
  title?: string;
  traceId?: string;
  reasonCode?: string;
  security?: Record<string, unknown>;
}

/**
 * The one place that turns a KSeF error response into a typed error (stripe-node's `Error.ts` pattern).
 * Reads both error formats: classic `{"exception":{"exceptionDetailList":[...]}}` and problem+json.
 */
export function errorFromResponse(response: FailedResponse): KsefError {
  const parsed = parseErrorBody(response.body);
  const options: KsefErrorOptions = {
    status: response.status,
    exceptions: parsed.exceptions,
    traceId: parsed.traceId,
    reasonCode: parsed.reasonCode,
    security: parsed.security,
  };
  const where = `${response.method} ${response.path}`;
  const explanation = describe(parsed, response.status);

  switch (true) {
    case response.status === 429: {
      const retryAt = response.retryAt ?? new Date();
      return new KsefRateLimitError(
        `KSeF rate limit reached on ${where}; retry after ${retryAt.toISOString()} ${explanation}`,
        retryAt,
        options,
      );
    }
    case response.status === 401:
      return new KsefAuthError(`KSeF refused the access token on ${where} ${explanation}`, options);
    case response.status === 403:
      return new KsefForbiddenError(`KSeF denied ${where}; ${forbiddenAdvice(parsed)} ${explanation}`, options);
    case response.status === 404 || parsed.exceptions.some((e) => NOT_FOUND_CODES.has(e.code)):
      return new KsefNotFoundError(`KSeF found nothing for ${where} ${explanation}`, options);
    case response.status === 410:
      return new KsefGoneError(`KSeF no longer keeps ${where} ${explanation}`, options);
    case response.status >= 500:
      return new KsefServerError(`KSeF failed on ${where}; try again later ${explanation}`, options);
    case parsed.exceptions.some((e) => AUTH_CODES.has(e.code)):
      return new KsefAuthError(`KSeF refused the authentication on ${where} ${explanation}`, options);
    case response.status >= 400:
      return new KsefValidationError(`KSeF rejected the request ${where} ${explanation}`, options);
    default:
      return new KsefError(`KSeF answered ${where} with an unexpected HTTP status ${explanation}`, options);
  }
}

/** What to do about a 403, from its `reasonCode` and `security` payload (open-api.json, CIRFMF/ksef-docs). */
function forbiddenAdvice(parsed: ParsedBody): string {
  const security = parsed.security ?? {};
  const list = (value: unknown) => (Array.isArray(value) && value.length > 0 ? value.map(String).join(', ') : 'none');
  switch (parsed.reasonCode) {
    case 'missing-permissions':
      return `the credential needs one of the permissions ${list(security.requiredAnyOfPermissions)} in this context (it has ${list(security.presentPermissions)})`;
    case 'ip-not-allowed':
      return `the authorization policy of this authentication does not allow the client IP${typeof security.clientIp === 'string' ? ` ${security.clientIp}` : ''}; authenticate again from an allowed address or widen the policy`;
    case 'auth-method-not-allowed':
      return `this operation is not available when authenticated by ${typeof security.authenticationMethodCategory === 'string' ? security.authenticationMethodCategory : 'this method'}; authenticate with a certificate (XAdES)`;
    case 'context-type-not-allowed':
      return `this operation is not available in a ${typeof security.contextIdentifierType === 'string' ? security.contextIdentifierType : 'context of this type'} context`;
    default:
      return "check the credential's permissions in this context";
  }
}

/**
 * `(21405 Błąd walidacji danych wejściowych.): details; (21157 ...): details`, or `(401 Unauthorized): detail`
 * when the body has no exception list.
 */
function describe(parsed: ParsedBody, status: number): string {
  if (parsed.exceptions.length > 0) {
    return parsed.exceptions.map((e) => `(${e.code} ${e.description})${e.details?.length ? `: ${e.details.join(' ')}` : ''}`).join('; ');
  }
  const head = `(${status}${parsed.reasonCode ? ` ${parsed.reasonCode}` : parsed.title ? ` ${parsed.title}` : ''})`;
  return parsed.detail ? `${head}: ${parsed.detail}` : head;
}

function parseErrorBody(body: unknown): ParsedBody {
  if (!body || typeof body !== 'object') {
    return { exceptions: [], detail: typeof body === 'string' ? bodyExcerpt(body) : undefined };
  }
  const record = redactJson(body as Record<string, unknown>);
  const classic = record.exception as Record<string, unknown> | undefined;
  if (classic && typeof classic === 'object') {
    const list = Array.isArray(classic.exceptionDetailList) ? classic.exceptionDetailList : [];
    return {
      exceptions: list.map((entry: Record<string, unknown>) =>
        exceptionDetail(entry.exceptionCode, entry.exceptionDescription, entry.details),
      ),
      traceId: stringOrUndefined(classic.referenceNumber),
    };
  }
  const errors = Array.isArray(record.errors) ? (record.errors as Record<string, unknown>[]) : [];
  const status = record.status as Record<string, unknown> | undefined;
  const statusDetails =
    status && typeof status === 'object' && Array.isArray(status.details) ? status.details.map(String).join(' ') : undefined;
  return {
    exceptions: errors.map((entry) => exceptionDetail(entry.code, entry.description, entry.details)),
    title: stringOrUndefined(record.title),
    detail: stringOrUndefined(record.detail) ?? statusDetails,
    traceId: stringOrUndefined(record.traceId),
    reasonCode: stringOrUndefined(record.reasonCode),
    security: record.security && typeof record.security === 'object' ? (record.security as Record<string, unknown>) : undefined,
  };
}

function exceptionDetail(code: unknown, description: unknown, details: unknown): KsefExceptionDetail {
  return {
    code: Number(code),
    description: typeof description === 'string' ? description : '',
    ...(Array.isArray(details) && details.length > 0 && { details: details.map(String) }),
  };
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
