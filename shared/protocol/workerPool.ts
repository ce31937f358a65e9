/**
 * Worker threads for CPU-bound work that would otherwise hold the host's event loop (n8n, Node-RED) and use one core
 * of several: XSD validation, batch package building. Tasks are taken in order by an idle worker (one that keeps what
 * the task needs, such as a compiled schema, if there is one); workers start when tasks wait (at most `size`, and
 * never while a worker of any pool is ending), stay for the next burst, and end after `idleMs` without work. A task
 * waits in the queue, not for a given worker, while workers start: whichever worker is free first takes it, so a
 * short task never waits ~0.1-0.2 s for a thread to load its modules while another is free. An idle worker does not
 * keep the process alive.
 *
 * A worker runs either one exported function of a module, loaded by path (running from the TypeScript sources, as
 * tests under ts-jest do, the worker compiles them with `typescript`, a development dependency; the built package
 * loads its `.js`), or a script of its own, which answers each message with `{ value }` or `{ failure }`.
 */
import { availableParallelism } from 'node:os';
import { Worker, type ResourceLimits, type Transferable } from 'node:worker_threads';

/** What the worker's function returns: the answer, and the buffers in it to move to the caller rather than copy. */
export interface WorkerAnswer<Answer> {
  value: Answer;
  transfer?: Transferable[];
}

/** What a worker runs: a module's exported function (given each request, returning a `WorkerAnswer`), or a script. */
export type WorkerScript = { modulePath: string; functionName: string } | { source: string; workerData?: unknown };

export interface WorkerPoolOptions {
  script: WorkerScript;
  /** Most workers at once. */
  size: number;
  /** A worker without work for this long ends. */
  idleMs: number;
  /** V8 heap limits of each worker (`new Worker` `resourceLimits`). */
  resourceLimits?: ResourceLimits;
  /** Names the workers in errors, e.g. "batch package worker". */
  label: string;
}

export interface TaskOptions {
  /** Buffers of the request to move to the worker rather than copy. */
  transfer?: Transferable[];
  /** What a worker keeps from this task once it has run it (e.g. a compiled schema): a worker that has it is preferred. */
  key?: string;
}

interface Task {
  request: unknown;
  options: TaskOptions;
  resolve(answer: unknown): void;
  reject(error: Error): void;
}

interface PoolWorker {
  worker: Worker;
  /** It has loaded what it runs and takes tasks. */
  ready: boolean;
  task?: Task;
  idleTimer?: NodeJS.Timeout;
  /** The keys of the tasks it has run. */
  keys: Set<string>;
}

/** The script of a module's worker, run by Node.js as it is: loads the module (compiling TypeScript sources first) and answers each message. */
const BOOT_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
if (workerData.typescriptPath) {
  const fs = require('node:fs');
  const ts = require(workerData.typescriptPath);
  const compilerOptions = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true };
  require.extensions['.ts'] = (module, fileName) =>
    module._compile(ts.transpileModule(fs.readFileSync(fileName, 'utf8'), { fileName, compilerOptions }).outputText, fileName);
}
const run = require(workerData.modulePath)[workerData.functionName];
parentPort.postMessage({ ready: true });
parentPort.on('message', async (request) => {
  try {
    const { value, transfer } = await run(request);
    parentPort.postMessage({ value }, transfer || []);
  } catch (error) {
    parentPort.postMessage({ failure: error && error.message ? error.message : String(error) });
  }
});
`;

/**
 * Workers of every pool being ended. No worker starts while one is: a thread that creates its V8 isolate while
 * another worker terminates can crash the whole process (nodejs/node#56312, "Segmentation fault while terminating and
 * starting workers"), which for a host such as n8n would end every workflow it runs.
 */
const ending = new Set<Promise<unknown>>();

/** One worker per core, at most `max` (and at least one). */
export function workersPerCore(max: number): number {
  return Math.max(1, Math.min(max, availableParallelism()));
}

/**
 * `bytes` in a buffer of their own: `bytes` themselves when they span their whole buffer, else a copy. A structured
 * clone copies a view's whole ArrayBuffer, and a transfer moves all of it: a slice of a larger or pooled buffer would
 * take the rest along.
 */
export function ownBuffer<Bytes extends Uint8Array>(bytes: Bytes): Bytes | Buffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes;
  const own = Buffer.allocUnsafeSlow(bytes.byteLength);
  own.set(bytes);
  return own;
}

/** A Buffer over bytes that came from another thread (a structured clone gives a plain Uint8Array). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class WorkerPool<Request, Answer> {
  private readonly workers: PoolWorker[] = [];
  private readonly queue: Task[] = [];
  /** Workers wait to start until the workers being ended have (`ending`). */
  private waitingForEnds = false;

  constructor(private readonly options: WorkerPoolOptions) {}

  /** Most workers at once. */
  get size(): number {
    return this.options.size;
  }

  /**
   * The worker's answer to `request`; a function of whether the chosen worker already has `options.key` gives the
   * request for that worker (to send it only what it lacks).
   */
  run(request: Request | ((workerHasKey: boolean) => Request), options: TaskOptions = {}): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      this.queue.push({ request, options, resolve: resolve as (answer: unknown) => void, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const task = this.queue[0];
      const idle = this.workers.filter((w) => w.ready && !w.task);
      const { key } = task.options;
      const worker = (key === undefined ? undefined : idle.find((w) => w.keys.has(key))) ?? idle[0];
      if (!worker) return this.startWorkers();
      this.queue.shift();
      clearTimeout(worker.idleTimer);
      worker.task = task;
      // A busy worker keeps the process alive until it answers; an idle one does not.
      worker.worker.ref();
      const hasKey = key !== undefined && worker.keys.has(key);
      if (key !== undefined) worker.keys.add(key);
      const request = typeof task.request === 'function' ? (task.request as (hasKey: boolean) => Request)(hasKey) : task.request;
      worker.worker.postMessage(request, task.options.transfer ?? []);
    }
  }

  /** Starts workers for the tasks that wait, beyond those already starting (at most `size` in all), once no worker is ending. */
  private startWorkers(): void {
    if (this.waitingForEnds) return;
    if (ending.size > 0) {
      this.waitingForEnds = true;
      void Promise.allSettled([...ending]).then(() => {
        this.waitingForEnds = false;
        this.dispatch();
      });
      return;
    }
    let starting = this.workers.filter((w) => !w.ready).length;
    while (starting < this.queue.length && this.workers.length < this.options.size) {
      this.spawn();
      starting++;
    }
  }

  private spawn(): PoolWorker {
    const { script, resourceLimits } = this.options;
    let worker: Worker;
    if ('source' in script) worker = new Worker(script.source, { eval: true, workerData: script.workerData, resourceLimits });
    else {
      const { modulePath, functionName } = script;
      const typescriptPath = modulePath.endsWith('.ts') ? require.resolve('typescript') : undefined;
      worker = new Worker(BOOT_SOURCE, { eval: true, workerData: { modulePath, functionName, typescriptPath }, resourceLimits });
    }
    const entry: PoolWorker = { worker, ready: false, keys: new Set() };
    const becomeReady = () => {
      entry.ready = true;
      this.idle(entry);
      this.dispatch();
    };
    // A script of its own takes messages as soon as it runs (they wait for it); a module's worker says when it has loaded it.
    if ('source' in script) entry.worker.once('online', becomeReady);
    entry.worker.on('message', (message: { value?: unknown; failure?: string; ready?: true }) => {
      if (message.ready) return becomeReady();
      const task = entry.task;
      entry.task = undefined;
      if (message.failure !== undefined) task?.reject(new Error(`The ${this.options.label} failed: ${message.failure}`));
      else task?.resolve(message.value);
      this.idle(entry);
      this.dispatch();
    });
    entry.worker.on('error', (error) => this.lose(entry, `The ${this.options.label} failed: ${error.message}`));
    entry.worker.on('exit', (code) => this.lose(entry, `The ${this.options.label} exited with code ${code}.`));
    this.workers.push(entry);
    return entry;
  }

  private idle(entry: PoolWorker): void {
    entry.worker.unref();
    entry.idleTimer = setTimeout(() => {
      this.remove(entry);
      const ended = entry.worker.terminate();
      const forget = () => ending.delete(ended);
      ending.add(ended);
      ended.then(forget, forget);
    }, this.options.idleMs);
    entry.idleTimer.unref();
  }

  /**
   * A worker that died: its task fails (not the others), and the next task gets a fresh worker. One that died before it
   * was ready fails the first waiting task instead, so a worker that cannot start fails the tasks one by one rather
   * than being started again and again.
   */
  private lose(entry: PoolWorker, reason: string): void {
    if (!this.remove(entry)) return;
    clearTimeout(entry.idleTimer);
    const task = entry.ready ? entry.task : this.queue.shift();
    task?.reject(new Error(reason));
    this.dispatch();
  }

  private remove(entry: PoolWorker): boolean {
    const index = this.workers.indexOf(entry);
    if (index < 0) return false;
    this.workers.splice(index, 1);
    return true;
  }
}
