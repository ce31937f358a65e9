/**
 * An invoice's way through the sandbox as a client sees it over HTTP: status 100 on arrival, the final status
 * with its dates later, KSeF numbers dated by the Polish day of acceptance, and UPOs valid against the XSD.
 * Processing takes a second of real time here, so "right after sending" is reliably before processing.
 */
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { findSpecFolder } from '../../shared/protocol/spec/specFolder';
import { createXsdValidator } from '../../shared/protocol/xml/xsd';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { formatDateTime } from '../../sandbox/dates';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { ContractRecorder } from '../support/contract';
import { KsefHttp, ManualClock, RELAXED_RATE_LIMITS, exceptionOf, pollUntil, sendInvoiceBody } from '../support/ksefHttp';

const specDir = findSpecFolder();
if (!specDir) throw new Error('These tests validate UPOs against the official XSD: set KSEF_SPEC_DIR to the folder containing ksef-docs/.');
const xsd = createXsdValidator(specDir);

const recorder = new ContractRecorder();
// 23:59:50 in Warsaw (UTC+1 in winter): ten seconds before the Polish day changes.
const clock = new ManualClock(new Date('2026-01-14T22:59:50Z'));
let sandbox: SandboxHandle;
let http: KsefHttp;
let accessToken: string;
let refreshToken: string;

beforeAll(async () => {
  sandbox = await startSandbox({ clock, processingDelayMs: 1000, rateLimits: RELAXED_RATE_LIMITS, onExchange: recorder.record });
  http = new KsefHttp(sandbox.baseUrl);
  // Polling the authentication for a second of frozen clock time would meet the public 60/s limit: wait instead.
  const { answer } = await http.startTokenAuthentication(sandbox.ksefToken, sandbox.contextIdentifier);
  await new Promise((resolve) => setTimeout(resolve, 1200));
  expect((await http.authenticationResult(answer.json.referenceNumber, answer.json.authenticationToken.token)).code).toBe(200);
  const redeemed = (await http.request('POST', '/auth/token/redeem', { bearer: answer.json.authenticationToken.token })).json;
  accessToken = redeemed.accessToken.token;
  refreshToken = redeemed.refreshToken.token;
});

afterAll(async () => {
  await sandbox.close();
});

async function sendOne(invoiceNumber: string, issueDate: string) {
  const session = await http.openOnlineSession(accessToken);
  const xml = buildDemoInvoice({ invoiceNumber, issueDate });
  const sent = await http.sendInvoice(accessToken, session.referenceNumber, sendInvoiceBody(xml, session.key));
  expect(sent.status).toBe(202);
  return { session: session.referenceNumber, invoice: sent.json.referenceNumber as string, xml };
}

const statusPath = (sent: { session: string; invoice: string }) => `/sessions/${sent.session}/invoices/${sent.invoice}`;

describe('sandbox invoice lifecycle', () => {
  it('reports status 100 right after sending, then 200 with acquisitionDate, and permanentStorageDate once stored', async () => {
    const sentAt = clock.now();
    const sent = await sendOne('FV/2026/01/CYKL-1', '2026-01-14');
    const early = await http.request('GET', statusPath(sent), { bearer: accessToken });
    expect(early.json).toEqual({
      ordinalNumber: 1,
      referenceNumber: sent.invoice,
      invoiceHash: sha256Base64(Buffer.from(sent.xml)),
      invoicingDate: formatDateTime(sentAt),
      status: { code: 100, description: 'Faktura przyjęta do dalszego przetwarzania' },
    });

    // The number is assigned after midnight in Poland, but dated by the day the invoice was accepted.
    clock.advance(20_000);
    const final = await http.invoiceResult(accessToken, sent.session, sent.invoice);
    expect(final).toMatchObject({
      invoiceNumber: 'FV/2026/01/CYKL-1',
      invoicingDate: formatDateTime(sentAt),
      acquisitionDate: formatDateTime(new Date(sentAt.getTime() + 20_000)),
      invoicingMode: 'Online',
      status: { code: 200, description: 'Sukces' },
    });
    expect(final.ksefNumber).toMatch(/^1234563218-20260114-[0-9A-F]{12}-[0-9A-F]{2}$/);
    expect(isValidKsefNumber(final.ksefNumber)).toBe(true);
    expect(final.permanentStorageDate).toBeUndefined();
    const notYet = await http.request('GET', `/invoices/ksef/${final.ksefNumber}`, { bearer: accessToken });
    expect(exceptionOf(notYet).exceptionCode).toBe(21165);

    clock.advance(5_000);
    const stored = await pollUntil(
      async () => (await http.request('GET', statusPath(sent), { bearer: accessToken })).json,
      (invoice) => invoice.permanentStorageDate !== undefined,
    );
    expect(stored.permanentStorageDate).toBe(formatDateTime(new Date(sentAt.getTime() + 25_000)));
    expect(stored.acquisitionDate).toBe(final.acquisitionDate);
    expect((await http.request('GET', `/invoices/ksef/${final.ksefNumber}`, { bearer: accessToken })).text).toBe(sent.xml);
  });

  it('dates the KSeF number with the Polish day: 23:30 UTC in winter is already the next day', async () => {
    clock.advance(new Date('2026-01-14T23:30:00Z').getTime() - clock.now().getTime());
    // Half an hour on, the access token has expired.
    accessToken = (await http.request('POST', '/auth/token/refresh', { bearer: refreshToken })).json.accessToken.token;
    const sent = await sendOne('FV/2026/01/CYKL-2', '2026-01-15');
    const final = await http.invoiceResult(accessToken, sent.session, sent.invoice);
    expect(final.invoicingDate).toBe('2026-01-14T23:30:00.000+00:00');
    expect(final.ksefNumber).toMatch(/^1234563218-20260115-/);
    expect(final.invoicingMode).toBe('Online');
  });

  it('serves invoice and session UPOs, by API and by download link, that validate against upo-v4-3.xsd', async () => {
    const sent = await sendOne('FV/2026/01/CYKL-3', '2026-01-15');
    const invoice = await http.invoiceResult(accessToken, sent.session, sent.invoice);
    expect(invoice.status.code).toBe(200);
    expect((await http.request('POST', `/sessions/online/${sent.session}/close`, { bearer: accessToken })).status).toBe(204);
    const session = await http.sessionResult(accessToken, sent.session);
    expect(session.upo.pages).toHaveLength(1);
    const [page] = session.upo.pages;

    const upos = {
      'by KSeF number': await http.request('GET', `/sessions/${sent.session}/invoices/ksef/${invoice.ksefNumber}/upo`, {
        bearer: accessToken,
      }),
      'by invoice reference': await http.request('GET', `/sessions/${sent.session}/invoices/${sent.invoice}/upo`, { bearer: accessToken }),
      'invoice download link': await fetchText(invoice.upoDownloadUrl),
      'session UPO page': await http.request('GET', `/sessions/${sent.session}/upo/${page.referenceNumber}`, { bearer: accessToken }),
      'session download link': await fetchText(page.downloadUrl),
    };
    for (const [source, answer] of Object.entries(upos)) {
      expect({ source, status: answer.status }).toEqual({ source, status: 200 });
      expect({ source, errors: await xsd.validateUpo(answer.text) }).toEqual({ source, errors: [] });
      expect(answer.text).toContain(`<NumerKSeFDokumentu>${invoice.ksefNumber}</NumerKSeFDokumentu>`);
    }
  });

  it('serves only responses that match open-api.json', () => {
    expect(recorder.violations()).toEqual([]);
    for (const operation of [
      'GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber} 200',
      'GET /sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo 200',
      'GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo 200',
      'GET /sessions/{referenceNumber}/upo/{upoReferenceNumber} 200',
      'GET /invoices/ksef/{ksefNumber} 400',
    ]) {
      expect(recorder.coverage()).toContain(operation);
    }
  });
});

async function fetchText(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}
