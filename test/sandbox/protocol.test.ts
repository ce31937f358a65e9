import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { request as httpRequest } from 'node:http';
import { findSpecFolder } from '../../shared/protocol/spec/specFolder';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { OpenApiSpec } from '../../sandbox/http/openapi';
import { ContractRecorder, contractViolations } from '../support/contract';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { KsefHttp, ManualClock, RELAXED_RATE_LIMITS, exceptionOf, sendInvoiceBody } from '../support/ksefHttp';
import { testSigner, xadesAuthenticate } from '../support/xadesAuth';

const recorder = new ContractRecorder();
const clock = new ManualClock(new Date('2026-05-04T10:00:00Z'));
let sandbox: SandboxHandle;
let http: KsefHttp;
let accessToken: string;

beforeAll(async () => {
  sandbox = await startSandbox({
    clock,
    processingDelayMs: 5,
    rateLimits: {
      other: { perSecond: 2, perMinute: 100, perHour: 1000 },
      sessionList: { perSecond: 100, perMinute: 2, perHour: 1000 },
    },
    onExchange: recorder.record,
  });
  http = new KsefHttp(sandbox.baseUrl);
  ({ accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier));
});

afterAll(async () => {
  await sandbox.close();
});

describe('sandbox protocol conventions', () => {
  it('answers a malformed request with 400 / 21405 naming the field, as ExceptionResponse by default', async () => {
    const answer = await http.request('POST', '/auth/ksef-token', {
      body: { challenge: 'too-short', contextIdentifier: { type: 'Nip' }, encryptedToken: 'not base64!' },
    });
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    const [detail] = answer.json.exception.exceptionDetailList;
    expect(detail.exceptionCode).toBe(21405);
    expect(detail.exceptionDescription).toBe('Błąd walidacji danych wejściowych.');
    expect(detail.details).toEqual(
      expect.arrayContaining([
        expect.stringContaining("'challenge'"),
        expect.stringContaining("'contextIdentifier.value' is required."),
        expect.stringContaining("'encryptedToken'"),
      ]),
    );
    expect(answer.json.exception.timestamp).toMatch(/\+00:00$/);
  });

  it('answers the same error as problem+json when X-Error-Format: problem-details is sent', async () => {
    const answer = await http.request('POST', '/auth/ksef-token', {
      headers: { 'X-Error-Format': 'problem-details' },
      body: { challenge: 'too-short', contextIdentifier: { type: 'Nip', value: '1234563218' }, encryptedToken: 'AAAA' },
    });
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(answer.json).toMatchObject({
      title: 'Bad Request',
      status: 400,
      instance: '/v2/auth/ksef-token',
      detail: 'Żądanie jest nieprawidłowe.',
    });
    expect(answer.json.errors).toEqual([
      { code: 21405, description: 'Błąd walidacji danych wejściowych.', details: [expect.stringContaining("'challenge'")] },
    ]);
    expect(answer.json.traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('rejects a body that is not JSON and query parameters out of range', async () => {
    const notJson = await http.request('POST', '/sessions/online', { bearer: accessToken, body: '{"formCode":' });
    expect(notJson.json.exception.exceptionDetailList[0]).toMatchObject({ exceptionCode: 21405 });
    const pageSize = await http.request('GET', '/sessions?sessionType=Online&pageSize=5', { bearer: accessToken });
    expect(pageSize.json.exception.exceptionDetailList[0].details).toEqual(["'pageSize' must be >= 10."]);
  });

  it('answers unknown paths with 404 and an empty body', async () => {
    for (const path of ['/no-such-endpoint', '/sessions/online/x/y/z']) {
      const answer = await http.request('GET', path);
      expect(answer.status).toBe(404);
      expect(answer.text).toBe('');
    }
    const outside = await fetch(sandbox.baseUrl.replace(/\/v2$/, '/v1/auth/challenge'), { method: 'POST' });
    expect(outside.status).toBe(404);
  });

  it('answers a request body over 20 MB with 413 and an empty body, announced by Content-Length or streamed', async () => {
    const announced = await rawPost(
      `${sandbox.baseUrl}/sessions/online`,
      { 'content-type': 'application/json', 'content-length': String(20 * 1024 * 1024 + 1) },
      [Buffer.from('{')],
    );
    expect(announced).toEqual({ status: 413, body: '' });

    const megabyte = Buffer.alloc(1024 * 1024, 0x20);
    const streamed = await rawPost(`${sandbox.baseUrl}/sessions/online`, { 'content-type': 'application/json' }, Array(21).fill(megabyte));
    expect(streamed).toEqual({ status: 413, body: '' });
    // The connection was drained, not broken: the sandbox goes on answering.
    expect((await http.request('POST', '/auth/challenge')).status).toBe(200);
  });

  it('limits requests per second with 429, Retry-After and the Polish detail', async () => {
    expect((await http.request('GET', '/rate-limits', { bearer: accessToken })).status).toBe(200);
    expect((await http.request('GET', '/limits/context', { bearer: accessToken })).status).toBe(200);
    const limited = await http.request('GET', '/rate-limits', { bearer: accessToken });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.json).toEqual({
      status: {
        code: 429,
        description: 'Too Many Requests',
        details: ['Przekroczono limit 2 żądań na sekundę. Spróbuj ponownie po 1 sekundzie.'],
      },
    });

    clock.advance(1000);
    const effective = await http.request('GET', '/rate-limits', { bearer: accessToken });
    expect(effective.status).toBe(200);
    expect(effective.json.other).toEqual({ perSecond: 2, perMinute: 100, perHour: 1000 });
    expect(effective.json.invoiceSend).toEqual({ perSecond: 10, perMinute: 30, perHour: 180 });
  });

  it('limits requests per minute, answering problem+json when asked', async () => {
    clock.advance(60_000);
    await http.request('GET', '/sessions?sessionType=Online', { bearer: accessToken });
    clock.advance(20_000);
    await http.request('GET', '/sessions?sessionType=Online', { bearer: accessToken });
    const limited = await http.request('GET', '/sessions?sessionType=Online', {
      bearer: accessToken,
      headers: { 'x-error-format': 'problem-details' },
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('40');
    expect(limited.json).toMatchObject({
      title: 'Too Many Requests',
      status: 429,
      detail: 'Przekroczono limit 2 żądań na minutę. Spróbuj ponownie po 40 sekundach.',
    });
  });

  it('limits public endpoints to 60 requests per second per client', async () => {
    clock.advance(1000);
    const statuses = [];
    for (let i = 0; i < 61; i++) statuses.push((await http.request('POST', '/auth/challenge')).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(60);
    expect(statuses[60]).toBe(429);
  });

  it('serves only responses that match open-api.json', () => {
    expect(recorder.violations()).toEqual([]);
    expect(recorder.coverage()).toContain('POST /auth/ksef-token 400');
    expect(recorder.coverage()).toContain('GET /rate-limits 429');
  });

  it('has a contract check that notices a response breaking the spec', () => {
    const spec = OpenApiSpec.load(findSpecFolder()!);
    const violations = contractViolations(spec, {
      method: 'POST',
      url: '/v2/auth/challenge',
      operation: 'POST /auth/challenge',
      requestHeaders: {},
      requestBody: Buffer.alloc(0),
      status: 200,
      responseHeaders: { 'content-type': 'application/json' },
      responseBody: Buffer.from(JSON.stringify({ challenge: 'short', timestamp: 'yesterday', clientIp: '127.0.0.1' })),
    });
    expect(violations).toEqual(
      expect.arrayContaining([
        expect.stringContaining('challenge must NOT have fewer than 36 characters'),
        expect.stringContaining('timestamp must match format "date-time"'),
        expect.stringContaining('timestampMs is required'),
      ]),
    );
  });
});

describe('a spec folder without the 2.8.1 contract', () => {
  it('is refused naming the missing ksef-api/open-api.json', () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'ksef-spec-2.6-'));
    try {
      mkdirSync(path.join(folder, 'ksef-docs'));
      expect(() => OpenApiSpec.load(folder)).toThrow(`The KSeF spec folder ${folder} has no ksef-api/open-api.json`);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('sandbox without the spec folder', () => {
  it('still applies the limits of open-api.json that handlers check by hand: lengths, enums, patterns, list sizes and ranges', async () => {
    const bare = await startSandbox({ specDir: null, processingDelayMs: 5, rateLimits: RELAXED_RATE_LIMITS });
    try {
      const bareHttp = new KsefHttp(bare.baseUrl);
      const detailsOf = (answer: { json: any }) => {
        expect(exceptionOf(answer)).toMatchObject({ exceptionCode: 21405, exceptionDescription: 'Błąd walidacji danych wejściowych.' });
        return exceptionOf(answer).details;
      };
      const tooManyIps = await bareHttp.startTokenAuthentication(bare.ksefToken, bare.contextIdentifier, {
        authorizationPolicy: { allowedIps: { ip4Addresses: Array.from({ length: 11 }, (_, i) => `10.0.0.${i + 1}`) } },
      });
      expect(detailsOf(tooManyIps.answer)).toEqual(['authorizationPolicy.allowedIps.ip4Addresses may hold at most 10 entries (has 11).']);

      const seal = testSigner({ kind: 'seal', organizationName: 'Demo sp. z o.o.', nip: bare.contextIdentifier.value });
      const { accessToken } = await xadesAuthenticate(bareHttp, seal, bare.contextIdentifier);
      const post = (path: string, body: unknown) => bareHttp.request('POST', path, { bearer: accessToken, body });
      expect(detailsOf(await post('/tokens', { permissions: ['InvoiceRead'], description: 'abcd' }))).toEqual([
        "'description' must be 5 to 256 characters long.",
      ]);
      expect(detailsOf(await post('/tokens', { permissions: ['Owner'], description: 'Nieznane uprawnienie' }))).toEqual([
        "'permissions[0]' must be one of: InvoiceRead, InvoiceWrite, CredentialsRead, CredentialsManage, SubunitManage, EnforcementOperations, Introspection.",
      ]);
      const enrollment = await post('/certificates/enrollments', {
        certificateName: 'Cert!',
        certificateType: 'Authentication',
        csr: 'AAAA',
      });
      expect(detailsOf(enrollment)).toEqual([expect.stringMatching(/^'certificateName' must match pattern /)]);
      expect(detailsOf(await post('/certificates/query?pageSize=51', {}))).toEqual(["'pageSize' must be an integer from 10 to 50."]);
      expect(detailsOf(await post('/certificates/retrieve', { certificateSerialNumbers: Array(11).fill('0321C82DA41B4362') }))).toEqual([
        "'certificateSerialNumbers' must be an array of 1 to 10 items.",
      ]);
    } finally {
      await bare.close();
    }
  });

  it('still rejects malformed requests with 21405 naming the field, and still processes invoices', async () => {
    const bare = await startSandbox({ specDir: null, processingDelayMs: 5 });
    try {
      const bareHttp = new KsefHttp(bare.baseUrl);
      const missingContext = await bareHttp.request('POST', '/auth/ksef-token', { body: { challenge: 'x', encryptedToken: 'AAAA' } });
      expect(missingContext.json.exception.exceptionDetailList).toEqual([
        {
          exceptionCode: 21405,
          exceptionDescription: 'Błąd walidacji danych wejściowych.',
          details: ["'contextIdentifier' must be a JSON object."],
        },
      ]);
      const { accessToken: bareToken } = await bareHttp.authenticate(bare.ksefToken, bare.contextIdentifier);
      const session = await bareHttp.openOnlineSession(bareToken);
      const noContent = await bareHttp.sendInvoice(bareToken, session.referenceNumber, {
        invoiceHash: 'x',
        invoiceSize: 1,
        encryptedInvoiceHash: 'y',
        encryptedInvoiceSize: 16,
      });
      expect(noContent.json.exception.exceptionDetailList[0].details).toEqual(["'encryptedInvoiceContent' must not be empty."]);
      const sent = await bareHttp.sendInvoice(bareToken, session.referenceNumber, sendInvoiceBody(buildDemoInvoice(), session.key));
      const invoice = await bareHttp.invoiceResult(bareToken, session.referenceNumber, sent.json.referenceNumber);
      expect(invoice.status.code).toBe(200);
    } finally {
      await bare.close();
    }
  });
});

/** POSTs `chunks` (chunked unless a content-length is given) and resolves with the answer, even one given before the body is sent. */
function rawPost(url: string, headers: Record<string, string>, chunks: Buffer[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') });
        req.destroy();
      });
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    void (async () => {
      for (const chunk of chunks) {
        if (answered) return;
        if (!req.write(chunk)) await once(req, 'drain');
      }
      if (!headers['content-length']) req.end();
    })();
  });
}
