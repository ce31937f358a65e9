import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { prepareInvoice } from '../../shared/sessions/prepare';
import type { InvoiceInput, KsefClient } from '../../shared';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';

/** An FA(3) invoice with an attachment (`Zalacznik`, after `Stopka`, as the FA(3) schema orders it). */
function invoiceWithAttachment(invoiceNumber: string): string {
  const attachment =
    '<Zalacznik><BlokDanych><MetaDane><ZKlucz>Umowa</ZKlucz><ZWartosc>12/2026</ZWartosc></MetaDane></BlokDanych></Zalacznik>';
  return buildDemoInvoice({ invoiceNumber }).replace('</Faktura>', `${attachment}</Faktura>`);
}

/** 1-based line and column of the UTF-16 code unit at `offset`. */
function positionOf(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

describe('invoice input to an online send', () => {
  let sandbox: RecordedSandbox;
  let client: KsefClient;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox();
    client = clientOf(sandbox);
  });
  afterEach(async () => {
    await client.close();
    await sandbox.close();
  });

  it('rejects a lone UTF-16 surrogate (high or low) with its position instead of sending U+FFFD', async () => {
    const good = buildDemoInvoice({ invoiceNumber: 'FV/2026/SUR/OK' });
    const high = buildDemoInvoice({ invoiceNumber: 'FV/2026/SUR/1' }).replace('Wiślana Informatyka', 'Wiślana\uD83D Informatyka');
    const low = buildDemoInvoice({ invoiceNumber: 'FV/2026/SUR/2' }).replace('Bank Przykładowy', 'Bank\uDE00 Przykładowy');
    // A surrogate pair (an emoji) is a proper character and stays allowed.
    expect(high).toContain('\uD83D');
    expect(low).toContain('\uDE00');

    const result = await client.sessions.online.send([high, low, good], { fetchUpo: false });

    for (const [index, text, code] of [
      [0, high, 'U+D83D'],
      [1, low, 'U+DE00'],
    ] as const) {
      const offset = text.search(/[\uD800-\uDFFF]/);
      const { line, column } = positionOf(text, offset);
      const invoice = result.invoices[index];
      expect(invoice.accepted).toBe(false);
      expect(invoice.error).toMatchObject({ name: 'KsefInputError', field: `invoices[${index}]` });
      expect(invoice.error!.message).toContain(`invoices[${index}]`);
      expect(invoice.error!.message).toContain(code);
      expect(invoice.error!.message).toContain(`line ${line}, column ${column}`);
      expect(invoice.error!.message).toContain(`character offset ${offset}`);
    }
    expect(result.invoices[2].accepted).toBe(true);
    expect(sandbox.count('POST /sessions/online/{referenceNumber}/invoices')).toBe(1);
  });

  it('accepts Uint8Array and ArrayBuffer inputs, bare and as { xml }, and sends exactly their bytes', async () => {
    const texts = [1, 2, 3, 4].map((n) => buildDemoInvoice({ invoiceNumber: `FV/2026/BYTES/${n}` }));
    const bytes = texts.map((text) => new Uint8Array(Buffer.from(text, 'utf8')));
    // A view into the middle of a larger buffer: only its own bytes are the invoice.
    const padded = new Uint8Array(bytes[3].length + 20);
    padded.set(bytes[3], 10);
    const view = new Uint8Array(padded.buffer, 10, bytes[3].length);
    const inputs: InvoiceInput[] = [bytes[0], bytes[1].slice().buffer, { xml: bytes[2] }, { xml: view }];
    expect(inputs.every((input) => !Buffer.isBuffer(input))).toBe(true);

    const result = await client.sessions.online.send(inputs, { fetchUpo: false });

    for (const [i, invoice] of result.invoices.entries()) {
      expect(invoice.error).toBeUndefined();
      expect(invoice).toMatchObject({
        accepted: true,
        invoiceNumber: `FV/2026/BYTES/${i + 1}`,
        invoiceHash: sha256Base64(Buffer.from(texts[i], 'utf8')),
      });
    }
  });

  it('tells the caller to pass a flat list when an invoice is itself an array', async () => {
    const good = buildDemoInvoice({ invoiceNumber: 'FV/2026/FLAT/1' });
    const nested = [buildDemoInvoice({ invoiceNumber: 'FV/2026/FLAT/2' }), buildDemoInvoice({ invoiceNumber: 'FV/2026/FLAT/3' })];

    const result = await client.sessions.online.send([good, nested] as unknown as InvoiceInput[], { fetchUpo: false });

    expect(result.invoices[0].accepted).toBe(true);
    expect(result.invoices[1].error).toMatchObject({ name: 'KsefInputError', field: 'invoices[1]' });
    expect(result.invoices[1].error!.message).toMatch(/^invoices\[1\] is an array of 2 items/);
    expect(result.invoices[1].error!.message).toMatch(/flat list/);
  });

  it('refuses an FA(3) invoice with an attachment (Zalacznik) locally: KSeF takes attachments only in batch sessions', async () => {
    const good = buildDemoInvoice({ invoiceNumber: 'FV/2026/ATT/OK' });

    const result = await client.sessions.online.send([invoiceWithAttachment('FV/2026/ATT/1'), good], { fetchUpo: false });

    expect(result.invoices[0]).toMatchObject({ accepted: false, invoiceNumber: 'FV/2026/ATT/1' });
    expect(result.invoices[0].error).toMatchObject({ name: 'KsefInputError', field: 'invoices[0]' });
    expect(result.invoices[0].error!.message).toMatch(/^invoices\[0\] has an attachment \(Zalacznik\)/);
    expect(result.invoices[0].error!.message).toMatch(/only in batch sessions/);
    expect(result.invoices[1].accepted).toBe(true);
    // Only the good invoice went to KSeF.
    expect(sandbox.count('POST /sessions/online/{referenceNumber}/invoices')).toBe(1);
  });
});

describe('invoice preparation', () => {
  it('lets an attachment through in a technical correction of an offline invoice, the one online exception', () => {
    const xml = invoiceWithAttachment('FV/2026/ATT/KOR');
    const hashOfCorrectedInvoice = sha256Base64(Buffer.from('the rejected offline original'));

    const correction = prepareInvoice({ xml, offlineMode: true, hashOfCorrectedInvoice }, 0, 'FA(3)', false);
    const offlineOnly = prepareInvoice({ xml, offlineMode: true }, 1, 'FA(3)', false);

    expect(correction.problem).toBeUndefined();
    expect(offlineOnly.problem).toMatchObject({ field: 'invoices[1]' });
  });
});
