/**
 * Invoices with an attachment (FA(3) `Zalacznik`) in an online session: KSeF accepts them only in batch sessions
 * and only for NIPs enabled for attachments; the exception is the technical correction of an offline invoice,
 * which is sent in an online session (faktury/weryfikacja-faktury.md, CIRFMF/ksef-docs). Otherwise the invoice
 * gets status 415.
 */
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { ContractRecorder } from '../support/contract';
import { KsefHttp, RELAXED_RATE_LIMITS, sendInvoiceBody } from '../support/ksefHttp';

const recorder = new ContractRecorder();
let sandbox: SandboxHandle;
let http: KsefHttp;
let accessToken: string;

beforeAll(async () => {
  sandbox = await startSandbox({ processingDelayMs: 5, rateLimits: RELAXED_RATE_LIMITS, onExchange: recorder.record });
  http = new KsefHttp(sandbox.baseUrl);
  ({ accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier));
});

afterAll(async () => {
  await sandbox.close();
});

const ATTACHMENT =
  '<Zalacznik><BlokDanych><ZNaglowek>Protokół odbioru</ZNaglowek><MetaDane><ZKlucz>Projekt</ZKlucz><ZWartosc>Integracja KSeF</ZWartosc></MetaDane>' +
  '<Tekst><Akapit>Prace odebrano bez zastrzeżeń.</Akapit></Tekst></BlokDanych></Zalacznik>';

function invoiceWithAttachment(): string {
  return buildDemoInvoice().replace('</Faktura>', `${ATTACHMENT}</Faktura>`);
}

async function send(xml: string, extra: Record<string, unknown> = {}): Promise<any> {
  const session = await http.openOnlineSession(accessToken);
  const sent = await http.sendInvoice(accessToken, session.referenceNumber, { ...sendInvoiceBody(xml, session.key), ...extra });
  expect(sent.status).toBe(202);
  return http.invoiceResult(accessToken, session.referenceNumber, sent.json.referenceNumber);
}

const TECHNICAL_CORRECTION = { offlineMode: true, hashOfCorrectedInvoice: sha256Base64(Buffer.from('the rejected offline invoice')) };
const REFUSED = { code: 415, description: 'Brak możliwości wysyłania faktury z załącznikiem' };

describe('invoices with an attachment in an online session', () => {
  it('refuses one with status 415, also for a NIP enabled for attachments', async () => {
    const refused = await send(invoiceWithAttachment());
    expect(refused.status).toMatchObject(REFUSED);
    expect(refused.status.details).toEqual([expect.stringContaining('batch')]);
    expect(refused.ksefNumber).toBeUndefined();

    sandbox.state.attachmentNips.add(sandbox.contextIdentifier.value);
    try {
      expect((await send(invoiceWithAttachment())).status).toMatchObject(REFUSED);
    } finally {
      sandbox.state.attachmentNips.clear();
    }
  });

  it('accepts the technical correction of an offline invoice only for a NIP enabled for attachments', async () => {
    const notEnabled = await send(invoiceWithAttachment(), TECHNICAL_CORRECTION);
    expect(notEnabled.status).toMatchObject(REFUSED);
    expect(notEnabled.status.details).toEqual([expect.stringContaining('not enabled')]);

    sandbox.state.attachmentNips.add(sandbox.contextIdentifier.value);
    try {
      const accepted = await send(invoiceWithAttachment(), TECHNICAL_CORRECTION);
      expect(accepted.status).toMatchObject({ code: 200 });
      expect(accepted.ksefNumber).toBeDefined();
    } finally {
      sandbox.state.attachmentNips.clear();
    }
  });

  it('still accepts invoices without an attachment', async () => {
    expect((await send(buildDemoInvoice())).status).toMatchObject({ code: 200 });
  });

  it('serves only responses that match open-api.json', () => {
    expect(recorder.violations()).toEqual([]);
  });
});
