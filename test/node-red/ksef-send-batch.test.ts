/**
 * ksef-send in batch and Auto mode, in the real Node-RED flow engine (node-red-node-test-helper), sending to a
 * sandbox over loopback HTTP. The helper leaves i18n keys untranslated; these tests give the nodes the en-US
 * catalogues instead, so the progress statuses are read as a user sees them ("part 2/3", "processing 0/26").
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import helper = require('node-red-node-test-helper');
import ksefConfigNode from '../../nodes/node-red/ksef-config';
import ksefSendNode from '../../nodes/node-red/ksef-send';
import type { KsefConfigNode } from '../../nodes/node-red/ksef-config';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { readUpoDocuments } from '../../shared/protocol/xml/upo';
import { newSymmetricKey } from '../../shared/protocol/crypto/aes';
import { buildBatchPackage } from '../../shared/sessions/batch/package';
import type { BatchSendOptions, BatchSendResult, KsefClient } from '../../shared/types';
import { startRecordedSandbox, type RecordedSandbox } from '../engine/support/sandbox';
import { startFaultProxy, type FaultProxy } from '../engine/support/faultProxy';
import { inEnglish, ksefSendFlow, messagesOf, nextMessage, sandboxConfigNode, statusesOf, type Msg } from './support/flow';

helper.init(require.resolve('node-red'));

/** The nodes as Node-RED loads them, speaking English. */
const nodes = inEnglish([ksefConfigNode, ksefSendNode], ['ksef-send', 'ksef-config']);

let sandbox: RecordedSandbox;

beforeEach(async () => {
  sandbox = await startRecordedSandbox();
});

afterEach(async () => {
  await helper.unload();
  await sandbox.close();
});

function load(send: Record<string, unknown>, baseUrl = sandbox.baseUrl) {
  return helper.load(nodes, ksefSendFlow({ ...sandboxConfigNode(sandbox), baseUrl }, send), { cfg: { ksefToken: sandbox.ksefToken } });
}

const invoicesNumbered = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => buildDemoInvoice({ invoiceNumber: `${prefix}/${i + 1}`, lines: 1 + (i % 4) }));

/** The part size, in the node's MB, that cuts the package of what passes the local checks into `parts` parts. */
async function partSizeMB(invoices: string[], parts: number, compressionType: 'Zip' | 'TarGz' = 'Zip'): Promise<number> {
  const pkg = await buildBatchPackage(
    invoices.map((input, index) => ({ index, input })),
    { key: newSymmetricKey(), compressionType },
  );
  await pkg.dispose();
  return Math.ceil(pkg.fileSize / parts) / 1_000_000;
}

/** The statuses' texts with each blue progress step reduced to its kind ("part 2/3" -> "part"), repeats collapsed. */
function statusSteps(texts: string[]): string[] {
  const steps = texts.map((text) => text.replace(/^(sending|packing|part|processing) .*$/, '$1'));
  return steps.filter((step, i) => step !== steps[i - 1]);
}

describe('ksef-send in batch mode', () => {
  it.each(['Zip', 'TarGz'] as const)(
    'sends 30 invoices (4 bad) as a %s package in parts: each valid one a KSeF number, each bad one its error, progress in the status',
    async (compressionType) => {
      const prefix = `FV/NRB/${compressionType}`;
      const invoices = invoicesNumbered(prefix, 30);
      const bad: Record<number, string> = {
        3: 'this is not an invoice',
        11: invoices[11].replace(/<P_15>[^<]*<\/P_15>/, '<P_15>not a number</P_15>'),
        // Another seller's invoices: the demo context may not issue them (KSeF's verdict, not a local check).
        17: buildDemoInvoice({ invoiceNumber: `${prefix}/SELLER/1`, sellerNip: '5265877635' }),
        25: buildDemoInvoice({ invoiceNumber: `${prefix}/SELLER/2`, sellerNip: '5265877635' }),
      };
      const payload = invoices.map((xml, i) => bad[i] ?? xml);
      await load({ mode: 'batch', compressionType, partSizeMB: await partSizeMB(payload, 3, compressionType) });
      const output = nextMessage('out');
      const caught = nextMessage('caught');

      helper.getNode('send').receive({ payload });
      const [msg, error] = await Promise.all([output, caught]);

      expect(msg.ksef).toMatchObject({ environment: 'custom', mode: 'batch' });
      expect(msg.ksef.sessions).toHaveLength(1);
      const [session] = msg.ksef.sessions;
      expect(session).toMatchObject({ invoiceCount: 29, partCount: 3, status: { code: 200 } });
      expect(session.sessionReferenceNumber).toMatch(/^\d{8}-SB-/);
      const results = msg.payload as Msg[];
      expect(results.map((result) => result.index)).toEqual(payload.map((_, i) => i));
      for (const result of results.filter((r) => !(r.index in bad))) {
        expect(result).toMatchObject({ accepted: true, pending: false, fileName: `invoice-${result.index + 1}.xml` });
        expect(result.invoiceNumber).toBe(`${prefix}/${result.index + 1}`);
        expect(isValidKsefNumber(result.ksefNumber)).toBe(true);
        expect(result.sessionReferenceNumber).toBe(session.sessionReferenceNumber);
        expect(result.ordinalNumber).toBeGreaterThanOrEqual(1);
      }
      expect(new Set(results.filter((r) => r.accepted).map((r) => r.ksefNumber)).size).toBe(26);
      // Each bad invoice its own error: the local checks' (not packed), or KSeF's verdict in the session (P_15, other seller).
      expect(results[3]).toMatchObject({ accepted: false, pending: false, error: { name: 'KsefInputError', field: 'invoices[3]' } });
      for (const index of [11, 17, 25]) {
        expect(results[index]).toMatchObject({
          accepted: false,
          pending: false,
          status: { code: expect.any(Number) },
          error: { name: 'KsefInvoiceRejectedError', field: `invoices[${index}]` },
        });
        expect(results[index].status.code).not.toBe(200);
        expect(results[index].sessionReferenceNumber).toBe(session.sessionReferenceNumber);
        expect(results[index].ksefNumber).toBeUndefined();
      }
      // The session UPO confirms exactly the accepted invoices.
      const confirmed = (session.sessionUpo as Array<{ upo: string }>).flatMap((page) => readUpoDocuments(page.upo));
      expect(confirmed.map((doc) => doc.ksefNumber).sort()).toEqual(results.flatMap((r) => (r.accepted ? [r.ksefNumber] : [])).sort());
      expect(sandbox.exchanges.filter((e) => e.method === 'PUT')).toHaveLength(3);

      // The whole message went on, then Catch heard of the 4 failures, each named.
      expect(error.error.message).toMatch(
        /KSeF send: 4 of 30 invoices not accepted: msg\.payload\[3\]: invoices\[3\] cannot be sent: .*; msg\.payload\[11\] /,
      );
      expect(error.error.message).toContain(`msg.payload[11] (${prefix}/12): 430 `);
      expect(error.error.message).toContain("Element 'P_15'");
      expect(error.error.message).toContain(`msg.payload[17] (${prefix}/SELLER/1): 410 `);
      expect(error.payload).toEqual(msg.payload);

      const texts = statusesOf('send').map(([, text]) => text!);
      expect(statusSteps(texts)).toEqual(['sending', 'packing', 'part', 'processing', '26 accepted, 4 rejected']);
      expect(texts).toContain('packing 30');
      const parts = texts.filter((text) => text.startsWith('part ')).map((text) => text.slice('part '.length));
      expect(parts[0]).toBe('1/3');
      expect(parts).toEqual([...parts].sort());
      expect(texts.filter((text) => text.startsWith('processing'))[0]).toBe(`processing 0/${session.invoiceCount}`);
      expect(statusesOf('send').at(-1)).toEqual(['red', '26 accepted, 4 rejected']);
      expect(
        statusesOf('send')
          .slice(0, -1)
          .every(([fill]) => fill === 'blue'),
      ).toBe(true);
    },
  );

  it('sends 10,000 invoices in one message: one session, each its own KSeF number, the progress counted in thousands', async () => {
    const invoices = Array.from({ length: 10_000 }, (_, i) => buildDemoInvoice({ invoiceNumber: `FV/NRB/10K/${i + 1}`, lines: 1 }));
    await load({ mode: 'batch', waitSeconds: 300 });
    const output = nextMessage('out');

    helper.getNode('send').receive({ payload: invoices });
    const msg = await output;

    const results = msg.payload as Msg[];
    expect(results).toHaveLength(10_000);
    expect(results.every((r, i) => r.index === i && r.accepted && r.invoiceNumber === `FV/NRB/10K/${i + 1}`)).toBe(true);
    expect(new Set(results.map((r) => r.ksefNumber)).size).toBe(10_000);
    expect(msg.ksef.sessions).toMatchObject([{ invoiceCount: 10_000, status: { code: 200 } }]);
    const texts = statusesOf('send').map(([, text]) => text!);
    expect(texts).toContain('packing 10,000');
    expect(texts).toContain('processing 0/10,000');
    expect(texts.at(-1)).toBe('10000 accepted');
  }, 300_000);

  it('splits the array across sessions by invoices per session, and names the session in the status', async () => {
    const invoices = invoicesNumbered('FV/NRB/SPLIT', 7);
    await load({ mode: 'batch', maxInvoicesPerSession: 3 });
    const output = nextMessage('out');

    helper.getNode('send').receive({ payload: invoices });
    const msg = await output;

    expect(msg.ksef.sessions.map((s: Msg) => s.invoiceCount)).toEqual([3, 3, 1]);
    expect((msg.payload as Msg[]).every((r) => r.accepted && isValidKsefNumber(r.ksefNumber))).toBe(true);
    const texts = statusesOf('send').map(([, text]) => text!);
    for (const session of ['1/3', '2/3', '3/3']) expect(texts).toContain(`session ${session}: packing ${session === '3/3' ? 1 : 3}`);
    expect(texts.at(-1)).toBe('7 accepted');
  });

  it('answers a single invoice (not an array) with a single result', async () => {
    await load({ mode: 'batch' });
    const output = nextMessage('out');

    helper.getNode('send').receive({ payload: { xml: buildDemoInvoice({ invoiceNumber: 'FV/NRB/ONE' }), fileName: 'one.xml' } });
    const msg = await output;

    expect(msg.payload).toMatchObject({ index: 0, accepted: true, fileName: 'one.xml', invoiceNumber: 'FV/NRB/ONE' });
    expect(msg.ksef.mode).toBe('batch');
  });

  it('shows the progress at most every quarter of a second, the last step always, and nothing of it after the outcome', async () => {
    await load({ mode: 'batch' });
    const result: BatchSendResult = {
      environment: 'custom',
      mode: 'batch',
      invoices: [{ index: 0, accepted: true, pending: false, invoiceHash: 'h0', ksefNumber: 'k0' }],
      sessions: [],
    };
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    // The engine reporting 1,000 steps of processing in a burst, one more soon after, and a late one after its answer.
    const send = async (_invoices: unknown[], options: BatchSendOptions) => {
      const progress = { session: 1, sessions: 1, partsUploaded: 1, parts: 1, invoices: 5000 };
      options.onProgress!({ ...progress, phase: 'packing', invoicesProcessed: 0 });
      for (let done = 1; done <= 1000; done++) options.onProgress!({ ...progress, phase: 'processing', invoicesProcessed: done });
      await pause(400);
      options.onProgress!({ ...progress, phase: 'processing', invoicesProcessed: 1200 });
      await pause(300);
      setTimeout(() => options.onProgress!({ ...progress, phase: 'processing', invoicesProcessed: 5000 }), 0);
      return result;
    };
    (helper.getNode('cfg') as unknown as KsefConfigNode).client = () => ({ sessions: { send } }) as unknown as KsefClient;
    const output = nextMessage('out');

    helper.getNode('send').receive({ payload: [buildDemoInvoice()] });
    await output;
    await new Promise((resolve) => setTimeout(resolve, 600));

    expect(statusesOf('send').map(([, text]) => text)).toEqual([
      'sending 1',
      'packing 5,000',
      'processing 1/5,000',
      // The burst's last step, shown a quarter of a second after the first.
      'processing 1,000/5,000',
      'processing 1,200/5,000',
      '1 accepted',
    ]);
  });
  it('names the first 10 failures in the Catch error and counts the rest (all are in msg.payload)', async () => {
    await load({ mode: 'batch' });
    const rejected = (index: number) => ({
      index,
      accepted: false,
      pending: false,
      invoiceHash: `h${index}`,
      status: { code: 430, description: 'Błąd weryfikacji pliku faktury' },
    });
    const result: BatchSendResult = {
      environment: 'custom',
      mode: 'batch',
      invoices: Array.from({ length: 12 }, (_, i) => rejected(i)),
      sessions: [],
    };
    (helper.getNode('cfg') as unknown as KsefConfigNode).client = () =>
      ({ sessions: { send: async () => result } }) as unknown as KsefClient;
    const output = nextMessage('out');
    const caught = nextMessage('caught');

    helper.getNode('send').receive({ payload: Array.from({ length: 12 }, () => buildDemoInvoice()) });
    const [msg, error] = await Promise.all([output, caught]);

    expect(msg.payload).toHaveLength(12);
    expect(error.error.message).toContain('KSeF send: 12 of 12 invoices not accepted: msg.payload[0]: 430 ');
    expect(error.error.message).toContain(
      'msg.payload[9]: 430 Błąd weryfikacji pliku faktury; and 2 more. All results are in msg.payload.',
    );
    expect(error.error.message).not.toContain('msg.payload[10]');
  });
});

describe('ksef-send in Auto mode', () => {
  it('sends online below the threshold and in batch from it on', async () => {
    await load({ mode: 'auto', autoBatchThreshold: 4 });
    const messages = messagesOf('out');

    helper.getNode('send').receive({ payload: invoicesNumbered('FV/NRA/FEW', 3) });
    helper.getNode('send').receive({ payload: invoicesNumbered('FV/NRA/MANY', 4) });
    await waitFor(() => messages.length === 2);

    const [few, many] = [...messages].sort((a, b) => a.payload.length - b.payload.length);
    expect(few.ksef).toMatchObject({ mode: 'online', sessionReferenceNumber: expect.stringMatching(/^\d{8}-SO-/) });
    expect(many.ksef).toMatchObject({ mode: 'batch', sessions: [{ sessionReferenceNumber: expect.stringMatching(/^\d{8}-SB-/) }] });
    for (const msg of messages) expect((msg.payload as Msg[]).every((r) => r.accepted && isValidKsefNumber(r.ksefNumber))).toBe(true);
    expect(sandbox.count('POST /sessions/online')).toBe(1);
    expect(sandbox.count('POST /sessions/batch')).toBe(1);
  });

  it('takes the mode from msg.mode over the node, and reports an unknown one to Catch without sending', async () => {
    await load({ mode: 'online' });
    const output = nextMessage('out');

    helper.getNode('send').receive({ payload: [buildDemoInvoice()], mode: 'batch' });
    expect((await output).ksef.mode).toBe('batch');

    const caught = nextMessage('caught');
    helper.getNode('send').receive({ payload: [buildDemoInvoice()], mode: 'bulk' });
    expect((await caught).error.message).toContain(
      'KSeF send: msg.mode is "bulk", expected one of online, batch, auto (or no msg.mode to use the node\'s mode).',
    );
    expect(statusesOf('send').at(-1)).toEqual(['red', 'bad msg.mode']);
    expect(sandbox.count('POST /sessions/batch')).toBe(1);
  });
});

describe('the ksef-send example flow', () => {
  const EXAMPLE = path.resolve(__dirname, '..', '..', 'examples', 'ksef-send', 'Send demo invoices.json');
  // Node-RED's own function node, which the example builds its invoices with.
  const functionNode = require('@node-red/nodes/core/function/10-function.js');

  it('sends its 2 demo invoices online and, from its second button, 50 in a batch session (Auto)', async () => {
    const example = JSON.parse(fs.readFileSync(EXAMPLE, 'utf8')) as Msg[];
    const build = example.find((node) => node.type === 'function')!;
    const send = example.find((node) => node.type === 'ksef-send')!;
    const injects = example.filter((node) => node.type === 'inject');
    const settings = Object.fromEntries(Object.entries(send).filter(([key]) => !['id', 'type', 'x', 'y', 'z', 'wires'].includes(key)));
    expect(settings).toMatchObject({ mode: 'auto', autoBatchThreshold: 20 });
    // The example's function and send node, the send node's settings as shipped, against this test's sandbox.
    await helper.load(
      [functionNode, ...nodes],
      [
        { id: 'f1', type: 'tab', label: 'test' },
        { ...build, z: 'f1', wires: [['send']] },
        { ...settings, id: 'send', type: 'ksef-send', z: 'f1', ksef: 'cfg', wires: [['out']] },
        sandboxConfigNode(sandbox),
        { id: 'out', type: 'helper', z: 'f1' },
      ],
      { cfg: { ksefToken: sandbox.ksefToken } },
    );
    const messages = messagesOf('out');
    // What each inject button sends (its props: a timestamp payload, and the second also count).
    const pressed = injects.map((inject) =>
      Object.fromEntries(
        (inject.props as Array<{ p: string; v?: string; vt?: string }>).map(({ p, v, vt }) => [p, vt === 'num' ? Number(v) : Date.now()]),
      ),
    );
    expect(pressed).toEqual([{ payload: expect.any(Number) }, { payload: expect.any(Number), count: 50 }]);

    for (const msg of pressed) helper.getNode(build.id).receive(msg);
    await waitFor(() => messages.length === 2);

    const [two, fifty] = [...messages].sort((a, b) => a.payload.length - b.payload.length);
    expect(two.ksef.mode).toBe('online');
    expect(fifty.ksef.mode).toBe('batch');
    expect(fifty.payload).toHaveLength(50);
    for (const msg of messages) expect((msg.payload as Msg[]).every((r) => r.accepted && isValidKsefNumber(r.ksefNumber))).toBe(true);
  });
});

describe('ksef-send resuming a batch', () => {
  let proxy: FaultProxy;

  beforeEach(async () => {
    proxy = await startFaultProxy(sandbox.baseUrl);
  });
  afterEach(async () => {
    await proxy.close();
  });

  it('a batch whose close failed is finished by the same message sent again: every invoice once, no part uploaded twice', async () => {
    const invoices = invoicesNumbered('FV/NRB/RESUME', 12);
    let closeFails = true;
    proxy.inject(
      (request) => closeFails && request.method === 'POST' && /^\/sessions\/batch\/[^/]+\/close$/.test(request.path),
      { kind: 'respond', status: 503, body: 'Service Unavailable' },
      1000,
    );
    await load({ mode: 'batch', partSizeMB: await partSizeMB(invoices, 2) }, proxy.baseUrl);
    const output = messagesOf('out');
    const caught = nextMessage('caught');

    helper.getNode('send').receive({ payload: invoices });
    const failure = await caught;

    expect(failure.error.message).toMatch(/503|Service Unavailable|unavailable/i);
    expect(output).toHaveLength(0);
    expect(statusesOf('send').at(-1)).toEqual(['red', 'send failed']);
    expect(sandbox.exchanges.filter((e) => e.method === 'PUT')).toHaveLength(2);

    closeFails = false;
    const finished = nextMessage('out');
    helper.getNode('send').receive({ payload: invoices });
    const msg = await finished;

    expect((msg.payload as Msg[]).every((r) => r.accepted && isValidKsefNumber(r.ksefNumber))).toBe(true);
    expect(sandbox.count('POST /sessions/batch')).toBe(1);
    expect(sandbox.exchanges.filter((e) => e.method === 'PUT')).toHaveLength(2);
    expect(msg.ksef.sessions[0]).toMatchObject({ invoiceCount: 12, status: { code: 200 } });
    expect(new Set((msg.payload as Msg[]).map((r) => r.ksefNumber)).size).toBe(12);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
