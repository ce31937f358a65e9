import { buildAuthTokenRequestXml } from '../../shared/protocol/xml/xades/authTokenRequest';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { ContractRecorder } from '../support/contract';
import { KsefHttp, ManualClock, RELAXED_RATE_LIMITS, exceptionOf, sendInvoiceBody } from '../support/ksefHttp';
import {
  decodeJwt,
  postXml,
  startXadesAuthentication,
  testSigner,
  xadesAuthenticate,
  xadesAuthenticationStatus,
  type Signer,
} from '../support/xadesAuth';

const DAY = 24 * 3600_000;
const OTHER_NIP = '5265877635';
const PESEL = '90010112345';
const recorder = new ContractRecorder();
const clock = new ManualClock(new Date());
let sandbox: SandboxHandle;
let http: KsefHttp;
let ownerSeal: Signer;

beforeAll(async () => {
  sandbox = await startSandbox({ clock, processingDelayMs: 5, rateLimits: RELAXED_RATE_LIMITS, onExchange: recorder.record });
  http = new KsefHttp(sandbox.baseUrl);
  ownerSeal = testSigner({ kind: 'seal', organizationName: 'Demo sp. z o.o.', nip: sandbox.contextIdentifier.value }, { clock });
});

afterAll(async () => {
  await sandbox.close();
});

describe('sandbox XAdES authentication', () => {
  it('makes a seal whose VATPL NIP is the context NIP the owner, as QualifiedSeal', async () => {
    const { answer } = await startXadesAuthentication(http, ownerSeal, sandbox.contextIdentifier);
    expect(answer.status).toBe(202);
    const { referenceNumber, authenticationToken } = answer.json;
    expect(referenceNumber).toMatch(/^\d{8}-AU-/);
    expect(await http.authenticationResult(referenceNumber, authenticationToken.token)).toEqual({
      code: 200,
      description: 'Uwierzytelnianie zakończone sukcesem',
    });
    const status = await http.request('GET', `/auth/${referenceNumber}`, { bearer: authenticationToken.token });
    expect(status.json).toMatchObject({
      authenticationMethod: 'QualifiedSeal',
      authenticationMethodInfo: { category: 'XadesSignature', code: 'xades.qualified-seal', displayName: 'Pieczęć kwalifikowana' },
    });

    const redeemed = await http.request('POST', '/auth/token/redeem', { bearer: authenticationToken.token });
    const claims = decodeJwt(redeemed.json.accessToken.token);
    expect(claims).toMatchObject({
      typ: 'ContextToken',
      cit: 'Nip',
      civ: sandbox.contextIdentifier.value,
      aum: 'QualifiedSeal',
      arn: referenceNumber,
      per: ['Owner'],
    });
    expect(claims.pep).toEqual(expect.arrayContaining(['InvoiceRead', 'InvoiceWrite', 'CredentialsManage']));
    expect(JSON.parse(claims.sud)).toMatchObject({
      SubjectIdentifier: { Type: 'Nip', Value: sandbox.contextIdentifier.value },
      CommonName: 'Demo sp. z o.o.',
      CountryName: 'PL',
    });
  });

  it('lets the owner send invoices whose UPO names the signed document by its hash', async () => {
    const { accessToken } = await xadesAuthenticate(http, ownerSeal, sandbox.contextIdentifier);
    const session = await http.openOnlineSession(accessToken);
    expect(session.answer.status).toBe(201);
    const sent = await http.sendInvoice(
      accessToken,
      session.referenceNumber,
      sendInvoiceBody(buildDemoInvoice({ issueDate: clock.now().toISOString().slice(0, 10) }), session.key),
    );
    const invoice = await http.invoiceResult(accessToken, session.referenceNumber, sent.json.referenceNumber);
    expect(invoice.status.code).toBe(200);
    const upo = await (await fetch(invoice.upoDownloadUrl)).text();
    expect(upo).toMatch(/<SkrotDokumentuUwierzytelniajacego>[A-Za-z0-9+/]{43}=<\/SkrotDokumentuUwierzytelniajacego>/);
    expect(upo).not.toContain('NumerReferencyjnyTokenaKSeF');
  });

  it('makes a person with TINPL-<context NIP> the owner, as QualifiedSignature', async () => {
    const person = testSigner(
      { kind: 'person', givenName: 'Jan', surname: 'Kowalski', nip: sandbox.contextIdentifier.value },
      { keyType: 'rsa', clock },
    );
    const { accessToken } = await xadesAuthenticate(http, person, sandbox.contextIdentifier);
    const claims = decodeJwt(accessToken);
    expect(claims).toMatchObject({ aum: 'QualifiedSignature', per: ['Owner'] });
    expect(JSON.parse(claims.sud)).toMatchObject({
      GivenNames: ['Jan'],
      Surname: 'Kowalski',
      SerialNumber: `TINPL-${sandbox.contextIdentifier.value}`,
    });
  });

  it('fails a subject without permissions in the context with 415, and accepts it once permissions are granted', async () => {
    const person = testSigner({ kind: 'person', givenName: 'Anna', surname: 'Nowak', pesel: PESEL }, { clock });
    expect(await xadesAuthenticationStatus(http, person, sandbox.contextIdentifier)).toEqual({
      code: 415,
      description: 'Uwierzytelnianie zakończone niepowodzeniem',
      details: ['Brak przypisanych uprawnień'],
    });
    const otherCompany = testSigner({ kind: 'seal', organizationName: 'Inna firma', nip: OTHER_NIP }, { clock });
    expect((await xadesAuthenticationStatus(http, otherCompany, sandbox.contextIdentifier)).code).toBe(415);

    sandbox.state.grantPermissions(sandbox.contextIdentifier, { type: 'Pesel', value: PESEL }, ['InvoiceRead']);
    const { accessToken } = await xadesAuthenticate(http, person, sandbox.contextIdentifier);
    expect(decodeJwt(accessToken)).toMatchObject({ per: ['InvoiceRead'], pep: ['InvoiceRead'] });
    const opened = await http.openOnlineSession(accessToken);
    expect(opened.answer.status).toBe(403);
  });

  it('identifies the signer by the certificate fingerprint when asked to', async () => {
    const seal = testSigner({ kind: 'seal', organizationName: 'Biuro rachunkowe', nip: OTHER_NIP }, { clock });
    const fingerprint = { type: 'Fingerprint' as const, value: seal.certificate.fingerprintSha256 };
    expect(
      (await xadesAuthenticationStatus(http, seal, sandbox.contextIdentifier, { subjectIdentifierType: 'certificateFingerprint' })).code,
    ).toBe(415);
    sandbox.state.grantPermissions(sandbox.contextIdentifier, fingerprint, ['InvoiceWrite']);
    const { accessToken } = await xadesAuthenticate(http, seal, sandbox.contextIdentifier, {
      subjectIdentifierType: 'certificateFingerprint',
    });
    expect(JSON.parse(decodeJwt(accessToken).sud).SubjectIdentifier).toEqual({
      Type: 'Fingerprint',
      Value: seal.certificate.fingerprintSha256,
    });
  });

  it('fails an expired or not yet valid certificate with 460 "Nieważny certyfikat"', async () => {
    const shortLived = testSigner(
      { kind: 'seal', organizationName: 'Demo sp. z o.o.', nip: sandbox.contextIdentifier.value },
      { validityDays: 1, clock },
    );
    clock.advance(2 * DAY);
    const expected = {
      code: 460,
      description: 'Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu',
      details: ['Nieważny certyfikat'],
    };
    expect(await xadesAuthenticationStatus(http, shortLived, sandbox.contextIdentifier, { clock })).toEqual(expected);

    const future = new ManualClock(new Date(clock.now().getTime() + 2 * DAY));
    const notYetValid = testSigner(
      { kind: 'seal', organizationName: 'Demo sp. z o.o.', nip: sandbox.contextIdentifier.value },
      { clock: future },
    );
    expect(await xadesAuthenticationStatus(http, notYetValid, sandbox.contextIdentifier, { clock })).toEqual(expected);
  });

  it('fails a self-signed certificate with 460 "Niezaufany łańcuch certyfikatów" when the chain must be verified', async () => {
    const status = await xadesAuthenticationStatus(http, ownerSeal, sandbox.contextIdentifier, { query: '?verifyCertificateChain=true' });
    expect(status).toMatchObject({ code: 460, details: ['Niezaufany łańcuch certyfikatów'] });
    expect(
      (await xadesAuthenticationStatus(http, ownerSeal, sandbox.contextIdentifier, { query: '?verifyCertificateChain=false' })).code,
    ).toBe(200);
  });

  it('answers 415 Unsupported Media Type unless the document is sent as application/xml', async () => {
    const { answer } = await startXadesAuthentication(http, ownerSeal, sandbox.contextIdentifier, { contentType: 'text/plain' });
    expect(answer.status).toBe(415);
  });

  it('rejects a document changed after signing with 9105', async () => {
    const { answer } = await startXadesAuthentication(http, ownerSeal, sandbox.contextIdentifier, {
      alter: (xml) => xml.replace(`<Nip>${sandbox.contextIdentifier.value}</Nip>`, `<Nip>${OTHER_NIP}</Nip>`),
    });
    expect(answer.status).toBe(400);
    expect(exceptionOf(answer)).toMatchObject({ exceptionCode: 9105, exceptionDescription: 'Nieprawidłowy podpis.' });
  });

  it('rejects an unsigned document with 9102 and unreadable content with 21001', async () => {
    const challenge = (await http.request('POST', '/auth/challenge')).json.challenge;
    const unsigned = buildAuthTokenRequestXml({
      challenge,
      contextIdentifier: sandbox.contextIdentifier,
      subjectIdentifierType: 'certificateSubject',
    });
    const noSignature = await postXml(http, '/auth/xades-signature', unsigned);
    expect(exceptionOf(noSignature)).toMatchObject({ exceptionCode: 9102, exceptionDescription: 'Brak podpisu.' });
    const garbage = await postXml(http, '/auth/xades-signature', '<AuthTokenRequest><oops>');
    expect(exceptionOf(garbage)).toMatchObject({ exceptionCode: 21001, exceptionDescription: 'Nieczytelna treść.' });
  });

  it('rejects a reused challenge and one older than 10 minutes with 21111', async () => {
    const first = await startXadesAuthentication(http, ownerSeal, sandbox.contextIdentifier);
    expect(first.answer.status).toBe(202);
    const reused = await startXadesAuthentication(http, ownerSeal, sandbox.contextIdentifier, { challenge: first.challenge });
    expect(exceptionOf(reused.answer)).toMatchObject({
      exceptionCode: 21111,
      exceptionDescription: 'Nieprawidłowe wyzwanie autoryzacyjne.',
    });

    const challenge = (await http.request('POST', '/auth/challenge')).json.challenge;
    clock.advance(10 * 60_000 + 1);
    const late = await startXadesAuthentication(http, ownerSeal, sandbox.contextIdentifier, { challenge, clock });
    expect(exceptionOf(late.answer).exceptionCode).toBe(21111);
  });

  it('binds the tokens to the AuthorizationPolicy of the signed document: 127.0.0.1 allowed works, others get 403 ip-not-allowed', async () => {
    clock.advance(1000);
    const allowed = await xadesAuthenticate(http, ownerSeal, sandbox.contextIdentifier, {
      authorizationPolicy: { allowedIps: { ip4Addresses: ['192.0.2.10'], ip4Masks: ['127.0.0.0/8'] } },
    });
    expect(JSON.parse(decodeJwt(allowed.accessToken).ipp)).toEqual({ OnClientIpChange: 'reject' });
    expect((await http.request('GET', '/tokens', { bearer: allowed.accessToken })).status).toBe(200);
    expect((await http.request('POST', '/auth/token/refresh', { bearer: allowed.refreshToken })).status).toBe(200);

    const elsewhere = await xadesAuthenticate(http, ownerSeal, sandbox.contextIdentifier, {
      authorizationPolicy: { allowedIps: { ip4Addresses: ['192.0.2.10'], ip4Ranges: ['198.51.100.1-198.51.100.254'] } },
    });
    const denied = await http.request('GET', '/tokens', { bearer: elsewhere.accessToken });
    expect(denied.status).toBe(403);
    expect(denied.json).toMatchObject({
      title: 'Forbidden',
      status: 403,
      detail: 'Żądanie pochodzi z adresu IP innego niż wskazany podczas uwierzytelnienia.',
      reasonCode: 'ip-not-allowed',
      security: { clientIp: '127.0.0.1' },
    });
    expect((await http.request('POST', '/auth/token/refresh', { bearer: elsewhere.refreshToken })).json).toMatchObject({
      reasonCode: 'ip-not-allowed',
    });
    const noPolicy = await xadesAuthenticate(http, ownerSeal, sandbox.contextIdentifier);
    expect(decodeJwt(noPolicy.accessToken).ipp).toBeUndefined();
  });

  it('serves only responses that match open-api.json (415 for a wrong media type is observed, not documented)', () => {
    const documented = recorder.exchanges.filter((e) => !(e.operation === 'POST /auth/xades-signature' && e.status === 415));
    const checked = new ContractRecorder();
    documented.forEach(checked.record);
    expect(checked.violations()).toEqual([]);
    for (const operation of [
      'POST /auth/xades-signature 202',
      'POST /auth/xades-signature 400',
      'GET /auth/{referenceNumber} 200',
      'GET /tokens 403',
    ]) {
      expect(recorder.coverage()).toContain(operation);
    }
  });
});
