import { startSandbox, type SandboxHandle } from '../../sandbox';
import { ContractRecorder } from '../support/contract';
import { KsefHttp, ManualClock, RELAXED_RATE_LIMITS, exceptionOf } from '../support/ksefHttp';
import { testSigner, xadesAuthenticate } from '../support/xadesAuth';

const recorder = new ContractRecorder();
const clock = new ManualClock(new Date());
let sandbox: SandboxHandle;
let http: KsefHttp;

beforeAll(async () => {
  sandbox = await startSandbox({ clock, processingDelayMs: 5, rateLimits: RELAXED_RATE_LIMITS, onExchange: recorder.record });
  http = new KsefHttp(sandbox.baseUrl);
});

afterAll(async () => {
  await sandbox.close();
});

async function authenticate(): Promise<{ accessToken: string; refreshToken: string; referenceNumber: string }> {
  clock.advance(1000);
  return http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier);
}

async function listSessions(accessToken: string): Promise<any[]> {
  const items = [];
  let continuationToken: string | undefined;
  do {
    const answer = await http.request('GET', '/auth/sessions?pageSize=10', {
      bearer: accessToken,
      headers: continuationToken ? { 'x-continuation-token': continuationToken } : {},
    });
    expect(answer.status).toBe(200);
    items.push(...answer.json.items);
    continuationToken = answer.json.continuationToken;
  } while (continuationToken);
  return items;
}

describe('sandbox authentication sessions', () => {
  it('lists the context sessions newest first, marks the current one and pages with a continuation token', async () => {
    const sessions = [];
    for (let i = 0; i < 11; i++) sessions.push(await authenticate());
    const current = sessions[3];
    const first = await http.request('GET', '/auth/sessions', { bearer: current.accessToken });
    expect(first.json.items).toHaveLength(10);
    expect(first.json.continuationToken).toEqual(expect.any(String));

    const items = await listSessions(current.accessToken);
    expect(items.map((i) => i.referenceNumber)).toEqual(sessions.map((s) => s.referenceNumber).reverse());
    expect(items.filter((i) => i.isCurrent).map((i) => i.referenceNumber)).toEqual([current.referenceNumber]);
    expect(items[0]).toMatchObject({
      authenticationMethod: 'Token',
      authenticationMethodInfo: { category: 'Token', code: 'token.ksef', displayName: 'Token KSeF' },
      status: { code: 200, description: 'Uwierzytelnianie zakończone sukcesem' },
      isTokenRedeemed: true,
      refreshTokenValidUntil: expect.any(String),
    });
  });

  it('does not list sessions of other contexts', async () => {
    const otherContext = { type: 'Nip' as const, value: '5265877635' };
    const seal = testSigner({ kind: 'seal', organizationName: 'Inna firma', nip: otherContext.value }, { clock });
    const other = await xadesAuthenticate(http, seal, otherContext);
    const items = await listSessions(other.accessToken);
    expect(items.map((i) => i.referenceNumber)).toEqual([other.referenceNumber]);
    expect(items[0]).toMatchObject({ isCurrent: true, authenticationMethod: 'QualifiedSeal' });
  });

  it('revokes another session: status 425, its refresh token stops working, its access token lives until it expires', async () => {
    const caller = await authenticate();
    const { answer } = await http.startTokenAuthentication(sandbox.ksefToken, sandbox.contextIdentifier);
    const victimAuthenticationToken = answer.json.authenticationToken.token;
    await http.authenticationResult(answer.json.referenceNumber, victimAuthenticationToken);
    const redeemed = (await http.request('POST', '/auth/token/redeem', { bearer: victimAuthenticationToken })).json;
    const victimReference = answer.json.referenceNumber;

    const revoked = await http.request('DELETE', `/auth/sessions/${victimReference}`, { bearer: caller.accessToken });
    expect(revoked.status).toBe(204);
    expect((await listSessions(caller.accessToken)).map((i) => i.referenceNumber)).not.toContain(victimReference);
    const status = await http.request('GET', `/auth/${victimReference}`, { bearer: victimAuthenticationToken });
    expect(status.json.status).toEqual({
      code: 425,
      description: 'Uwierzytelnienie unieważnione',
      details: ['Uwierzytelnienie i powiązane refresh tokeny zostały unieważnione przez użytkownika'],
    });

    const refresh = await http.request('POST', '/auth/token/refresh', { bearer: redeemed.refreshToken.token });
    expect(refresh.status).toBe(400);
    expect(exceptionOf(refresh)).toEqual({
      exceptionCode: 21301,
      exceptionDescription: 'Brak autoryzacji.',
      details: ['Status uwierzytelniania (425) nie pozwala na odświeżenie tokenu dostępowego.'],
    });
    expect((await http.request('GET', '/rate-limits', { bearer: redeemed.accessToken.token })).status).toBe(200);
    clock.advance(15 * 60_000);
    expect((await http.request('GET', '/rate-limits', { bearer: redeemed.accessToken.token })).status).toBe(401);
  });

  it('revokes the current session with its refresh token or its access token', async () => {
    const viaRefresh = await authenticate();
    expect((await http.request('DELETE', '/auth/sessions/current', { bearer: viaRefresh.refreshToken })).status).toBe(204);
    expect(exceptionOf(await http.request('POST', '/auth/token/refresh', { bearer: viaRefresh.refreshToken })).exceptionCode).toBe(21301);

    const viaAccess = await authenticate();
    expect((await http.request('DELETE', '/auth/sessions/current', { bearer: viaAccess.accessToken })).status).toBe(204);
    expect(exceptionOf(await http.request('POST', '/auth/token/refresh', { bearer: viaAccess.refreshToken })).exceptionCode).toBe(21301);
    expect((await http.request('DELETE', '/auth/sessions/current')).status).toBe(401);
  });

  it('answers 21405 for a session that is not an active one of the context', async () => {
    const caller = await authenticate();
    const unknown = '20260101-AU-1234567000-ABCDEF0123-00';
    const answer = await http.request('DELETE', `/auth/sessions/${unknown}`, { bearer: caller.accessToken });
    expect(answer.status).toBe(400);
    expect(exceptionOf(answer)).toMatchObject({
      exceptionCode: 21405,
      details: [`Aktywna sesja uwierzytelnienia o numerze referencyjnym ${unknown} nie została znaleziona.`],
    });
  });

  it('serves only responses that match open-api.json', () => {
    expect(recorder.violations()).toEqual([]);
    for (const operation of [
      'GET /auth/sessions 200',
      'DELETE /auth/sessions/current 204',
      'DELETE /auth/sessions/{referenceNumber} 204',
      'DELETE /auth/sessions/{referenceNumber} 400',
    ]) {
      expect(recorder.coverage()).toContain(operation);
    }
  });
});
