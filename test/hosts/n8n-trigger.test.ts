/**
 * The KSeF Trigger in a real n8n 2.41 (packed package, Node 24): the example workflow "download received invoices
 * to a spreadsheet" (KSeF Trigger -> Convert to File XLSX), published, picks up the invoices other sellers issue to
 * the demo company in a sandbox outside n8n, each exactly once across runs, with n8n restarted between runs, and
 * its XLSX has one row per invoice.
 *
 * How the polls are run: `n8n execute` runs a workflow in 'cli' mode, where n8n-core's WorkflowExecute passes a
 * polling node's input through without calling `poll` (only 'manual' mode polls, and manual runs never save static
 * data), so the CLI cannot drive a trigger. A published workflow's polling trigger is polled once at activation,
 * before its cron schedule (n8n-core ActiveWorkflowTriggers.activatePollTrigger), and n8n saves the node's static
 * data when the poll hands over items (TriggerExecutionContextFactory's emit) and after activation. So each
 * `n8n start` is one poll, and every run here is a restart: about 10 s a run instead of a minute's cron tick.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { N8nHost, nodeOutput, readExampleWorkflow, workflowNode, type N8nServer, type WorkflowRun } from './support/n8nHost';
import { sandboxCredentialData } from '../support/n8nCredential';

const EXAMPLE = readExampleWorkflow('download-received-invoices-to-spreadsheet.workflow.json');
const TRIGGER_NODE = 'New received invoices';
const XLSX_NODE = 'Invoices to XLSX';
const CREDENTIAL = { id: 'KsefTriggerSandbox1', name: 'KSeF sandbox outside n8n' };
const FROM_NOW_ID = 'KsefTriggerFromNow2';
const DAY_MS = 86_400_000;
/** How long after storage the sandbox's high-water mark passes an invoice (a sync sees it only then). */
const HWM_DELAY_MS = 500;

/** n8n's own copies of the packages that read what it stores: flatted (execution data) and SheetJS (XLSX). */
const N8N_MODULES = path.join(
  process.env.KSEF_HOSTS_CACHE ?? path.join(os.homedir(), '.cache', 'ksef-flow-hosts'),
  `n8n-${process.env.KSEF_N8N_VERSION ?? '2.41.1'}`,
  'node_modules',
);
const flatted = require(path.join(N8N_MODULES, 'flatted')) as { parse(text: string): unknown };
const xlsx = require(path.join(N8N_MODULES, '@e965', 'xlsx')) as {
  read(data: Buffer): { SheetNames: string[]; Sheets: Record<string, unknown> };
  utils: { sheet_to_json(sheet: unknown): Array<Record<string, unknown>> };
};

interface ExecutionSummary {
  id: string;
  status: string;
}

/** The workflow's finished executions, oldest first, once there are `count` of them. */
async function finishedExecutions(server: N8nServer, workflowId: string, count: number, timeoutMs = 90_000): Promise<ExecutionSummary[]> {
  const filter = encodeURIComponent(JSON.stringify({ workflowId }));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { results } = await server.restGet<{ results: ExecutionSummary[] }>(`/rest/executions?filter=${filter}`);
    const finished = results.filter(({ status }) => !['new', 'running', 'waiting'].includes(status));
    if (finished.length >= count) return finished.sort((a, b) => Number(a.id) - Number(b.id));
    if (Date.now() > deadline) throw new Error(`Expected ${count} finished executions, have ${JSON.stringify(results)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** One execution as the execute-batch snapshots give it (its run data is stored in flatted form). */
async function executionRun(server: N8nServer, id: string): Promise<WorkflowRun> {
  const execution = await server.restGet<{ status: string; data: string }>(`/rest/executions/${id}`);
  return { status: execution.status, execution: { data: flatted.parse(execution.data) as NonNullable<WorkflowRun['execution']>['data'] } };
}

describe('KSeF Trigger in n8n: received invoices to a spreadsheet, across restarts', () => {
  let host: N8nHost | undefined;
  let sandbox: SandboxHandle | undefined;
  /** Executions seen so far, per workflow. */
  const seen = new Map<string, number>();

  beforeAll(async () => {
    [host, sandbox] = await Promise.all([N8nHost.withPackedPackage(), startSandbox({ hwmDelayMs: HWM_DELAY_MS })]);
    await host.importCredentials([
      {
        ...CREDENTIAL,
        type: 'ksefApi',
        data: sandboxCredentialData(sandbox),
      },
    ]);
    const workflow = structuredClone(EXAMPLE);
    workflowNode(workflow, TRIGGER_NODE).credentials = { ksefApi: CREDENTIAL };
    // Beside it, the trigger alone starting from now, with the XML: its activation only notes the time.
    const trigger = structuredClone(workflowNode(workflow, TRIGGER_NODE));
    trigger.id = '7c4e3d2f-5a6b-4f8c-8d9e-2b3c4d5e6101';
    trigger.parameters = { ...trigger.parameters, startFrom: 'now', options: {} };
    const fromNow = { ...workflow, id: FROM_NOW_ID, name: 'KSeF Trigger from now', nodes: [trigger], connections: {} };
    await host.importWorkflows([workflow, fromNow]);
    await host.publishWorkflow(workflow.id);
    await host.publishWorkflow(FROM_NOW_ID);
  });
  afterAll(async () => {
    await Promise.all([host?.cleanup(), sandbox?.close()]);
  });

  /** Waits for the one execution the new invoices start in the workflow (the example by default), and returns it. */
  async function nextRun(server: N8nServer, workflowId = EXAMPLE.id): Promise<WorkflowRun> {
    const count = (seen.get(workflowId) ?? 0) + 1;
    seen.set(workflowId, count);
    const executions = await finishedExecutions(server, workflowId, count);
    expect(executions).toHaveLength(count);
    return await executionRun(server, executions[count - 1].id);
  }

  /** Publishes the workflow again in the running n8n: the activation polls the trigger at once. */
  async function republish(server: N8nServer): Promise<void> {
    await server.restPost(`/rest/workflows/${EXAMPLE.id}/deactivate`, {});
    const { versionId } = await server.restGet<{ versionId: string }>(`/rest/workflows/${EXAMPLE.id}`);
    await server.restPost(`/rest/workflows/${EXAMPLE.id}/activate`, { versionId });
  }

  function deliveredNumbers(run: WorkflowRun): string[] {
    expect(run.status).toBe('success');
    return nodeOutput(run, TRIGGER_NODE).map(({ json }) => json.ksefNumber as string);
  }

  test('the first run delivers the last 7 days, each later run exactly the new invoices, also after a restart; XLSX rows match; a trigger from now starts at its activation', async () => {
    const tooOld = sandbox!.seedReceived(1, { from: new Date(Date.now() - 20 * DAY_MS), to: new Date(Date.now() - 20 * DAY_MS) });
    const first = sandbox!.seedReceived(3);
    let second: string[] = [];
    let server = await host!.startServer();
    try {
      const run1 = await nextRun(server);
      expect(deliveredNumbers(run1)).toEqual(first);
      expect(deliveredNumbers(run1)).not.toContain(tooOld[0]);
      const [trigger] = nodeOutput(run1, TRIGGER_NODE);
      expect(trigger.json).toMatchObject({ buyerIdentifier: sandbox!.contextIdentifier.value, currency: expect.any(String) });
      expect(trigger.binary).toBeUndefined();
      const [file] = nodeOutput(run1, XLSX_NODE);
      expect(file.binary?.data.fileName).toMatch(/^ksef-received-\d{4}-\d{2}-\d{2}-\d{4}\.xlsx$/);
      const workbook = xlsx.read(host!.readBinary(file.binary!.data));
      expect(workbook.SheetNames).toEqual(['Received invoices']);
      const rows = xlsx.utils.sheet_to_json(workbook.Sheets['Received invoices']);
      expect(rows.map((row) => row.ksefNumber)).toEqual(first);
      expect(rows[0]).toMatchObject({
        invoiceNumber: trigger.json.invoiceNumber,
        sellerNip: trigger.json.sellerNip,
        grossAmount: trigger.json.grossAmount,
      });

      second = sandbox!.seedReceived(2);
      await new Promise((resolve) => setTimeout(resolve, HWM_DELAY_MS * 2));
      await republish(server);
      expect(deliveredNumbers(await nextRun(server))).toEqual(second);
    } finally {
      await server.stop();
    }

    const third = sandbox!.seedReceived(1);
    server = await host!.startServer();
    try {
      expect(deliveredNumbers(await nextRun(server))).toEqual(third);
      // Started from now at the first start (saved with the activation): what came after it, XML attached.
      const fromNow = await nextRun(server, FROM_NOW_ID);
      expect(deliveredNumbers(fromNow)).toEqual([...second, ...third]);
      for (const { json, binary } of nodeOutput(fromNow, TRIGGER_NODE)) {
        expect(binary?.data).toMatchObject({ fileName: `${json.ksefNumber}.xml`, mimeType: 'application/xml' });
        expect(host!.readBinary(binary!.data).toString('utf8')).toContain(`<P_2>${json.invoiceNumber}</P_2>`);
      }
    } finally {
      await server.stop();
    }
  });
});
