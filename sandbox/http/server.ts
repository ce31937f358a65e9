/**
 * The HTTP pipeline of the sandbox: route → bearer token → rate limit → permissions → request validation
 * → handler, with every failure rendered by the one error factory.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from '../../shared/protocol/types';
import type { Principal, RouteDefinition, SandboxRequest, SandboxResponse } from './route';
import type { SandboxContext } from '../context';
import {
  SandboxHttpError,
  inputValidationError,
  ipNotAllowed,
  methodNotAllowed,
  missingPermissions,
  notFound,
  renderError,
  tooManyRequests,
  unauthorized,
  type RenderedResponse,
} from './errors';
import { PROBLEM_DETAILS } from '../catalogue';
import { allowsClientIp } from '../auth/authorizationPolicy';
import { verifyJwt, type JwtType } from '../auth/jwt';
import { RateLimiter } from './rateLimiter';
import { serveStorage } from '../storage/routes';

/** One request the sandbox answered, as `onExchange` reports it (tests record and contract-check these). */
export interface SandboxExchange {
  method: string;
  /** Full request path with query, e.g. `/v2/sessions/online`. */
  url: string;
  /** `METHOD /template` of the matched API operation, e.g. `POST /sessions/online`; undefined for storage links and unknown paths. */
  operation?: string;
  requestHeaders: Record<string, string | string[] | undefined>;
  /** Empty for storage part uploads and downloads, whose bodies are streamed (up to 100 MB) and not recorded. */
  requestBody: Buffer;
  status: number;
  responseHeaders: Record<string, string>;
  /** Empty for streamed storage parts, as `requestBody`. */
  responseBody: Buffer;
}

export interface PipelineOptions {
  onExchange?: (exchange: SandboxExchange) => void;
  logger?: Pick<Logger, 'error'>;
}

const API_PREFIX = '/v2';
const MAX_BODY_BYTES = 20 * 1024 * 1024;

interface CompiledRoute {
  route: RouteDefinition;
  pattern: RegExp;
  paramNames: string[];
}

export function createRequestListener(ctx: SandboxContext, routes: RouteDefinition[], options: PipelineOptions): RequestListener {
  const compiled = compileRoutes(routes);
  const limiter = new RateLimiter(ctx.clock);

  return (req, res) => {
    const storageUrl = parseRequestTarget(req.url ?? '/');
    if (storageUrl?.pathname.startsWith('/storage/')) {
      // Storage bodies (parts up to 100 MB) are streamed by the storage host, not read whole under the API's cap.
      serveStorage(ctx, req, res, storageUrl, options).catch((error: unknown) => {
        options.logger?.error('ksef sandbox: storage request failed', { error: String(error) });
        if (!res.headersSent) res.writeHead(500).end();
      });
      return;
    }
    readBody(req)
      .then(async (received) => {
        const target = req.url ?? '/';
        const url = parseRequestTarget(target);
        const method = req.method ?? '';
        // HEAD is GET without the body (RFC 9110 9.3.2): Node's server leaves the body out of the answer.
        const head = method === 'HEAD';
        const now = ctx.clock.now();
        const body = received === TOO_LARGE ? Buffer.alloc(0) : received;
        let operation: string | undefined;
        let rendered: RenderedResponse;
        try {
          if (received === TOO_LARGE) {
            // Undocumented but observed: KSeF refuses an oversized request with 413 and no body (CIRFMF/ksef-api issue #577).
            rendered = { status: 413, headers: {}, body: Buffer.alloc(0) };
          } else if (target === '*' && method === 'OPTIONS') {
            // The asterisk-form asks about the server as a whole (RFC 9112 3.2.4).
            rendered = { status: 204, headers: { allow: allowedMethods(compiled).join(', ') }, body: Buffer.alloc(0) };
          } else if (!url) {
            throw inputValidationError([`The request target ${target} is neither a path nor an absolute http URL.`]);
          } else {
            if (!url.pathname.startsWith(API_PREFIX + '/')) throw notFound();
            const path = url.pathname.slice(API_PREFIX.length);
            const candidates = compiled.filter((c) => c.pattern.test(path));
            if (candidates.length === 0) throw notFound();
            const allowed = allowedMethods(candidates);
            const match = candidates.find((c) => c.route.method === (head ? 'GET' : method));
            if (method === 'OPTIONS') {
              rendered = { status: 204, headers: { allow: allowed.join(', ') }, body: Buffer.alloc(0) };
            } else if (!match) {
              throw methodNotAllowed(method, allowed);
            } else {
              if (!head) operation = `${match.route.method} ${match.route.path}`;
              const request: SandboxRequest = {
                method: match.route.method,
                path,
                params: pathParameters(match, path),
                query: url.searchParams,
                headers: req.headers,
                body,
                clientIp: clientIpOf(req),
                now,
              };
              rendered = toRendered(await handle(ctx, limiter, match.route, request));
              // The test environment echoes X-Test-System-Warning back as X-System-Warning on success (open-api.json, api-changelog.md).
              const testWarning = req.headers['x-test-system-warning'];
              if (typeof testWarning === 'string' && rendered.status < 300) rendered.headers['x-system-warning'] = testWarning;
            }
          }
        } catch (error) {
          rendered = renderFailure(error, req, url?.pathname ?? target, now, options);
        }
        send(res, rendered);
        options.onExchange?.({
          method,
          url: target,
          operation,
          requestHeaders: { ...req.headers },
          requestBody: body,
          status: rendered.status,
          responseHeaders: rendered.headers,
          // For HEAD, the representation its headers (Content-Length, x-ms-meta-hash) describe, though not sent.
          responseBody: rendered.body,
        });
      })
      .catch((error: unknown) => {
        options.logger?.error('ksef sandbox: request failed', { error: String(error) });
        if (!res.headersSent) res.writeHead(500).end();
      });
  };
}

/**
 * The URL of an origin-form (`/v2/...`) or absolute-form (`http://host/v2/...`) request target; servers must
 * accept both (RFC 9112 3.2). Undefined for anything else, including an absolute URL with an invalid authority.
 */
function parseRequestTarget(target: string): URL | undefined {
  try {
    // Prefixed rather than resolved against a base, so that `//x/y` stays a path and does not become host `x`.
    if (target.startsWith('/')) return new URL(`http://sandbox${target}`);
    if (/^https?:\/\//i.test(target)) return new URL(target);
  } catch {
    // Not a URL: reported as a 400 by the caller.
  }
  return undefined;
}

const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'];

/** The `Allow` list of a path: its routes' methods, HEAD wherever GET is, and OPTIONS. */
function allowedMethods(candidates: CompiledRoute[]): string[] {
  const methods = new Set(candidates.map((c) => c.route.method as string));
  if (methods.has('GET')) methods.add('HEAD');
  return [...METHOD_ORDER.filter((m) => methods.has(m)), 'OPTIONS'];
}

async function handle(ctx: SandboxContext, limiter: RateLimiter, route: RouteDefinition, req: SandboxRequest): Promise<SandboxResponse> {
  if (route.auth !== 'none') req.principal = authenticate(ctx, route.auth, req);

  const limitKey =
    route.rateLimit === 'anonymous'
      ? `${req.clientIp}|${route.method} ${route.path}`
      : `${req.principal?.operation.contextIdentifier.value ?? '-'}|${req.clientIp}|${route.rateLimit}`;
  // The context's own limits (changeable at run time); unauthenticated requests count under the sandbox's defaults.
  const rejection = limiter.take(limitKey, ctx.state.limits.rateLimitsOf(req.principal?.operation.contextIdentifier)[route.rateLimit]);
  if (rejection) throw tooManyRequests(rejection.detail, rejection.retryAfterSeconds);

  if (route.permissions && req.principal) {
    const present = req.principal.operation.permissions;
    if (!route.permissions.some((p) => present.includes(p))) throw missingPermissions(route.permissions, present);
  }

  if (req.body.length > 0 && isJson(req.headers['content-type'])) {
    try {
      req.json = JSON.parse(req.body.toString('utf8'));
    } catch {
      throw inputValidationError(['Treść żądania nie jest poprawnym dokumentem JSON.']);
    }
  }
  validateAgainstSpec(ctx, route, req);
  return route.handler(req);
}

function authenticate(ctx: SandboxContext, requirement: Exclude<RouteDefinition['auth'], 'none'>, req: SandboxRequest): Principal {
  const header = req.headers.authorization;
  const token = typeof header === 'string' && /^Bearer /i.test(header) ? header.slice(7).trim() : undefined;
  if (!token) throw unauthorized();
  const claims = verifyJwt(token, ctx.jwtSecret, req.now);
  const acceptedTypes: Record<typeof requirement, JwtType[]> = {
    authenticationToken: ['AuthenticationToken'],
    accessToken: ['ContextToken'],
    refreshToken: ['RefreshToken'],
    sessionToken: ['ContextToken', 'RefreshToken'],
  };
  if (!claims || !acceptedTypes[requirement].includes(claims.typ)) throw unauthorized(PROBLEM_DETAILS.invalidToken);
  const operation = ctx.state.authOperations.get(claims.arn);
  if (!operation) throw unauthorized(PROBLEM_DETAILS.invalidToken);
  // The policy binds the tokens issued by the authentication, not the authentication token used to obtain them.
  if (claims.typ !== 'AuthenticationToken' && operation.allowedIps && !allowsClientIp(operation.allowedIps, req.clientIp)) {
    throw ipNotAllowed(req.clientIp);
  }
  // Access tokens outlive a revoked authentication until they expire (auth/sesje.md, CIRFMF/ksef-docs); a refresh
  // token of a revoked authentication is refused by the refresh operation itself (21301, open-api.json).
  return { claims, operation };
}

function validateAgainstSpec(ctx: SandboxContext, route: RouteDefinition, req: SandboxRequest): void {
  if (!ctx.spec) return;
  const problems = [];
  for (const parameter of ctx.spec.parameters(route.method, route.path)) {
    if (parameter.in !== 'path' && parameter.in !== 'query') continue;
    const raw = parameter.in === 'path' ? req.params[parameter.name] : req.query.getAll(parameter.name);
    const value = coerceParameter(raw, parameter.schema);
    if (value === undefined) {
      if (parameter.required) problems.push({ field: parameter.name, message: 'is required' });
      continue;
    }
    problems.push(...ctx.spec.validateParameter(parameter, value));
  }
  const bodyProblems = ctx.spec.validateRequestBody(route.method, route.path, req.json);
  if (bodyProblems) {
    if (req.json === undefined) problems.push({ field: '(body)', message: 'is required (application/json)' });
    else problems.push(...bodyProblems);
  }
  if (problems.length > 0) throw inputValidationError(problems.map((p) => `'${p.field}' ${p.message}.`));
}

/** Query/path strings → the JSON types their schema declares, so ajv checks ranges rather than types of text. */
function coerceParameter(raw: string | string[] | undefined, schema: Record<string, unknown> | undefined): unknown {
  const values = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  if (values.length === 0) return undefined;
  const type = [schema?.type].flat()[0];
  const convert = (text: string): unknown => {
    if ((type === 'integer' || type === 'number') && text.trim() !== '' && !Number.isNaN(Number(text))) return Number(text);
    if (type === 'boolean' && (text === 'true' || text === 'false')) return text === 'true';
    return text;
  };
  return type === 'array' ? values.map(convert) : convert(values[0]);
}

function renderFailure(error: unknown, req: IncomingMessage, instance: string, now: Date, options: PipelineOptions): RenderedResponse {
  if (error instanceof SandboxHttpError) {
    return renderError(error, { problemDetails: req.headers['x-error-format'] === 'problem-details', instance, now });
  }
  options.logger?.error('ksef sandbox: handler failed', { path: instance, error: error instanceof Error ? error.stack : String(error) });
  return {
    status: 500,
    headers: { 'content-type': 'application/problem+json; charset=utf-8' },
    body: Buffer.from(JSON.stringify({ title: 'Internal Server Error', status: 500, instance, detail: PROBLEM_DETAILS.internalError })),
  };
}

function toRendered(response: SandboxResponse): RenderedResponse {
  const headers = { ...response.headers };
  let body: Buffer = Buffer.alloc(0);
  if (Buffer.isBuffer(response.body) || typeof response.body === 'string') {
    body = Buffer.isBuffer(response.body) ? response.body : Buffer.from(response.body, 'utf8');
    headers['content-type'] = response.contentType ?? 'application/octet-stream';
  } else if (response.body !== undefined) {
    body = Buffer.from(JSON.stringify(response.body), 'utf8');
    headers['content-type'] = 'application/json; charset=utf-8';
  }
  return { status: response.status, headers, body };
}

function send(res: ServerResponse, rendered: RenderedResponse): void {
  res.writeHead(rendered.status, { ...rendered.headers, 'content-length': String(rendered.body.length) });
  res.end(rendered.body);
}

const TOO_LARGE = Symbol('request body too large');

/**
 * The request body, or TOO_LARGE past MAX_BODY_BYTES. An oversized body is still read to its end, and thrown
 * away, so that the client receives the answer instead of a reset connection.
 */
function readBody(req: IncomingMessage): Promise<Buffer | typeof TOO_LARGE> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = Number(req.headers['content-length']) > MAX_BODY_BYTES;
    if (tooLarge) resolve(TOO_LARGE);
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        tooLarge = true;
        chunks.length = 0;
        resolve(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function isJson(contentType: string | undefined): boolean {
  return !!contentType && /^application\/([a-z.+-]*\+)?json/i.test(contentType);
}

function clientIpOf(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '127.0.0.1';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

function compileRoutes(routes: RouteDefinition[]): CompiledRoute[] {
  return (
    routes
      .map((route) => {
        const paramNames: string[] = [];
        const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_, name: string) => {
          paramNames.push(name);
          return '([^/]+)';
        });
        return { route, pattern: new RegExp(`^${source}$`), paramNames };
      })
      // Literal segments win over parameters: `/sessions/{ref}/invoices/failed` before `/sessions/{ref}/invoices/{invoiceRef}`.
      .sort((a, b) => a.paramNames.length - b.paramNames.length)
  );
}

/** The route's path parameters, percent-decoded; 400 for an escape that does not decode (e.g. `%ZZ`). */
function pathParameters({ pattern, paramNames }: CompiledRoute, path: string): Record<string, string> {
  const match = pattern.exec(path)!;
  const params: Record<string, string> = {};
  paramNames.forEach((name, i) => {
    try {
      params[name] = decodeURIComponent(match[i + 1]);
    } catch {
      throw inputValidationError([`The path segment '${match[i + 1]}' (${name}) is not valid percent-encoded UTF-8.`]);
    }
  });
  return params;
}
