/**
 * Invoices other sellers issue to the demo context, as on KSeF's TEST environment: a seller authenticates with a
 * self-signed seal of its own NIP (any NIP: TEST accepts self-signed certificates and makes the NIP's holder the
 * owner of its context), sends an invoice whose buyer is the demo NIP, and the demo context finds it as Subject2 and
 * downloads it. Both sides are the engine, talking HTTP to the sandbox; every answer is contract-checked.
 */
import { createKsefClient, KsefNotFoundError, MemoryTokenStore, type KsefClient } from '../../shared';
import type { InvoiceMetadata } from '../../shared/invoices/types';
import { PUBLISHED_RATE_LIMITS } from '../../shared/protocol/model/rateLimits';
import { buildReceivedInvoiceXml } from '../../sandbox/samples/receivedInvoices';
import { PKCS12_PASSWORD, sealOf } from '../engine/support/certificates';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from '../engine/support/sandbox';
import { pollUntil } from '../support/ksefHttp';

const UNLIMITED = Object.fromEntries(
  Object.keys(PUBLISHED_RATE_LIMITS).map((group) => [group, { perSecond: 1e6, perMinute: 1e6, perHour: 1e6 }]),
);
/** A checksum-valid NIP the sandbox knows nothing about. */
const SELLER_NIP = '8931145029';
const OTHER_NIP = '1182004575';

let sandbox: RecordedSandbox;
let buyer: KsefClient;

beforeAll(async () => {
  sandbox = await startRecordedSandbox({ rateLimits: UNLIMITED, hwmDelayMs: 0 });
  buyer = clientOf(sandbox);
});

afterAll(async () => {
  await buyer.close();
  await sandbox.close();
});

/** A client of the NIP context `nip`, authenticated by a self-signed seal of that NIP. */
function sealClient(nip: string): KsefClient {
  const seal = sealOf(nip);
  return createKsefClient({
    environment: 'custom',
    baseUrl: sandbox.baseUrl,
    credentials: {
      method: 'certificate',
      contextIdentifier: { type: 'Nip', value: nip },
      certificate: { pkcs12: seal.pkcs12, password: PKCS12_PASSWORD },
    },
    tokenStore: new MemoryTokenStore(),
  });
}

async function collect(iterable: AsyncIterable<InvoiceMetadata>): Promise<InvoiceMetadata[]> {
  const items: InvoiceMetadata[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe('an invoice from another seller to the demo context', () => {
  it('is sent by a seller authenticated with a self-signed seal of its own NIP, then found as Subject2 and downloaded by the buyer', async () => {
    const demoNip = sandbox.contextIdentifier.value;
    const from = new Date(Date.now() - 1000).toISOString();
    const xml = buildReceivedInvoiceXml({
      seller: { nip: SELLER_NIP, name: 'Mazurska Drukarnia Offsetowa sp. z o.o.', street: 'ul. Kętrzyńskiego 12', city: '10-024 Olsztyn' },
      buyer: { nip: demoNip, name: 'Demo Sp. z o.o.', street: 'ul. Przykładowa 1', city: '00-001 Warszawa' },
      invoiceNumber: 'MDO/2026/0042',
      issueDate: new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Warsaw' }).format(new Date()),
      currency: 'PLN',
      lines: [
        { name: 'Druk ulotek A5, 4+4', unit: 'szt.', quantity: 5000, unitPrice: 18, vatRate: 23 },
        { name: 'Katalog produktów, 48 stron', unit: 'szt.', quantity: 200, unitPrice: 1_450, vatRate: 8 },
      ],
      paymentDays: 21,
    });

    const seller = sealClient(SELLER_NIP);
    let ksefNumber: string;
    try {
      const sent = await seller.sessions.online.send([xml]);
      expect(sent.invoices[0]).toMatchObject({ accepted: true });
      ksefNumber = sent.invoices[0].ksefNumber!;
      expect(ksefNumber.startsWith(`${SELLER_NIP}-`)).toBe(true);
      // The seller sees it as its own sale.
      const sold = await collect(seller.invoices.query({ subjectType: 'Subject1', dateRange: { dateType: 'Invoicing', from } }));
      expect(sold.map((i) => i.ksefNumber)).toEqual([ksefNumber]);
    } finally {
      await seller.close();
    }

    const receivedNow = () => collect(buyer.invoices.query({ subjectType: 'Subject2', dateRange: { dateType: 'PermanentStorage', from } }));
    const found = await pollUntil(receivedNow, (invoices) => invoices.length > 0);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      ksefNumber,
      invoiceNumber: 'MDO/2026/0042',
      seller: { nip: SELLER_NIP, name: 'Mazurska Drukarnia Offsetowa sp. z o.o.' },
      buyer: { identifier: { type: 'Nip', value: demoNip }, name: 'Demo Sp. z o.o.' },
      netAmount: 3800,
      vatAmount: 439,
      grossAmount: 4239,
      currency: 'PLN',
      invoiceType: 'Vat',
      invoicingMode: 'Online',
    });
    // Not the demo context's own sale.
    expect(await collect(buyer.invoices.query({ subjectType: 'Subject1', dateRange: { dateType: 'PermanentStorage', from } }))).toEqual([]);

    const downloaded = await buyer.invoices.get(ksefNumber);
    expect(downloaded.xml.toString('utf8')).toBe(xml);
    expect(downloaded.sha256).toBe(found[0].invoiceHash);

    // A context that is none of the invoice's parties cannot download it.
    const bystander = sealClient(OTHER_NIP);
    try {
      await expect(bystander.invoices.get(ksefNumber, { maxWaitMs: 0 })).rejects.toBeInstanceOf(KsefNotFoundError);
    } finally {
      await bystander.close();
    }
  });
});
