import { X509Certificate } from 'node:crypto';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { ContractRecorder } from '../support/contract';
import { buildCsr, newKey, subjectFromEnrollmentData, type SubjectAttributes } from '../support/csr';
import { KsefHttp, ManualClock, RELAXED_RATE_LIMITS, exceptionOf, pollUntil } from '../support/ksefHttp';
import {
  decodeJwt,
  signerOf,
  testSigner,
  xadesAuthenticate,
  xadesAuthenticationStatus,
  type Signer,
  type XadesSession,
} from '../support/xadesAuth';
import type { KeyObject } from 'node:crypto';

const DAY = 24 * 3600_000;
const recorder = new ContractRecorder();
const clock = new ManualClock(new Date());
let sandbox: SandboxHandle;
let http: KsefHttp;
let person: Signer;
let session: XadesSession;
let subject: SubjectAttributes;

beforeAll(async () => {
  sandbox = await startSandbox({ clock, processingDelayMs: 5, rateLimits: RELAXED_RATE_LIMITS, onExchange: recorder.record });
  http = new KsefHttp(sandbox.baseUrl);
  person = testSigner({ kind: 'person', givenName: 'Jan', surname: 'Kowalski', nip: sandbox.contextIdentifier.value }, { clock });
  session = await xadesAuthenticate(http, person, sandbox.contextIdentifier);
  subject = subjectFromEnrollmentData((await http.request('GET', '/certificates/enrollments/data', { bearer: session.accessToken })).json);
});

afterAll(async () => {
  await sandbox.close();
});

function enroll(body: Record<string, unknown>, bearer = session.accessToken) {
  return http.request('POST', '/certificates/enrollments', {
    bearer,
    body: { certificateName: 'Certyfikat testowy', certificateType: 'Authentication', ...body },
  });
}

async function enrollmentResult(referenceNumber: string): Promise<any> {
  return pollUntil(
    async () => (await http.request('GET', `/certificates/enrollments/${referenceNumber}`, { bearer: session.accessToken })).json,
    (e) => e.status.code !== 100,
  );
}

/** Enrolls a CSR for the person's own data and returns the issued certificate with its key. */
async function issue(
  type: 'Authentication' | 'Offline',
  key: KeyObject = newKey('ec'),
  certificateName = `Certyfikat ${type}`,
  validFrom?: Date,
): Promise<{ serial: string; der: Buffer; key: KeyObject; enrollment: string }> {
  const answer = await enroll({
    certificateName,
    certificateType: type,
    csr: buildCsr(subject, { privateKey: key }).csr,
    ...(validFrom && { validFrom: validFrom.toISOString() }),
  });
  expect(answer.status).toBe(202);
  const result = await enrollmentResult(answer.json.referenceNumber);
  expect(result.status).toEqual({ code: 200, description: 'Wniosek obsłużony (certyfikat wygenerowany)' });
  const retrieved = await http.request('POST', '/certificates/retrieve', {
    bearer: session.accessToken,
    body: { certificateSerialNumbers: [result.certificateSerialNumber] },
  });
  expect(retrieved.json.certificates[0]).toMatchObject({
    certificateName,
    certificateSerialNumber: result.certificateSerialNumber,
    certificateType: type,
  });
  return {
    serial: result.certificateSerialNumber,
    der: Buffer.from(retrieved.json.certificates[0].certificate, 'base64'),
    key,
    enrollment: answer.json.referenceNumber,
  };
}

describe('sandbox KSeF certificates', () => {
  it('returns the authenticating certificate subject as enrollment data', async () => {
    const data = await http.request('GET', '/certificates/enrollments/data', { bearer: session.accessToken });
    expect(data.status).toBe(200);
    expect(data.json).toEqual({
      commonName: 'Jan Kowalski',
      countryName: 'PL',
      givenName: 'Jan',
      surname: 'Kowalski',
      serialNumber: `TINPL-${sandbox.contextIdentifier.value}`,
    });
  });

  it('refuses enrollment data and enrollment after a KSeF-token authentication (25001, 25002)', async () => {
    const { accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier);
    const data = await http.request('GET', '/certificates/enrollments/data', { bearer: accessToken });
    expect(exceptionOf(data)).toMatchObject({
      exceptionCode: 25001,
      exceptionDescription: 'Brak możliwości pobrania danych do CSR dla wykorzystanego sposobu uwierzytelnienia.',
    });
    const enrollment = await enroll({ csr: buildCsr(subject).csr }, accessToken);
    expect(exceptionOf(enrollment).exceptionCode).toBe(25002);
    expect((await http.request('GET', '/certificates/limits', { bearer: accessToken })).json.canRequest).toBe(false);
  });

  it('issues an Authentication certificate from its own CA that then authenticates as InternalCertificate', async () => {
    const limitsBefore = (await http.request('GET', '/certificates/limits', { bearer: session.accessToken })).json;
    expect(limitsBefore).toMatchObject({ canRequest: true, enrollment: { limit: 300 }, certificate: { limit: 100 } });

    const answer = await enroll({ csr: buildCsr(subject).csr });
    expect(answer.json.referenceNumber).toMatch(/^\d{8}-CE-/);
    const early = await http.request('GET', `/certificates/enrollments/${answer.json.referenceNumber}`, { bearer: session.accessToken });
    expect(early.status).toBe(200);

    const { serial, der, key } = await issue('Authentication');
    expect(serial).toMatch(/^[0-9A-F]{16}$/);
    const certificate = new X509Certificate(der);
    expect(certificate.serialNumber.toUpperCase().padStart(16, '0')).toBe(serial);
    expect(certificate.issuer).toContain('CN=KSeF Sandbox CA');
    expect(certificate.subject).toContain('CN=Jan Kowalski');
    expect(certificate.subject).toContain(`serialNumber=TINPL-${sandbox.contextIdentifier.value}`);
    expect(Date.parse(certificate.validTo) - Date.parse(certificate.validFrom)).toBe(730 * DAY);

    const limitsAfter = (await http.request('GET', '/certificates/limits', { bearer: session.accessToken })).json;
    expect(limitsAfter.enrollment.remaining).toBe(limitsBefore.enrollment.remaining - 2);
    expect(limitsAfter.certificate.remaining).toBe(limitsBefore.certificate.remaining - 2);

    const ksefSigner = signerOf(der, key);
    const viaCertificate = await xadesAuthenticate(http, ksefSigner, sandbox.contextIdentifier);
    expect(decodeJwt(viaCertificate.accessToken)).toMatchObject({ aum: 'InternalCertificate', per: ['Owner'] });
    const status = await http.request('GET', `/auth/${viaCertificate.referenceNumber}`, { bearer: viaCertificate.authenticationToken });
    expect(status.json.authenticationMethodInfo).toEqual({
      category: 'XadesSignature',
      code: 'xades.internal-certificate',
      displayName: 'Certyfikat KSeF',
    });
    // The sandbox trusts its own CA, so chain verification passes where a self-signed certificate fails.
    expect(
      (await xadesAuthenticationStatus(http, ksefSigner, sandbox.contextIdentifier, { query: '?verifyCertificateChain=true' })).code,
    ).toBe(200);

    const listed = await http.request('POST', '/certificates/query', {
      bearer: session.accessToken,
      body: { certificateSerialNumber: serial },
    });
    expect(listed.json).toEqual({
      certificates: [
        expect.objectContaining({
          certificateSerialNumber: serial,
          name: 'Certyfikat Authentication',
          type: 'Authentication',
          commonName: 'Jan Kowalski',
          status: 'Active',
          subjectIdentifier: { type: 'Nip', value: sandbox.contextIdentifier.value },
          lastUseDate: expect.any(String),
        }),
      ],
      hasMore: false,
    });
  });

  it('rejects authentication with an Offline certificate (460 "Niepoprawny certyfikat") and a revoked one (460 "Certyfikat odwołany")', async () => {
    const offline = await issue('Offline', newKey('rsa'));
    expect(await xadesAuthenticationStatus(http, signerOf(offline.der, offline.key), sandbox.contextIdentifier)).toEqual({
      code: 460,
      description: 'Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu',
      details: ['Niepoprawny certyfikat'],
    });

    const authentication = await issue('Authentication');
    const revoked = await http.request('POST', `/certificates/${authentication.serial}/revoke`, {
      bearer: session.accessToken,
      body: { revocationReason: 'KeyCompromise' },
    });
    expect(revoked.status).toBe(204);
    expect(
      (await xadesAuthenticationStatus(http, signerOf(authentication.der, authentication.key), sandbox.contextIdentifier)).details,
    ).toEqual(['Certyfikat odwołany']);

    const again = await http.request('POST', `/certificates/${authentication.serial}/revoke`, { bearer: session.accessToken, body: {} });
    expect(exceptionOf(again)).toMatchObject({ exceptionCode: 25009 });
    const unknown = await http.request('POST', '/certificates/0123456789ABCDEF/revoke', { bearer: session.accessToken, body: {} });
    expect(exceptionOf(unknown)).toMatchObject({
      exceptionCode: 25008,
      exceptionDescription: 'Certyfikat o podanym numerze seryjnym nie istnieje.',
    });

    const revokedList = await http.request('POST', '/certificates/query', { bearer: session.accessToken, body: { status: 'Revoked' } });
    expect(revokedList.json.certificates.map((c: any) => c.certificateSerialNumber)).toEqual([authentication.serial]);
    const offlineList = await http.request('POST', '/certificates/query?pageSize=10&pageOffset=0', {
      bearer: session.accessToken,
      body: { type: 'Offline' },
    });
    expect(offlineList.json.certificates.map((c: any) => c.certificateSerialNumber)).toEqual([offline.serial]);
  });

  it('refuses revocation to a KSeF-token authentication (403 auth-method-not-allowed)', async () => {
    const { serial } = await issue('Authentication');
    const { accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier);
    const answer = await http.request('POST', `/certificates/${serial}/revoke`, { bearer: accessToken, body: {} });
    expect(answer.status).toBe(403);
    expect(answer.json.reasonCode).toBe('auth-method-not-allowed');
  });

  it('checks the CSR: subject (25003), signature (25004), key (25010), algorithm (25011)', async () => {
    const changed = subject.map(([oid, value]): [string, string] => (oid === '2.5.4.3' ? [oid, 'Ktoś Inny'] : [oid, value]));
    const mismatch = await enroll({ csr: buildCsr(changed).csr });
    expect(exceptionOf(mismatch)).toMatchObject({
      exceptionCode: 25003,
      exceptionDescription: 'Dane w CSR nie zgadzają się z danymi w użytym wektorze uwierzytelniającym.',
    });
    expect(exceptionOf(mismatch).details![0]).toContain('Ktoś Inny');
    const extra = await enroll({ csr: buildCsr([...subject, ['2.5.4.10', 'Firma']]).csr });
    expect(exceptionOf(extra).exceptionCode).toBe(25003);

    expect(exceptionOf(await enroll({ csr: buildCsr(subject, { corruptSignature: true }).csr })).exceptionCode).toBe(25004);
    expect(exceptionOf(await enroll({ csr: Buffer.from('not a csr').toString('base64') })).exceptionCode).toBe(25004);
    const weak = await enroll({ csr: buildCsr(subject, { privateKey: newKey('rsa', 1024) }).csr });
    expect(exceptionOf(weak)).toMatchObject({ exceptionCode: 25010, exceptionDescription: 'Nieprawidłowy typ lub długość klucza.' });
    const md5 = await enroll({ csr: buildCsr(subject, { privateKey: newKey('rsa'), hash: 'md5' }).csr });
    expect(exceptionOf(md5)).toMatchObject({ exceptionCode: 25011, exceptionDescription: 'Nieprawidłowy algorytm podpisu CSR.' });
    const sha1 = await enroll({ csr: buildCsr(subject, { hash: 'sha1' }).csr });
    expect(sha1.status).toBe(202);
    const pss = await enroll({ csr: buildCsr(subject, { privateKey: newKey('rsa'), pss: true }).csr });
    expect(pss.status).toBe(202);
    expect((await enrollmentResult(pss.json.referenceNumber)).status.code).toBe(200);
  });

  it('validates enrollment, query and retrieve requests against open-api.json with 21405', async () => {
    const detailsOf = (answer: { json: any }) => {
      expect(exceptionOf(answer)).toMatchObject({ exceptionCode: 21405, exceptionDescription: 'Błąd walidacji danych wejściowych.' });
      return exceptionOf(answer).details;
    };
    expect(detailsOf(await enroll({ certificateName: 'Cert!', csr: buildCsr(subject).csr }))).toEqual([
      expect.stringMatching(/^'certificateName' must match pattern /),
    ]);
    expect(detailsOf(await enroll({ certificateName: 'Cert', csr: buildCsr(subject).csr }))).toEqual([
      "'certificateName' must NOT have fewer than 5 characters.",
    ]);
    expect((await enroll({ certificateName: 'Pieczęć Łódź_2-ok', csr: buildCsr(subject).csr })).status).toBe(202);

    const query = (params: string) => http.request('POST', `/certificates/query${params}`, { bearer: session.accessToken, body: {} });
    expect(detailsOf(await query('?pageSize=51'))).toEqual(["'pageSize' must be <= 50."]);
    expect(detailsOf(await query('?pageSize=9'))).toEqual(["'pageSize' must be >= 10."]);
    expect(detailsOf(await query('?pageOffset=-1'))).toEqual(["'pageOffset' must be >= 0."]);
    expect((await query('?pageSize=50&pageOffset=0')).status).toBe(200);

    const retrieve = (certificateSerialNumbers: unknown) =>
      http.request('POST', '/certificates/retrieve', { bearer: session.accessToken, body: { certificateSerialNumbers } });
    expect(detailsOf(await retrieve(Array(11).fill('0321C82DA41B4362')))).toEqual([
      "'certificateSerialNumbers' must NOT have more than 10 items.",
    ]);
    expect(detailsOf(await retrieve([]))).toEqual(["'certificateSerialNumbers' must NOT have fewer than 1 items."]);
    expect(detailsOf(await retrieve(['0321c82da41b4362']))).toEqual([
      '\'certificateSerialNumbers[0]\' must match pattern "^[0-9A-F]{16}$".',
    ]);
    expect((await retrieve(Array(10).fill('0321C82DA41B4362'))).status).toBe(200);
  });

  it('rejects an enrollment for a public key that is already certified', async () => {
    const key = newKey('ec');
    await issue('Authentication', key);
    const answer = await enroll({ csr: buildCsr(subject, { privateKey: key }).csr });
    expect((await enrollmentResult(answer.json.referenceNumber)).status).toEqual({
      code: 400,
      description: 'Wniosek odrzucony',
      details: ['Klucz publiczny został już certyfikowany przez inny podmiot.'],
    });
  });

  it('enforces the enrollment (25006) and certificate (25007) limits of the subject', async () => {
    const limits = (await http.request('GET', '/certificates/limits', { bearer: session.accessToken })).json;
    const usedCertificates = limits.certificate.limit - limits.certificate.remaining;
    const usedEnrollments = limits.enrollment.limit - limits.enrollment.remaining;
    sandbox.state.certificateLimits.Nip = { maxEnrollments: 300, maxCertificates: usedCertificates };
    expect((await http.request('GET', '/certificates/limits', { bearer: session.accessToken })).json).toMatchObject({
      canRequest: false,
      certificate: { remaining: 0 },
    });
    expect(exceptionOf(await enroll({ csr: buildCsr(subject).csr }))).toMatchObject({ exceptionCode: 25007 });
    sandbox.state.certificateLimits.Nip = { maxEnrollments: usedEnrollments, maxCertificates: 100 };
    expect(exceptionOf(await enroll({ csr: buildCsr(subject).csr }))).toMatchObject({ exceptionCode: 25006 });
    sandbox.state.certificateLimits.Nip = { maxEnrollments: 300, maxCertificates: 100 };
  });

  it('keeps certificates to their subject: another subject neither sees nor retrieves them', async () => {
    const { serial } = await issue('Authentication');
    const otherContext = { type: 'Nip' as const, value: '5265877635' };
    const other = await xadesAuthenticate(
      http,
      testSigner({ kind: 'seal', organizationName: 'Inna firma', nip: otherContext.value }, { clock }),
      otherContext,
    );
    expect((await http.request('POST', '/certificates/query', { bearer: other.accessToken, body: {} })).json).toEqual({
      certificates: [],
      hasMore: false,
    });
    expect(
      (await http.request('POST', '/certificates/retrieve', { bearer: other.accessToken, body: { certificateSerialNumbers: [serial] } }))
        .json,
    ).toEqual({ certificates: [] });
    const unknownEnrollment = await http.request('GET', '/certificates/enrollments/20260101-CE-1234567000-ABCDEF0123-00', {
      bearer: other.accessToken,
    });
    expect(exceptionOf(unknownEnrollment)).toMatchObject({ exceptionCode: 25005 });
  });

  it('pages the certificate list with pageOffset and pageSize, newest request first', async () => {
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      await issue('Offline', newKey('ec'), `Strona ${i}`);
    }
    const all = (await http.request('POST', '/certificates/query?pageSize=50', { bearer: session.accessToken, body: {} })).json
      .certificates;
    expect(all.length).toBeGreaterThan(10);
    expect(all.slice(0, 3).map((c: any) => c.name)).toEqual(['Strona 2', 'Strona 1', 'Strona 0']);
    const second = (await http.request('POST', '/certificates/query?pageSize=10&pageOffset=1', { bearer: session.accessToken, body: {} }))
      .json;
    expect(second.certificates.map((c: any) => c.certificateSerialNumber)).toEqual(
      all.slice(10, 20).map((c: any) => c.certificateSerialNumber),
    );
    expect(second.hasMore).toBe(all.length > 20);
    const named = (await http.request('POST', '/certificates/query', { bearer: session.accessToken, body: { name: 'strona 1' } })).json
      .certificates;
    expect(named.map((c: any) => c.name)).toEqual(['Strona 1']);
  });

  it('starts the validity at validFrom when given: the certificate does not authenticate before then', async () => {
    const validFrom = new Date(clock.now().getTime() + 3 * DAY);
    const { der, key } = await issue('Authentication', newKey('ec'), 'Przyszły', validFrom);
    expect(new Date(new X509Certificate(der).validFrom).getTime()).toBe(Math.floor(validFrom.getTime() / 1000) * 1000);
    expect((await xadesAuthenticationStatus(http, signerOf(der, key), sandbox.contextIdentifier)).details).toEqual(['Nieważny certyfikat']);
  });

  it('marks certificates past their validity as Expired, and they no longer authenticate; enrollment status is gone after 30 days', async () => {
    const { der, key, enrollment } = await issue('Authentication', newKey('ec'), 'Wygasający');
    clock.advance(731 * DAY);
    const later = await xadesAuthenticate(
      http,
      testSigner({ kind: 'person', givenName: 'Jan', surname: 'Kowalski', nip: sandbox.contextIdentifier.value }, { clock }),
      sandbox.contextIdentifier,
    );
    const expired = (await http.request('POST', '/certificates/query', { bearer: later.accessToken, body: { name: 'Wygasający' } })).json
      .certificates;
    expect(expired.map((c: any) => c.status)).toEqual(['Expired']);
    expect((await xadesAuthenticationStatus(http, signerOf(der, key), sandbox.contextIdentifier, { clock })).details).toEqual([
      'Nieważny certyfikat',
    ]);
    const gone = await http.request('GET', `/certificates/enrollments/${enrollment}`, { bearer: later.accessToken });
    expect(gone.status).toBe(410);
    expect(gone.json).toMatchObject({ title: 'Gone', status: 410 });
  });

  it('serves only responses that match open-api.json', () => {
    expect(recorder.violations()).toEqual([]);
    for (const operation of [
      'GET /certificates/limits 200',
      'GET /certificates/enrollments/data 200',
      'GET /certificates/enrollments/data 400',
      'POST /certificates/enrollments 202',
      'POST /certificates/enrollments 400',
      'GET /certificates/enrollments/{referenceNumber} 200',
      'POST /certificates/retrieve 200',
      'POST /certificates/retrieve 400',
      'POST /certificates/query 200',
      'POST /certificates/query 400',
      'POST /certificates/{certificateSerialNumber}/revoke 204',
      'POST /certificates/{certificateSerialNumber}/revoke 400',
    ]) {
      expect(recorder.coverage()).toContain(operation);
    }
  });
});
