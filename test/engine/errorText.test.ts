import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { KsefServerError, KsefValidationError, MemoryTokenStore, type AuthTokens, type KsefError } from '../../shared';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import { startFaultProxy, type FaultProxy } from './support/faultProxy';
import { RecordingLogger } from './support/time';

/** A token store that remembers the last tokens it was given, so the test knows which secrets must not leak. */
class RememberingStore extends MemoryTokenStore {
  last?: AuthTokens;
  override set(key: string, tokens: AuthTokens): void {
    this.last = tokens;
    super.set(key, tokens);
  }
}

/**
 * Fails when `text` holds any 12 consecutive characters of `secret`: a leak is often a fragment (a cut JWT, one of
 * its parts), not the whole secret.
 */
function expectNoFragmentOf(text: string, secret: string): void {
  expect(secret.length).toBeGreaterThan(12);
  for (let at = 0; at + 12 <= secret.length; at++) {
    const fragment = secret.slice(at, at + 12);
    if (text.includes(fragment))
      throw new Error(`a fragment of a secret (at ${at} of ${secret.length} characters) leaked into: ${text.slice(0, 80)}...`);
  }
}

/** Every place an adapter or a log could show the error. */
function errorTexts(error: KsefError): string[] {
  return [error.message, JSON.stringify(error), JSON.stringify(error.toJSON()), String(error.stack)];
}

describe('error messages quote a failed answer without secrets', () => {
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

  it('quotes a short, tag-free excerpt of a gateway HTML page that echoes the Authorization header, without the token', async () => {
    // Opening a session may be repeated after a 5xx, so the gateway answers every attempt.
    proxy.inject((r) => r.method === 'POST' && r.path === '/sessions/online', { kind: 'echoHeaders', status: 502 }, 10);
    const store = new RememberingStore();
    const logger = new RecordingLogger();
    const client = clientOf(sandbox, { baseUrl: proxy.baseUrl, tokenStore: store, logger });

    const error = (await client.sessions.online.send([buildDemoInvoice()]).catch((e: unknown) => e)) as KsefError;
    await client.close();

    expect(error).toBeInstanceOf(KsefServerError);
    expect(error.status).toBe(502);
    const accessToken = store.last!.accessToken.token;
    expect(accessToken).toMatch(/^eyJ/);
    for (const text of [...errorTexts(error), logger.text()]) {
      expectNoFragmentOf(text, accessToken);
      expectNoFragmentOf(text, store.last!.refreshToken.token);
      expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{4}/);
    }
    const excerpt = /\(502\): (.*)$/.exec(error.message)?.[1];
    expect(excerpt).toBeDefined();
    expect(excerpt!.length).toBeLessThanOrEqual(125);
    expect(excerpt).toMatch(/^502 Bad Gateway Bad Gateway The upstream server sent no valid answer\./);
    expect(excerpt).not.toMatch(/[<>]|\s{2}|\n/);
  });

  it('removes JWTs, bearer tokens and KSeF token secrets from the fields of a JSON error body and keeps the rest', async () => {
    const store = new RememberingStore();
    const client = clientOf(sandbox, { baseUrl: proxy.baseUrl, tokenStore: store });
    await client.authenticate();
    const accessToken = store.last!.accessToken.token;
    const sessionReference = '20260101-SO-2C3E6C8000-B67F415CDC-2C';
    const body = {
      exception: {
        exceptionDetailList: [
          {
            exceptionCode: 21405,
            exceptionDescription: 'Błąd walidacji danych wejściowych.',
            details: [
              `Nagłówek Authorization: Bearer ${accessToken} odrzucony dla sesji ${sessionReference}.`,
              `Token ${sandbox.ksefToken} jest nieprawidłowy.`,
              `Klucz ${sandbox.ksefToken.split('|').pop()} nie pasuje.`,
            ],
          },
        ],
        referenceNumber: '20260101-EX-1234567890-ABCDEF1234-56',
      },
    };
    proxy.inject((r) => r.method === 'POST' && r.path === '/sessions/online', { kind: 'respond', status: 400, body });

    const error = (await client.sessions.online.send([buildDemoInvoice()]).catch((e: unknown) => e)) as KsefError;
    await client.close();

    expect(error).toBeInstanceOf(KsefValidationError);
    for (const text of errorTexts(error)) {
      expectNoFragmentOf(text, accessToken);
      expectNoFragmentOf(text, sandbox.ksefToken.split('|').pop()!);
    }
    expect(error.code).toBe(21405);
    expect(error.traceId).toBe('20260101-EX-1234567890-ABCDEF1234-56');
    expect(error.exceptions[0].details).toEqual([
      `Nagłówek Authorization: Bearer [removed] odrzucony dla sesji ${sessionReference}.`,
      'Token [removed] jest nieprawidłowy.',
      'Klucz [removed] nie pasuje.',
    ]);
    expect(error.message).toContain(`odrzucony dla sesji ${sessionReference}`);
  });
});
