import { embeddedSandbox, ensureEmbeddedSandbox } from '../../sandbox';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import {
  KsefAuthError,
  KsefInputError,
  KsefTimeoutError,
  MemoryTokenStore,
  createKsefClient,
  type AuthTokens,
  type TokenStore,
} from '../../shared';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import { startFaultProxy } from './support/faultProxy';
import { ManualClock, RecordingLogger } from './support/time';

/** A token store the test can look into and tamper with. */
class InspectableStore extends MemoryTokenStore implements TokenStore {
  readonly keys = new Set<string>();
  override set(key: string, tokens: AuthTokens): void {
    this.keys.add(key);
    super.set(key, tokens);
  }
  only(): AuthTokens {
    expect(this.keys.size).toBe(1);
    return this.get([...this.keys][0])!;
  }
}

describe('KSeF-token authentication', () => {
  let sandbox: RecordedSandbox;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox();
  });
  afterEach(() => sandbox.close());

  it('authenticates and reports the operation without any token value', async () => {
    const store = new InspectableStore();
    const logger = new RecordingLogger();
    const client = clientOf(sandbox, { tokenStore: store, logger });
    const result = await client.authenticate();
    await client.close();

    expect(result).toMatchObject({ referenceNumber: expect.stringMatching(/^\d{8}-AU-/), contextIdentifier: sandbox.contextIdentifier });
    expect(Date.parse(result.accessTokenValidUntil)).toBeGreaterThan(Date.now());
    expect(Date.parse(result.refreshTokenValidUntil)).toBeGreaterThan(Date.parse(result.accessTokenValidUntil));
    const tokens = store.only();
    const secrets = [sandbox.ksefToken, tokens.accessToken.token, tokens.refreshToken.token];
    for (const secret of secrets) {
      expect(JSON.stringify(result)).not.toContain(secret);
      expect(logger.text()).not.toContain(secret);
      expect([...store.keys][0]).not.toContain(secret);
    }
    expect(sandbox.count('POST /auth/token/redeem')).toBe(1);
  });

  it('lets a second client in the same process reuse the cached tokens instead of authenticating again', async () => {
    // The default, process-wide token store; the sandbox's own base URL keeps this test's entry apart.
    const options = {
      environment: 'custom' as const,
      baseUrl: sandbox.baseUrl,
      credentials: { method: 'ksefToken' as const, contextIdentifier: sandbox.contextIdentifier, ksefToken: sandbox.ksefToken },
    };
    const first = createKsefClient(options);
    const firstAuth = await first.authenticate();
    await first.close();
    expect(sandbox.count('POST /auth/challenge')).toBe(1);

    const second = createKsefClient(options);
    const secondAuth = await second.authenticate();
    const sent = await second.sessions.online.send([buildDemoInvoice()], { fetchUpo: false });
    await second.close();

    expect(sent.invoices[0].accepted).toBe(true);
    expect(secondAuth.referenceNumber).toBe(firstAuth.referenceNumber);
    expect(sandbox.count('POST /auth/challenge')).toBe(1);

    const forced = createKsefClient(options);
    const forcedAuth = await forced.authenticate({ force: true });
    await forced.close();
    expect(forcedAuth.referenceNumber).not.toBe(firstAuth.referenceNumber);
    expect(sandbox.count('POST /auth/challenge')).toBe(2);
  });

  it('refreshes the access token with the refresh token shortly before it expires', async () => {
    const clock = new ManualClock();
    await sandbox.close();
    // KSeF and the client agree on the time: both run on the test's clock.
    sandbox = await startRecordedSandbox({ clock });
    const store = new InspectableStore();
    const client = clientOf(sandbox, { tokenStore: store, clock, sleep: clock.sleep });
    const before = await client.authenticate();
    const firstAccessToken = store.only().accessToken.token;

    clock.advance(Date.parse(before.accessTokenValidUntil) - clock.now().getTime() - 30_000);
    const sent = await client.sessions.online.send([buildDemoInvoice()], { fetchUpo: false });
    await client.close();

    expect(sent.invoices[0].accepted).toBe(true);
    expect(sandbox.count('POST /auth/token/refresh')).toBe(1);
    expect(sandbox.count('POST /auth/challenge')).toBe(1);
    expect(store.only().accessToken.token).not.toBe(firstAccessToken);
    expect(store.only().refreshToken.token).toBeTruthy();
  });

  it('authenticates anew once when KSeF refuses the cached access token (401) and repeats the request', async () => {
    const store = new InspectableStore();
    const warmUp = clientOf(sandbox, { tokenStore: store });
    await warmUp.authenticate();
    await warmUp.close();
    const key = [...store.keys][0];
    const cached = store.get(key)!;
    store.set(key, { ...cached, accessToken: { ...cached.accessToken, token: 'revoked-access-token' } });

    const client = clientOf(sandbox, { tokenStore: store });
    const sent = await client.sessions.online.send([buildDemoInvoice()], { fetchUpo: false });
    await client.close();

    expect(sent.invoices[0].accepted).toBe(true);
    const opens = sandbox.exchanges.filter((e) => e.operation === 'POST /sessions/online').map((e) => e.status);
    expect(opens).toEqual([401, 201]);
    expect(sandbox.count('POST /auth/challenge')).toBe(2);
  });

  it('gives up with KsefAuthError when KSeF keeps answering 401 after the one renewal', async () => {
    const proxy = await startFaultProxy(sandbox.baseUrl);
    const unauthorized = { title: 'Unauthorized', status: 401, detail: 'Wymagane jest uwierzytelnienie.', traceId: 'abc123' };
    proxy.inject((r) => r.method === 'POST' && r.path === '/sessions/online', { kind: 'respond', status: 401, body: unauthorized }, 5);
    const client = clientOf(sandbox, { baseUrl: proxy.baseUrl });

    const error = await client.sessions.online.send([buildDemoInvoice()]).catch((e: unknown) => e);
    await client.close();
    await proxy.close();

    expect(error).toBeInstanceOf(KsefAuthError);
    expect(error).toMatchObject({ status: 401, traceId: 'abc123' });
    expect((error as Error).message).toBe(
      'KSeF refused the access token on POST /sessions/online (401 Unauthorized): Wymagane jest uwierzytelnienie.',
    );
    expect(proxy.count('POST', '/sessions/online')).toBe(2);
    expect(proxy.count('POST', '/auth/challenge')).toBe(2);
  });

  it('reports a wrong KSeF token as KsefAuthError with the 450 status details and never the token', async () => {
    const wrongToken = sandbox.ksefToken.replace(/[0-9a-f]{8}$/, '00000000');
    expect(wrongToken).not.toBe(sandbox.ksefToken);
    const logger = new RecordingLogger();
    const client = clientOf(sandbox, {
      credentials: { method: 'ksefToken', contextIdentifier: sandbox.contextIdentifier, ksefToken: wrongToken },
      logger,
    });

    const error = (await client.authenticate().catch((e: unknown) => e)) as KsefAuthError;
    await client.close();

    expect(error).toBeInstanceOf(KsefAuthError);
    expect(error.code).toBe(450);
    expect(error.field).toBe('credentials.ksefToken');
    expect(error.exceptions[0].details?.length).toBeGreaterThan(0);
    expect(error.message).toMatch(/^KSeF refused authentication \d{8}-AU-\S+ \(450 /);
    for (const text of [JSON.stringify(error), error.message, String(error.stack), logger.text()]) {
      expect(text).not.toContain(wrongToken);
      expect(text).not.toContain(wrongToken.split('|').pop());
    }
  });
});

describe('an authentication that does not finish', () => {
  it('fails with KsefTimeoutError naming authTimeoutMs once the injected clock passes it', async () => {
    const clock = new ManualClock();
    // KSeF keeps the authentication "in progress" (100) for a whole real minute.
    const slow = await startRecordedSandbox({ processingDelayMs: 60_000 });
    const client = clientOf(slow, { clock, sleep: clock.sleep, authTimeoutMs: 5_000 });
    const error = await client.authenticate().catch((e: unknown) => e);
    await client.close();
    await slow.close();

    expect(error).toBeInstanceOf(KsefTimeoutError);
    expect(error).toMatchObject({ field: 'authTimeoutMs' });
    expect((error as Error).message).toMatch(/^KSeF did not finish authentication \d{8}-AU-\S+ within 5000 ms/);
    expect(slow.count('GET /auth/{referenceNumber}')).toBeGreaterThan(1);
    expect(slow.count('POST /auth/token/redeem')).toBe(0);
  });
});

describe('the embedded sandbox environment', () => {
  it('starts the embedded sandbox handed in on first use, takes context and token from it, and says it answered', async () => {
    const client = createKsefClient({ environment: embeddedSandbox(), credentials: { method: 'ksefToken' } });
    const auth = await client.authenticate();
    const result = await client.sessions.online.send([buildDemoInvoice()], { fetchUpo: false });
    const status = await client.sessions.invoiceStatus({
      sessionReferenceNumber: result.sessionReferenceNumber,
      invoiceReferenceNumber: result.invoices[0].referenceNumber!,
      fetchUpo: false,
    });
    await client.close();
    await (await ensureEmbeddedSandbox()).close();

    expect(auth.contextIdentifier).toEqual({ type: 'Nip', value: '1234563218' });
    expect(result.invoices[0].accepted).toBe(true);
    expect(result.environment).toBe('sandbox');
    expect(status).toMatchObject({ environment: 'sandbox', ksefNumber: result.invoices[0].ksefNumber });
  });

  it('is never a default: without an environment (or with the bare name) the client refuses before anything is sent', () => {
    const withoutEnvironment = () => createKsefClient({ credentials: { method: 'ksefToken' } } as never);
    expect(withoutEnvironment).toThrow(KsefInputError);
    expect(withoutEnvironment).toThrow(
      expect.objectContaining({
        field: 'environment',
        message: expect.stringMatching(
          /^environment is required: 'test', 'demo', 'production', 'custom' \(with baseUrl\), or the embedded sandbox passed as environment: embeddedSandbox\(\)/,
        ),
      }),
    );
    expect(() => createKsefClient({ environment: 'sandbox' as never, credentials: { method: 'ksefToken' } })).toThrow(
      expect.objectContaining({
        field: 'environment',
        message: expect.stringMatching(/pass the embedded sandbox itself as environment: embeddedSandbox\(\)/),
      }),
    );
  });
});
