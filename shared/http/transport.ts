import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { Clock, Logger, Sleep } from '../protocol/types';
import { KsefError, KsefNetworkError, KsefRateLimitError } from './errors';
import { errorFromResponse } from './errorFactory';
import { backoffDelayMs } from './backoff';
import { rateLimitGroupOf, type RatePacer } from './rateLimits';
import { keepAliveAgents } from './agents';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface KsefRequest {
  method: HttpMethod;
  /** API path below the base URL (`/sessions/online`), or an absolute storage URL, which is always sent without a token. */
  path: string;
  /** A list value repeats the parameter (`status=Active&status=Pending`), as KSeF's array parameters expect. */
  query?: Record<string, string | number | boolean | string[] | undefined>;
  headers?: Record<string, string>;
  /** JSON request body. */
  json?: unknown;
  /** Non-JSON request body, e.g. the signed XML of `POST /auth/xades-signature`; excludes `json`. */
  body?: { content: string | Buffer; contentType: string };
  /** Set by the authentication hook, or by the auth flow for its operation/refresh tokens. */
  bearerToken?: string;
  /** How to read a successful response body (default `json`). */
  responseType?: 'json' | 'text' | 'bytes';
  /**
   * Whether sending the request twice is harmless, so network errors and 5xx may be retried.
   * Defaults to true for GET and false otherwise: a POST is never repeated unless its caller says it is safe.
   */
  idempotent?: boolean;
  /**
   * The caller's deadline (injected clock): the request may wait for KSeF's rate limits and Retry-After until
   * then, however long that is. Without it the client waits at most `maxRetryAfterMs`. A request that could go
   * only later fails with `KsefRateLimitError` saying when (`retryAt`).
   */
  deadline?: Date;
}

export interface KsefResponse<T> {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  data: T;
}

/** The one signature every KSeF call goes through; the auth hook wraps it (Octokit's `hook.wrap('request')`). */
export type RequestFunction = <T>(request: KsefRequest) => Promise<KsefResponse<T>>;

export interface TransportOptions {
  baseUrl: string;
  clock: Clock;
  sleep: Sleep;
  logger?: Logger;
  timeoutMs: number;
  /** Longest wait for a rate limit or Retry-After of a request that has no `deadline`. */
  maxRetryAfterMs: number;
  /** Paces API requests by KSeF's rate limits; storage URLs are never paced. */
  pacer?: RatePacer;
  /** Retries of a safe request after a network error or 5xx (default 3). */
  maxRetries?: number;
  /** Waits on 429 before giving up with `KsefRateLimitError` (default 5). */
  maxRateLimitWaits?: number;
}

const USER_AGENT = 'ksef-flow/0.1 (+https://github.com/ksef-flow)';

/** One HTTP transport for the KSeF API and its storage URLs: timeouts, 429 handling, safe retries, typed errors. */
export class Transport {
  private readonly axios: AxiosInstance;
  private readonly agents = keepAliveAgents();
  private readonly httpAgent = this.agents.http;
  private readonly httpsAgent = this.agents.https;
  private readEffectiveLimits?: () => Promise<unknown>;

  constructor(private readonly options: TransportOptions) {
    this.axios = axios.create({
      validateStatus: () => true,
      responseType: 'arraybuffer',
      // Bodies are passed and read as raw bytes: no axios transformations and no automatic JSON parsing.
      transformRequest: [(data: unknown) => data],
      transformResponse: [(data: unknown) => data],
      maxRedirects: 0,
      paramsSerializer: { indexes: null },
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
    });
  }

  get baseUrl(): string {
    return this.options.baseUrl;
  }

  /**
   * How the pacer reads the context's effective limits (`GET /rate-limits` needs the access token, so the
   * authenticated request function is given once it exists). Read before the first authenticated request.
   */
  readEffectiveLimitsWith(read: () => Promise<unknown>): void {
    this.readEffectiveLimits = read;
  }

  readonly request: RequestFunction = async <T>(request: KsefRequest): Promise<KsefResponse<T>> => {
    const { clock, sleep, logger } = this.options;
    const maxRetries = this.options.maxRetries ?? 3;
    const maxRateLimitWaits = this.options.maxRateLimitWaits ?? 5;
    const idempotent = request.idempotent ?? request.method === 'GET';
    const { url, loggedPath, isStorage } = this.target(request);
    const group = isStorage || !this.options.pacer ? undefined : rateLimitGroupOf(request.method, loggedPath);
    const mayWaitUntil = () => request.deadline?.getTime() ?? clock.now().getTime() + this.options.maxRetryAfterMs;
    let failures = 0;
    let rateLimitWaits = 0;

    for (let attempt = 1; ; attempt++) {
      if (group && this.options.pacer) {
        const { pacer } = this.options;
        // The auth endpoints (anonymous) and the read of the limits themselves go before the limits are known.
        if (this.readEffectiveLimits && group !== 'anonymous' && request.bearerToken && loggedPath !== '/rate-limits') {
          await pacer.useEffectiveLimits(this.readEffectiveLimits, logger);
        }
        const retryAt = await pacer.acquire(group, { clock, sleep, notAfter: mayWaitUntil() });
        if (retryAt) {
          throw new KsefRateLimitError(
            `KSeF's rate limit (${group}) lets ${request.method} ${loggedPath} go at ${retryAt.toISOString()}, later than this request may wait; retry after ${retryAt.toISOString()}.`,
            retryAt,
          );
        }
      }
      const startedAt = performance.now();
      let response: AxiosResponse<Buffer>;
      try {
        response = await this.axios.request<Buffer>({
          method: request.method,
          url,
          params: request.query,
          headers: this.headers(request, isStorage),
          data: request.json === undefined ? request.body?.content : JSON.stringify(request.json),
          // A deadline for the whole exchange: axios' own timeout only limits idle time, so a server that
          // trickles its answer byte by byte could otherwise hold a request indefinitely.
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
      } catch (error) {
        const networkError = describeNetworkError(error, request.method, loggedPath, this.options.timeoutMs);
        logger?.warn('KSeF request failed without a response', {
          method: request.method,
          path: loggedPath,
          attempt,
          durationMs: Math.round(performance.now() - startedAt),
          reason: networkError.message,
        });
        if (idempotent && failures < maxRetries) {
          await sleep(backoffDelayMs(failures++));
          continue;
        }
        throw networkError;
      }

      const headers = lowerCaseHeaders(response.headers);
      logger?.debug('KSeF request', {
        method: request.method,
        path: loggedPath,
        status: response.status,
        durationMs: Math.round(performance.now() - startedAt),
        attempt,
      });

      if (response.status >= 200 && response.status < 300) {
        return { status: response.status, headers, data: readBody<T>(response, request, loggedPath) };
      }
      if (response.status === 429) {
        // A 429 was refused before any processing, so waiting and repeating is safe for every method.
        const waitMs = retryAfterMs(headers['retry-after'], clock) ?? backoffDelayMs(rateLimitWaits);
        // Every request of the group waits too: KSeF blocks the whole group, and lengthens the block for each refusal.
        if (group) this.options.pacer?.block(group, clock.now().getTime() + waitMs);
        if (clock.now().getTime() + waitMs <= mayWaitUntil() && rateLimitWaits < maxRateLimitWaits) {
          rateLimitWaits++;
          logger?.info('KSeF rate limit reached; waiting as Retry-After asks', {
            method: request.method,
            path: loggedPath,
            waitMs,
          });
          await sleep(waitMs);
          continue;
        }
        throw errorFromResponse({
          method: request.method,
          path: loggedPath,
          status: 429,
          body: parseBodySafely(response.data),
          retryAt: new Date(clock.now().getTime() + waitMs),
        });
      }
      if (response.status >= 500 && idempotent && failures < maxRetries) {
        await sleep(backoffDelayMs(failures++));
        continue;
      }
      throw errorFromResponse({
        method: request.method,
        path: loggedPath,
        status: response.status,
        body: parseBodySafely(response.data),
      });
    }
  };

  /** Frees pooled connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private target(request: KsefRequest): { url: string; loggedPath: string; isStorage: boolean } {
    if (/^https?:\/\//i.test(request.path)) {
      const url = new URL(request.path);
      // Storage URLs carry their signature in the query: never log it.
      return { url: request.path, loggedPath: `${url.origin}${url.pathname}`, isStorage: true };
    }
    const path = request.path.startsWith('/') ? request.path : `/${request.path}`;
    return { url: `${this.options.baseUrl}${path}`, loggedPath: path, isStorage: false };
  }

  private headers(request: KsefRequest, isStorage: boolean): Record<string, string> {
    const accept = request.responseType === 'text' || request.responseType === 'bytes' ? 'application/xml, */*' : 'application/json';
    return {
      Accept: accept,
      'User-Agent': USER_AGENT,
      ...(request.json !== undefined && { 'Content-Type': 'application/json' }),
      ...(request.json === undefined && request.body && { 'Content-Type': request.body.contentType }),
      ...(!isStorage && request.bearerToken && { Authorization: `Bearer ${request.bearerToken}` }),
      ...request.headers,
    };
  }
}

/** `Retry-After` in seconds or as an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, clock: Clock): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - clock.now().getTime());
}

function readBody<T>({ data, status }: AxiosResponse<Buffer>, request: KsefRequest, loggedPath: string): T {
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data ?? []);
  switch (request.responseType ?? 'json') {
    case 'bytes':
      return bytes as T;
    case 'text':
      return bytes.toString('utf8') as T;
    default:
      if (bytes.length === 0) return undefined as T;
      try {
        return JSON.parse(bytes.toString('utf8')) as T;
      } catch {
        // The status tells the caller KSeF accepted the request although its answer is unreadable.
        throw new KsefError(`KSeF answered ${request.method} ${loggedPath} with a body that is not JSON.`, { status });
      }
  }
}

function parseBodySafely(data: Buffer): unknown {
  const text = Buffer.isBuffer(data) ? data.toString('utf8') : String(data ?? '');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function lowerCaseHeaders(headers: AxiosResponse['headers']): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined && value !== null) result[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return result;
}

/** Built from the error code and message only: axios errors carry the request config, including headers. */
function describeNetworkError(error: unknown, method: string, path: string, timeoutMs: number): KsefNetworkError {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED') {
    return new KsefNetworkError(`KSeF did not answer ${method} ${path} within ${timeoutMs} ms.`);
  }
  return new KsefNetworkError(
    `Could not reach KSeF for ${method} ${path}: ${code ?? 'network error'}${message && message !== code ? ` (${message})` : ''}.`,
  );
}
