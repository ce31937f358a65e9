import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { PUBLIC_KEYS_MAX_AGE_MS } from '../../shared/security/publicKeys';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import { startFaultProxy } from './support/faultProxy';
import { ManualClock } from './support/time';

const HOUR_MS = 3600_000;

describe("KSeF's public keys across a rotation", () => {
  let clock: ManualClock;
  let sandbox: RecordedSandbox;

  beforeEach(async () => {
    clock = new ManualClock();
    // Without the official XSDs the sandbox verifies an invoice at once: the virtual processing wait (a few real
    // milliseconds per status read) would otherwise end before the XSD workers have started.
    sandbox = await startRecordedSandbox({ clock, specDir: null });
  });
  afterEach(() => sandbox.close());

  /** The publicKeyId each request of `operation` named, in order. */
  function keyIdsSent(operation: string, pick: (body: any) => string): string[] {
    return sandbox.exchanges.filter((e) => e.operation === operation).map((e) => pick(JSON.parse(e.requestBody.toString('utf8'))));
  }

  async function authenticateAndSend(): Promise<void> {
    const client = clientOf(sandbox, { clock, sleep: clock.sleep });
    try {
      const sent = await client.sessions.online.send([buildDemoInvoice()], { fetchUpo: false });
      expect(sent.invoices[0].ksefNumber).toBeDefined();
    } finally {
      await client.close();
    }
  }

  it('keeps the current key while the next one is not valid yet, then moves to the newest valid one', async () => {
    await authenticateAndSend();
    const [oldTokenKey] = keyIdsSent('POST /auth/ksef-token', (b) => b.publicKeyId);
    const [oldSessionKey] = keyIdsSent('POST /sessions/online', (b) => b.encryption.publicKeyId);

    const nextTokenKey = await sandbox.rotatePublicKey('KsefTokenEncryption', new Date(clock.now().getTime() + HOUR_MS));
    const nextSessionKey = await sandbox.rotatePublicKey('SymmetricKeyEncryption', new Date(clock.now().getTime() + HOUR_MS));
    clock.advance(HOUR_MS / 2);
    await authenticateAndSend();

    clock.advance(PUBLIC_KEYS_MAX_AGE_MS);
    await authenticateAndSend();
    // The old keys are withdrawn: a client still using them would now get 21470.
    sandbox.withdrawPublicKey(oldTokenKey);
    sandbox.withdrawPublicKey(oldSessionKey);
    await authenticateAndSend();

    expect(keyIdsSent('POST /auth/ksef-token', (b) => b.publicKeyId)).toEqual([
      oldTokenKey,
      oldTokenKey,
      nextTokenKey.publicKeyId,
      nextTokenKey.publicKeyId,
    ]);
    expect(keyIdsSent('POST /sessions/online', (b) => b.encryption.publicKeyId)).toEqual([
      oldSessionKey,
      oldSessionKey,
      nextSessionKey.publicKeyId,
      nextSessionKey.publicKeyId,
    ]);
    // One download at the start and one after the list grew old; no request was refused for its key.
    expect(sandbox.count('GET /security/public-key-certificates')).toBe(2);
    expect(sandbox.exchanges.filter((e) => e.status === 400)).toEqual([]);
  });

  it('downloads the keys again when every key it knew has expired', async () => {
    const proxy = await startFaultProxy(sandbox.baseUrl);
    proxy.inject((r) => r.path === '/security/public-key-certificates', {
      kind: 'rewriteJson',
      change: (keys: { validTo: string }[]) => keys.map((key) => ({ ...key, validTo: '2020-01-01T00:00:00+00:00' })),
    });
    const client = clientOf(sandbox, { baseUrl: proxy.baseUrl, clock, sleep: clock.sleep });
    try {
      const auth = await client.authenticate();
      expect(auth.referenceNumber).toMatch(/^\d{8}-AU-/);
      expect(proxy.count('GET', '/security/public-key-certificates')).toBe(2);
    } finally {
      await client.close();
      await proxy.close();
    }
  });
});
