import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObservableObject, type IDataObject } from 'n8n-workflow';
import { FileStateStore, MemoryStateStore, type StateStore } from '../../shared';
import { WorkflowStaticDataStore } from '../../nodes/n8n/Ksef/transport/state';
import { NodeContextStore, type NodeContext } from '../../nodes/node-red/state';

// Node-RED's own context module (the one behind `node.context()`), configured as a settings.js would.
const nodeRedContext = require('@node-red/runtime/lib/nodes/context') as {
  init(settings: object): void;
  load(): Promise<void>;
  get(nodeId: string, flowId: string): NodeContext;
  close(): Promise<void>;
};

const CHECKPOINT = {
  window: { from: '2026-12-01T00:00:00Z', to: null },
  seen: ['5265877635-20250626-010080DD2B5E-26'],
  page: 3,
  done: false,
};

/** What every implementation of the port must do. */
function behavesAsStateStore(make: () => Promise<StateStore>): void {
  it('keeps JSON values by key, returns copies, and forgets deleted keys', async () => {
    const store = await make();
    expect(await store.get('sync:1234563218')).toBeUndefined();
    await store.set('sync:1234563218', CHECKPOINT);
    await store.set('a.b[0]', 'dotted');
    await store.set('a', 1);
    const read = await store.get<typeof CHECKPOINT>('sync:1234563218');
    expect(read).toEqual(CHECKPOINT);
    read!.seen.push('changed');
    expect(await store.get('sync:1234563218')).toEqual(CHECKPOINT);
    expect(await store.get('a.b[0]')).toBe('dotted');
    expect(await store.get('a')).toBe(1);
    await store.delete('sync:1234563218');
    await store.delete('never-set');
    expect(await store.get('sync:1234563218')).toBeUndefined();
    expect(await store.get('a.b[0]')).toBe('dotted');
  });

  it('refuses what JSON cannot carry instead of changing it', async () => {
    const store = await make();
    await expect(store.set('k', { when: new Date() as never })).rejects.toThrow(
      /^State "k" must be a JSON value: Date is not a plain object\.$/,
    );
    await expect(store.set('k', [1, Number.NaN])).rejects.toThrow(/NaN is not a JSON number/);
    expect(await store.get('k')).toBeUndefined();
  });

  it('ends concurrent sets of one key with the last one', async () => {
    const store = await make();
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.set('batch', { part: i })));
    expect(await store.get('batch')).toEqual({ part: 19 });
  });
}

describe('MemoryStateStore', () => {
  behavesAsStateStore(async () => new MemoryStateStore());
});

describe('FileStateStore', () => {
  let folder: string;
  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'ksef-state-'));
  });
  afterEach(() => rm(folder, { recursive: true, force: true }));

  behavesAsStateStore(async () => new FileStateStore(join(folder, 'state')));

  it('survives a crash in the middle of a write: a leftover temporary file changes nothing', async () => {
    const store = new FileStateStore(folder);
    await store.set('batch:SB-1', { uploaded: [1, 2] });
    const [file] = await readdir(folder);
    expect(file).toMatch(/^[0-9a-f]{64}\.json$/);
    // What a process killed between writing and renaming leaves behind: a torn temporary file.
    await writeFile(join(folder, `${file}.0badc0ffee00.tmp`), '{"key":"batch:SB-1","value":{"uplo');
    expect(await new FileStateStore(folder).get('batch:SB-1')).toEqual({ uploaded: [1, 2] });
    await store.set('batch:SB-1', { uploaded: [1, 2, 3] });
    expect(await new FileStateStore(folder).get('batch:SB-1')).toEqual({ uploaded: [1, 2, 3] });
    expect(JSON.parse(await readFile(join(folder, file), 'utf8'))).toEqual({ key: 'batch:SB-1', value: { uploaded: [1, 2, 3] } });
  });

  it('writes concurrently from many callers without a torn or lost value, and another store instance reads them', async () => {
    const store = new FileStateStore(folder);
    const big = 'x'.repeat(200_000);
    await Promise.all([
      ...Array.from({ length: 5 }, (_, k) => store.delete(`key-${k}`)),
      ...Array.from({ length: 50 }, (_, i) => store.set(`key-${i % 5}`, { i, big })),
    ]);
    const reader = new FileStateStore(folder);
    for (let k = 0; k < 5; k++) {
      const value = await reader.get<{ i: number; big: string }>(`key-${k}`);
      expect(value?.i).toBe(45 + k);
      expect(value?.big === big).toBe(true);
    }
    expect((await readdir(folder)).filter((name) => name.endsWith('.tmp'))).toEqual([]);

    // Two stores over one folder (no shared queue): each rename is atomic, so the value is one write, whole.
    const other = new FileStateStore(folder);
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).set('shared', { i, big })));
    const shared = await reader.get<{ i: number; big: string }>('shared');
    expect(shared?.big === big && Number.isInteger(shared.i)).toBe(true);
  });

  it('names the file of a corrupted value', async () => {
    const store = new FileStateStore(folder);
    await store.set('k', 1);
    const [file] = await readdir(folder);
    await writeFile(join(folder, file), 'not json');
    await expect(store.get('k')).rejects.toThrow(
      `The state file ${join(folder, file)} (key "k") is not valid JSON; delete it to start that state afresh.`,
    );
  });
});

describe('n8n workflow static data adapter', () => {
  behavesAsStateStore(async () => new WorkflowStaticDataStore({}));

  it('marks the static data as changed, so n8n saves it when the execution succeeds', async () => {
    // n8n wraps the workflow's static data in an ObservableObject and saves it only when `__dataChanged` is set.
    const staticData = ObservableObject.create({ lastTimeChecked: 1 }) as IDataObject & { __dataChanged: boolean };
    const store = new WorkflowStaticDataStore(staticData);
    await store.set('sync', CHECKPOINT);
    expect(staticData.__dataChanged).toBe(true);
    expect(staticData).toEqual({ lastTimeChecked: 1, sync: CHECKPOINT });
    staticData.__dataChanged = false;
    await store.delete('sync');
    expect(staticData.__dataChanged).toBe(true);
    expect(staticData).toEqual({ lastTimeChecked: 1 });
  });
});

describe('Node-RED node context adapter', () => {
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'ksef-node-red-context-'));
    nodeRedContext.init({
      contextStorage: { default: { module: 'memory' }, file: { module: 'localfilesystem', config: { dir: folder, flushInterval: 0 } } },
    });
    await nodeRedContext.load();
  });
  afterAll(async () => {
    await nodeRedContext.close();
    await rm(folder, { recursive: true, force: true });
  });

  let nodes = 0;
  describe('default (memory) store', () => {
    behavesAsStateStore(async () => new NodeContextStore(nodeRedContext.get(`node-${++nodes}`, 'flow-1')));
  });
  describe('a named persistent store', () => {
    behavesAsStateStore(async () => new NodeContextStore(nodeRedContext.get(`node-${++nodes}`, 'flow-1'), 'file'));
  });

  it('keeps each key one property of the node context, in the store named', async () => {
    const context = nodeRedContext.get('node-keys', 'flow-1');
    const store = new NodeContextStore(context, 'file');
    await store.set('sync:1234563218.last', 'x');
    const keys = await new Promise<string[]>((resolve, reject) =>
      (context as unknown as { keys(store: string, cb: (e: Error | null, k: string[]) => void): void }).keys('file', (e, k) =>
        e ? reject(e) : resolve(k),
      ),
    );
    expect(keys).toEqual(['ksef_sync_3a_1234563218_2e_last']);
    expect(await new NodeContextStore(context).get('sync:1234563218.last')).toBeUndefined();
  });
});
