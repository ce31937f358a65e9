/**
 * The limits chapter (limity/limity.md, CIRFMF/ksef-docs; open-api.json 2.8.1, CIRFMF/ksef-api): `GET /rate-limits`
 * with every group of EffectiveApiRateLimits, `GET /limits/context` with the collective-identifier limit,
 * `GET /limits/subject`, and session closes counted under their own group since 2.8.
 */
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { ContractRecorder } from '../support/contract';
import { KsefHttp } from '../support/ksefHttp';
import { testSigner, xadesAuthenticate } from '../support/xadesAuth';

const PESEL = '44051401359';
const recorder = new ContractRecorder();
let sandbox: SandboxHandle;
let http: KsefHttp;
let accessToken: string;

beforeAll(async () => {
  // One session open a second: a close right after an open must not count against it.
  sandbox = await startSandbox({ processingDelayMs: 5, rateLimits: { onlineSession: { perSecond: 1, perMinute: 100, perHour: 1000 } }, onExchange: recorder.record });
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

  it('serves only responses that match open-api.json', () => {
    expect(recorder.violations()).toEqual([]);
    for (const operation of ['GET /rate-limits 200', 'GET /limits/context 200', 'GET /limits/subject 200', 'POST /sessions/online/{referenceNumber}/close 204']) {
      expect(recorder.coverage()).toContain(operation);
    }
  });
});
