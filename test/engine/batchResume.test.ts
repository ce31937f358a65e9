import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { newSymmetricKey } from '../../shared/protocol/crypto/aes';
import { buildBatchPackage } from '../../shared/sessions/batch/package';
import { FileStateStore, MemoryStateStore, type BatchSendOptions, type JsonValue, type KsefClient, type StateStore } from '../../shared';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';

/** A state store whose contents a test can read, and which can fail one chosen write as a crash there would. */
class InspectableStore implements StateStore {
  readonly inner = new MemoryStateStore();
  readonly keys = new Set<string>();
  failWrite?: (value: JsonValue) => boolean;

  get<T extends JsonValue = JsonValue>(key: string): Promise<T | undefined> {
    return this.inner.get<T>(key);
  }
  async set(key: string, value: JsonValue): Promise<void> {
    if (this.failWrite?.(value)) {
      this.failWrite = undefined;
      throw new Error('simulated crash before the state was written');
    }
    this.keys.add(key);
    await this.inner.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.keys.delete(key);
    await this.inner.delete(key);
  }
  async batchStates(): Promise<Record<string, JsonValue>[]> {
    const states = [];
    for (const key of this.keys) if (key.startsWith('ksef-flow/batch/')) states.push((await this.get(key)) as Record<string, JsonValue>);
    return states;
  }
}

const invoicesNumbered = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => buildDemoInvoice({ invoiceNumber: `${prefix}/${i + 1}`, lines: 1 + (i % 4) }));

async function partSizeFor(invoices: string[], parts: number): Promise<number> {
  const pkg = await buildBatchPackage(
    invoices.map((input, index) => ({ index, input })),
    { key: newSymmetricKey() },
  );
  await pkg.dispose();
  return Math.ceil(pkg.fileSize / parts);
}

describe('resuming a batch send that stopped half way', () => {
  let sandbox: RecordedSandbox;
  let store: InspectableStore;
  const clients: KsefClient[] = [];
  /** A new client (as after a restart) over the same state store. */
  const newClient = () => {
    const client = clientOf(sandbox, { stateStore: store });
    clients.push(client);
    return client;
  };
  /** A send of `invoices` stopped as its upload begins (the session opened, its state saved); the state's key. */
  const stoppedBeforeUpload = async (invoices: string[]): Promise<string> => {
    await expect(
      newClient().sessions.batch.send(invoices, {
        onProgress: (p) => {
          if (p.phase === 'uploading') throw new Error('stop');
        },
      }),
    ).rejects.toThrow('stop');
    return [...store.keys][0];
  };
  /** How many times KSeF holds each of `invoices`, by content hash. */
  const copiesInKsef = (invoices: string[]) => {
    const stored = [...sandbox.state.invoicesByKsefNumber.values()].map((entry) => entry.invoice.invoiceHash);
    return invoices.map((xml) => stored.filter((hash) => hash === sha256Base64(Buffer.from(xml))).length);
  };

  beforeEach(async () => {
    sandbox = await startRecordedSandbox();
    store = new InspectableStore();
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
    await sandbox.close();
  });

  it('a run that died after 2 of 3 parts: the next run uploads only the third, closes, and every invoice is in KSeF once', async () => {
    const invoices = invoicesNumbered('FV/RESUME', 30);
    const options: BatchSendOptions = { partSizeBytes: await partSizeFor(invoices, 3), uploadConcurrency: 1 };
    const crash = new Error('process killed');

    await expect(
      newClient().sessions.batch.send(invoices, {
        ...options,
        onProgress: (p) => {
          if (p.phase === 'uploading' && p.partsUploaded === 2) throw crash;
        },
      }),
    ).rejects.toBe(crash);
    const puts = () => sandbox.exchanges.filter((e) => e.method === 'PUT').length;
    expect(puts()).toBe(2);
    const [saved] = await store.batchStates();
    expect(saved).toMatchObject({ partsDone: [1, 2], closed: false });
    expect(saved.referenceNumber).toMatch(/-SB-/);
    // Nothing secret in clear: no upload signature, no key.
    expect(JSON.stringify(saved)).not.toMatch(/sig=|https?:/);
    expect(Object.keys(saved).sort()).toEqual(
      [
        'closed',
        'createdAt',
        'declaration',
        'invoices',
        'partsDone',
        'referenceNumber',
        'sealedKey',
        'sealedUploads',
        'uploadDeadline',
      ].sort(),
    );

    const result = await newClient().sessions.batch.send(invoices, options);

    expect(puts()).toBe(3);
    expect(sandbox.count('POST /sessions/batch')).toBe(1);
    expect(sandbox.count('POST /sessions/batch/{referenceNumber}/close')).toBe(1);
    expect(result.sessions).toMatchObject([{ sessionReferenceNumber: saved.referenceNumber, partCount: 3, status: { code: 200 } }]);
    expect(result.invoices.every((r) => r.accepted && isValidKsefNumber(r.ksefNumber!))).toBe(true);
    expect(copiesInKsef(invoices)).toEqual(invoices.map(() => 1));
    expect(await store.batchStates()).toEqual([]);
  });

  it('a part uploaded but not recorded (a crash in between) counts as done on the next run: the storage host answers 409', async () => {
    const invoices = invoicesNumbered('FV/RESUME409', 20);
    const options: BatchSendOptions = { partSizeBytes: await partSizeFor(invoices, 2), uploadConcurrency: 1 };
    store.failWrite = (value) =>
      Array.isArray((value as { partsDone?: unknown[] }).partsDone) && (value as { partsDone: unknown[] }).partsDone.length === 1;

    await expect(newClient().sessions.batch.send(invoices, options)).rejects.toThrow(/simulated crash/);
    expect(sandbox.exchanges.filter((e) => e.method === 'PUT').map((e) => e.status)).toEqual([201]);
    expect((await store.batchStates())[0]).toMatchObject({ partsDone: [] });

    const result = await newClient().sessions.batch.send(invoices, options);

    expect(sandbox.exchanges.filter((e) => e.method === 'PUT').map((e) => e.status)).toEqual([201, 409, 201]);
    expect(result.invoices.every((r) => r.accepted)).toBe(true);
    expect(copiesInKsef(invoices)).toEqual(invoices.map(() => 1));
  });

  it('a run that died after the close: the next run only reads the outcome (no open, upload or close)', async () => {
    const invoices = invoicesNumbered('FV/AFTERCLOSE', 12);
    const crash = new Error('process killed while waiting');

    await expect(
      newClient().sessions.batch.send(invoices, {
        onProgress: (p) => {
          if (p.phase === 'processing') throw crash;
        },
      }),
    ).rejects.toBe(crash);
    expect((await store.batchStates())[0]).toMatchObject({ closed: true, partsDone: [1] });
    const requestsBefore = sandbox.exchanges.length;

    const result = await newClient().sessions.batch.send(invoices);

    const after = sandbox.exchanges.slice(requestsBefore).map((e) => e.operation);
    expect(after).not.toContain('POST /sessions/batch');
    expect(after).not.toContain('POST /sessions/batch/{referenceNumber}/close');
    expect(sandbox.exchanges.slice(requestsBefore).some((e) => e.method === 'PUT')).toBe(false);
    expect(result.invoices.every((r) => r.accepted)).toBe(true);
    expect(copiesInKsef(invoices)).toEqual(invoices.map(() => 1));
    expect(await store.batchStates()).toEqual([]);
  });

  it('a run that died in its second session: the next run reads the outcome of the first and finishes the second', async () => {
    const invoices = invoicesNumbered('FV/TWOSESSIONS', 14);
    const crash = new Error('process killed in session 2');

    await expect(
      newClient().sessions.batch.send(invoices, {
        maxInvoicesPerSession: 8,
        onProgress: (p) => {
          if (p.session === 2 && p.phase === 'uploading') throw crash;
        },
      }),
    ).rejects.toBe(crash);
    // The first session is processed but its results never reached the caller: its state stays.
    expect((await store.batchStates()).map((state) => state.closed).sort()).toEqual([false, true]);
    const opensBefore = sandbox.count('POST /sessions/batch');

    const result = await newClient().sessions.batch.send(invoices, { maxInvoicesPerSession: 8 });

    expect(opensBefore).toBe(2);
    expect(sandbox.count('POST /sessions/batch')).toBe(2);
    expect(sandbox.count('POST /sessions/batch/{referenceNumber}/close')).toBe(2);
    expect(result.sessions.map((s) => s.invoiceCount)).toEqual([8, 6]);
    expect(result.invoices.every((r) => r.accepted)).toBe(true);
    expect(copiesInKsef(invoices)).toEqual(invoices.map(() => 1));
    expect(await store.batchStates()).toEqual([]);
  });

  it('a session still processing when the wait ends stays saved: pending now, its outcome on the next run', async () => {
    await sandbox.close();
    sandbox = await startRecordedSandbox({ processingDelayMs: 1500 });
    const invoices = invoicesNumbered('FV/PENDING', 5);

    const first = await newClient().sessions.batch.send(invoices, { waitForProcessingMs: 0 });

    expect(first.invoices.every((r) => r.pending && !r.accepted && r.error === undefined)).toBe(true);
    expect(first.sessions[0].status?.code).toBeLessThan(200);
    expect(await store.batchStates()).toHaveLength(1);

    const second = await newClient().sessions.batch.send(invoices);

    expect(sandbox.count('POST /sessions/batch')).toBe(1);
    expect(second.sessions[0].sessionReferenceNumber).toBe(first.sessions[0].sessionReferenceNumber);
    expect(second.invoices.every((r) => r.accepted && !r.pending)).toBe(true);
    expect(copiesInKsef(invoices)).toEqual(invoices.map(() => 1));
    expect(await store.batchStates()).toEqual([]);
  });

  it("with no wait the session's status is still read, even when the clock has moved on before the read goes (a busy machine)", async () => {
    await sandbox.close();
    sandbox = await startRecordedSandbox({ processingDelayMs: 1500 });
    let readings = 0;
    const client = clientOf(sandbox, { stateStore: store, clock: { now: () => new Date(Date.now() + readings++) } });
    clients.push(client);

    const sent = await client.sessions.batch.send(invoicesNumbered('FV/BUSY', 2), { waitForProcessingMs: 0 });

    expect(sandbox.count('GET /sessions/{referenceNumber}')).toBe(1);
    expect(sent.sessions[0].status?.code).toBeLessThan(200);
    expect(sent.invoices.every((r) => r.pending && r.status?.code === sent.sessions[0].status?.code)).toBe(true);
  });

  it('a package rebuilt differently from the one declared is never uploaded: a clear error', async () => {
    const invoices = invoicesNumbered('FV/REBUILT', 3);
    const key = await stoppedBeforeUpload(invoices);
    const saved = (await store.get(key)) as { declaration: { fileHash: string } } & Record<string, JsonValue>;
    // As if the earlier run had built other bytes (another archive library version, say).
    await store.set(key, { ...saved, declaration: { ...saved.declaration, fileHash: sha256Base64(Buffer.from('another package')) } });

    await expect(newClient().sessions.batch.send(invoices)).rejects.toThrow(
      /another package than the one declared for batch session \d{8}-SB-/,
    );
    expect(sandbox.exchanges.filter((e) => e.method === 'PUT')).toHaveLength(0);
    expect(sandbox.count('POST /sessions/batch/{referenceNumber}/close')).toBe(0);
  });

  it('a saved session does not open with another credential: a clear error, nothing sent', async () => {
    const invoices = invoicesNumbered('FV/OTHERKEY', 3);
    const key = await stoppedBeforeUpload(invoices);
    const saved = (await store.get(key)) as Record<string, JsonValue>;
    await store.set(key, { ...saved, sealedKey: String(saved.sealedKey).replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) });

    await expect(newClient().sessions.batch.send(invoices)).rejects.toThrow(/does not open with this credential/);
    expect(sandbox.count('POST /sessions/batch')).toBe(1);
  });
});

describe('resuming after the process was killed', () => {
  let sandbox: RecordedSandbox;
  let stateFolder: string;
  let child: ChildProcess | undefined;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox();
    stateFolder = await mkdtemp(join(tmpdir(), 'ksef-batch-state-'));
  });
  afterEach(async () => {
    // A test that failed before its kill leaves no process behind.
    if (child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await sandbox.close();
    await rm(stateFolder, { recursive: true, force: true });
  });

  it('a process killed (SIGKILL) after 2 of 4 parts: a new process finishes the upload, every invoice once in KSeF', async () => {
    const invoices = invoicesNumbered('FV/KILLED', 40);
    const options: BatchSendOptions = { partSizeBytes: await partSizeFor(invoices, 4), uploadConcurrency: 1 };
    const job = {
      baseUrl: sandbox.baseUrl,
      contextIdentifier: sandbox.contextIdentifier,
      ksefToken: sandbox.ksefToken,
      stateFolder,
      invoices,
      options,
      stopAfterParts: 2,
    };
    const spawned = (child = spawn(process.execPath, [join(__dirname, 'support', 'batchSendChild.js')], {
      env: { ...process.env, KSEF_BATCH_CHILD: JSON.stringify(job) },
      stdio: ['ignore', 'pipe', 'pipe'],
    }));
    let stderr = '';
    spawned.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => spawned.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      let lines = '';
      spawned.stdout.on('data', (chunk: Buffer) => {
        lines += chunk.toString();
        if (lines.includes('"partsUploaded":2,')) resolve();
      });
      spawned.on('exit', () => reject(new Error(`The child ended before uploading 2 parts: ${stderr}`)));
    });
    spawned.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(sandbox.exchanges.filter((e) => e.method === 'PUT')).toHaveLength(2);

    const client = clientOf(sandbox, { stateStore: new FileStateStore(stateFolder) });
    try {
      const result = await client.sessions.batch.send(invoices, options);

      expect(sandbox.exchanges.filter((e) => e.method === 'PUT')).toHaveLength(4);
      expect(sandbox.count('POST /sessions/batch')).toBe(1);
      expect(result.sessions).toMatchObject([{ partCount: 4, status: { code: 200 } }]);
      expect(result.invoices.every((r) => r.accepted)).toBe(true);
      const stored = [...sandbox.state.invoicesByKsefNumber.values()].map((entry) => entry.invoice.invoiceHash);
      expect(invoices.map((xml) => stored.filter((hash) => hash === sha256Base64(Buffer.from(xml))).length)).toEqual(invoices.map(() => 1));
    } finally {
      await client.close();
    }
  }, 120_000);
});
