/**
 * The worker pool behind batch packages: tasks answered by real worker threads (loading this TypeScript module as the
 * package loads its built one), at most `size` at once, a failing task or a dying worker failing only its own task,
 * idle workers ending.
 */
import { WorkerPool } from '../../shared/util/workerPool';
import type { EchoRequest } from '../support/workerTasks';

type EchoAnswer = { doubled: number; threadId: number; bytes: Uint8Array };

function pool(size: number, idleMs = 10_000): WorkerPool<EchoRequest, EchoAnswer> {
  return new WorkerPool({
    modulePath: require.resolve('../support/workerTasks'),
    functionName: 'echo',
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

  it('ends a worker idle for idleMs; the next task starts another', async () => {
    const workers = pool(1, 200);
    const first = await workers.run({ value: 1 });
    expect((await workers.run({ value: 2 })).threadId).toBe(first.threadId);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await workers.run({ value: 3 })).threadId).not.toBe(first.threadId);
  });
});
