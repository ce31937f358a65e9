/**
 * Worker threads that run one exported function of one module, for CPU-bound work that would otherwise hold the
 * host's event loop (n8n, Node-RED) and use one core of several. Tasks are taken in order by the first idle worker;
 * workers start when needed (at most `size`), stay for the next burst, and end after `idleMs` without work. An idle
 * worker does not keep the process alive.
 *
 * The module is loaded in the worker by path. Running from the TypeScript sources (tests under ts-jest), the worker
 * compiles them with `typescript` (a development dependency) as it loads them; the built package loads its `.js`.
 */
import { Worker, type ResourceLimits, type Transferable } from 'node:worker_threads';

/** What the worker's function returns: the answer, and the buffers in it to move to the caller rather than copy. */
export interface WorkerAnswer<Answer> {
  value: Answer;
  transfer?: Transferable[];
}

export interface WorkerPoolOptions {
  /** The module's file (`require.resolve` of it) and the name of the function it exports for the workers. */
  modulePath: string;
  functionName: string;
  /** Most workers at once. */
  size: number;
  /** A worker without work for this long ends. */
  idleMs: number;
  /** V8 heap limits of each worker (`new Worker` `resourceLimits`). */
  resourceLimits?: ResourceLimits;
  /** Names the workers in errors, e.g. "package worker". */
  label: string;
}

interface Task {
  request: unknown;
  transfer?: Transferable[];
  resolve(answer: unknown): void;
  reject(error: Error): void;
}

interface PoolWorker {
  worker: Worker;
  task?: Task;
  idleTimer?: NodeJS.Timeout;
}

/** The worker's script, run by Node.js as it is: loads the module (compiling TypeScript sources first) and answers each message. */
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
parentPort.on('message', async (request) => {
  try {
    const { value, transfer } = await run(request);
    parentPort.postMessage({ value }, transfer || []);
  } catch (error) {
    parentPort.postMessage({ failure: error && error.message ? error.message : String(error) });
  }
});
`;

export class WorkerPool<Request, Answer> {
  private readonly workers: PoolWorker[] = [];
  private readonly queue: Task[] = [];

  constructor(private readonly options: WorkerPoolOptions) {}

  /** Most workers at once. */
  get size(): number {
    return this.options.size;
  }

  /** The function's answer to `request` from a worker; `transfer` lists buffers of the request to move rather than copy. */
  run(request: Request, transfer?: Transferable[]): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      this.queue.push({ request, transfer, resolve: resolve as (answer: unknown) => void, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.workers.find((w) => !w.task) ?? (this.workers.length < this.options.size ? this.spawn() : undefined);
      if (!worker) return;
      const task = this.queue.shift()!;
      clearTimeout(worker.idleTimer);
      worker.task = task;
      // A busy worker keeps the process alive until it answers; an idle one does not.
      worker.worker.ref();
      worker.worker.postMessage(task.request, task.transfer ?? []);
    }
  }

  private spawn(): PoolWorker {
    const { modulePath, functionName, resourceLimits } = this.options;
    const typescriptPath = modulePath.endsWith('.ts') ? require.resolve('typescript') : undefined;
    const entry: PoolWorker = {
      worker: new Worker(BOOT_SOURCE, { eval: true, workerData: { modulePath, functionName, typescriptPath }, resourceLimits }),
    };
    entry.worker.on('message', (message: { value?: unknown; failure?: string }) => {
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
      void entry.worker.terminate();
    }, this.options.idleMs);
    entry.idleTimer.unref();
  }

  /** A worker that died: its task fails (not the others), and the next task gets a fresh worker. */
  private lose(entry: PoolWorker, reason: string): void {
    if (!this.remove(entry)) return;
    clearTimeout(entry.idleTimer);
    entry.task?.reject(new Error(reason));
    this.dispatch();
  }

  private remove(entry: PoolWorker): boolean {
    const index = this.workers.indexOf(entry);
    if (index < 0) return false;
    this.workers.splice(index, 1);
    return true;
  }
}
