import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { warsawDay } from '../../sandbox/dates';
import { INVOICE_SCHEMAS, type InvoiceSchema } from '../../shared/protocol/model/formCodes';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { readUpoDocuments } from '../../shared/protocol/xml/upo';
import { findSpecFolder } from '../../shared/protocol/spec/specFolder';
import type { InvoiceResult, KsefClient } from '../../shared';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';

const specDir = findSpecFolder();
if (!specDir) throw new Error('These tests send the official sample invoices: set KSEF_SPEC_DIR to the folder containing ksef-docs/.');
const TEMPLATES = join(specDir, 'ksef-client-csharp/KSeF.Client.Tests.Core/Templates');
const BUYER_NIP = '9999999999';

/** An official C# client template with its placeholders filled in as the official E2E tests do. */
function officialInvoice(file: string, nip: string, values: Record<string, string> = {}): string {
  const today = warsawDay(new Date());
  const filled: Record<string, string> = {
    nip,
    supplier_nip: nip,
    buyer_nip: BUYER_NIP,
    invoice_number: `E2E-${Math.floor(Math.random() * 1e9)}`,
    issue_date: today,
    due_date: today,
    buyer_reference: 'ZAM-2026-17',
    iban: 'PL61109010140000071219812874',
    ...values,
  };
  return readFileSync(join(TEMPLATES, file), 'utf8').replace(/#([a-z_]+)#/g, (placeholder, name: string) => filled[name] ?? placeholder);
}

describe('sending every invoice schema KSeF accepts', () => {
  let sandbox: RecordedSandbox;
  let client: KsefClient;

  beforeAll(async () => {
    sandbox = await startRecordedSandbox();
    client = clientOf(sandbox);
  });
  afterAll(async () => {
    await client.close();
    await sandbox.close();
  });

  /** Sends `xml` in a session of `schema`; checks the session's form code and the UPO's logical structure. */
  async function sendAs(schema: InvoiceSchema, xml: string): Promise<InvoiceResult> {
    const result = await client.sessions.online.send([xml], { schema });
    const [invoice] = result.invoices;
    expect(invoice.error).toBeUndefined();
    expect(invoice).toMatchObject({ accepted: true, pending: false });
    expect(isValidKsefNumber(invoice.ksefNumber!)).toBe(true);
    expect(invoice.acquisitionDate).toEqual(expect.any(String));
    const opened = sandbox.exchanges.filter((e) => e.operation === 'POST /sessions/online').at(-1)!;
    expect(JSON.parse(opened.requestBody.toString('utf8')).formCode).toEqual(INVOICE_SCHEMAS[schema].formCode);
    expect(invoice.upo).toContain(`<NazwaStrukturyLogicznej>${INVOICE_SCHEMAS[schema].logicalStructureName}</NazwaStrukturyLogicznej>`);
    expect(readUpoDocuments(invoice.upo!)[0].ksefNumber).toBe(invoice.ksefNumber);
    return invoice;
  }

  it('sends an FA (2) invoice in an FA (2) session', async () => {
    const invoice = await sendAs('FA(2)', officialInvoice('invoice-template-fa-2.xml', sandbox.contextIdentifier.value));
    // The template's issue date lies in the past, so KSeF classifies the invoice as issued offline (offline/automatyczne-okreslanie-trybu-offline.md, CIRFMF/ksef-docs).
    expect(invoice.invoicingMode).toBe('Offline');
  });

  it('sends an FA_RR (1) invoice in an FA_RR (1) session', async () => {
    await sendAs('FA_RR(1)', officialInvoice('invoice-template-fa-rr-1.xml', sandbox.contextIdentifier.value));
  });

  it('sends a PEF (3) invoice and then its PEF_KOR (3) correction', async () => {
    const pef = await sendAs('PEF(3)', officialInvoice('invoice-template-fa-3-pef.xml', sandbox.contextIdentifier.value));
    expect(pef.invoicingMode).toBe('Online');
    await sendAs(
      'PEF_KOR(3)',
      officialInvoice('invoice-template-fa-3-pef-correction.xml', sandbox.contextIdentifier.value, { ksef_number: pef.ksefNumber! }),
    );
  });

  it('rejects an invoice whose schema differs from the session, before sending it, while the others go through', async () => {
    const result = await client.sessions.online.send(
      [
        officialInvoice('invoice-template-fa-2.xml', sandbox.contextIdentifier.value),
        officialInvoice('invoice-template-fa-3.xml', sandbox.contextIdentifier.value),
      ],
      { schema: 'FA(3)' },
    );
    expect(result.invoices[0].accepted).toBe(false);
    expect(result.invoices[0].error).toMatchObject({ name: 'KsefInputError', field: 'invoices[0]' });
    expect(result.invoices[0].error!.message).toMatch(
      /^invoices\[0\] does not fit the session schema FA\(3\) \(options\.schema\).*kodSystemowy="FA \(2\)"/,
    );
    expect(result.invoices[1]).toMatchObject({ accepted: true });
  });
});
