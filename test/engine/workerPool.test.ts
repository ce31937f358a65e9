/**
 * The worker pool behind batch packages and XSD validation: tasks answered by real worker threads (loading a
 * TypeScript module as the package loads its built one, or running a script of their own), at most `size` at once,
 * workers that keep a task's key preferred, a failing task or a dying worker failing only its own task, idle workers
 * ending.
 */
import { Worker } from 'node:worker_threads';
import { WorkerPool } from '../../shared/protocol/workerPool';
import type { EchoRequest } from '../support/workerTasks';

type EchoAnswer = { doubled: number; threadId: number; bytes: Uint8Array };

function pool(size: number, idleMs = 10_000, modulePath = require.resolve('../support/workerTasks')): WorkerPool<EchoRequest, EchoAnswer> {
  return new WorkerPool({
    script: { modulePath, functionName: 'echo' },
    size,
    idleMs,
    label: 'test worker',
  });
}

describe('WorkerPool', () => {
  it('answers every task, on at most size workers at once, with the buffers moved from the worker', async () => {
    const workers = pool(2);
    const answers = await Promise.all([1, 2, 3, 4, 5].map((value) => workers.run({ value, delayMs: 100 })));
    expect(answers.map((answer) => answer.doubled)).toEqual([2, 4, 6, 8, 10]);
    expect(new Set(answers.map((answer) => answer.threadId)).size).toBe(2);
    expect([...answers[2].bytes]).toEqual(new Array(16).fill(3));
  });

  it('fails only the task that throws; its worker takes the next one', async () => {
    const workers = pool(1);
    const failing = workers.run({ value: 7, fail: 'throw' });
    const next = workers.run({ value: 8 });
    await expect(failing).rejects.toThrow('The test worker failed: task 7 refused');
    const answer = await next;
    expect(answer.doubled).toBe(16);
  });

  it('fails the task of a worker that dies, and gives the next task a fresh worker', async () => {
    const workers = pool(1);
    const before = await workers.run({ value: 1 });
    await expect(workers.run({ value: 2, fail: 'exit' })).rejects.toThrow('The test worker exited with code 3.');
    const after = await workers.run({ value: 3 });
    expect(after.doubled).toBe(6);
    expect(after.threadId).not.toBe(before.threadId);
  });

  it('gives a waiting task to the worker free first, not to one still loading its module', async () => {
    const workers = pool(2, 10_000, require.resolve('../support/slowStartTasks'));
    const first = await workers.run({ value: 1 });
    // The second task finds the one worker busy and starts another, which takes a second to load; the first worker is
    // free again after 50 ms and takes the task.
    const [busy, waiting] = await Promise.all([workers.run({ value: 2, delayMs: 50 }), workers.run({ value: 3 })]);
    expect(busy.threadId).toBe(first.threadId);
    expect(waiting).toMatchObject({ doubled: 6, threadId: first.threadId });
  });

  it('fails the waiting tasks one by one when a worker cannot load its module, without starting workers forever', async () => {
    const workers = pool(1, 10_000, require.resolve('../support/workerTasks').replace('workerTasks', 'noSuchTasks'));
    const tasks = [1, 2].map((value) => workers.run({ value }));
    for (const task of tasks) await expect(task).rejects.toThrow(/The test worker failed: Cannot find module .*noSuchTasks/);
  });

  it('ends a worker idle for idleMs; the next task starts another', async () => {
    const workers = pool(1, 200);
    const first = await workers.run({ value: 1 });
    expect((await workers.run({ value: 2 })).threadId).toBe(first.threadId);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await workers.run({ value: 3 })).threadId).not.toBe(first.threadId);
  });

  it('starts no worker while another is ending (nodejs/node#56312): a task waits for the end, then gets a fresh worker', async () => {
    // Each worker counts itself in memory shared with this thread as it starts.
    const started = new Int32Array(new SharedArrayBuffer(4));
    const source = `
      const { parentPort, workerData, threadId } = require('node:worker_threads');
      Atomics.add(workerData.started, 0, 1);
      parentPort.on('message', (value) => parentPort.postMessage({ value: { threadId, value } }));
    `;
    const workers = new WorkerPool<number, { threadId: number; value: number }>({
      script: { source, workerData: { started } },
      size: 1,
      idleMs: 50,
      label: 'test worker',
    });
    // The end of this pool's idle worker is held until released (a thread that takes its time to exit).
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let watched = -1;
    let ending = false;
    const terminate = Worker.prototype.terminate;
    const spy = jest.spyOn(Worker.prototype, 'terminate').mockImplementation(function (this: Worker) {
      const ended = terminate.call(this);
      if (this.threadId !== watched) return ended;
      ending = true;
      return ended.then(async (code) => (await released, code));
    });
    try {
      const first = await workers.run(1);
      watched = first.threadId;
      for (let waited = 0; !ending; waited += 10) {
        if (waited > 5000) throw new Error('the idle worker was not ended');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const second = workers.run(2);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(Atomics.load(started, 0)).toBe(1);
      release();
      const answer = await second;
      expect(answer.value).toBe(2);
      expect(answer.threadId).not.toBe(first.threadId);
      expect(Atomics.load(started, 0)).toBe(2);
    } finally {
      release();
      spy.mockRestore();
    }
  });

  it("prefers an idle worker that has the task's key, and tells the request whether the chosen worker has it", async () => {
    // A script of its own: it remembers the keys it was sent with their payload, as the XSD workers keep schemas.
    const source = `
      const { parentPort, threadId } = require('node:worker_threads');
      // Taking a new key takes a while, as compiling a schema does, so the first two tasks go to two workers.
      const kept = new Map();
      parentPort.on('message', ({ key, payload }) => {
        if (payload !== undefined) {
          kept.set(key, payload);
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
        }
        if (!kept.has(key)) parentPort.postMessage({ failure: 'no ' + key + ' here' });
        else parentPort.postMessage({ value: { threadId, payload: kept.get(key) } });
      });
    `;
    const workers = new WorkerPool<{ key: string; payload?: string }, { threadId: number; payload: string }>({
      script: { source },
      size: 2,
      idleMs: 10_000,
      label: 'keyed worker',
    });
    const sent: boolean[] = [];
    const task = (key: string) =>
      workers.run((hasKey) => (sent.push(hasKey), { key, payload: hasKey ? undefined : `schema ${key}` }), { key });
    const [a, b] = await Promise.all([task('A'), task('B')]);
    expect(new Set([a.threadId, b.threadId]).size).toBe(2);
    // Each later task goes to the worker that has its key, with nothing more sent.
    for (const [key, first] of [
      ['B', b],
      ['A', a],
      ['B', b],
    ] as const) {
      const again = await task(key);
      expect(again).toEqual({ threadId: first.threadId, payload: `schema ${key}` });
    }
    expect(sent).toEqual([false, false, true, true, true]);
  });
});
