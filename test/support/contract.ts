/**
 * Contract checking: record every exchange a sandbox serves (`onExchange`) and validate each response
 * against the current contract (open-api.json of API 2.8.1, CIRFMF/ksef-api) — the schema of its operation/status/content type, plus the headers KSeF promises.
 */
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { findSpecFolder } from '../../shared/protocol/spec/specFolder';
import type { SandboxExchange } from '../../sandbox';
import { OpenApiSpec } from '../../sandbox/http/openapi';

/** Headers the spec declares that a response must really carry (others, like X-System-Warning, are optional). */
const REQUIRED_HEADERS = ['retry-after', 'x-ms-meta-hash'];

export class ContractRecorder {
  readonly exchanges: SandboxExchange[] = [];

  /** Pass as `startSandbox({ onExchange: recorder.record })`. */
  readonly record = (exchange: SandboxExchange): void => {
    this.exchanges.push(exchange);
  };

  /** Operations (`METHOD /template status`) seen so far, for asserting coverage. */
  coverage(): Set<string> {
    return new Set(this.exchanges.filter((e) => e.operation).map((e) => `${e.operation} ${e.status}`));
  }

  /** Every contract violation of the recorded exchanges; empty when all responses match the spec. */
  violations(): string[] {
    const specDir = findSpecFolder();
    if (!specDir)
      throw new Error('Contract tests need the KSeF spec folder: set KSEF_SPEC_DIR to the folder containing ksef-docs/ and ksef-api/.');
    const spec = OpenApiSpec.load(specDir);
    return this.exchanges.flatMap((exchange) => contractViolations(spec, exchange));
  }
}

export function contractViolations(spec: OpenApiSpec, exchange: SandboxExchange): string[] {
  const label = `${exchange.method} ${exchange.url} → ${exchange.status}`;
  if (!exchange.operation) return storageViolations(exchange, label);

  const [method, template] = exchange.operation.split(' ');
  const contentType = (exchange.responseHeaders['content-type'] ?? '').split(';')[0].trim();
  let body: unknown;
  if (/json$/.test(contentType)) {
    try {
      body = JSON.parse(exchange.responseBody.toString('utf8'));
    } catch {
      return [`${label}: ${contentType} body is not JSON`];
    }
  }
  const problems = spec.validateResponse(method, template, exchange.status, contentType, body);
  if (!problems) return [`${label}: status ${exchange.status} is not declared for ${exchange.operation}`];
  const violations = problems.map((p) => `${label}: ${p.field} ${p.message}`);
  for (const header of spec.responseHeaders(method, template, exchange.status)) {
    if (REQUIRED_HEADERS.includes(header) && exchange.responseHeaders[header] === undefined)
      violations.push(`${label}: header ${header} missing`);
  }
  if (
    exchange.responseHeaders['x-ms-meta-hash'] !== undefined &&
    exchange.responseHeaders['x-ms-meta-hash'] !== sha256Base64(exchange.responseBody)
  ) {
    violations.push(`${label}: x-ms-meta-hash is not the SHA-256 of the body`);
  }
  return violations;
}

/**
 * Storage links are not in open-api.json; what KSeF documents for them is the `x-ms-meta-hash` of the body. A streamed
 * part's body is not recorded (the test that reads it checks its hash), so only recorded bodies are checked here.
 */
function storageViolations(exchange: SandboxExchange, label: string): string[] {
  if (!exchange.url.startsWith('/storage/') || exchange.status !== 200) return [];
  const streamed = exchange.responseBody.length === 0 && Number(exchange.responseHeaders['content-length']) > 0;
  if (streamed) return [];
  const hash = exchange.responseHeaders['x-ms-meta-hash'];
  return hash === sha256Base64(exchange.responseBody) ? [] : [`${label}: x-ms-meta-hash missing or not the SHA-256 of the body`];
}
