import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { KsefNetworkError, MemoryTokenStore, type AuthTokens } from '../../shared';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from './support/faultProxy';
import { RecordingLogger } from './support/time';
import { sealOf } from './support/certificates';

const post = (path: string) => (r: ProxiedRequest) => r.method === 'POST' && r.path === path;

/** A token store that remembers every token it was given, so the test can check none reached a message or a log. */
class RememberingStore extends MemoryTokenStore {
  readonly secrets: string[] = [];
  override set(key: string, tokens: AuthTokens): void {
    this.secrets.push(tokens.accessToken.token, tokens.refreshToken.token);
    super.set(key, tokens);
  }
}

describe('an authentication whose answer is cut', () => {
  let sandbox: RecordedSandbox;
  let proxy: FaultProxy;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox();
    proxy = await startFaultProxy(sandbox.baseUrl);
  });
  afterEach(async () => {
    await proxy.close();
    await sandbox.close();
  });

  it.each(['/auth/token/redeem', '/auth/ksef-token'])(
    'starts one fresh authentication when the answer to POST %s is lost, and the send succeeds',
    async (path) => {
      proxy.inject(post(path), { kind: 'loseAnswer' });
      const logger = new RecordingLogger();
      const client = clientOf(sandbox, { baseUrl: proxy.baseUrl, logger });

      const result = await client.sessions.online.send([buildDemoInvoice()], { fetchUpo: false });
      await client.close();

      expect(result.invoices[0]).toMatchObject({ accepted: true });
      // The first operation reached KSeF (its answer was lost); the second one is a fresh start with a new challenge.
      expect(proxy.count('POST', '/auth/challenge')).toBe(2);
      expect(proxy.count('POST', '/auth/ksef-token')).toBe(2);
      expect(proxy.count('POST', '/auth/token/redeem')).toBe(path === '/auth/token/redeem' ? 2 : 1);
      expect(logger.text()).toContain('starting a fresh authentication');
    },
  );

  it('gives up with a clear KsefNetworkError when the fresh authentication loses its answer too', async () => {
    proxy.inject(post('/auth/token/redeem'), { kind: 'loseAnswer' }, 2);
    const store = new RememberingStore();
    const client = clientOf(sandbox, { baseUrl: proxy.baseUrl, tokenStore: store });

    const error = (await client.sessions.online.send([buildDemoInvoice()]).catch((e: unknown) => e)) as KsefNetworkError;
    await client.close();

    expect(error).toBeInstanceOf(KsefNetworkError);
    expect(error.message).toMatch(
      /^Could not authenticate with KSeF: no answer came to POST \/auth\/token\/redeem, nor, after a fresh start, to POST \/auth\/token\/redeem\. Check the connection to KSeF and try again\./,
    );
    expect(proxy.count('POST', '/auth/challenge')).toBe(2);
    expect(proxy.count('POST', '/auth/token/redeem')).toBe(2);
    expect(proxy.count('POST', '/sessions/online')).toBe(0);
    expect(store.secrets).toEqual([]);
    for (const text of [error.message, JSON.stringify(error), String(error.stack)]) expect(text).not.toContain(sandbox.ksefToken);
  });

  it('starts one fresh certificate authentication when the answer to POST /auth/xades-signature is lost', async () => {
    const seal = sealOf(sandbox.contextIdentifier.value, 'ec');
    proxy.inject(post('/auth/xades-signature'), { kind: 'loseAnswer' });
    const client = clientOf(sandbox, {
      baseUrl: proxy.baseUrl,
      credentials: {
        method: 'certificate',
        contextIdentifier: sandbox.contextIdentifier,
        certificate: { certificatePem: seal.certificatePem, privateKeyPem: seal.privateKeyPem },
      },
    });

    const auth = await client.authenticate();
    await client.close();

    expect(auth.referenceNumber).toMatch(/^\d{8}-AU-/);
    expect(proxy.count('POST', '/auth/challenge')).toBe(2);
    expect(proxy.count('POST', '/auth/xades-signature')).toBe(2);
    expect(proxy.count('POST', '/auth/token/redeem')).toBe(1);
  });
});
