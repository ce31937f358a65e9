/**
 * The base of source nodes with a checkpoint (nodes/node-red/base/sourceNode.ts), in the real Node-RED flow engine,
 * through a node registered only here that reads a fake list: no KSeF, so what is tested is the base alone (two-phase
 * checkpoint, one message per item or one array, one fetch at a time, statuses, errors). ksef-sync builds on it next.
 */
import helper = require('node-red-node-test-helper');
import { registerSourceNode, type SourceNodeDef } from '../../nodes/node-red/base/sourceNode';
import { NodeContextStore, type NodeContext } from '../../nodes/node-red/state';
import { messagesOf, runToCompletion, statusesOf, type Msg } from './support/flow';

helper.init(require.resolve('node-red'));

interface FakeSourceDef extends SourceNodeDef {
  pageSize: number;
}

/** The fake source's list, the checkpoints its fetches were given, and what holds or breaks the next fetch. */
let list: number[];
let fetchedFrom: Array<number | undefined>;
let hold: Promise<void> | undefined;
/** The fetch that throws `error` (1 = the first fetch of the test). */
let failure: { error: Error; onFetch: number } | undefined;
let environment: 'sandbox' | undefined;
/** What the fake source says of its next fetch (a KSeF export limit, in ksef-sync). */
let nextFetchAt: string | undefined;

/** Up to `pageSize` numbers after the checkpoint (how many were delivered), with `more` while the list goes on. */
function fakeSourceNode(RED: any): void {
  registerSourceNode<FakeSourceDef, number, number>(RED, 'fake-source', {
    needsKsef: () => false,
    fetch: async ({ def, checkpoint }) => {
      fetchedFrom.push(checkpoint);
      await hold;
      if (failure?.onFetch === fetchedFrom.length) throw failure.error;
      const from = checkpoint ?? 0;
      const items = list.slice(from, from + def.pageSize);
      return { items, checkpoint: from + items.length, more: from + items.length < list.length, environment, nextFetchAt };
    },
  });
}

beforeEach(() => {
  list = [1, 2, 3, 4, 5];
  fetchedFrom = [];
  hold = undefined;
  failure = undefined;
  environment = undefined;
  nextFetchAt = undefined;
});

afterEach(async () => {
  await helper.unload();
});

async function load(source: Partial<FakeSourceDef> = {}): Promise<void> {
  await helper.load(
    [fakeSourceNode],
    [
      { id: 'f1', type: 'tab', label: 'test' },
      { id: 'src', type: 'fake-source', z: 'f1', pageSize: 2, wires: [['out']], ...source },
      { id: 'out', type: 'helper', z: 'f1' },
      { id: 'errors', type: 'catch', z: 'f1', scope: ['src'], wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'f1' },
    ],
  );
}

function context(): NodeContext {
  return (helper.getNode('src') as any).context();
}

/** Puts `set` in place of the node context's own (Node-RED's context object is frozen, the node's accessor is not). */
function replaceContextSet(set: (real: NodeContext, ...args: Parameters<NodeContext['set']>) => void): void {
  const node = helper.getNode('src') as any;
  const real = context();
  node.context = (): NodeContext => ({ get: (...args) => real.get(...args), set: (...args) => set(real, ...args) });
}

function checkpoint(): Promise<unknown> {
  return new NodeContextStore(context()).get('checkpoint');
}

/** Resolves once node `src` has finished with its current message (the runtime logs done(err) as an error). */
function run(msg: Msg = { payload: Date.now() }): Promise<void> {
  return runToCompletion('src', msg);
}

/** The numbers received downstream, in order. */
function payloads(received: Msg[]): unknown[] {
  return received.map((msg) => msg.payload);
}

describe('a source node with a checkpoint', () => {
  it('sends one message per item, in order, fetching page after page, and stores the checkpoint after them', async () => {
    await load();
    const out = messagesOf('out');

    await run({ payload: 'tick', topic: 'sync' });

    expect(payloads(out)).toEqual([1, 2, 3, 4, 5]);
    expect(out.every((msg) => msg.topic === 'sync')).toBe(true);
    expect(fetchedFrom).toEqual([undefined, 2, 4]);
    expect(await checkpoint()).toBe(5);
    expect(statusesOf('src')).toEqual([
      ['blue', 'fake-source.status.fetching'],
      ['blue', 'fake-source.status.fetching'],
      ['blue', 'fake-source.status.fetching'],
      ['green', 'fake-source.status.sent, fake-source.status.up-to-date'],
    ]);
  });

  it('sends only what is new on the next message, and nothing when nothing is', async () => {
    await load();
    const out = messagesOf('out');
    await run();

    await run();
    expect(payloads(out)).toEqual([1, 2, 3, 4, 5]);
    expect(statusesOf('src').at(-1)).toEqual(['green', 'fake-source.status.up-to-date']);

    list.push(6, 7);
    await run();
    expect(payloads(out)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(fetchedFrom).toEqual([undefined, 2, 4, 5, 5]);
  });

  it('sends one array per fetch when the node says so', async () => {
    await load({ output: 'array' });
    const out = messagesOf('out');

    await run();

    expect(payloads(out)).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('stores each checkpoint only after the items before it were sent', async () => {
    await load();
    const node = helper.getNode('src') as any;
    const sentWhenStored: number[] = [];
    replaceContextSet((real, ...args) => {
      sentWhenStored.push(node.send.getCalls().filter((call: any) => call.thisValue.id === 'src').length);
      real.set(...args);
    });

    await run();

    expect(sentWhenStored).toEqual([2, 4, 5]);
  });

  it('re-delivers, never loses, the items sent when the checkpoint could not be stored (a crash in between)', async () => {
    await load();
    const out = messagesOf('out');
    const caught = messagesOf('caught');
    let crashes = 1;
    replaceContextSet((real, key, value, name, callback) =>
      crashes-- > 0 ? callback(new Error('disk full')) : real.set(key, value, name, callback),
    );

    await run();
    expect(payloads(out)).toEqual([1, 2]);
    expect(caught.map((msg) => msg.error.message)).toEqual(['Error: disk full']);
    expect(await checkpoint()).toBeUndefined();

    await run();
    expect(payloads(out)).toEqual([1, 2, 1, 2, 3, 4, 5]);
  });

  it('keeps the checkpoint of the pages sent when a later fetch fails, and reports the failure to Catch', async () => {
    list = [1, 2, 3, 4, 5, 6];
    await load({ pageSize: 3 });
    const out = messagesOf('out');
    const caught = messagesOf('caught');
    const error = Object.assign(new Error('KSeF is down'), { toJSON: () => ({ name: 'KsefApiError', status: 503 }) });
    failure = { error, onFetch: 2 };

    await run();

    expect(payloads(out)).toEqual([1, 2, 3]);
    expect(await checkpoint()).toBe(3);
    expect(caught).toHaveLength(1);
    expect(caught[0].error.message).toBe('Error: KSeF is down');
    expect(caught[0].ksef.error).toEqual({ name: 'KsefApiError', status: 503 });
    expect(statusesOf('src').at(-1)).toEqual(['red', 'fake-source.status.failed']);

    failure = undefined;
    await run();
    expect(payloads(out)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('refuses a second fetch while one runs, with a warning instead of an error', async () => {
    await load();
    const out = messagesOf('out');
    const caught = messagesOf('caught');
    let release!: () => void;
    hold = new Promise((resolve) => (release = resolve));
    const first = run();
    await new Promise((resolve) => setImmediate(resolve));

    helper.getNode('src').receive({ payload: 'again' });
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await first;

    expect(fetchedFrom).toEqual([undefined, 2, 4]);
    expect(payloads(out)).toEqual([1, 2, 3, 4, 5]);
    expect(caught).toHaveLength(0);
    const warnings = (helper.getNode('src') as any).warn.getCalls().filter((call: any) => call.thisValue.id === 'src');
    expect(warnings.map((call: any) => call.args[0])).toEqual(['fake-source.warnings.still-fetching']);
  });

  it('sends and stores nothing when the node is closed mid-fetch (a redeploy), so the checkpoint stays before those items', async () => {
    await load();
    const node = helper.getNode('src') as any;
    const sendSpy = node.send;
    const stored: unknown[] = [];
    replaceContextSet((real, key, value, name, callback) => {
      stored.push(value);
      real.set(key, value, name, callback);
    });
    let release!: () => void;
    hold = new Promise((resolve) => (release = resolve));
    node.receive({ payload: 'tick' });
    await new Promise((resolve) => setImmediate(resolve));

    await helper.unload();
    release();
    await new Promise((resolve) => setTimeout(resolve, 20));

    expect(fetchedFrom).toEqual([undefined]);
    expect(sendSpy.getCalls().filter((call: any) => call.thisValue === node)).toHaveLength(0);
    expect(stored).toEqual([]);
  });

  it('marks the status when the sandbox answered', async () => {
    environment = 'sandbox';
    await load();

    await run();

    expect(statusesOf('src').at(-1)).toEqual([
      'green',
      'fake-source.status.sent, fake-source.status.up-to-date fake-source.status.sandbox',
    ]);
  });

  it('shows in yellow when the source says it fetches next, instead of up to date', async () => {
    await load({ pageSize: 10 });
    nextFetchAt = new Date(2026, 11, 2, 12, 45).toISOString();

    await run();

    expect(statusesOf('src').at(-1)).toEqual(['yellow', 'fake-source.status.sent, fake-source.status.waiting']);
  });
});
