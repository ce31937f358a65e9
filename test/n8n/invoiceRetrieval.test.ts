/**
 * Invoice > Search, Get and Download in n8n's own execution engine (test/n8n/harness.ts) against a sandbox: the
 * invoices the demo company issued through Send come back as one item per invoice, with the XML as binary 'data'
 * named by KSeF number, the friendly JSON, Return All / Limit, per-item errors routed with pairedItem and labelled
 * with the editor's field names.
 */
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { binaryText, describeWithN8n, runKsefNode } from './harness';
import { sandboxCredentialData } from '../support/n8nCredential';

const SEND_TEXT = { resource: 'invoice', operation: 'send', xmlSource: 'text', xml: '={{ $json.xml }}', downloadUpo: false };
const ISSUED_SINCE_START = { subjectType: 'Subject1', dateType: 'Invoicing' };

describeWithN8n('Invoice > Search, Get and Download in n8n', () => {
  let sandbox: SandboxHandle;
  let credentials: Record<string, string>;
  /** What Send returned for the three invoices issued before the tests, in order. */
  let issued: Array<{ ksefNumber: string; invoiceNumber: string }>;
  let from: string;

  beforeAll(async () => {
    // A clock of whole seconds gives the three invoices one invoicing date (unless a second ends while they are sent),
    // as invoices sent together may get on KSeF; the order among them is then KSeF's, not the order they were given in.
    sandbox = await startSandbox({ clock: { now: () => new Date(Math.floor(Date.now() / 1000) * 1000) } });
    credentials = sandboxCredentialData(sandbox);
    from = new Date(Date.now() - 60_000).toISOString();
    const numbers = [1, 2, 3].map((n) => `FV/RETRIEVE/${process.pid}/${n}`);
    const sent = await runKsefNode({
      parameters: SEND_TEXT,
      items: numbers.map((invoiceNumber) => ({ json: { xml: buildDemoInvoice({ invoiceNumber, lines: 2 }) } })),
      credentials,
    });
    issued = sent.outputs[0].map(({ json }) => ({ ksefNumber: json.ksefNumber as string, invoiceNumber: json.invoiceNumber as string }));
    expect(issued.map(({ invoiceNumber }) => invoiceNumber)).toEqual(numbers);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  test('Search returns one flat item per invoice, oldest first, and Limit stops early', async () => {
    const all = await runKsefNode({
      parameters: { resource: 'invoice', operation: 'search', ...ISSUED_SINCE_START, from, returnAll: true },
      credentials,
    });
    expect(all.error).toBeUndefined();
    // Send takes the three invoices to KSeF concurrently, so the order KSeF lists them in (by invoicing date, ties
    // as KSeF breaks them) need not be the order they were given in.
    const oldestFirst = all.outputs[0].map(({ json }) => json.ksefNumber as string);
    expect([...oldestFirst].sort()).toEqual(issued.map(({ ksefNumber }) => ksefNumber).sort());
    const invoicingTimes = all.outputs[0].map(({ json }) => Date.parse(json.invoicingDate as string));
    expect(invoicingTimes).toEqual([...invoicingTimes].sort((a, b) => a - b));
    const first = issued.find(({ ksefNumber }) => ksefNumber === oldestFirst[0])!;
    expect(all.outputs[0][0].json).toMatchObject({
      invoiceNumber: first.invoiceNumber,
      sellerNip: sandbox.contextIdentifier.value,
      currency: 'PLN',
      formCode: 'FA',
    });
    expect(typeof all.outputs[0][0].json.grossAmount).toBe('number');
    expect(all.outputs[0][0].pairedItem).toEqual({ item: 0 });

    const newestTwo = await runKsefNode({
      parameters: { resource: 'invoice', operation: 'search', ...ISSUED_SINCE_START, from, limit: 2, options: { sortOrder: 'Desc' } },
      credentials,
    });
    expect(newestTwo.outputs[0].map(({ json }) => json.ksefNumber)).toEqual([oldestFirst[2], oldestFirst[1]]);
  });

  test('Search filters by invoice number, and a wrong filter is an error item naming the field as the editor labels it', async () => {
    const { outputs, error } = await runKsefNode({
      parameters: {
        resource: 'invoice',
        operation: 'search',
        ...ISSUED_SINCE_START,
        from,
        returnAll: true,
        filters: { invoiceNumber: '={{ $json.invoiceNumber }}', sellerNip: '={{ $json.sellerNip }}' },
      },
      items: [
        { json: { invoiceNumber: issued[1].invoiceNumber, sellerNip: sandbox.contextIdentifier.value } },
        { json: { invoiceNumber: issued[1].invoiceNumber, sellerNip: '12345' } },
      ],
      settings: { onError: 'continueErrorOutput' },
      credentials,
    });

    expect(error).toBeUndefined();
    const [found, failed] = outputs;
    expect(found.map(({ json }) => json.ksefNumber)).toEqual([issued[1].ksefNumber]);
    expect(found[0].pairedItem).toEqual({ item: 0 });
    expect(failed).toHaveLength(1);
    expect(failed[0].pairedItem).toEqual({ item: 1 });
    expect(failed[0].json.error).toContain("'Seller NIP'");
    expect(failed[0].json.error).not.toContain('filters.sellerNip');
  });

  test('Get gives the XML as binary data named by KSeF number and the friendly JSON, or only the XML', async () => {
    const { outputs, error } = await runKsefNode({
      parameters: { resource: 'invoice', operation: 'get' },
      items: [{ json: { ksefNumber: issued[0].ksefNumber } }],
      credentials,
    });

    expect(error).toBeUndefined();
    const [item] = outputs[0];
    expect(item.binary?.data).toMatchObject({ fileName: `${issued[0].ksefNumber}.xml`, mimeType: 'application/xml' });
    expect(await binaryText(item, 'data')).toContain(`<P_2>${issued[0].invoiceNumber}</P_2>`);
    expect(item.json).toMatchObject({ ksefNumber: issued[0].ksefNumber, invoice: { invoiceNumber: issued[0].invoiceNumber } });
    expect((item.json.invoice as { lines: unknown[] }).lines).toHaveLength(2);

    const xmlOnly = await runKsefNode({
      parameters: { resource: 'invoice', operation: 'get', ksefNumber: issued[1].ksefNumber, options: { includeFriendlyJson: false } },
      credentials,
    });
    expect(xmlOnly.outputs[0][0].json.invoice).toBeUndefined();
    expect(await binaryText(xmlOnly.outputs[0][0], 'data')).toContain(`<P_2>${issued[1].invoiceNumber}</P_2>`);
  });

  test('Get of an unknown or malformed KSeF number goes to the error output with its item', async () => {
    const { outputs } = await runKsefNode({
      parameters: { resource: 'invoice', operation: 'get' },
      items: [{ json: { ksefNumber: issued[2].ksefNumber } }, { json: { ksefNumber: 'not-a-ksef-number' } }, { json: {} }],
      settings: { onError: 'continueErrorOutput' },
      credentials,
    });

    expect(outputs[0].map(({ json }) => json.ksefNumber)).toEqual([issued[2].ksefNumber]);
    expect(outputs[1].map(({ pairedItem }) => pairedItem)).toEqual([{ item: 1 }, { item: 2 }]);
    expect(outputs[1][0].json.error).toMatch(/KSeF number/);
    expect(outputs[1][1].json.error).toBe("Set 'KSeF Number': it is empty in item 3");
  });

  test.each(['Zip', 'TarGz'])(
    'Download (%s) gives one item per invoice with its metadata, XML and friendly JSON',
    async (compressionType) => {
      const { outputs, error } = await runKsefNode({
        parameters: {
          resource: 'invoice',
          operation: 'download',
          ...ISSUED_SINCE_START,
          from,
          options: { compressionType, includeFriendlyJson: true },
        },
        credentials,
      });

      expect(error).toBeUndefined();
      const items = outputs[0];
      expect(items.map(({ json }) => json.ksefNumber).sort()).toEqual(issued.map(({ ksefNumber }) => ksefNumber).sort());
      for (const item of items) {
        const { invoiceNumber } = issued.find(({ ksefNumber }) => ksefNumber === item.json.ksefNumber)!;
        expect(item.json).toMatchObject({ invoiceNumber, sellerNip: sandbox.contextIdentifier.value, invoice: { invoiceNumber } });
        expect(item.binary?.data).toMatchObject({ fileName: `${item.json.ksefNumber}.xml`, mimeType: 'application/xml' });
        expect(await binaryText(item, 'data')).toContain(`<P_2>${invoiceNumber}</P_2>`);
        expect(item.pairedItem).toEqual({ item: 0 });
      }
    },
  );

  test('Download with Only Metadata gives the items without XML', async () => {
    const { outputs } = await runKsefNode({
      parameters: { resource: 'invoice', operation: 'download', ...ISSUED_SINCE_START, from, options: { onlyMetadata: true } },
      credentials,
    });

    expect(outputs[0]).toHaveLength(3);
    expect(outputs[0].every((item) => item.binary === undefined && typeof item.json.grossAmount === 'number')).toBe(true);
  });
});
