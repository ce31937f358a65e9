/**
 * ksef-sync in the real Node-RED flow engine (node-red-node-test-helper) against a sandbox over loopback HTTP: each
 * invoice received by the demo context goes out exactly once across runs, new invoices arriving in between; a crash
 * between sending and storing the checkpoint re-delivers rather than loses. The helper returns i18n keys untranslated.
 */
import helper = require('node-red-node-test-helper');
import ksefConfigNode from '../../nodes/node-red/ksef-config';
import ksefSyncNode from '../../nodes/node-red/ksef-sync';
import { NodeContextStore, type NodeContext } from '../../nodes/node-red/state';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { messagesOf, runToCompletion, sandboxConfigNode, statusesOf, type Msg } from './support/flow';

helper.init(require.resolve('node-red'));

const DAY_MS = 24 * 60 * 60 * 1000;

let sandbox: SandboxHandle;

beforeAll(async () => {
  // No lag of KSeF's high-water mark behind now, so an invoice stored before a run is complete for that run.
  sandbox = await startSandbox({ processingDelayMs: 5, hwmDelayMs: 0 });
});

afterAll(async () => {
  await sandbox.close();
});

afterEach(async () => {
  await helper.unload();
});

async function load(sync: Record<string, unknown> = {}): Promise<void> {
  await helper.load(
    [ksefConfigNode, ksefSyncNode],
    [
      { id: 'f1', type: 'tab', label: 'test' },
      sandboxConfigNode(sandbox),
      {
        id: 'sync',
        type: 'ksef-sync',
        z: 'f1',
        ksef: 'cfg',
        subjectType: 'Subject2',
        startFrom: 'daysBack',
        daysBack: 7,
        output: 'item',
        includeXml: true,
        includeJson: true,
        wires: [['out']],
        ...sync,
      },
      { id: 'out', type: 'helper', z: 'f1' },
      { id: 'errors', type: 'catch', z: 'f1', scope: ['sync'], wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'f1' },
    ],
    { cfg: { ksefToken: sandbox.ksefToken } },
  );
}

/** Received invoices other sellers issued to the demo context, stored over the hour before now (or now). */
function receive(count: number, spread = false): string[] {
  const now = Date.now();
  return sandbox.seedReceived(count, spread ? { from: new Date(now - 2 * DAY_MS), to: new Date(now - 60_000) } : {});
}

function run(): Promise<void> {
  return runToCompletion('sync');
}

function ksefNumbers(received: Msg[]): string[] {
  return received.map((msg) => msg.payload.ksefNumber);
}

/** Invoices stored at the same moment may come in any order; a list compared with this is compared as a set. */
function sorted(list: string[]): string[] {
  return [...list].sort();
}

function context(): NodeContext {
  return (helper.getNode('sync') as any).context();
}

describe('ksef-sync', () => {
  it('delivers each received invoice exactly once across runs, with invoices arriving in between', async () => {
    const before = receive(3, true);
    await load();
    const out = messagesOf('out');
    const caught = messagesOf('caught');

    await run();
    expect(ksefNumbers(out)).toEqual(before);
    const [first] = out;
    expect(first.payload.metadata).toMatchObject({
      ksefNumber: before[0],
      buyer: { identifier: { value: sandbox.contextIdentifier.value } },
    });
    expect(first.payload.xml).toContain('<Faktura');
    expect(first.payload.invoice.seller.nip).toBe(first.payload.metadata.seller.nip);
    expect(first.payload.invoice.buyer.nip).toBe(sandbox.contextIdentifier.value);
    expect(statusesOf('sync').at(-1)).toEqual(['green', 'ksef-sync.status.sent, ksef-sync.status.up-to-date']);

    const second = receive(2);
    await run();
    expect(sorted(ksefNumbers(out.slice(3)))).toEqual(sorted(second));

    await run();
    expect(out).toHaveLength(5);
    expect(statusesOf('sync').at(-1)).toEqual(['green', 'ksef-sync.status.up-to-date']);

    const third = receive(1);
    await run();
    expect(ksefNumbers(out).slice(5)).toEqual(third);
    expect(sorted(ksefNumbers(out))).toEqual(sorted([...before, ...second, ...third]));
    expect(caught).toEqual([]);
  });

  it('starts from now on the first run: invoices stored before it are not delivered, later ones are, in one array', async () => {
    receive(2, true);
    await load({ startFrom: 'now', output: 'array', includeXml: false, includeJson: true });
    const out = messagesOf('out');

    await run();
    expect(out).toEqual([]);

    const later = receive(2);
    await run();
    expect(out).toHaveLength(1);
    expect(sorted(out[0].payload.map((invoice: Msg) => invoice.ksefNumber))).toEqual(sorted(later));
    expect(out[0].payload[0].xml).toBeUndefined();
    // The XML is read for the friendly JSON, but not output.
    expect(out[0].payload[0].invoice.buyer.nip).toBe(sandbox.contextIdentifier.value);
    expect(out[0].payload[0].metadata.ksefNumber).toBe(out[0].payload[0].ksefNumber);
  });

  it('re-delivers, never loses, the invoices sent when the checkpoint could not be stored (a crash in between)', async () => {
    await load({ startFrom: 'now' });
    const out = messagesOf('out');
    const caught = messagesOf('caught');
    await run();
    const stored = await new NodeContextStore(context()).get('checkpoint');

    const issued = receive(2);
    const node = helper.getNode('sync') as any;
    const real = context();
    let crashes = 1;
    node.context = (): NodeContext => ({
      get: (...args) => real.get(...args),
      set: (key, value, name, callback) => (crashes-- > 0 ? callback(new Error('disk full')) : real.set(key, value, name, callback)),
    });

    await run();
    expect(sorted(ksefNumbers(out))).toEqual(sorted(issued));
    expect(caught.map((msg) => msg.error.message)).toEqual(['Error: disk full']);
    expect(await new NodeContextStore(real).get('checkpoint')).toEqual(stored);

    await run();
    expect(sorted(ksefNumbers(out.slice(2)))).toEqual(sorted(issued));
    await run();
    expect(out).toHaveLength(4);
  });

  it('reports a Days back it cannot use to Catch, naming the field as the editor labels it', async () => {
    await load({ daysBack: 'soon' });
    const caught = messagesOf('caught');

    await run();

    expect(caught.map((msg) => msg.error.message)).toEqual(['Error: ksef-sync.errors.bad-days-back']);
    expect(statusesOf('sync').at(-1)).toEqual(['red', 'ksef-sync.status.bad-input']);
  });
});

describe('ksef-sync within KSeF export limits', () => {
  let limited: SandboxHandle;

  beforeAll(async () => {
    limited = await startSandbox({
      processingDelayMs: 5,
      hwmDelayMs: 0,
      rateLimits: { invoiceExport: { perSecond: 8, perMinute: 16, perHour: 2 } },
    });
  });

  afterAll(async () => {
    await limited.close();
  });

  it('waits instead of going over them, and says in a yellow status when it fetches next', async () => {
    limited.seedReceived(1, { from: new Date(Date.now() - DAY_MS), to: new Date(Date.now() - 60_000) });
    await helper.load(
      [ksefConfigNode, ksefSyncNode],
      [
        { id: 'f1', type: 'tab', label: 'test' },
        sandboxConfigNode(limited),
        {
          id: 'sync',
          type: 'ksef-sync',
          z: 'f1',
          ksef: 'cfg',
          subjectType: 'Subject2',
          startFrom: 'daysBack',
          daysBack: 2,
          wires: [['out']],
        },
        { id: 'out', type: 'helper', z: 'f1' },
      ],
      { cfg: { ksefToken: limited.ksefToken } },
    );
    const out = messagesOf('out');

    await run();
    await run();
    expect(out).toHaveLength(1);
    expect(statusesOf('sync').at(-1)).toEqual(['green', 'ksef-sync.status.up-to-date']);

    limited.seedReceived(1);
    await run();
    expect(out).toHaveLength(1);
    expect(statusesOf('sync').at(-1)).toEqual(['yellow', 'ksef-sync.status.waiting']);
  });
});
