import { startSandbox, type SandboxHandle } from '../../sandbox';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { ContractRecorder } from '../support/contract';
import { KsefHttp, ManualClock, RELAXED_RATE_LIMITS, sendInvoiceBody } from '../support/ksefHttp';

const HOUR = 3600_000;
const recorder = new ContractRecorder();
// 10:00 in Poland on 2 March 2026.
const clock = new ManualClock(new Date('2026-03-02T09:00:00Z'));
let sandbox: SandboxHandle;
let http: KsefHttp;

beforeAll(async () => {
  sandbox = await startSandbox({ clock, processingDelayMs: 5, rateLimits: RELAXED_RATE_LIMITS, onExchange: recorder.record });
  http = new KsefHttp(sandbox.baseUrl);
});

afterAll(async () => {
  await sandbox.close();
});

describe('sandbox dates and lifetimes (injected clock)', () => {
  it('marks an invoice issued on an earlier day as Offline and rejects one issued in the future (450)', async () => {
    const { accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier);
    const session = await http.openOnlineSession(accessToken);
    const invoices = [
      buildDemoInvoice({ issueDate: '2026-03-02' }),
      buildDemoInvoice({ issueDate: '2026-02-27' }),
      buildDemoInvoice({ issueDate: '2026-03-03' }),
    ];
    const refs = [];
    for (const xml of invoices)
      refs.push((await http.sendInvoice(accessToken, session.referenceNumber, sendInvoiceBody(xml, session.key))).json.referenceNumber);
    const [today, earlier, future] = await Promise.all(refs.map((ref) => http.invoiceResult(accessToken, session.referenceNumber, ref)));
    expect(today).toMatchObject({ status: { code: 200 }, invoicingMode: 'Online', invoicingDate: '2026-03-02T09:00:00.000+00:00' });
    expect(today.ksefNumber).toMatch(/^1234563218-20260302-[0-9A-F]{12}-[0-9A-F]{2}$/);
    expect(earlier).toMatchObject({ status: { code: 200 }, invoicingMode: 'Offline' });
    expect(future.status).toMatchObject({ code: 450, description: 'Błąd weryfikacji semantyki dokumentu faktury' });
  });

  it('closes a session automatically after 12 hours', async () => {
    const { accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier);
    const session = await http.openOnlineSession(accessToken);
    const sent = await http.sendInvoice(
      accessToken,
      session.referenceNumber,
      sendInvoiceBody(buildDemoInvoice({ issueDate: '2026-03-02' }), session.key),
    );
    await http.invoiceResult(accessToken, session.referenceNumber, sent.json.referenceNumber);

    clock.advance(12 * HOUR + 1);
    const { accessToken: laterToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier);
    const late = await http.sendInvoice(laterToken, session.referenceNumber, sendInvoiceBody(buildDemoInvoice(), session.key));
    expect(late.json.exception.exceptionDetailList[0]).toMatchObject({
      exceptionCode: 21180,
      details: ['Status sesji 170 uniemożliwia wysyłkę faktur.'],
    });
    const finished = await http.sessionResult(laterToken, session.referenceNumber);
    expect(finished.status.code).toBe(200);
    expect(finished.upo.pages).toHaveLength(1);
  });

  it('lets storage links expire after their expiration date', async () => {
    const { accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier);
    const session = await http.openOnlineSession(accessToken);
    const sent = await http.sendInvoice(
      accessToken,
      session.referenceNumber,
      sendInvoiceBody(buildDemoInvoice({ issueDate: '2026-03-02' }), session.key),
    );
    const invoice = await http.invoiceResult(accessToken, session.referenceNumber, sent.json.referenceNumber);
    expect(Date.parse(invoice.upoDownloadUrlExpirationDate) - clock.now().getTime()).toBe(72 * HOUR);
    expect((await fetch(invoice.upoDownloadUrl)).status).toBe(200);
    clock.advance(72 * HOUR);
    const expired = await fetch(invoice.upoDownloadUrl);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain('<Code>AuthenticationFailed</Code>');
  });

  it('serves only responses that match open-api.json', () => {
    expect(recorder.violations()).toEqual([]);
  });
});
