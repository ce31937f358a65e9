import { X509Certificate, createHash, randomBytes } from 'node:crypto';
import { isValidReferenceNumber } from '../../shared/protocol/model/referenceNumber';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { ContractRecorder } from '../support/contract';
import { KsefHttp, ManualClock, exceptionOf } from '../support/ksefHttp';
import { decodeJwt } from '../support/xadesAuth';

const recorder = new ContractRecorder();
const clock = new ManualClock(new Date('2026-03-02T09:00:00Z'));
let sandbox: SandboxHandle;
let http: KsefHttp;

beforeAll(async () => {
  sandbox = await startSandbox({ clock, processingDelayMs: 5, onExchange: recorder.record });
  http = new KsefHttp(sandbox.baseUrl);
});

afterAll(async () => {
  await sandbox.close();
});

describe('sandbox authentication', () => {
  it('publishes one certificate per usage, identified by SHA-256 of the certificate and of its public key', async () => {
    const answer = await http.request('GET', '/security/public-key-certificates');
    expect(answer.status).toBe(200);
    expect(
      answer.json
        .map((c: { usage: string[] }) => c.usage)
        .flat()
        .sort(),
    ).toEqual(['KsefTokenEncryption', 'SymmetricKeyEncryption']);
    for (const entry of answer.json) {
      const der = Buffer.from(entry.certificate, 'base64');
      const certificate = new X509Certificate(der);
      expect(entry.certificateId).toBe(createHash('sha256').update(der).digest('base64'));
      expect(entry.publicKeyId).toBe(
        createHash('sha256')
          .update(certificate.publicKey.export({ type: 'spki', format: 'der' }))
          .digest('base64'),
      );
      expect(certificate.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
      expect(Date.parse(entry.validFrom)).toBeLessThanOrEqual(clock.now().getTime());
      expect(Date.parse(entry.validTo)).toBeGreaterThan(clock.now().getTime());
    }
  });

  it('issues challenges with a CR reference, the time in two forms and the client IP', async () => {
    const answer = await http.request('POST', '/auth/challenge');
    expect(answer.status).toBe(200);
    expect(answer.json.challenge).toMatch(/^\d{8}-CR-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2}$/);
    expect(isValidReferenceNumber(answer.json.challenge)).toBe(true);
    expect(answer.json.timestampMs).toBe(clock.now().getTime());
    expect(Date.parse(answer.json.timestamp)).toBe(answer.json.timestampMs);
    expect(answer.json.timestamp).toMatch(/\+00:00$/);
    expect(answer.json.clientIp).toBe('127.0.0.1');
  });

  it('provisions a demo owner token in the documented format', () => {
    expect(sandbox.contextIdentifier).toEqual({ type: 'Nip', value: '1234563218' });
    expect(sandbox.ksefToken).toMatch(/^\d{8}-EC-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2}\|nip-1234563218\|[0-9a-f]{64}$/);
  });

  it('authenticates with the KSeF token, redeems tokens once and refreshes the access token', async () => {
    const { answer } = await http.startTokenAuthentication(sandbox.ksefToken, sandbox.contextIdentifier);
    expect(answer.status).toBe(202);
    const { referenceNumber, authenticationToken } = answer.json;
    expect(referenceNumber).toMatch(/^\d{8}-AU-/);
    expect(decodeJwt(authenticationToken.token)).toMatchObject({ typ: 'AuthenticationToken', arn: referenceNumber });
    expect(Date.parse(authenticationToken.validUntil) - clock.now().getTime()).toBe(45 * 60_000);

    const status = await http.authenticationResult(referenceNumber, authenticationToken.token);
    expect(status).toEqual({ code: 200, description: 'Uwierzytelnianie zakończone sukcesem' });

    const redeemed = await http.request('POST', '/auth/token/redeem', { bearer: authenticationToken.token });
    expect(redeemed.status).toBe(200);
    const access = decodeJwt(redeemed.json.accessToken.token);
    expect(access).toMatchObject({ typ: 'ContextToken', cit: 'Nip', civ: '1234563218', aum: 'Token', arn: referenceNumber });
    expect(access.per).toEqual(['InvoiceRead', 'InvoiceWrite', 'CredentialsRead', 'CredentialsManage']);
    expect(Number(access.exp) - Number(access.iat)).toBe(15 * 60);
    expect(Date.parse(redeemed.json.refreshToken.validUntil) - clock.now().getTime()).toBe(7 * 24 * 3600_000);

    const again = await http.request('POST', '/auth/token/redeem', { bearer: authenticationToken.token });
    expect(again.status).toBe(400);
    expect(again.json.exception.exceptionDetailList).toEqual([
      {
        exceptionCode: 21301,
        exceptionDescription: 'Brak autoryzacji.',
        details: [`Tokeny dla operacji uwierzytelniania ${referenceNumber} zostały już pobrane.`],
      },
    ]);

    const refreshed = await http.request('POST', '/auth/token/refresh', { bearer: redeemed.json.refreshToken.token });
    expect(refreshed.status).toBe(200);
    expect(refreshed.json.accessToken.token).not.toBe(redeemed.json.accessToken.token);
    const afterRefresh = await http.request('GET', `/auth/${referenceNumber}`, { bearer: authenticationToken.token });
    expect(afterRefresh.json).toMatchObject({
      authenticationMethod: 'Token',
      authenticationMethodInfo: { category: 'Token', code: 'token.ksef', displayName: 'Token KSeF' },
      isTokenRedeemed: true,
      lastTokenRefreshDate: expect.any(String),
      refreshTokenValidUntil: expect.any(String),
    });

    // The access token is not a refresh token, and vice versa.
    expect((await http.request('POST', '/auth/token/refresh', { bearer: redeemed.json.accessToken.token })).status).toBe(401);
    expect((await http.request('GET', '/rate-limits', { bearer: redeemed.json.refreshToken.token })).status).toBe(401);
    expect((await http.request('GET', '/rate-limits', { bearer: refreshed.json.accessToken.token })).status).toBe(200);
  });

  it('fails the authentication with status 450 for an unknown token', async () => {
    const forged = sandbox.ksefToken.replace(/[0-9a-f]{64}$/, 'a'.repeat(64));
    const { answer } = await http.startTokenAuthentication(forged, sandbox.contextIdentifier);
    expect(answer.status).toBe(202);
    const status = await http.authenticationResult(answer.json.referenceNumber, answer.json.authenticationToken.token);
    expect(status).toEqual({
      code: 450,
      description: 'Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu',
      details: ['Nieprawidłowy token'],
    });
    const redeem = await http.request('POST', '/auth/token/redeem', { bearer: answer.json.authenticationToken.token });
    expect(redeem.json.exception.exceptionDetailList[0]).toMatchObject({
      exceptionCode: 21301,
      details: ['Status uwierzytelniania (450) nie pozwala na pobranie tokenów.'],
    });
  });

  it('fails with 450 naming the cause when the token cannot be decrypted or belongs to another context', async () => {
    const { challenge } = (await http.request('POST', '/auth/challenge')).json;
    const undecryptable = await http.request('POST', '/auth/ksef-token', {
      body: { challenge, contextIdentifier: sandbox.contextIdentifier, encryptedToken: randomBytes(256).toString('base64') },
    });
    expect(
      (await http.authenticationResult(undecryptable.json.referenceNumber, undecryptable.json.authenticationToken.token)).details,
    ).toEqual(['Nieprawidłowe szyfrowanie tokena']);

    const elsewhere = { type: 'Nip' as const, value: '5265877635' };
    const { answer } = await http.startTokenAuthentication(sandbox.ksefToken, elsewhere);
    expect(await http.authenticationResult(answer.json.referenceNumber, answer.json.authenticationToken.token)).toEqual({
      code: 450,
      description: 'Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu',
      details: ['Token nie może być użyty w kontekście 5265877635'],
    });
  });

  it('fails with "Nieprawidłowy czas tokena" when the encrypted timestamp is not the challenge time', async () => {
    const { answer } = await http.startTokenAuthentication(sandbox.ksefToken, sandbox.contextIdentifier, {
      timestampMs: clock.now().getTime() - 1000,
    });
    const status = await http.authenticationResult(answer.json.referenceNumber, answer.json.authenticationToken.token);
    expect(status.details).toEqual(['Nieprawidłowy czas tokena']);
  });

  it('fails with "Token unieważniony" for a revoked token and "Token nieaktywny" for a pending one', async () => {
    const revoked = sandbox.state.issueKsefToken({
      contextIdentifier: sandbox.contextIdentifier,
      authorIdentifier: { type: 'Nip', value: sandbox.contextIdentifier.value },
      description: 'revoked in test',
      permissions: ['InvoiceRead'],
      now: clock.now(),
      status: 'Revoked',
    });
    const pending = sandbox.state.issueKsefToken({
      ...revoked,
      authorIdentifier: revoked.authorIdentifier,
      permissions: ['InvoiceRead'],
      now: clock.now(),
      status: 'Pending',
    });
    for (const [token, detail] of [
      [revoked.secret, 'Token unieważniony'],
      [pending.secret, 'Token nieaktywny'],
    ]) {
      const { answer } = await http.startTokenAuthentication(token, sandbox.contextIdentifier);
      const status = await http.authenticationResult(answer.json.referenceNumber, answer.json.authenticationToken.token);
      expect(status).toMatchObject({ code: 450, details: [detail] });
    }
  });

  it('rejects a reused challenge with 21111', async () => {
    const first = await http.startTokenAuthentication(sandbox.ksefToken, sandbox.contextIdentifier);
    expect(first.answer.status).toBe(202);
    const reused = await http.startTokenAuthentication(sandbox.ksefToken, sandbox.contextIdentifier, { challenge: first.challenge });
    expect(reused.answer.status).toBe(400);
    expect(reused.answer.json.exception.exceptionDetailList[0]).toMatchObject({
      exceptionCode: 21111,
      exceptionDescription: 'Nieprawidłowe wyzwanie autoryzacyjne.',
    });
  });

  it('rejects a challenge older than 10 minutes with 21111', async () => {
    const challenge = (await http.request('POST', '/auth/challenge')).json.challenge;
    clock.advance(10 * 60_000 + 1);
    const late = await http.startTokenAuthentication(sandbox.ksefToken, sandbox.contextIdentifier, { challenge });
    expect(late.answer.json.exception.exceptionDetailList[0].exceptionCode).toBe(21111);
  });

  it('rejects an unknown publicKeyId with 21470', async () => {
    const unknownKeyId = Buffer.alloc(32, 7).toString('base64');
    const { answer } = await http.startTokenAuthentication(sandbox.ksefToken, sandbox.contextIdentifier, { publicKeyId: unknownKeyId });
    expect(answer.status).toBe(400);
    expect(answer.json.exception.exceptionDetailList[0]).toEqual({
      exceptionCode: 21470,
      exceptionDescription: 'Przesłany identyfikator klucza jest nieznany lub wskazuje na wycofany klucz.',
      details: [`Klucz o identyfikatorze ${unknownKeyId} nie jest wspierany.`],
    });
  });

  it('rejects a publicKeyId that is not 44 characters with 21405, as the 2.8.1 contract limits it', async () => {
    const shortKeyId = Buffer.alloc(16, 7).toString('base64');
    const { answer } = await http.startTokenAuthentication(sandbox.ksefToken, sandbox.contextIdentifier, { publicKeyId: shortKeyId });
    expect(answer.status).toBe(400);
    expect(exceptionOf(answer)).toMatchObject({ exceptionCode: 21405 });
    expect(exceptionOf(answer).details!.join(' ')).toMatch(/publicKeyId/);
  });

  it('answers 401 problem+json without a token, with a forged token and after the access token expired', async () => {
    const { accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier);
    const missing = await http.request('GET', '/rate-limits');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(missing.json).toMatchObject({
      title: 'Unauthorized',
      status: 401,
      detail: 'Wymagane jest uwierzytelnienie.',
      instance: '/v2/rate-limits',
    });

    const forged = accessToken.slice(0, -4) + (accessToken.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect((await http.request('GET', '/rate-limits', { bearer: forged })).status).toBe(401);

    expect((await http.request('GET', '/rate-limits', { bearer: accessToken })).status).toBe(200);
    clock.advance(15 * 60_000);
    const expired = await http.request('GET', '/rate-limits', { bearer: accessToken });
    expect(expired.status).toBe(401);
    expect(expired.json.title).toBe('Unauthorized');
  });

  it('reports status 100 while the authentication is still being processed', async () => {
    const slow = await startSandbox({ processingDelayMs: 60_000, onExchange: recorder.record });
    try {
      const slowHttp = new KsefHttp(slow.baseUrl);
      const { answer } = await slowHttp.startTokenAuthentication(slow.ksefToken, slow.contextIdentifier);
      const status = await slowHttp.request('GET', `/auth/${answer.json.referenceNumber}`, {
        bearer: answer.json.authenticationToken.token,
      });
      expect(status.json.status).toEqual({ code: 100, description: 'Uwierzytelnianie w toku' });
      const early = await slowHttp.request('POST', '/auth/token/redeem', { bearer: answer.json.authenticationToken.token });
      expect(early.json.exception.exceptionDetailList[0].details).toEqual([
        'Status uwierzytelniania (100) nie pozwala na pobranie tokenów.',
      ]);
    } finally {
      await slow.close();
    }
  });

  it('lets the tokens of an authorization policy be used from an allowed address, in each of its three forms', async () => {
    clock.advance(60_000);
    for (const allowedIps of [
      { ip4Addresses: ['10.0.0.1', '127.0.0.1'] },
      { ip4Ranges: ['127.0.0.0-127.0.0.5'] },
      { ip4Masks: ['127.0.0.0/8'] },
    ]) {
      const tokens = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier, { authorizationPolicy: { allowedIps } });
      expect(JSON.parse(decodeJwt(tokens.accessToken).ipp)).toEqual({ OnClientIpChange: 'reject' });
      expect((await http.request('GET', '/rate-limits', { bearer: tokens.accessToken })).status).toBe(200);
      expect((await http.request('POST', '/auth/token/refresh', { bearer: tokens.refreshToken })).status).toBe(200);
    }
    const unrestricted = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier, {
      authorizationPolicy: { allowedIps: { ip4Addresses: [], ip4Masks: null } },
    });
    expect(decodeJwt(unrestricted.accessToken).ipp).toBeUndefined();
    expect((await http.request('GET', '/rate-limits', { bearer: unrestricted.accessToken })).status).toBe(200);
  });

  it('refuses the access and refresh tokens from an address outside the policy with 403 ip-not-allowed', async () => {
    clock.advance(60_000);
    for (const allowedIps of [
      { ip4Addresses: ['10.0.0.1'] },
      { ip4Ranges: ['127.0.0.2-127.0.0.9'] },
      { ip4Masks: ['192.168.0.0/16', '127.0.0.0/32'] },
    ]) {
      // The authentication token is not bound: status and redeem work from anywhere.
      const tokens = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier, { authorizationPolicy: { allowedIps } });
      const denied = await http.request('GET', '/rate-limits', { bearer: tokens.accessToken });
      expect(denied.status).toBe(403);
      expect(denied.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(denied.json).toEqual({
        title: 'Forbidden',
        status: 403,
        detail: 'Żądanie pochodzi z adresu IP innego niż wskazany podczas uwierzytelnienia.',
        instance: '/v2/rate-limits',
        reasonCode: 'ip-not-allowed',
        security: { clientIp: '127.0.0.1' },
        traceId: expect.stringMatching(/^[0-9a-f]{32}$/),
        timestamp: expect.any(String),
      });
      const refresh = await http.request('POST', '/auth/token/refresh', { bearer: tokens.refreshToken });
      expect(refresh.status).toBe(403);
      expect(refresh.json).toMatchObject({ reasonCode: 'ip-not-allowed', security: { clientIp: '127.0.0.1' } });
    }
  });

  it('rejects an authorization policy that breaks the schema with 21405', async () => {
    clock.advance(60_000);
    const tooMany = await http.startTokenAuthentication(sandbox.ksefToken, sandbox.contextIdentifier, {
      authorizationPolicy: { allowedIps: { ip4Addresses: Array.from({ length: 11 }, (_, i) => `10.0.0.${i + 1}`) } },
    });
    expect(tooMany.answer.status).toBe(400);
    expect(exceptionOf(tooMany.answer)).toEqual({
      exceptionCode: 21405,
      exceptionDescription: 'Błąd walidacji danych wejściowych.',
      details: ["'authorizationPolicy.allowedIps.ip4Addresses' must NOT have more than 10 items."],
    });
    const backwards = await http.startTokenAuthentication(sandbox.ksefToken, sandbox.contextIdentifier, {
      authorizationPolicy: { allowedIps: { ip4Ranges: ['10.0.0.9-10.0.0.1'] } },
    });
    expect(exceptionOf(backwards.answer)).toMatchObject({
      exceptionCode: 21405,
      details: [expect.stringContaining('authorizationPolicy.allowedIps.ip4Ranges[0]')],
    });
  });

  it('serves only responses that match open-api.json', () => {
    expect(recorder.violations()).toEqual([]);
    for (const operation of [
      'POST /auth/ksef-token 202',
      'POST /auth/ksef-token 400',
      'GET /auth/{referenceNumber} 200',
      'POST /auth/token/redeem 400',
      'POST /auth/token/refresh 200',
      'POST /auth/token/refresh 403',
      'GET /rate-limits 403',
    ]) {
      expect(recorder.coverage()).toContain(operation);
    }
  });
});
