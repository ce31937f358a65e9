/**
 * Simple KSeF endpoints as data, as Octokit generates its REST methods from a route table
 * (@octokit/plugin-rest-endpoint-methods): an entry names the route as open-api.json writes it, where each caller
 * argument goes and how it is checked, the paging if any, and the result type; `endpointMethods` turns a chapter's
 * table into the client's functions. Flows (send, enroll, authenticate, generate a token and wait) stay functions.
 */
import { checkPageSize } from '../util/input';
import { paginate, type PageStrategy } from './paging';
import type { HttpMethod, KsefRequest, RequestFunction } from './transport';

/** Method and path template, e.g. `GET /tokens/{referenceNumber}`. */
export type Route = `${HttpMethod} /${string}`;

/** Checks a caller's argument (`field` names it in errors) and returns what is sent. */
export type Check<T> = (value: T, field: string) => unknown;

/** Where one caller argument goes. */
export interface Argument<T> {
  /**
   * `path` fills `{name}` of the route; `query` and `body` set parameter or JSON body field `name`. Without `name`,
   * the checked value is an object whose fields are all query parameters, or the whole body.
   */
  in: 'path' | 'query' | 'body';
  name?: string;
  /** The argument's name in errors (default: `name`, else `options`). */
  field?: string;
  check?: Check<T>;
}

/** KSeF's `pageSize` bounds of a listing: the default and the allowed range (open-api.json). */
export interface PageSize {
  fallback: number;
  min: number;
  max: number;
}

interface Definition<TArgs extends unknown[]> {
  route: Route;
  /** One per caller argument, in order. */
  args: { [K in keyof TArgs]-?: Argument<TArgs[K]> };
  /** Whether sending it twice is harmless (see `KsefRequest.idempotent`); a GET always is. */
  idempotent?: boolean;
  /** Turns a failure into a clearer one (e.g. naming the authentication method an endpoint needs). */
  explainError?: (error: unknown) => unknown;
}

declare const result: unique symbol;

export interface CallDefinition<TArgs extends unknown[], TResult> extends Definition<TArgs> {
  /** KSeF's answer shaped into the result; without it the answer is the result. */
  result?: (data: never, args: TArgs) => TResult;
}

export interface CallEndpoint<TArgs extends unknown[], TResult> extends CallDefinition<TArgs, TResult> {
  kind: 'call';
  readonly [result]?: TResult;
}

export interface PagedDefinition<TArgs extends unknown[]> extends Definition<TArgs> {
  paging: PageStrategy;
  /** Taken from the `pageSize` of the last argument (the caller's options) and sent in the query. */
  pageSize: PageSize;
}

export interface PagedEndpoint<TArgs extends unknown[], TItem> extends PagedDefinition<TArgs> {
  kind: 'paged';
  readonly [result]?: TItem;
}

// `any` where a table holds endpoints of every argument list: each entry keeps its own types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyEndpoint = CallEndpoint<any, any> | PagedEndpoint<any, any>;

/** An endpoint answered by one request; `TResult` is what the client's function resolves to. */
export function endpoint<TArgs extends unknown[], TResult>(definition: CallDefinition<TArgs, TResult>): CallEndpoint<TArgs, TResult> {
  return { ...definition, kind: 'call' };
}

/** A listing; the client's function streams its `TItem`s page by page. */
export function pagedEndpoint<TArgs extends unknown[], TItem>(definition: PagedDefinition<TArgs>): PagedEndpoint<TArgs, TItem> {
  return { ...definition, kind: 'paged' };
}

/** The check of a listing's options that hold no filter: only `pageSize`, which the paging sends itself. */
export const onlyPageSize = (): object => ({});

/** For endpoints whose answer says nothing beyond success. */
export const noResult = (): void => undefined;

/** The client function an endpoint becomes. */
export type EndpointMethod<E> =
  E extends PagedEndpoint<infer TArgs, infer TItem>
    ? (...args: TArgs) => AsyncIterable<TItem>
    : E extends CallEndpoint<infer TArgs, infer TResult>
      ? (...args: TArgs) => Promise<TResult>
      : never;

export type EndpointMethods<TTable> = { [K in keyof TTable]: EndpointMethod<TTable[K]> };

/** One request of a simple endpoint: checks the arguments, sends, shapes the answer. */
export async function callEndpoint<TArgs extends unknown[], TResult>(
  api: RequestFunction,
  endpoint: CallEndpoint<TArgs, TResult>,
  ...args: TArgs
): Promise<TResult> {
  const request = requestOf(endpoint, args);
  try {
    const { data } = await api<never>(request);
    return endpoint.result ? endpoint.result(data, args) : (data as TResult);
  } catch (error) {
    throw endpoint.explainError ? endpoint.explainError(error) : error;
  }
}

/** Every item of a paged endpoint, page by page as consumed; the arguments are checked before the first request. */
export async function* pageEndpoint<TArgs extends unknown[], TItem>(
  api: RequestFunction,
  endpoint: PagedEndpoint<TArgs, TItem>,
  ...args: TArgs
): AsyncGenerator<TItem> {
  const options = args[endpoint.args.length - 1] as { pageSize?: unknown } | undefined;
  const { fallback, min, max } = endpoint.pageSize;
  const pageSize = checkPageSize(options?.pageSize, fallback, min, max);
  const request = requestOf(endpoint, args);
  yield* paginate<TItem>(api, { ...request, query: { ...request.query, pageSize } }, endpoint.paging);
}

/**
 * The functions of a chapter's table, each waiting for `api` (the client starts on first use). Paged ones return
 * a stream that starts when iterated, as the listings always have.
 */
export function endpointMethods<TTable extends Record<string, AnyEndpoint>>(
  table: TTable,
  api: () => Promise<RequestFunction>,
): EndpointMethods<TTable> {
  const methods: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(table)) {
    methods[name] =
      entry.kind === 'paged'
        ? (...args: unknown[]): AsyncIterable<unknown> => ({
            async *[Symbol.asyncIterator]() {
              yield* pageEndpoint(await api(), entry, ...args);
            },
          })
        : async (...args: unknown[]) => callEndpoint(await api(), entry, ...args);
  }
  return methods as EndpointMethods<TTable>;
}

function requestOf(endpoint: AnyEndpoint, args: readonly unknown[]): KsefRequest {
  const [method, template] = endpoint.route.split(' ') as [HttpMethod, string];
  let path = template;
  const query: NonNullable<KsefRequest['query']> = {};
  let body: Record<string, unknown> | undefined;
  (endpoint.args as readonly Argument<unknown>[]).forEach((argument, i) => {
    const field = argument.field ?? argument.name ?? 'options';
    const value = argument.check ? argument.check(args[i], field) : args[i];
    if (argument.in === 'path') {
      path = path.replace(`{${argument.name}}`, encodeURIComponent(String(value)));
    } else if (argument.in === 'query') {
      if (argument.name) query[argument.name] = value as string;
      else Object.assign(query, value);
    } else if (argument.name) {
      body = { ...body, ...(value !== undefined && { [argument.name]: value }) };
    } else {
      body = { ...body, ...(value as object) };
    }
  });
  return {
    method,
    path,
    ...(Object.keys(query).length > 0 && { query }),
    ...(body && { json: body }),
    ...(endpoint.idempotent !== undefined && { idempotent: endpoint.idempotent }),
  };
}
