import * as net from 'node:net';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { findSpecFolder } from '../../shared/protocol/spec/specFolder';
import { createXsdValidator } from '../../shared/protocol/xml/xsd';
import {
  KsefForbiddenError,
  KsefInputError,
  KsefNetworkError,
  KsefRateLimitError,
  KsefServerError,
  KsefValidationError,
  createKsefClient,
  type KsefClientOptions,
} from '../../shared';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import { startFaultProxy, type FaultProxy } from './support/faultProxy';
import { ManualClock, RecordingLogger } from './support/time';

const INVOICE_SEND = /^\/sessions\/online\/[^/]+\/invoices$/;
const ONE_PER_MINUTE = { perSecond: 10, perMinute: 1, perHour: 100 };

function expectNoSecret(error: unknown, secret: string): void {
  const e = error as Error;
  for (const text of [JSON.stringify(error), e.message, String(e.stack)]) expect(text).not.toContain(secret);
}

describe('rate limits (429)', () => {
  let clock: ManualClock;
  let sandbox: RecordedSandbox;

  // The sandbox verifies on real time while the test clock's sleeps last only milliseconds: compiling the FA(3) schema
  // during the first send (seconds on a busy machine) would outlast every status read the send may make.
  beforeAll(async () => {
    const specDir = findSpecFolder();
    if (specDir) await createXsdValidator(specDir).validateInvoice(buildDemoInvoice(), 'FA(3)');
  });

  beforeEach(async () => {
    clock = new ManualClock();
    // The sandbox shares the test clock, so waiting out Retry-After really frees its rate-limit window.
    sandbox = await startRecordedSandbox({ clock, rateLimits: { sessionInvoiceList: ONE_PER_MINUTE } });
  });
  afterEach(() => sandbox.close());

  async function listTwice(maxRetryAfterMs: number): Promise<number> {
    const client = clientOf(sandbox, { clock, sleep: clock.sleep, maxRetryAfterMs });
    try {
      const sent = await client.sessions.online.send([buildDemoInvoice()], { fetchUpo: false });
      let listed = 0;
      for (let round = 0; round < 2; round++) {
        for await (const invoice of client.sessions.invoices(sent.sessionReferenceNumber)) {
          expect(invoice.ksefNumber).toBe(sent.invoices[0].ksefNumber);
          listed++;
        }
      }
      return listed;
    } finally {
      await client.close();
    }
  }

  it("paces requests by the context's limits from GET /rate-limits, waiting through the injected sleep instead of earning a 429", async () => {
    expect(await listTwice(90_000)).toBe(2);

    const listings = sandbox.exchanges.filter((e) => e.operation === 'GET /sessions/{referenceNumber}/invoices');
    expect(listings.length).toBeGreaterThanOrEqual(3);
    expect(listings.map((e) => e.status).filter((status) => status !== 200)).toEqual([]);
    expect(sandbox.count('GET /rate-limits')).toBe(1);
    // One listing a minute: the next one waited for the window to slide.
    expect(clock.sleeps.some((ms) => ms > 55_000 && ms <= 61_000)).toBe(true);
  });

  it('throws KsefRateLimitError with retryAt, without asking KSeF, when the limit frees up later than the client may wait', async () => {
    const error = (await listTwice(5_000).catch((e: unknown) => e)) as KsefRateLimitError;

    expect(error).toBeInstanceOf(KsefRateLimitError);
    expect(error.retryAt.getTime()).toBeGreaterThan(clock.now().getTime() + 5_000);
    expect(error.message).toMatch(
      /^KSeF's rate limit \(sessionInvoiceList\) lets GET \/sessions\/\S+\/invoices go at \S+, later than this request may wait; retry after /,
    );
    expect(error.toJSON()).toMatchObject({ name: 'KsefRateLimitError', retryAt: error.retryAt.toISOString() });
    expect(sandbox.exchanges.filter((e) => e.status === 429)).toEqual([]);
    expectNoSecret(error, sandbox.ksefToken);
  });
});

describe('faults between the client and KSeF', () => {
  let sandbox: RecordedSandbox;
  let proxy: FaultProxy;
  let clock: ManualClock;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox();
    proxy = await startFaultProxy(sandbox.baseUrl);
    clock = new ManualClock();
  });
  afterEach(async () => {
    await proxy.close();
    await sandbox.close();
  });

  const client = (options: Partial<KsefClientOptions> = {}) =>
    clientOf(sandbox, { baseUrl: proxy.baseUrl, clock, sleep: clock.sleep, ...options });

  it('repeats an invoice POST refused with 429 after the Retry-After wait: KSeF did not process it', async () => {
    proxy.inject((r) => r.method === 'POST' && INVOICE_SEND.test(r.path), {
      kind: 'respond',
      status: 429,
      headers: { 'retry-after': '2' },
      body: { status: { code: 429, description: 'Too Many Requests', details: ['Przekroczono limit 10 żądań na sekundę.'] } },
    });
    const ksef = client();
    const result = await ksef.sessions.online.send([buildDemoInvoice()], { fetchUpo: false });
    await ksef.close();

    expect(result.invoices[0].accepted).toBe(true);
    expect(clock.sleeps).toContain(2000);
    expect(proxy.count('POST', INVOICE_SEND)).toBe(2);
  });

  it('fetches the public keys again and retries once when KSeF no longer knows the key id (21470)', async () => {
    proxy.inject((r) => r.path === '/security/public-key-certificates', {
      kind: 'rewriteJson',
      change: (keys: { publicKeyId: string }[]) => keys.map((key) => ({ ...key, publicKeyId: `${'A'.repeat(43)}=` })),
    });
    const ksef = client();
    const auth = await ksef.authenticate();
    await ksef.close();

    expect(auth.referenceNumber).toMatch(/^\d{8}-AU-/);
    expect(proxy.count('GET', '/security/public-key-certificates')).toBe(2);
    const tokenAuths = sandbox.exchanges.filter((e) => e.operation === 'POST /auth/ksef-token').map((e) => e.status);
    expect(tokenAuths).toEqual([400, 202]);
  });

  it('reads the classic KSeF error body into KsefValidationError with code, details and trace id', async () => {
    proxy.inject((r) => r.path === '/sessions/online', {
      kind: 'respond',
      status: 400,
      body: {
        exception: {
          exceptionDetailList: [
            {
              exceptionCode: 21405,
              exceptionDescription: 'Błąd walidacji danych wejściowych.',
              details: ['Wskazany kod formularza nie jest wspierany.'],
            },
          ],
          referenceNumber: 'a1b2c3d4-e5f6-4789-ab12-cd34ef567890',
          serviceCode: '00-c02cc3747020c605be02159bf3324f0e-eee7647dc67aa74a-00',
        },
      },
    });
    const ksef = client();
    const error = (await ksef.sessions.online.send([buildDemoInvoice()]).catch((e: unknown) => e)) as KsefValidationError;
    await ksef.close();

    expect(error).toBeInstanceOf(KsefValidationError);
    expect(error.message).toBe(
      'KSeF rejected the request POST /sessions/online (21405 Błąd walidacji danych wejściowych.): Wskazany kod formularza nie jest wspierany.',
    );
    expect(error.toJSON()).toMatchObject({ status: 400, code: 21405, traceId: 'a1b2c3d4-e5f6-4789-ab12-cd34ef567890' });
    expectNoSecret(error, sandbox.ksefToken);
  });

  it('reads problem+json bodies: every error entry, and the 403 reason code', async () => {
    proxy.inject((r) => r.path === '/sessions/online', {
      kind: 'respond',
      status: 400,
      headers: { 'content-type': 'application/problem+json' },
      body: {
        title: 'Bad Request',
        status: 400,
        detail: 'Żądanie jest nieprawidłowe.',
        errors: [
          { code: 21405, description: 'Błąd walidacji danych wejściowych.', details: ['Wskazany kod formularza nie jest wspierany.'] },
          { code: 21157, description: 'Nieprawidłowy rozmiar części pakietu.' },
        ],
        traceId: '673843e023c432286660bc0501a3af44',
      },
    });
    proxy.inject((r) => r.path === '/sessions/online', {
      kind: 'respond',
      status: 403,
      body: { title: 'Forbidden', status: 403, detail: 'Brak wymaganych uprawnień.', reasonCode: 'missing-permissions', traceId: 'f00' },
    });
    const ksef = client();
    const invalid = (await ksef.sessions.online.send([buildDemoInvoice()]).catch((e: unknown) => e)) as KsefValidationError;
    const forbidden = (await ksef.sessions.online.send([buildDemoInvoice()]).catch((e: unknown) => e)) as KsefForbiddenError;
    await ksef.close();

    expect(invalid).toBeInstanceOf(KsefValidationError);
    expect(invalid.exceptions.map((e) => e.code)).toEqual([21405, 21157]);
    expect(invalid.message).toBe(
      'KSeF rejected the request POST /sessions/online (21405 Błąd walidacji danych wejściowych.): Wskazany kod formularza nie jest wspierany.; (21157 Nieprawidłowy rozmiar części pakietu.)',
    );
    expect(invalid.traceId).toBe('673843e023c432286660bc0501a3af44');
    expect(forbidden).toBeInstanceOf(KsefForbiddenError);
    expect(forbidden.toJSON()).toMatchObject({ status: 403, reasonCode: 'missing-permissions', traceId: 'f00' });
    expect(forbidden.message).toMatch(/\(403 missing-permissions\): Brak wymaganych uprawnień\.$/);
  });

  it('says which permissions KSeF required and which the credential has when it refuses (403 missing-permissions)', async () => {
    const readOnly = sandbox.state.issueKsefToken({
      contextIdentifier: sandbox.contextIdentifier,
      authorIdentifier: { type: 'Nip', value: sandbox.contextIdentifier.value },
      description: 'Read-only token',
      permissions: ['InvoiceRead'],
      now: new Date(),
    });
    const ksef = clientOf(sandbox, {
      credentials: { method: 'ksefToken', contextIdentifier: sandbox.contextIdentifier, ksefToken: readOnly.secret },
    });
    const error = (await ksef.sessions.online.send([buildDemoInvoice()]).catch((e: unknown) => e)) as KsefForbiddenError;
    await ksef.close();

    expect(error).toBeInstanceOf(KsefForbiddenError);
    expect(error.reasonCode).toBe('missing-permissions');
    expect(error.security).toEqual({
      requiredAnyOfPermissions: expect.arrayContaining(['InvoiceWrite']),
      presentPermissions: ['InvoiceRead'],
    });
    expect(error.message).toMatch(
      /^KSeF denied POST \/sessions\/online; the credential needs one of the permissions .*InvoiceWrite.* in this context \(it has InvoiceRead\)/,
    );
    expect(error.toJSON()).toMatchObject({ reasonCode: 'missing-permissions', security: error.security });
    expectNoSecret(error, readOnly.secret);
  });

  it('never repeats an invoice POST that failed with 5xx: that invoice fails, the others go through', async () => {
    proxy.inject((r) => r.method === 'POST' && INVOICE_SEND.test(r.path), {
      kind: 'respond',
      status: 503,
      body: { title: 'Service Unavailable', status: 503, detail: 'Usługa chwilowo niedostępna.' },
    });
    const ksef = client();
    const result = await ksef.sessions.online.send([buildDemoInvoice({ lines: 1 }), buildDemoInvoice({ lines: 2 })], { fetchUpo: false });
    await ksef.close();

    expect(proxy.count('POST', INVOICE_SEND)).toBe(2);
    expect(result.invoices.filter((r) => r.accepted)).toHaveLength(1);
    const failed = result.invoices.find((r) => !r.accepted)!;
    expect(failed.error).toMatchObject({ name: KsefServerError.name, status: 503 });
  });

  it('retries a GET after a 5xx with backoff', async () => {
    proxy.inject((r) => r.path === '/security/public-key-certificates', { kind: 'respond', status: 502, body: '' }, 2);
    const ksef = client();
    await ksef.authenticate();
    await ksef.close();
    expect(proxy.count('GET', '/security/public-key-certificates')).toBe(3);
    expect(clock.sleeps.slice(0, 2)).toEqual([250, 500]);
  });

  it('logs method, path, status and duration of each request but never a token', async () => {
    const logger = new RecordingLogger();
    const ksef = client({ logger });
    await ksef.sessions.online.send([buildDemoInvoice()]);
    await ksef.close();

    const requestLog = logger.entries.find((e) => e.message === 'KSeF request' && e.data?.path === '/sessions/online');
    expect(requestLog?.data).toMatchObject({ method: 'POST', status: 201, durationMs: expect.any(Number) });
    expect(logger.text()).not.toContain(sandbox.ksefToken);
    expect(logger.text()).not.toMatch(/Bearer|eyJ[A-Za-z0-9_-]{10,}|sig=/);
  });
});

describe('client options and connectivity', () => {
  const credentials = {
    method: 'ksefToken' as const,
    contextIdentifier: { type: 'Nip' as const, value: '1234563218' },
    ksefToken: 'secret-token',
  };

  it.each([
    [undefined, /baseUrl is required when environment is 'custom'/],
    ['not a url', /baseUrl is not a valid URL \(it must start with https:\/\/\)/],
    ['20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-1234563218|0a1b2c', /baseUrl is not a valid URL/],
    ['ftp://ksef.example/v2', /baseUrl must use http or https, not ftp/],
    ['https://ksef.example/v2?x=1', /baseUrl must not contain a query string/],
    ['https://user:pw@ksef.example/v2', /baseUrl must not contain a user name or password/],
  ])('rejects the custom baseUrl %p with a KsefInputError naming baseUrl', (baseUrl, message) => {
    const create = () => createKsefClient({ environment: 'custom', baseUrl, credentials });
    expect(create).toThrow(KsefInputError);
    expect(create).toThrow(message);
    try {
      create();
    } catch (error) {
      expect((error as KsefInputError).field).toBe('baseUrl');
      // Whatever was typed there may be a secret pasted into the wrong field.
      if (baseUrl) expect((error as KsefInputError).message).not.toContain(baseUrl);
    }
  });

  it('requires context and token outside the sandbox, naming the field', () => {
    expect(() => createKsefClient({ environment: 'test', credentials: { method: 'ksefToken', ksefToken: 'x' } })).toThrow(
      expect.objectContaining({ field: 'credentials.contextIdentifier' }),
    );
    expect(() =>
      createKsefClient({
        environment: 'production',
        credentials: { method: 'ksefToken', contextIdentifier: credentials.contextIdentifier },
      }),
    ).toThrow(expect.objectContaining({ field: 'credentials.ksefToken' }));
    expect(() => createKsefClient({ environment: 'staging' as never, credentials })).toThrow(
      expect.objectContaining({ field: 'environment' }),
    );
  });

  it('gives up on an answer that trickles in slower than the request timeout allows, however steadily it comes', async () => {
    const sandbox = await startRecordedSandbox();
    const proxy = await startFaultProxy(sandbox.baseUrl);
    const clock = new ManualClock();
    // Each byte arrives well within the timeout, so only a deadline for the whole exchange can stop it.
    proxy.inject((r) => r.path === '/security/public-key-certificates', { kind: 'trickleAnswer', intervalMs: 50 }, 4);
    const ksef = clientOf(sandbox, { baseUrl: proxy.baseUrl, clock, sleep: clock.sleep, requestTimeoutMs: 400 });
    try {
      const startedAt = Date.now();
      const error = await ksef.authenticate().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KsefNetworkError);
      expect((error as Error).message).toBe('KSeF did not answer GET /security/public-key-certificates within 400 ms.');
      expect(proxy.count('GET', '/security/public-key-certificates')).toBe(4);
      expect(Date.now() - startedAt).toBeLessThan(10_000);
    } finally {
      await ksef.close();
      await proxy.close();
      await sandbox.close();
    }
  });

  it('reports an unreachable KSeF as KsefNetworkError after retrying the safe request', async () => {
    const port = await closedPort();
    const clock = new ManualClock();
    const ksef = createKsefClient({
      environment: 'custom',
      baseUrl: `http://127.0.0.1:${port}/v2`,
      credentials,
      clock,
      sleep: clock.sleep,
    });
    const error = await ksef.authenticate().catch((e: unknown) => e);
    await ksef.close();

    expect(error).toBeInstanceOf(KsefNetworkError);
    expect((error as Error).message).toMatch(/^Could not reach KSeF for GET \/security\/public-key-certificates: ECONNREFUSED/);
    expect(clock.sleeps).toEqual([250, 500, 1000]);
    expectNoSecret(error, 'secret-token');
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
