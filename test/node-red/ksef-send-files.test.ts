/**
 * ksef-send with invoice files (`{ path }` items), in the real Node-RED flow engine (node-red-node-test-helper),
 * sending to a sandbox over loopback HTTP: the node hands the paths to the engine, which reads each file when it
 * sends it. The nodes speak English here, so errors are read as a user sees them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import helper = require('node-red-node-test-helper');
import ksefConfigNode from '../../nodes/node-red/ksef-config';
import ksefSendNode from '../../nodes/node-red/ksef-send';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { startRecordedSandbox, type RecordedSandbox } from '../engine/support/sandbox';
import { inEnglish, ksefSendFlow, messagesOf, sandboxConfigNode, statusesOf, type Msg } from './support/flow';

helper.init(require.resolve('node-red'));

const nodes = inEnglish([ksefConfigNode, ksefSendNode], ['ksef-send', 'ksef-config']);

let sandbox: RecordedSandbox;
let dir: string;

beforeEach(async () => {
  sandbox = await startRecordedSandbox();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-send-files-'));
});

afterEach(async () => {
  await helper.unload();
  await sandbox.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function load(send: Record<string, unknown> = {}) {
  return helper.load(nodes, ksefSendFlow(sandboxConfigNode(sandbox), { fetchUpo: false, ...send }), {
    cfg: { ksefToken: sandbox.ksefToken },
  });
}

/** Demo invoices numbered `<prefix>/1`... written to files of the temp folder; their paths. */
function invoiceFiles(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const file = path.join(dir, `invoice-${i + 1}.xml`);
    fs.writeFileSync(file, buildDemoInvoice({ invoiceNumber: `${prefix}/${i + 1}` }));
    return file;
  });
}

/**
 * What the node did with the message: its output message and the error Catch got (if any), once the node has
 * finished (an error without a message is a refused input; a message with an error, rejected invoices).
 */
async function outcomeOf(payload: unknown, mode?: string): Promise<{ msg?: Msg; error?: Msg }> {
  const output = messagesOf('out');
  const caught = messagesOf('caught');
  helper.getNode('send').receive(mode ? { payload, mode } : { payload });
  const deadline = Date.now() + 55_000;
  for (;;) {
    const last = statusesOf('send').at(-1);
    if (last && last[0] !== 'blue' && (output.length > 0 || caught.length > 0)) {
      // An error follows its message: give Node-RED a moment to deliver it to Catch.
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { msg: output[0], error: caught[0] };
    }
    if (Date.now() > deadline) throw new Error('ksef-send did not finish the message');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('ksef-send with invoice files ({ path })', () => {
  it.each(['online', 'batch'])(
    'sends an array of { path } items mixed with XML (%s): each its KSeF number, in input order',
    async (mode) => {
      const prefix = `FV/FILE/${mode}/${Date.now()}`;
      const [first, second, , fourth] = invoiceFiles(prefix, 4);
      const payload = [
        { path: first },
        mode === 'online' ? { path: second, offlineMode: true } : { path: second, fileName: 'second.xml' },
        Buffer.from(buildDemoInvoice({ invoiceNumber: `${prefix}/3` })),
        { path: fourth },
      ];
      await load({ mode });

      const { msg, error } = await outcomeOf(payload);

      expect(error?.error.message).toBeUndefined();
      expect(msg?.ksef.mode).toBe(mode);
      const results = msg?.payload as Msg[];
      expect(results.map((result) => [result.index, result.accepted, result.invoiceNumber])).toEqual(
        [1, 2, 3, 4].map((n) => [n - 1, true, `${prefix}/${n}`]),
      );
      for (const result of results) expect(isValidKsefNumber(result.ksefNumber)).toBe(true);
      expect(new Set(results.map((result) => result.ksefNumber)).size).toBe(4);
      // The per-invoice options of a { path } item reach the engine.
      if (mode === 'online') expect(results.map((result) => result.invoicingMode)).toEqual(['Online', 'Offline', 'Online', 'Online']);
      else expect(results.map((result) => result.fileName)).toEqual(['invoice-1.xml', 'second.xml', 'invoice-3.xml', 'invoice-4.xml']);
      expect(statusesOf('send').at(-1)).toEqual(['green', '4 accepted']);
    },
  );

  it.each([
    ['a missing file', 'online', (folder: string) => path.join(folder, 'missing.xml')],
    ['a missing file', 'batch', (folder: string) => path.join(folder, 'missing.xml')],
    ['a directory', 'online', (folder: string) => folder],
  ])('rejects %s (%s) alone, naming invoices[1].path, and sends the others', async (_label, mode, unreadable) => {
    const prefix = `FV/FILE/BAD/${mode}/${Date.now()}`;
    const [first, , third] = invoiceFiles(prefix, 3);
    await load({ mode });

    const { msg, error } = await outcomeOf([{ path: first }, { path: unreadable(dir) }, { path: third }]);

    const results = msg?.payload as Msg[];
    expect(results.map((result) => result.accepted)).toEqual([true, false, true]);
    expect(results[0].invoiceNumber).toBe(`${prefix}/1`);
    expect(results[2].invoiceNumber).toBe(`${prefix}/3`);
    for (const result of [results[0], results[2]]) expect(isValidKsefNumber(result.ksefNumber)).toBe(true);
    expect(results[1]).toMatchObject({ index: 1, pending: false, error: { name: 'KsefInputError', field: 'invoices[1].path' } });
    expect(results[1].error.message).toContain('invoices[1].path');
    expect(results[1].ksefNumber).toBeUndefined();
    expect(error?.error.message).toMatch(/^Error: KSeF send: 1 of 3 invoices not accepted: msg\.payload\[1\]: .*invoices\[1\]\.path/);
    expect(statusesOf('send').at(-1)).toEqual(['red', '2 accepted, 1 rejected']);
  });

  it.each([
    ['a number as path', { path: 42 }, 'object with keys [path]'],
    ['an empty path', { path: '' }, 'object with keys [path]'],
    ['an empty object', {}, 'object with keys []'],
  ])('refuses an item with %s as bad-payload, naming it, without sending', async (_label, item, type) => {
    const [file] = invoiceFiles(`FV/FILE/REFUSED/${Date.now()}`, 1);
    await load();

    const { msg, error } = await outcomeOf([{ path: file }, item]);

    expect(msg).toBeUndefined();
    expect(error?.error.message).toBe(
      `Error: KSeF send: msg.payload[1] is ${type}, expected the invoice XML as a string or Buffer, an object { xml, offlineMode }, ` +
        'or an object { path } with the path of a local invoice file (a non-empty string). Convert it before this node, ' +
        'e.g. with a template node.',
    );
    expect(statusesOf('send').at(-1)).toEqual(['red', 'bad msg.payload']);
    expect(sandbox.exchanges).toEqual([]);
  });
});
