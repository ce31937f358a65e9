/**
 * The official open-api.json, read at run time from the spec folder and compiled with ajv. The sandbox
 * validates requests with it; the contract tests validate the sandbox's responses with the same loader.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { isBase64 } from './input';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: JsonObject;
}

export interface ValidationProblem {
  /** Dotted path of the offending field, e.g. `encryption.publicKeyId` or `pageSize`. */
  field: string;
  message: string;
}

const SCHEMA_ID = 'ksef-openapi';

export class OpenApiSpec {
  private readonly ajv: Ajv;
  private readonly validators = new Map<string, ValidateFunction>();

  private constructor(private readonly document: JsonObject) {
    // Non-Unicode regular expressions: open-api.json writes `\ ` (an escaped space) in the certificateName pattern,
    // which the `u` flag rejects; every pattern in the spec stays within the BMP.
    this.ajv = new Ajv({ strict: false, allErrors: true, logger: false, unicodeRegExp: false });
    addFormats(this.ajv);
    // ajv-formats checks `byte` with a regular expression that overflows the stack on multi-megabyte fields.
    this.ajv.addFormat('byte', isBase64);
    this.ajv.addSchema({ $id: SCHEMA_ID, components: toJsonSchema(document.components) }, SCHEMA_ID);
  }

  private static readonly cache = new Map<string, OpenApiSpec>();

  /** The current contract, `specDir/ksef-api/open-api.json` (API 2.8.1, CIRFMF/ksef-api), loaded once per process. */
  static load(specDir: string): OpenApiSpec {
    const file = path.join(specDir, 'ksef-api', 'open-api.json');
    let spec = OpenApiSpec.cache.get(file);
    if (!spec) {
      // A spec folder laid out for API 2.6 has ksef-docs/ only: say what is missing instead of a bare ENOENT.
      if (!fs.existsSync(file)) {
        throw new Error(
          `The KSeF spec folder ${specDir} has no ksef-api/open-api.json, the API 2.8.1 contract of CIRFMF/ksef-api the sandbox checks requests with.`,
        );
      }
      spec = new OpenApiSpec(JSON.parse(fs.readFileSync(file, 'utf8')) as JsonObject);
      OpenApiSpec.cache.set(file, spec);
    }
    return spec;
  }

  /** The operation object of e.g. `('post', '/sessions/online/{referenceNumber}/invoices')`. */
  operation(method: string, pathTemplate: string): JsonObject | undefined {
    const paths = this.document.paths as JsonObject;
    const item = paths[pathTemplate] as JsonObject | undefined;
    return item?.[method.toLowerCase()] as JsonObject | undefined;
  }

  parameters(method: string, pathTemplate: string): OpenApiParameter[] {
    return ((this.operation(method, pathTemplate)?.parameters ?? []) as unknown as OpenApiParameter[]).map((p) => ({
      ...p,
      schema: p.schema && (toJsonSchema(p.schema) as JsonObject),
    }));
  }

  /** Problems of a JSON request body; undefined when the operation declares no JSON body. */
  validateRequestBody(method: string, pathTemplate: string, body: unknown): ValidationProblem[] | undefined {
    const requestBody = this.operation(method, pathTemplate)?.requestBody as JsonObject | undefined;
    const schema = ((requestBody?.content as JsonObject | undefined)?.['application/json'] as JsonObject | undefined)?.schema;
    if (!schema) return undefined;
    return this.run(`request ${method} ${pathTemplate}`, schema as JsonObject, body);
  }

  validateParameter(parameter: OpenApiParameter, value: unknown): ValidationProblem[] {
    if (!parameter.schema) return [];
    return this.run(`parameter ${JSON.stringify(parameter.schema)}`, parameter.schema, value, parameter.name);
  }

  /**
   * Problems of a response body against the schema declared for `status` and `contentType`; undefined when
   * the spec declares no such response (that itself is a contract violation the caller reports).
   */
  validateResponse(
    method: string,
    pathTemplate: string,
    status: number,
    contentType: string,
    body: unknown,
  ): ValidationProblem[] | undefined {
    const responses = this.operation(method, pathTemplate)?.responses as JsonObject | undefined;
    const response = responses?.[String(status)] as JsonObject | undefined;
    if (!response) return undefined;
    const content = response.content as JsonObject | undefined;
    if (!content) return contentType === '' ? [] : [{ field: '(body)', message: `no body expected, got ${contentType}` }];
    const media = content[contentType] as JsonObject | undefined;
    if (!media)
      return [{ field: '(content-type)', message: `${contentType} is not declared; declared: ${Object.keys(content).join(', ')}` }];
    if (!media.schema || contentType === 'application/xml') return [];
    return this.run(`response ${method} ${pathTemplate} ${status} ${contentType}`, media.schema as JsonObject, body);
  }

  /** Names of response headers declared for `status` (lower-case). */
  responseHeaders(method: string, pathTemplate: string, status: number): string[] {
    const responses = this.operation(method, pathTemplate)?.responses as JsonObject | undefined;
    const headers = (responses?.[String(status)] as JsonObject | undefined)?.headers as JsonObject | undefined;
    return Object.keys(headers ?? {}).map((h) => h.toLowerCase());
  }

  private run(cacheKey: string, schema: JsonObject, value: unknown, rootField = ''): ValidationProblem[] {
    let validate = this.validators.get(cacheKey);
    if (!validate) {
      validate = this.ajv.compile(rewriteRefs(toJsonSchema(schema)) as object);
      this.validators.set(cacheKey, validate);
    }
    if (validate(value)) return [];
    const errors = validate.errors ?? [];
    // The spec has no anyOf of its own: these come from the null alternative `nullable` adds, and only repeat the
    // problem the other alternative reports.
    const relevant = errors.filter(
      (e) => e.keyword !== 'anyOf' && !(e.keyword === 'type' && (e.params as { type?: unknown }).type === 'null'),
    );
    return (relevant.length > 0 ? relevant : errors).map((e) => describe(e, rootField));
  }
}

function describe(error: ErrorObject, rootField: string): ValidationProblem {
  const segments = error.instancePath
    .split('/')
    .filter(Boolean)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'required') segments.push(String((error.params as { missingProperty: string }).missingProperty));
  const field =
    [rootField, ...segments]
      .filter(Boolean)
      .join('.')
      .replace(/\.(\d+)(?=\.|$)/g, '[$1]') || '(body)';
  return { field, message: error.keyword === 'required' ? 'is required' : (error.message ?? 'is invalid') };
}

/** OpenAPI 3.0 `nullable` → JSON Schema null types, recursively. */
function toJsonSchema(node: Json | undefined): Json {
  if (Array.isArray(node)) return node.map((n) => toJsonSchema(n));
  if (!node || typeof node !== 'object') return node ?? null;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'example' || key === 'examples') continue;
    out[key] = toJsonSchema(value);
  }
  // open-api.json gives the item limits of AllowedIps as `minimum`/`maximum`, which JSON Schema ignores on arrays;
  // the changelog (2.x) calls them list-length limits that KSeF enforces, so they are checked as such.
  if (out.type === 'array') {
    for (const [bound, itemsBound] of [
      ['minimum', 'minItems'],
      ['maximum', 'maxItems'],
    ] as const) {
      if (typeof out[bound] === 'number' && out[itemsBound] === undefined) out[itemsBound] = out[bound];
      delete out[bound];
    }
  }
  if (out.nullable !== true) return out;
  delete out.nullable;
  if (typeof out.type === 'string') {
    out.type = [out.type, 'null'];
    if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
    return out;
  }
  return { anyOf: [out, { type: 'null' }] };
}

function rewriteRefs(node: Json): Json {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (!node || typeof node !== 'object') return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === '$ref' && typeof value === 'string' && value.startsWith('#/') ? `${SCHEMA_ID}${value}` : rewriteRefs(value);
  }
  return out;
}
