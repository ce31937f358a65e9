import { startSandbox, type SandboxHandle } from '../../sandbox';
import { ContractRecorder } from '../support/contract';
import { KsefHttp, ManualClock, RELAXED_RATE_LIMITS, exceptionOf, pollUntil } from '../support/ksefHttp';
import { decodeJwt, testSigner, xadesAuthenticate, type Signer } from '../support/xadesAuth';

const COMPANY_NIP = '5265877635';
const PESEL = '85020312345';
const recorder = new ContractRecorder();
const clock = new ManualClock(new Date());
let sandbox: SandboxHandle;
let http: KsefHttp;
let seal: Signer;
let companyContext: { type: 'Nip'; value: string };

beforeAll(async () => {
  sandbox = await startSandbox({ clock, processingDelayMs: 5, rateLimits: RELAXED_RATE_LIMITS, onExchange: recorder.record });
  http = new KsefHttp(sandbox.baseUrl);
  companyContext = { type: 'Nip', value: COMPANY_NIP };
  seal = testSigner({ kind: 'seal', organizationName: 'Kowalski sp. z o.o.', nip: COMPANY_NIP }, { clock });
});

afterAll(async () => {
  await sandbox.close();
});

async function generateToken(
  accessToken: string,
  permissions: string[],
  description = 'Wystawianie faktur',
): Promise<{ referenceNumber: string; token: string }> {
  const answer = await http.request('POST', '/tokens', { bearer: accessToken, body: { permissions, description } });
  if (answer.status !== 202) throw new Error(`POST /tokens answered ${answer.status}: ${answer.text}`);
  return answer.json;
}

async function tokenStatus(accessToken: string, referenceNumber: string, until: (status: string) => boolean): Promise<any> {
  return pollUntil(
    async () => (await http.request('GET', `/tokens/${referenceNumber}`, { bearer: accessToken })).json,
    (t) => until(t.status),
  );
}

describe('sandbox KSeF tokens', () => {
  it('generates a token after XAdES authentication that authenticates once Active and fails with 450 after revocation', async () => {
    const owner = await xadesAuthenticate(http, seal, companyContext);
    const generated = await generateToken(owner.accessToken, ['InvoiceRead', 'InvoiceWrite']);
    expect(generated.referenceNumber).toMatch(/^\d{8}-EC-/);
    expect(generated.token).toMatch(new RegExp(`^${generated.referenceNumber}\\|nip-${COMPANY_NIP}\\|[0-9a-f]{64}$`));

    const active = await tokenStatus(owner.accessToken, generated.referenceNumber, (s) => s === 'Active');
    expect(active).toMatchObject({
      referenceNumber: generated.referenceNumber,
      authorIdentifier: { type: 'Nip', value: COMPANY_NIP },
      contextIdentifier: companyContext,
      description: 'Wystawianie faktur',
      requestedPermissions: ['InvoiceRead', 'InvoiceWrite'],
    });
    expect(active.lastUseDate).toBeUndefined();
    expect(JSON.stringify(active)).not.toContain(generated.token.split('|')[2]);

    const viaToken = await http.authenticate(generated.token, companyContext);
    expect(decodeJwt(viaToken.accessToken)).toMatchObject({ aum: 'Token', per: ['InvoiceRead', 'InvoiceWrite'] });
    expect((await http.request('GET', `/tokens/${generated.referenceNumber}`, { bearer: owner.accessToken })).json.lastUseDate).toEqual(
      expect.any(String),
    );

    const revoked = await http.request('DELETE', `/tokens/${generated.referenceNumber}`, { bearer: owner.accessToken });
    expect(revoked.status).toBe(204);
    await tokenStatus(owner.accessToken, generated.referenceNumber, (s) => s === 'Revoked');

    const { answer } = await http.startTokenAuthentication(generated.token, companyContext);
    expect(await http.authenticationResult(answer.json.referenceNumber, answer.json.authenticationToken.token)).toEqual({
      code: 450,
      description: 'Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu',
      details: ['Token unieważniony'],
    });
    const refresh = await http.request('POST', '/auth/token/refresh', { bearer: viaToken.refreshToken });
    expect(exceptionOf(refresh)).toMatchObject({ exceptionCode: 21301, details: ['Token KSeF został unieważniony.'] });
  });

  it('lets the provisioned owner token generate tokens: its owner counts as having signed once', async () => {
    const { accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier);
    const generated = await generateToken(accessToken, ['InvoiceRead']);
    expect(generated.token).toContain(`|nip-${sandbox.contextIdentifier.value}|`);
  });

  it('refuses a token-authenticated subject who never signed with 403 auth-method-not-allowed', async () => {
    const unsigned = sandbox.state.issueKsefToken({
      contextIdentifier: companyContext,
      authorIdentifier: { type: 'Pesel', value: PESEL },
      description: 'issued without a signature',
      permissions: ['CredentialsManage', 'InvoiceRead'],
      now: clock.now(),
    });
    const { accessToken } = await http.authenticate(unsigned.secret, companyContext);
    const answer = await http.request('POST', '/tokens', {
      bearer: accessToken,
      body: { permissions: ['InvoiceRead'], description: 'Odczyt faktur' },
    });
    expect(answer.status).toBe(403);
    expect(answer.json).toMatchObject({ reasonCode: 'auth-method-not-allowed', security: { authenticationMethodCategory: 'Token' } });
  });

  it('refuses permissions the caller lacks (26001) and contexts other than Nip/InternalId (26002)', async () => {
    const person = testSigner({ kind: 'person', givenName: 'Ewa', surname: 'Zielińska', pesel: PESEL }, { clock });
    sandbox.state.grantPermissions(companyContext, { type: 'Pesel', value: PESEL }, ['InvoiceRead']);
    const reader = await xadesAuthenticate(http, person, companyContext);
    const tooMuch = await http.request('POST', '/tokens', {
      bearer: reader.accessToken,
      body: { permissions: ['InvoiceRead', 'InvoiceWrite'], description: 'Za dużo uprawnień' },
    });
    expect(tooMuch.status).toBe(400);
    expect(exceptionOf(tooMuch)).toEqual({
      exceptionCode: 26001,
      exceptionDescription: 'Nie można nadać tokenowi uprawnień których nie posiadasz.',
      details: ['Brakujące uprawnienia: InvoiceWrite.'],
    });
    expect(
      (
        await http.request('POST', '/tokens', {
          bearer: reader.accessToken,
          body: { permissions: ['InvoiceRead'], description: 'Tylko odczyt' },
        })
      ).status,
    ).toBe(202);

    const vatUe = { type: 'NipVatUe' as const, value: `${COMPANY_NIP}-ATU12345678` };
    sandbox.state.grantPermissions(vatUe, { type: 'Nip', value: COMPANY_NIP }, ['InvoiceRead']);
    const euSession = await xadesAuthenticate(http, seal, vatUe);
    const wrongContext = await http.request('POST', '/tokens', {
      bearer: euSession.accessToken,
      body: { permissions: ['InvoiceRead'], description: 'Kontekst VAT UE' },
    });
    expect(exceptionOf(wrongContext)).toMatchObject({
      exceptionCode: 26002,
      exceptionDescription: 'Nie można wygenerować tokena dla obecnego typu kontekstu.',
    });

    const internal = { type: 'InternalId' as const, value: `${COMPANY_NIP}-12345` };
    const internalSession = await xadesAuthenticate(http, seal, internal);
    const internalToken = await generateToken(internalSession.accessToken, ['InvoiceWrite']);
    expect(internalToken.token).toContain(`|internalId-${COMPANY_NIP}-12345|`);
  });

  it('rejects a description outside 5-256 characters and an unknown permission with 21405, before checking permissions', async () => {
    const owner = await xadesAuthenticate(http, seal, companyContext);
    const cases: [Record<string, unknown>, string][] = [
      [{ permissions: ['InvoiceRead'], description: 'abcd' }, "'description' must NOT have fewer than 5 characters."],
      [{ permissions: ['InvoiceRead'], description: 'x'.repeat(257) }, "'description' must NOT have more than 256 characters."],
      [
        { permissions: ['InvoiceRead', 'Owner'], description: 'Nieznane uprawnienie' },
        "'permissions[1]' must be equal to one of the allowed values.",
      ],
    ];
    for (const [body, detail] of cases) {
      const answer = await http.request('POST', '/tokens', { bearer: owner.accessToken, body });
      expect(answer.status).toBe(400);
      expect(exceptionOf(answer)).toEqual({
        exceptionCode: 21405,
        exceptionDescription: 'Błąd walidacji danych wejściowych.',
        details: [detail],
      });
    }
    expect(
      (
        await http.request('POST', '/tokens', {
          bearer: owner.accessToken,
          body: { permissions: ['InvoiceRead'], description: 'x'.repeat(256) },
        })
      ).status,
    ).toBe(202);
  });

  it('lists tokens newest first with filters and continuation-token paging', async () => {
    const listingContext = { type: 'Nip' as const, value: '7762811692' };
    const listingSeal = testSigner({ kind: 'seal', organizationName: 'Lista sp. z o.o.', nip: listingContext.value }, { clock });
    const { accessToken } = await xadesAuthenticate(http, listingSeal, listingContext);
    const references: string[] = [];
    for (let i = 0; i < 12; i++) {
      clock.advance(1000);
      references.push(
        (
          await generateToken(
            accessToken,
            i % 2 === 0 ? ['InvoiceRead'] : ['InvoiceWrite'],
            `Token numer ${i} ${i % 3 === 0 ? 'ERP' : 'biuro'}`,
          )
        ).referenceNumber,
      );
    }
    await tokenStatus(accessToken, references[11], (s) => s === 'Active');
    await http.request('DELETE', `/tokens/${references[0]}`, { bearer: accessToken });

    const first = await http.request('GET', '/tokens?pageSize=10', { bearer: accessToken });
    expect(first.status).toBe(200);
    expect(first.json.tokens.map((t: any) => t.referenceNumber)).toEqual(references.slice(2).reverse());
    expect(first.json.continuationToken).toEqual(expect.any(String));
    const second = await http.request('GET', '/tokens?pageSize=10', {
      bearer: accessToken,
      headers: { 'x-continuation-token': first.json.continuationToken },
    });
    expect(second.json.tokens.map((t: any) => t.referenceNumber)).toEqual(references.slice(0, 2).reverse());
    expect(second.json.continuationToken).toBeUndefined();

    const erp = await http.request('GET', '/tokens?description=erp', { bearer: accessToken });
    expect(erp.json.tokens.map((t: any) => t.description)).toEqual([
      'Token numer 9 ERP',
      'Token numer 6 ERP',
      'Token numer 3 ERP',
      'Token numer 0 ERP',
    ]);
    const revoking = await http.request('GET', '/tokens?status=Revoking&status=Revoked', { bearer: accessToken });
    expect(revoking.json.tokens.map((t: any) => t.referenceNumber)).toEqual([references[0]]);
    const byAuthor = await http.request('GET', `/tokens?authorIdentifier=776281&authorIdentifierType=Nip&pageSize=100`, {
      bearer: accessToken,
    });
    expect(byAuthor.json.tokens).toHaveLength(12);
    const noPesel = await http.request('GET', `/tokens?authorIdentifier=776281&authorIdentifierType=Pesel`, { bearer: accessToken });
    expect(noPesel.json.tokens).toEqual([]);

    const badPage = await http.request('GET', '/tokens', { bearer: accessToken, headers: { 'x-continuation-token': 'not-a-token' } });
    expect(exceptionOf(badPage).exceptionCode).toBe(21418);
    const tooSmall = await http.request('GET', '/tokens?pageSize=5', { bearer: accessToken });
    expect(exceptionOf(tooSmall).exceptionCode).toBe(21405);
  });

  it('shows a caller without credentials permissions only its own token or the tokens it authored', async () => {
    const owner = await xadesAuthenticate(http, seal, companyContext);
    const readerToken = await generateToken(owner.accessToken, ['InvoiceRead'], 'Tylko do odczytu');
    await tokenStatus(owner.accessToken, readerToken.referenceNumber, (s) => s === 'Active');
    const viaReaderToken = await http.authenticate(readerToken.token, companyContext);
    const own = await http.request('GET', '/tokens', { bearer: viaReaderToken.accessToken });
    expect(own.json.tokens.map((t: any) => t.referenceNumber)).toEqual([readerToken.referenceNumber]);

    const person = testSigner({ kind: 'person', givenName: 'Ewa', surname: 'Zielińska', pesel: PESEL }, { clock });
    const reader = await xadesAuthenticate(http, person, companyContext);
    const authored = await http.request('GET', '/tokens?pageSize=100', { bearer: reader.accessToken });
    expect(authored.json.tokens.length).toBeGreaterThan(0);
    expect(authored.json.tokens.every((t: any) => t.authorIdentifier.type === 'Pesel' && t.authorIdentifier.value === PESEL)).toBe(true);

    const foreign = await http.request('DELETE', `/tokens/${readerToken.referenceNumber}`, { bearer: reader.accessToken });
    expect(foreign.status).toBe(400);
    expect(exceptionOf(foreign)).toMatchObject({
      exceptionCode: 21405,
      details: [`Token o numerze referencyjnym ${readerToken.referenceNumber} nie został znaleziony.`],
    });
    expect((await http.request('GET', `/tokens/${readerToken.referenceNumber}`, { bearer: owner.accessToken })).json.status).toBe('Active');
  });

  it('serves only responses that match open-api.json', () => {
    expect(recorder.violations()).toEqual([]);
    for (const operation of [
      'POST /tokens 202',
      'POST /tokens 400',
      'POST /tokens 403',
      'GET /tokens 200',
      'GET /tokens/{referenceNumber} 200',
      'DELETE /tokens/{referenceNumber} 204',
    ]) {
      expect(recorder.coverage()).toContain(operation);
    }
  });
});
