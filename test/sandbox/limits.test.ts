/**
 * The limits chapter (limity/limity.md, CIRFMF/ksef-docs; open-api.json 2.8.1, CIRFMF/ksef-api): `GET /rate-limits`
 * with every group of EffectiveApiRateLimits, `GET /limits/context` with the collective-identifier limit,
 * `GET /limits/subject`, session closes counted under their own group since 2.8, and the test-data endpoints that
 * change a context's rate and session limits at run time.
 */
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { ContractRecorder } from '../support/contract';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { KsefHttp, exceptionOf, pollUntil, sendInvoiceBody } from '../support/ksefHttp';
import { testSigner, xadesAuthenticate } from '../support/xadesAuth';

const PESEL = '44051401359';
const recorder = new ContractRecorder();
let sandbox: SandboxHandle;
let http: KsefHttp;
let accessToken: string;

beforeAll(async () => {
  // One session open a second: a close right after an open must not count against it.
  sandbox = await startSandbox({
    processingDelayMs: 5,
    rateLimits: { onlineSession: { perSecond: 1, perMinute: 100, perHour: 1000 } },
    onExchange: recorder.record,
  });
  http = new KsefHttp(sandbox.baseUrl);
  ({ accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier));
});

afterAll(async () => {
  await sandbox.close();
});

describe('sandbox limits', () => {
  it('reports every rate-limit group of API 2.8.1, with -1 where there is no limit', async () => {
    const answer = await http.request('GET', '/rate-limits', { bearer: accessToken });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({
      onlineSession: { perSecond: 1, perMinute: 100, perHour: 1000 },
      onlineSessionClose: { perSecond: 20, perMinute: 60, perHour: 240 },
      batchSessionClose: { perSecond: 20, perMinute: 40, perHour: 120 },
      collectiveIdentifier: { perSecond: 20, perMinute: 120, perHour: 240 },
      anonymous: { perSecond: 60, perMinute: -1, perHour: -1 },
      global: { perSecond: -1, perMinute: -1, perHour: -1 },
    });
  });

  it("reports the context's session and collective-identifier limits", async () => {
    const answer = await http.request('GET', '/limits/context', { bearer: accessToken });
    expect(answer.json).toEqual({
      onlineSession: { maxInvoiceSizeInMB: 1, maxInvoiceWithAttachmentSizeInMB: 3, maxInvoices: 10_000 },
      batchSession: { maxInvoiceSizeInMB: 1, maxInvoiceWithAttachmentSizeInMB: 3, maxInvoices: 10_000 },
      collectiveIdentifier: { maxInvoices: 500 },
    });
  });

  it("reports the certificate limits of the subject that authenticated, by its identifier's kind", async () => {
    const byNip = await http.request('GET', '/limits/subject', { bearer: accessToken });
    expect(byNip.status).toBe(200);
    expect(byNip.json).toEqual({ enrollment: { maxEnrollments: 300 }, certificate: { maxCertificates: 100 } });

    sandbox.state.grantPermissions(sandbox.contextIdentifier, { type: 'Pesel', value: PESEL }, ['InvoiceRead']);
    const person = testSigner({ kind: 'person', givenName: 'Anna', surname: 'Nowak', pesel: PESEL });
    const byPesel = await xadesAuthenticate(http, person, sandbox.contextIdentifier);
    expect((await http.request('GET', '/limits/subject', { bearer: byPesel.accessToken })).json).toEqual({
      enrollment: { maxEnrollments: 12 },
      certificate: { maxCertificates: 6 },
    });
  });

  it('counts closing an online session under onlineSessionClose, not onlineSession', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const session = await http.openOnlineSession(accessToken);
    expect(session.answer.status).toBe(201);
    expect((await http.request('POST', `/sessions/online/${session.referenceNumber}/close`, { bearer: accessToken })).status).toBe(204);
    expect((await http.openOnlineSession(accessToken)).answer.status).toBe(429);
  });

  it("changes the context's rate limits at run time with POST /testdata/rate-limits (or /production) and restores them with DELETE", async () => {
    const current = (await http.request('GET', '/rate-limits', { bearer: accessToken })).json;
    const groups = [
      'onlineSession',
      'batchSession',
      'invoiceSend',
      'invoiceStatus',
      'sessionList',
      'sessionInvoiceList',
      'sessionMisc',
      'invoiceMetadata',
      'invoiceExport',
      'invoiceExportStatus',
      'invoiceDownload',
      'collectiveIdentifier',
      'other',
    ];
    const rateLimits = Object.fromEntries(groups.map((group) => [group, current[group]]));
    rateLimits.sessionList = { perSecond: 1, perMinute: 1, perHour: 1 };
    expect((await http.request('POST', '/testdata/rate-limits', { bearer: accessToken, body: { rateLimits } })).status).toBe(200);
    expect((await http.request('GET', '/rate-limits', { bearer: accessToken })).json.sessionList).toEqual({
      perSecond: 1,
      perMinute: 1,
      perHour: 1,
    });
    const listSessions = () => http.request('GET', '/sessions?sessionType=Online', { bearer: accessToken });
    expect((await listSessions()).status).toBe(200);
    expect((await listSessions()).status).toBe(429);

    expect((await http.request('DELETE', '/testdata/rate-limits', { bearer: accessToken })).status).toBe(200);
    expect((await http.request('GET', '/rate-limits', { bearer: accessToken })).json.sessionList).toEqual({
      perSecond: 5,
      perMinute: 10,
      perHour: 60,
    });
    expect((await listSessions()).status).toBe(200);

    // This sandbox started with onlineSession at 1 a second; the production values replace that until DELETE.
    expect((await http.request('POST', '/testdata/rate-limits/production', { bearer: accessToken })).status).toBe(200);
    expect((await http.request('GET', '/rate-limits', { bearer: accessToken })).json.onlineSession).toEqual({
      perSecond: 10,
      perMinute: 30,
      perHour: 120,
    });
    await http.request('DELETE', '/testdata/rate-limits', { bearer: accessToken });
    expect((await http.request('GET', '/rate-limits', { bearer: accessToken })).json.onlineSession).toEqual({
      perSecond: 1,
      perMinute: 100,
      perHour: 1000,
    });
  });

  it("changes the context's session limits at run time, by POST /testdata/limits/context/session or on the handle", async () => {
    // A second for the windows of 'other' (10 a second) and onlineSession (1 a second) filled by the tests above.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const session = { maxInvoiceSizeInMB: 1, maxInvoiceWithAttachmentSizeInMB: 3, maxInvoices: 1 };
    const limits = { onlineSession: session, batchSession: session, collectiveIdentifier: { maxInvoices: 500 } };
    expect((await http.request('POST', '/testdata/limits/context/session', { bearer: accessToken, body: limits })).status).toBe(200);
    expect((await http.request('GET', '/limits/context', { bearer: accessToken })).json).toEqual(limits);

    const opened = await http.openOnlineSession(accessToken);
    const invoice = () => sendInvoiceBody(buildDemoInvoice(), opened.key);
    expect((await http.sendInvoice(accessToken, opened.referenceNumber, invoice())).status).toBe(202);
    const refused = await http.sendInvoice(accessToken, opened.referenceNumber, invoice());
    expect(exceptionOf(refused).exceptionCode).toBe(21155);

    expect((await http.request('DELETE', '/testdata/limits/context/session', { bearer: accessToken })).status).toBe(200);
    sandbox.state.limits.setContextLimits(sandbox.contextIdentifier, {
      onlineSession: { maxInvoiceSizeInMB: 0, maxInvoiceWithAttachmentSizeInMB: 0, maxInvoices: 10 },
    });
    const sent = await http.sendInvoice(accessToken, opened.referenceNumber, invoice());
    expect(sent.status).toBe(202);
    // Polled slower than invoiceResult does: the invoiceStatus group allows 30 a second and the first XSD check takes a while.
    const statusPath = `/sessions/${opened.referenceNumber}/invoices/${sent.json.referenceNumber}`;
    const result = await pollUntil(
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return (await http.request('GET', statusPath, { bearer: accessToken })).json;
      },
      (status) => status.status.code !== 100,
    );
    expect(result.status).toMatchObject({ code: 430 });
    sandbox.state.limits.resetContextLimits(sandbox.contextIdentifier);
    expect((await http.request('GET', '/limits/context', { bearer: accessToken })).json.onlineSession.maxInvoices).toBe(10_000);
  });

  it('serves only responses that match open-api.json', () => {
    expect(recorder.violations()).toEqual([]);
    for (const operation of [
      'GET /rate-limits 200',
      'GET /limits/context 200',
      'GET /limits/subject 200',
      'POST /sessions/online/{referenceNumber}/close 204',
      'POST /testdata/rate-limits 200',
      'DELETE /testdata/rate-limits 200',
      'POST /testdata/rate-limits/production 200',
      'POST /testdata/limits/context/session 200',
      'DELETE /testdata/limits/context/session 200',
    ]) {
      expect(recorder.coverage()).toContain(operation);
    }
  });
});
