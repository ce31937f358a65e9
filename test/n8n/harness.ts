/**
 * Runs the KSeF n8n node in-process with n8n's own execution engine: n8n-workflow's `Workflow` and n8n-core's
 * `WorkflowExecute` (the code behind "Execute workflow"), so `continueOnFail`, the error output of
 * `onError: 'continueErrorOutput'`, `pairedItem`, binary data and credentials behave as in n8n. n8n's own
 * NodeTestHarness is internal to its monorepo; this is the same idea on n8n-core's public exports.
 *
 * n8n-core and n8n-workflow come from the n8n 2.41.1 install of the real-host suite (test/hosts/ensure-hosts.sh,
 * `~/.cache/ksef-flow-hosts` or `KSEF_HOSTS_CACHE`): the exact code n8n runs, one copy of n8n-workflow for n8n-core
 * and our node as in a real n8n (our package declares it a peer), and no n8n 2.41 dependency tree (isolated-vm
 * needs Node 24 to build) in our own `npm ci`. Without that install the suites skip and say why.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type {
  ICredentialDataDecryptedObject,
  IDataObject,
  ILoadOptionsFunctions,
  INode,
  INodeExecutionData,
  INodeType,
  INodeTypes,
  IPollFunctions,
  IRun,
  IWorkflowExecuteAdditionalData,
  Workflow as WorkflowType,
} from 'n8n-workflow';

/** Where test/hosts/ensure-hosts.sh installs n8n, with the same variables. */
function n8nDir(): string {
  const cache = process.env.KSEF_HOSTS_CACHE ?? path.join(os.homedir(), '.cache', 'ksef-flow-hosts');
  return path.join(cache, `n8n-${process.env.KSEF_N8N_VERSION ?? '2.41.1'}`);
}
const N8N_DIR = n8nDir();
const MODULES = path.join(N8N_DIR, 'node_modules');

/** Whether n8n 2.41.1 is installed where the harness looks; the suites use `describe.skip` otherwise. */
export const n8nAvailable = fs.existsSync(path.join(MODULES, 'n8n-core', 'package.json'));
export const describeWithN8n: jest.Describe = n8nAvailable ? describe : describe.skip;
if (!n8nAvailable) {
  console.warn(
    `In-process n8n tests skipped: no n8n install in ${N8N_DIR}. Run 'bash test/hosts/ensure-hosts.sh' (or set KSEF_HOSTS_CACHE).`,
  );
}

// Our node's `import ... from 'n8n-workflow'` gets n8n's copy, as it does inside n8n: NodeOperationError and
// friends must be the classes n8n-core checks with instanceof. ts-jest hoists this above the imports, so it calls
// the hoisted function declaration rather than the constants above. Without n8n the suites skip and our own
// devDependency copy only lets the modules load.
jest.mock('n8n-workflow', () => {
  const n8nCopy = path.join(n8nDir(), 'node_modules', 'n8n-workflow');
  return jest.requireActual(fs.existsSync(n8nCopy) ? n8nCopy : 'n8n-workflow');
});

import { KsefApi } from '../../credentials/KsefApi.credentials';
import { Ksef } from '../../nodes/n8n/Ksef/Ksef.node';
import { KsefTrigger } from '../../nodes/n8n/KsefTrigger/KsefTrigger.node';
import { ensureEmbeddedSandbox } from '../../sandbox';

// The credential's embedded sandbox lives as long as the process in n8n; a test file ends it so Jest can exit.
if (n8nAvailable) {
  afterAll(async () => {
    await (await ensureEmbeddedSandbox()).close();
  });
}

// n8n-core and @n8n/di are loaded from the n8n install, so their types are not in our node_modules.
let core: { n8nCore: any; workflow: typeof import('n8n-workflow'); di: any } | undefined;

/** n8n-core and its container services, set up once per test file (binary data kept in memory, mode 'default'). */
function n8n(): NonNullable<typeof core> {
  if (core) return core;
  process.env.N8N_USER_FOLDER ??= fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-n8n-harness-'));
  const n8nCore = require(path.join(MODULES, 'n8n-core'));
  const di = require(path.join(MODULES, '@n8n', 'di'));
  const backendCommon = require(path.join(MODULES, '@n8n', 'backend-common'));
  const silent = {
    error() {},
    warn() {},
    info() {},
    debug() {},
    scoped() {
      return silent;
    },
  };
  di.Container.set(backendCommon.Logger, silent);
  di.Container.set(n8nCore.ErrorReporter, { error() {}, warn() {}, info() {} });
  const binaryData = new n8nCore.BinaryDataService(
    {
      mode: 'default',
      availableModes: ['default'],
      localStoragePath: path.join(process.env.N8N_USER_FOLDER, 'binaryData'),
      signingSecret: 'harness',
    },
    di.Container.get(n8nCore.ErrorReporter),
    silent,
  );
  di.Container.set(n8nCore.BinaryDataService, binaryData);
  core = { n8nCore, workflow: require(path.join(MODULES, 'n8n-workflow')), di };
  return core;
}

const KSEF_TYPE = 'n8n-nodes-ksef.ksef';
const TRIGGER_TYPE = 'n8n-nodes-ksef.ksefTrigger';
const START_TYPE = 'harness.start';
const CREDENTIAL_ID = 'harness-ksef-credential';

/** An input item as a test writes it: JSON, and binary properties given as text (stored by n8n's binary helpers). */
export interface InputItem {
  json?: IDataObject;
  binary?: Record<string, { text: string; fileName?: string; mimeType?: string }>;
}

/** The `ksefApi` credential: its declared defaults (environment: the embedded sandbox) overlaid with `data`. */
function credentialData(data: ICredentialDataDecryptedObject): ICredentialDataDecryptedObject {
  const defaults: ICredentialDataDecryptedObject = {};
  for (const property of new KsefApi().properties) {
    if (property.type !== 'notice' && property.default !== undefined) defaults[property.name] = property.default as string;
  }
  return { ...defaults, ...data };
}

/** Only what n8n-core asks of the credentials helper for a node that does its own HTTP (the engine does). */
function credentialsHelper(data: ICredentialDataDecryptedObject): IWorkflowExecuteAdditionalData['credentialsHelper'] {
  return {
    getParentTypes: () => [],
    isCredentialUsableByNode: () => true,
    getDecrypted: async () => credentialData(data),
    getCredentialsProperties: () => new KsefApi().properties,
  } as unknown as IWorkflowExecuteAdditionalData['credentialsHelper'];
}

function additionalData(credentials: ICredentialDataDecryptedObject, hooks?: unknown): IWorkflowExecuteAdditionalData {
  return {
    credentialsHelper: credentialsHelper(credentials),
    hooks,
    executionId: 'harness-execution',
    currentNodeExecutionIndex: 0,
    restApiUrl: 'http://localhost/rest',
    instanceBaseUrl: 'http://localhost/',
    formBaseUrl: 'http://localhost/form',
    formWaitingBaseUrl: 'http://localhost/form-waiting',
    formTestBaseUrl: 'http://localhost/form-test',
    webhookBaseUrl: 'http://localhost/webhook',
    webhookWaitingBaseUrl: 'http://localhost/webhook-waiting',
    webhookTestBaseUrl: 'http://localhost/webhook-test',
    mcpBaseUrl: 'http://localhost/mcp',
    mcpTestBaseUrl: 'http://localhost/mcp-test',
    variables: {},
    executeWorkflow: async () => {
      throw new Error('not in the harness');
    },
    getRunExecutionData: async () => undefined,
  } as unknown as IWorkflowExecuteAdditionalData;
}

/** A Manual Trigger stand-in: emits the test's items, binary data stored through n8n's own helper. */
function startNodeType(items: InputItem[]): INodeType {
  return {
    description: {
      displayName: 'Start',
      name: START_TYPE,
      group: ['trigger'],
      version: 1,
      description: '',
      defaults: { name: 'Start' },
      inputs: [],
      outputs: ['main'],
      properties: [],
    } as unknown as INodeType['description'],
    async execute() {
      const out: INodeExecutionData[] = [];
      for (const [index, item] of items.entries()) {
        const binary: INodeExecutionData['binary'] = {};
        for (const [name, file] of Object.entries(item.binary ?? {})) {
          binary[name] = await this.helpers.prepareBinaryData(
            Buffer.from(file.text, 'utf8'),
            file.fileName,
            file.mimeType ?? 'application/xml',
          );
        }
        out.push({ json: item.json ?? {}, ...(item.binary && { binary }), pairedItem: { item: index } });
      }
      return [out];
    },
  };
}

function nodeTypes(start: INodeType): INodeTypes {
  const ksef = new Ksef();
  const trigger = new KsefTrigger();
  const byName = (name: string) => (name === KSEF_TYPE ? ksef : name === START_TYPE ? start : name === TRIGGER_TYPE ? trigger : undefined);
  return {
    getByName: (name: string) => byName(name)!,
    getByNameAndVersion: (name: string) => byName(name)!,
    getKnownTypes: () => ({}),
  } as INodeTypes;
}

function ksefNode(parameters: INode['parameters'], settings: Partial<INode> = {}): INode {
  return {
    id: 'ksef-node',
    name: 'KSeF',
    type: KSEF_TYPE,
    typeVersion: 1,
    position: [200, 0],
    parameters,
    credentials: { ksefApi: { id: CREDENTIAL_ID, name: 'KSeF API' } },
    ...settings,
  };
}

export interface RunOptions {
  /** The KSeF node's parameters, as the editor saves them. */
  parameters: INode['parameters'];
  items?: InputItem[];
  /** Node settings, e.g. `{ onError: 'continueErrorOutput' }` or `{ onError: 'continueRegularOutput' }`. */
  settings?: Partial<INode>;
  /** The credential's fields; unset ones take their defaults (the embedded sandbox). */
  credentials?: ICredentialDataDecryptedObject;
}

export interface NodeRun {
  /** The KSeF node's outputs: `[0]` the main output, `[1]` the error output when it is on. */
  outputs: INodeExecutionData[][];
  /** The node's error when the workflow stopped on it. */
  error?: Error & { description?: string; context?: IDataObject };
  run: IRun;
}

/** Runs Start -> KSeF through n8n-core's WorkflowExecute and returns the KSeF node's run. */
export async function runKsefNode({ parameters, items = [{}], settings, credentials = {} }: RunOptions): Promise<NodeRun> {
  const { n8nCore, workflow: n8nWorkflow } = n8n();
  const start: INode = { id: 'start-node', name: 'Start', type: START_TYPE, typeVersion: 1, position: [0, 0], parameters: {} };
  const ksef = ksefNode(parameters, settings);
  const workflow: WorkflowType = new n8nWorkflow.Workflow({
    id: 'harness-workflow',
    name: 'Harness',
    nodes: [start, ksef],
    connections: { Start: { main: [[{ node: ksef.name, type: 'main', index: 0 }]] } },
    active: false,
    nodeTypes: nodeTypes(startNodeType(items)),
    settings: { executionOrder: 'v1' },
  });
  const hooks = new n8nCore.ExecutionLifecycleHooks('manual', 'harness-execution', {
    id: workflow.id,
    name: workflow.name,
    nodes: [start, ksef],
    connections: {},
    active: false,
    settings: {},
  });
  const execute = new n8nCore.WorkflowExecute(additionalData(credentials, hooks), 'manual');
  const run: IRun = await execute.run({ workflow, startNode: start });
  const task = run.data.resultData.runData[ksef.name]?.[0];
  const outputs = (task?.data?.main ?? []).map((output) => output ?? []);
  return { outputs, error: (task?.error ?? run.data.resultData.error) as NodeRun['error'], run };
}

/** The text of a binary property of an output item, read through n8n's binary data service. */
export async function binaryText(item: INodeExecutionData, property: string): Promise<string> {
  const { n8nCore, di } = n8n();
  return (await di.Container.get(n8nCore.BinaryDataService).getAsBuffer(item.binary![property])).toString('utf8');
}

function standaloneWorkflow(parameters: INode['parameters']): { workflow: WorkflowType; node: INode } {
  const { workflow: n8nWorkflow } = n8n();
  const node = ksefNode(parameters);
  const workflow: WorkflowType = new n8nWorkflow.Workflow({
    id: 'harness-workflow',
    nodes: [node],
    connections: {},
    active: true,
    nodeTypes: nodeTypes(startNodeType([])),
  });
  return { workflow, node };
}

/** The `this` of a polling trigger's `poll`, as n8n-core builds it for an active workflow. */
export function pollContext(parameters: INode['parameters'] = {}, credentials: ICredentialDataDecryptedObject = {}): IPollFunctions {
  const { n8nCore } = n8n();
  const { workflow, node } = standaloneWorkflow(parameters);
  return new n8nCore.PollContext(workflow, node, additionalData(credentials), 'trigger', 'activate');
}

/** The `this` of a load-options method, as n8n-core builds it for the editor. */
export function loadOptionsContext(
  parameters: INode['parameters'] = {},
  credentials: ICredentialDataDecryptedObject = {},
): ILoadOptionsFunctions {
  const { n8nCore } = n8n();
  const { workflow, node } = standaloneWorkflow(parameters);
  return new n8nCore.LoadOptionsContext(workflow, node, additionalData(credentials), 'parameters');
}

/**
 * The KSeF Trigger's `poll`, run as n8n runs it: for an active workflow (mode 'trigger') whose static data is
 * `staticData` (what n8n loaded from its database), or for "Fetch Test Event" (mode 'manual'). Returns what the
 * poll returned and the static data as the workflow holds it afterwards (a copy, as n8n would save it).
 */
export async function pollTrigger({
  parameters,
  credentials = {},
  staticData = {},
  mode = 'trigger',
  pollBudgetMs,
}: {
  parameters: INode['parameters'];
  credentials?: ICredentialDataDecryptedObject;
  staticData?: IDataObject;
  mode?: 'trigger' | 'manual';
  /** The time n8n gives the poll (its scheduler's `getPollBudgetMs`); n8n-core's own default when not given. */
  pollBudgetMs?: number;
}): Promise<{ items: INodeExecutionData[] | null; staticData: IDataObject }> {
  const { n8nCore, workflow: n8nWorkflow } = n8n();
  const node: INode = {
    id: 'ksef-trigger-node',
    name: 'KSeF Trigger',
    type: TRIGGER_TYPE,
    typeVersion: 1,
    position: [0, 0],
    parameters,
    credentials: { ksefApi: { id: CREDENTIAL_ID, name: 'KSeF API' } },
  };
  const workflow: WorkflowType = new n8nWorkflow.Workflow({
    id: 'harness-workflow',
    nodes: [node],
    connections: {},
    active: mode === 'trigger',
    nodeTypes: nodeTypes(startNodeType([])),
    staticData: JSON.parse(JSON.stringify(staticData)) as IDataObject,
  });
  const context: IPollFunctions = new n8nCore.PollContext(
    workflow,
    node,
    additionalData(credentials),
    mode,
    mode === 'manual' ? 'manual' : 'activate',
    // n8n-core 2.x: emit, emitError, commitCursor, runPoll and the static data resolver keep their defaults.
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    pollBudgetMs === undefined ? undefined : () => pollBudgetMs,
  );
  const output = await new KsefTrigger().poll.call(context);
  const { __dataChanged, ...saved } = JSON.parse(JSON.stringify(workflow.staticData)) as IDataObject;
  void __dataChanged;
  return { items: output?.[0] ?? null, staticData: saved };
}
