/**
 * ksef-invoice in the real Node-RED flow engine (node-red-node-test-helper) against a sandbox over loopback HTTP:
 * search, get by KSeF number and download through an export, one message per invoice or one array. The helper returns
 * i18n keys untranslated, so statuses and errors are asserted by key.
 */
import helper = require('node-red-node-test-helper');
import ksefConfigNode from '../../nodes/node-red/ksef-config';
import ksefInvoiceNode from '../../nodes/node-red/ksef-invoice';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { messagesOf, runToCompletion, sandboxConfigNode, statusesOf, type Msg } from './support/flow';

helper.init(require.resolve('node-red'));

const DAY_MS = 24 * 60 * 60 * 1000;

let sandbox: SandboxHandle;
/** KSeF numbers of the received invoices the sandbox holds, in date order. */
let received: string[];

beforeAll(async () => {
  sandbox = await startSandbox({ processingDelayMs: 5, hwmDelayMs: 0 });
  received = sandbox.seedReceived(4, { from: new Date(Date.now() - 5 * DAY_MS), to: new Date(Date.now() - DAY_MS) });
});

afterAll(async () => {
  await sandbox.close();
});

afterEach(async () => {
  await helper.unload();
});

async function load(node: Record<string, unknown>): Promise<void> {
  await helper.load(
    [ksefConfigNode, ksefInvoiceNode],
    [
      { id: 'f1', type: 'tab', label: 'test' },
      sandboxConfigNode(sandbox),
      { id: 'invoice', type: 'ksef-invoice', z: 'f1', ksef: 'cfg', subjectType: 'Subject2', daysBack: 30, wires: [['out']], ...node },
      { id: 'out', type: 'helper', z: 'f1' },
      { id: 'errors', type: 'catch', z: 'f1', scope: ['invoice'], wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'f1' },
    ],
    { cfg: { ksefToken: sandbox.ksefToken } },
  );
}

function run(msg: Msg = { payload: Date.now(), topic: 'invoices' }): Promise<void> {
  return runToCompletion('invoice', msg);
}

function sorted(list: string[]): string[] {
  return [...list].sort();
}

describe('ksef-invoice', () => {
  it('searches the received invoices of the last days: one message of metadata per invoice', async () => {
    await load({ operation: 'search', dateType: 'PermanentStorage', output: 'item' });
    const out = messagesOf('out');

    await run();

    expect(out.map((msg) => msg.payload.ksefNumber)).toEqual(received);
    expect(out.every((msg) => msg.topic === 'invoices')).toBe(true);
    expect(out[0].payload).toMatchObject({ buyer: { identifier: { type: 'Nip', value: sandbox.contextIdentifier.value } } });
    expect(typeof out[0].payload.grossAmount).toBe('number');
    expect(out[0].payload.xml).toBeUndefined();
    expect(statusesOf('invoice')).toEqual([
      ['blue', 'ksef-invoice.status.searching'],
      ['green', 'ksef-invoice.status.found'],
    ]);
  });

  it('takes filters from msg.payload over the node, and outputs one array', async () => {
    await load({ operation: 'search', output: 'array' });
    const out = messagesOf('out');
    await run();
    const [all] = out;
    const seller = all.payload[0].seller.nip;

    await run({ payload: { sellerNip: seller } });

    expect(sorted(all.payload.map((invoice: Msg) => invoice.ksefNumber))).toEqual(sorted(received));
    const bySeller = out[1].payload as Msg[];
    expect(bySeller.length).toBeGreaterThan(0);
    expect(bySeller.every((invoice) => invoice.seller.nip === seller)).toBe(true);
    expect(bySeller.length).toBe(all.payload.filter((invoice: Msg) => invoice.seller.nip === seller).length);
  });

  it('gets one invoice by its KSeF number: the XML in msg.payload, the friendly JSON in msg.invoice', async () => {
    await load({ operation: 'get' });
    const out = messagesOf('out');

    await run({ payload: received[0] });
    await run({ payload: { ksefNumber: received[1] } });

    expect(out).toHaveLength(2);
    expect(out[0].payload).toMatch(/^<\?xml[\s\S]*<Faktura[\s\S]*<\/Faktura>\s*$/);
    expect(out[0].invoice.buyer.nip).toBe(sandbox.contextIdentifier.value);
    expect(out[0].invoice.totals.gross).toMatch(/^-?\d+(\.\d+)?$/);
    expect(out[0].ksef).toEqual({ ksefNumber: received[0], sha256: expect.stringMatching(/^[A-Za-z0-9+/]{43}=$/) });
    expect(out[1].ksef.ksefNumber).toBe(received[1]);
    expect(statusesOf('invoice').at(-1)).toEqual(['green', 'ksef-invoice.status.downloaded']);
  });

  it('downloads the invoices through an export: one message per invoice with XML, metadata and friendly JSON', async () => {
    await load({ operation: 'download', dateType: 'PermanentStorage', output: 'item', includeJson: true });
    const out = messagesOf('out');
    const caught = messagesOf('caught');

    await run();

    expect(caught).toEqual([]);
    expect(sorted(out.map((msg) => msg.payload.ksefNumber))).toEqual(sorted(received));
    for (const { payload, ksef } of out) {
      expect(payload.metadata.ksefNumber).toBe(payload.ksefNumber);
      expect(payload.xml).toContain(`<NIP>${payload.metadata.seller.nip}</NIP>`);
      expect(payload.invoice.seller.nip).toBe(payload.metadata.seller.nip);
      expect(ksef.referenceNumber).toMatch(/-EH-/);
      expect(ksef.package).toMatchObject({ invoiceCount: received.length, isTruncated: false });
    }
    expect(statusesOf('invoice')).toEqual([
      ['blue', 'ksef-invoice.status.exporting'],
      ['green', 'ksef-invoice.status.downloaded'],
    ]);
  });

  it('downloads them as one array, without the friendly JSON when not asked', async () => {
    await load({ operation: 'download', dateType: 'PermanentStorage', output: 'array', includeJson: false });
    const out = messagesOf('out');

    await run();

    expect(out).toHaveLength(1);
    expect(sorted(out[0].payload.map((invoice: Msg) => invoice.ksefNumber))).toEqual(sorted(received));
    expect(out[0].payload.every((invoice: Msg) => invoice.xml && invoice.invoice === undefined)).toBe(true);
  });

  it('resumes on the next message a download that outlasted its wait, instead of starting another export', async () => {
    await load({ operation: 'download', dateType: 'PermanentStorage', output: 'array', waitSeconds: 1 });
    const out = messagesOf('out');
    const caught = messagesOf('caught');
    sandbox.holdExports(true);
    try {
      await run();
    } finally {
      sandbox.holdExports(false);
    }
    expect(out).toEqual([]);
    expect(caught).toHaveLength(1);
    const { referenceNumber } = caught[0].ksef.error;
    expect(caught[0].ksef.error).toMatchObject({ name: 'KsefExportPendingError', referenceNumber: expect.stringMatching(/-EH-/) });
    expect(caught[0].error.message).toContain(referenceNumber);
    // Kept in the config node's context (a persistent context store keeps it across restarts), sealed.
    const kept = (helper.getNode('cfg') as any).context().keys() as string[];
    expect(kept.some((key) => key.includes('export'))).toBe(true);
    expect(JSON.stringify(kept.map((key) => (helper.getNode('cfg') as any).context().get(key)))).toContain(referenceNumber);

    await run();

    expect(out).toHaveLength(1);
    expect(out[0].ksef.referenceNumber).toBe(referenceNumber);
    expect(sorted(out[0].payload.map((invoice: Msg) => invoice.ksefNumber))).toEqual(sorted(received));
  });

  it('sends nothing and reports to Catch what is missing or wrong', async () => {
    await load({ operation: 'get' });
    const out = messagesOf('out');
    const caught = messagesOf('caught');

    await run({ payload: '' });
    await run({ operation: 'search', payload: { amount: { type: 'Gross', from: 1 } } });
    await run({ operation: 'delete', payload: received[0] });

    expect(out).toEqual([]);
    expect(caught.map((msg) => msg.error.message)).toEqual([
      'Error: ksef-invoice.errors.missing-ksef-number',
      'Error: ksef-invoice.errors.bad-filter',
      'Error: ksef-invoice.errors.bad-operation',
    ]);
    expect(statusesOf('invoice').filter(([fill]) => fill === 'red')).toHaveLength(3);
  });
});
