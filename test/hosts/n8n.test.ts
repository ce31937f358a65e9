/**
 * The packed package in a real n8n 2.41 on Node 24: the example workflow sends its invoices to the embedded
 * sandbox (started inside the n8n process); with "On Error: Continue (using error output)" an accepted invoice goes
 * to the first output and the rejected and unsendable ones to the error output, each with its own error, and Get
 * Status reads the accepted one back by reference and by KSeF number; without it, the error names the failed
 * invoice as the editor does and lists the invoices already in KSeF, which Get Status then reads back; the
 * credential's Test button authenticates through the n8n server. Needs test/hosts/ensure-hosts.sh to have run.
 */
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import {
  N8nHost,
  nodeOutput,
  readExampleWorkflow,
  workflowNode,
  type ExecutionItem,
  type Workflow,
  type WorkflowNode,
  type WorkflowRun,
} from './support/n8nHost';

const SANDBOX_NIP = '1234563218';
const SEND_NODE = 'Send to KSeF';
const CODE_NODE = 'Demo invoices (FA(3) XML)';
const TO_FILE_NODE = 'Invoice XML to file';
const READ_BACK_NODE = 'Read back';
const READ_BACK_BY_KSEF_NUMBER_NODE = 'Read back by KSeF number';
const RECHECK_NODE = 'Recheck failed';
const SEND_AGAIN_NODE = 'Send the accepted one again';
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const exampleWorkflow = readExampleWorkflow('send-invoices.workflow.json');
const credentialRef = workflowNode(exampleWorkflow, SEND_NODE).credentials!;
/** A sandbox outside n8n, so what one n8n process sent another can read back (the embedded one lives and dies with n8n). */
const sharedSandboxRef = { ksefApi: { id: 'KsefSharedSandbox1', name: 'KSeF sandbox outside n8n' } };

/**
 * The example's three invoices, each with an ERP id, changed by `changes` (JavaScript run on `invoices` in the
 * Code node). A KSeF rejection: an issue date (P_1) after the day KSeF receives it, which KSeF rejects with 450.
 */
function exampleWith(id: string, name: string, changes: string[]): Workflow {
  const workflow = structuredClone(exampleWorkflow);
  workflow.id = id;
  workflow.name = name;
  const code = workflowNode(workflow, CODE_NODE);
  code.parameters.jsCode = [
    `const invoices = (() => {\n${code.parameters.jsCode as string}\n})();`,
    'invoices.forEach((invoice, i) => { invoice.json.erpId = `ERP-${i + 1}`; });',
    'const issuedNextMonth = (invoice) => { invoice.json.xml = invoice.json.xml.replace(/<P_1>[^<]*<\\/P_1>/, `<P_1>${$now.plus({ days: 30 }).toISODate()}</P_1>`); };',
    ...changes,
    'return invoices;',
  ].join('\n');
  return workflow;
}

let nodeCount = 0;
function ksefNode(name: string, parameters: Record<string, unknown>, onError?: string): WorkflowNode {
  nodeCount += 1;
  return {
    id: `2f0c1a4e-8a51-4c36-9d0e-7a1e3c6b2${String(nodeCount).padStart(3, '0')}`,
    name,
    type: '@ksef-flow/n8n-nodes-ksef.ksef',
    typeVersion: 1,
    position: [660 + 220 * nodeCount, 0],
    parameters,
    credentials: credentialRef,
    ...(onError && { onError }),
  };
}

/**
 * Good, rejected by KSeF, not XML at all; error output on, input fields kept. The accepted invoice is read back by
 * reference number and then by KSeF number; the failed ones are read again by reference number (error output on).
 */
function errorOutputWorkflow(): Workflow {
  const workflow = exampleWith('KsefErrorOutput002', 'KSeF: error output and Get Status', [
    'issuedNextMonth(invoices[1]);',
    "invoices[2].json.xml = 'This is not an invoice';",
  ]);
  const send = workflowNode(workflow, SEND_NODE);
  send.onError = 'continueErrorOutput';
  send.parameters.options = { includeInputFields: true };
  workflow.nodes.push(
    ksefNode(READ_BACK_NODE, { resource: 'invoice', operation: 'getStatus', options: { includeInputFields: true } }),
    ksefNode(READ_BACK_BY_KSEF_NUMBER_NODE, { resource: 'invoice', operation: 'getStatus', findBy: 'ksefNumber', downloadUpo: false }),
    // Include Input Fields brought the XML along: the very same invoice is sent again.
    ksefNode(SEND_AGAIN_NODE, { resource: 'invoice', operation: 'send', xmlSource: 'text', xml: '={{ $json.xml }}' }),
    ksefNode(
      RECHECK_NODE,
      {
        resource: 'invoice',
        operation: 'getStatus',
        sessionReferenceNumber: '={{ $json.details.sessionReferenceNumber }}',
        invoiceReferenceNumber: '={{ $json.details.referenceNumber }}',
      },
      'continueErrorOutput',
    ),
  );
  const to = (node: string) => [{ node, type: 'main', index: 0 }];
  workflow.connections[SEND_NODE] = { main: [[...to(READ_BACK_NODE), ...to(SEND_AGAIN_NODE)], to(RECHECK_NODE)] };
  workflow.connections[READ_BACK_NODE] = { main: [to(READ_BACK_BY_KSEF_NUMBER_NODE)] };
  return workflow;
}

/** Good, rejected by KSeF, good; the XML arrives as files (n8n's Convert to File); On Error is 'Stop Workflow'. */
function stoppingWorkflow(): Workflow {
  const workflow = exampleWith('KsefStopping003', 'KSeF: stops at a rejected invoice', ['issuedNextMonth(invoices[1]);']);
  const send = workflowNode(workflow, SEND_NODE);
  send.parameters = { ...send.parameters, xmlSource: 'binary', binaryPropertyName: 'data' };
  send.credentials = sharedSandboxRef;
  workflow.nodes.push({
    id: '2f0c1a4e-8a51-4c36-9d0e-7a1e3c6b1004',
    name: TO_FILE_NODE,
    type: 'n8n-nodes-base.convertToFile',
    typeVersion: 1.1,
    position: [330, 200],
    parameters: { operation: 'toText', sourceProperty: 'xml', binaryPropertyName: 'data', options: { fileName: 'invoice.xml' } },
  });
  workflow.connections[CODE_NODE] = { main: [[{ node: TO_FILE_NODE, type: 'main', index: 0 }]] };
  workflow.connections[TO_FILE_NODE] = { main: [[{ node: SEND_NODE, type: 'main', index: 0 }]] };
  return workflow;
}

/** What the stop message tells the user to do: Get Status for each listed KSeF number of the session. */
function readBackWorkflow(sessionReferenceNumber: string, ksefNumbers: string[]): Workflow {
  const workflow = structuredClone(exampleWorkflow);
  workflow.id = 'KsefReadBack004';
  workflow.name = 'KSeF: read back what a stopped workflow sent';
  const code = workflowNode(workflow, CODE_NODE);
  code.parameters.jsCode = `return ${JSON.stringify(ksefNumbers.map((ksefNumber) => ({ json: { sessionReferenceNumber, ksefNumber } })))};`;
  const send = workflowNode(workflow, SEND_NODE);
  send.parameters = { resource: 'invoice', operation: 'getStatus', findBy: 'ksefNumber' };
  send.credentials = sharedSandboxRef;
  return workflow;
}

function expectAcceptedWithUpo(host: N8nHost, item: ExecutionItem): void {
  const ksefNumber = item.json.ksefNumber as string;
  expect(item.json.error).toBeUndefined();
  expect(isValidKsefNumber(ksefNumber)).toBe(true);
  expect(ksefNumber.startsWith(`${SANDBOX_NIP}-`)).toBe(true);
  // What a person reads first, and KSeF's Polish status with its English meaning beside it.
  expect(Object.keys(item.json).slice(0, 3)).toEqual(['ksefNumber', 'invoiceNumber', 'status']);
  expect(item.json).toMatchObject({
    status: 'accepted',
    statusCode: 200,
    statusDescription: 'Sukces',
    statusMeaning: expect.stringMatching(/^Success/),
    accepted: true,
    pending: false,
  });
  expect(item.json.alreadySent).toBeUndefined();
  expect(item.json.acquisitionDate).toMatch(ISO_UTC);
  expect(item.json.invoicingDate).toMatch(ISO_UTC);
  expect(typeof item.json.sessionReferenceNumber).toBe('string');
  const upo = item.binary?.upo;
  expect(upo).toMatchObject({ mimeType: 'application/xml', fileName: `UPO-${ksefNumber}.xml` });
  const upoXml = host.readBinary(upo!).toString('utf8');
  expect(upoXml).toContain('<Potwierdzenie');
  expect(upoXml).toContain(`<NumerKSeFDokumentu>${ksefNumber}</NumerKSeFDokumentu>`);
  expect(upoXml).toContain(`<NumerFaktury>${item.json.invoiceNumber as string}</NumerFaktury>`);
}

describe('KSeF node in a real n8n', () => {
  let host: N8nHost | undefined;
  let sandbox: SandboxHandle | undefined;
  let runs: Record<string, WorkflowRun>;
  let stopped: { message: string; description?: string; node?: string };
  let readBack: { workflow: Workflow; run: WorkflowRun; sessionReferenceNumber: string; ksefNumbers: string[] };
  const errorOutput = errorOutputWorkflow();
  const stopping = stoppingWorkflow();

  beforeAll(async () => {
    [host, sandbox] = await Promise.all([N8nHost.withPackedPackage(), startSandbox()]);
    await host.importCredentials([
      {
        ...credentialRef.ksefApi,
        type: 'ksefApi',
        data: { environment: 'sandbox', contextIdentifierType: 'Nip', contextIdentifierValue: '', ksefToken: '' },
      },
      {
        ...sharedSandboxRef.ksefApi,
        type: 'ksefApi',
        data: {
          environment: 'custom',
          baseUrl: sandbox.baseUrl,
          contextIdentifierType: 'Nip',
          contextIdentifierValue: SANDBOX_NIP,
          ksefToken: sandbox.ksefToken,
        },
      },
    ]);
    const workflows = [exampleWorkflow, errorOutput, stopping];
    await host.importWorkflows(workflows);
    runs = await host.executeBatch([exampleWorkflow.id, errorOutput.id]);
    stopped = await host.executeFailing(stopping.id);

    // Follow the stop message's advice with the session and KSeF numbers it gives.
    const sessionReferenceNumber = /Session Reference Number (\S+) /.exec(stopped.description ?? '')?.[1] ?? '';
    const ksefNumbers = [...(stopped.description ?? '').matchAll(new RegExp(`${SANDBOX_NIP}-\\d{8}-[0-9A-F]{12}-[0-9A-F]{2}`, 'g'))].map(
      (m) => m[0],
    );
    const workflow = readBackWorkflow(sessionReferenceNumber, ksefNumbers);
    await host.importWorkflows([workflow]);
    readBack = { workflow, run: (await host.executeBatch([workflow.id]))[workflow.id], sessionReferenceNumber, ksefNumbers };
  });

  afterAll(async () => {
    await Promise.all([host?.cleanup(), sandbox?.close()]);
  });

  test('the example workflow sends every invoice and returns its KSeF number and UPO', () => {
    const run = runs[exampleWorkflow.id];
    expect({ status: run.status, error: run.error }).toEqual({ status: 'success', error: undefined });
    const invoices = nodeOutput(run, CODE_NODE);
    const results = nodeOutput(run, SEND_NODE);
    expect(results).toHaveLength(invoices.length);
    expect(invoices.length).toBeGreaterThanOrEqual(2);
    results.forEach((item, i) => {
      expect(item.pairedItem).toEqual({ item: i });
      expect(item.json.invoiceNumber).toBe(invoices[i].json.invoiceNumber);
      expectAcceptedWithUpo(host!, item);
      // The embedded sandbox's KSeF numbers look real: each item says the simulator answered.
      expect(item.json).toMatchObject({
        environment: 'sandbox',
        sandboxNote: expect.stringMatching(/simulator: this KSeF number and UPO are not real/),
      });
      // Input fields only with 'Include Input Fields'.
      expect(item.json.xml).toBeUndefined();
    });
    expect(new Set(results.map((item) => item.json.sessionReferenceNumber)).size).toBe(1);
    expect(new Set(results.map((item) => item.json.ksefNumber)).size).toBe(results.length);
  });

  test('with the error output, the accepted invoice goes to the first output and each failed one to the error output with its own error', () => {
    const run = runs[errorOutput.id];
    expect({ status: run.status, error: run.error }).toEqual({ status: 'success', error: undefined });
    const invoices = nodeOutput(run, CODE_NODE);
    const [accepted, ...moreAccepted] = nodeOutput(run, SEND_NODE, 0);
    expect(moreAccepted).toEqual([]);
    expect(accepted.pairedItem).toEqual({ item: 0 });
    expectAcceptedWithUpo(host!, accepted);
    expect(accepted.json).toMatchObject({ invoiceNumber: invoices[0].json.invoiceNumber, erpId: 'ERP-1' });

    // On the error output: the input item's fields (n8n adds them), `error` and the invoice's facts in `details`.
    const [rejected, unsendable, ...moreFailed] = nodeOutput(run, SEND_NODE, 1);
    expect(moreFailed).toEqual([]);
    expect(rejected.pairedItem).toEqual({ item: 1 });
    expect(rejected.json).toMatchObject({ invoiceNumber: invoices[1].json.invoiceNumber, erpId: 'ERP-2' });
    const details = rejected.json.details as Record<string, unknown>;
    expect(details).toMatchObject({
      description: expect.stringMatching(/correct it and send it again/),
      invoiceNumber: invoices[1].json.invoiceNumber,
      status: 'rejected',
      statusCode: 450,
      statusDescription: 'Błąd weryfikacji semantyki dokumentu faktury',
      statusMeaning: expect.stringMatching(/semantic/),
      accepted: false,
      referenceNumber: expect.stringMatching(/-EE-/),
      sessionReferenceNumber: accepted.json.sessionReferenceNumber,
      errorDetails: { name: 'KsefInvoiceRejectedError' },
    });
    expect(details.ksefNumber).toBeUndefined();
    expect(rejected.json.error).toBe(
      `KSeF rejected invoice ${invoices[1].json.invoiceNumber as string} (item 2): 450 Błąd weryfikacji semantyki dokumentu faktury (${details.statusMeaning as string}).` +
        ((details.statusDetails as string[] | undefined)?.length ? ` ${(details.statusDetails as string[]).join(' ')}` : ''),
    );
    expect(rejected.binary).toBeUndefined();

    expect(unsendable.pairedItem).toEqual({ item: 2 });
    expect(unsendable.json).toMatchObject({
      erpId: 'ERP-3',
      details: { status: 'notSent', accepted: false, errorDetails: { name: 'KsefInputError' } },
    });
    expect(unsendable.json.error).toMatch(/^The invoice of item 3 cannot be sent: .*not well-formed XML/);
    expect((unsendable.json.details as Record<string, unknown>).description).toMatch(/Nothing was sent to KSeF/);
  });

  test('Get Status reads the accepted invoice back by reference and by KSeF number, and a rejected one goes to its error output', () => {
    const run = runs[errorOutput.id];
    const [sent] = nodeOutput(run, SEND_NODE, 0);
    const [read] = nodeOutput(run, READ_BACK_NODE);
    expectAcceptedWithUpo(host!, read);
    expect(read.json).toMatchObject({
      ksefNumber: sent.json.ksefNumber,
      referenceNumber: sent.json.referenceNumber,
      sessionReferenceNumber: sent.json.sessionReferenceNumber,
      acquisitionDate: sent.json.acquisitionDate,
      erpId: 'ERP-1',
    });
    const [byKsefNumber] = nodeOutput(run, READ_BACK_BY_KSEF_NUMBER_NODE);
    expect(byKsefNumber.json).toMatchObject({
      ksefNumber: sent.json.ksefNumber,
      referenceNumber: sent.json.referenceNumber,
      status: 'accepted',
    });
    expect(byKsefNumber.json.erpId).toBeUndefined();
    expect(byKsefNumber.binary).toBeUndefined();

    expect(nodeOutput(run, RECHECK_NODE, 0)).toEqual([]);
    const [rejected, unsendable] = nodeOutput(run, RECHECK_NODE, 1);
    expect(rejected.json.details).toMatchObject({ status: 'rejected', statusCode: 450 });
    expect(rejected.json.error).toMatch(/^KSeF rejected invoice \S+ \(item 1\): 450 /);
    expect(unsendable.json.error).toBe("Set 'Invoice Reference Number': it is empty in item 2");
  });

  test('sending the same invoice again issues nothing new: its original KSeF number comes back marked as already sent', () => {
    const run = runs[errorOutput.id];
    const [sent] = nodeOutput(run, SEND_NODE, 0);
    const [again, ...more] = nodeOutput(run, SEND_AGAIN_NODE);
    expect(more).toEqual([]);
    expect(Object.keys(again.json).slice(0, 3)).toEqual(['ksefNumber', 'invoiceNumber', 'status']);
    expect(again.json).toMatchObject({
      ksefNumber: sent.json.ksefNumber,
      invoiceNumber: sent.json.invoiceNumber,
      status: 'alreadySent',
      alreadySent: true,
      accepted: true,
      statusCode: 440,
      statusDescription: 'Duplikat faktury',
      statusMeaning: expect.stringMatching(/^Already sent: .*nothing new was issued/),
      originalSessionReferenceNumber: sent.json.sessionReferenceNumber,
    });
    expect(again.json.sessionReferenceNumber).not.toBe(sent.json.sessionReferenceNumber);
    expect(again.json.error).toBeUndefined();
  });

  test('without the error output, the workflow stops naming the invoice as the editor does and lists what is already in KSeF', () => {
    expect(stopped.node).toBe(SEND_NODE);
    expect(stopped.message).toMatch(/^KSeF rejected invoice FV\/\S+\/2 \(item 2\): 450 Błąd weryfikacji semantyki dokumentu faktury \(/);
    const description = stopped.description ?? '';
    expect(description).toMatch(/Already in KSeF \(legally issued; do not send them again\)/);
    expect(description).toMatch(new RegExp(`^- invoice FV/\\S+/1 \\(item 1\\): ${SANDBOX_NIP}-`, 'm'));
    expect(description).toMatch(new RegExp(`^- invoice FV/\\S+/3 \\(item 3\\): ${SANDBOX_NIP}-`, 'm'));
    expect(description).toMatch(/Invoice > Get Status with Session Reference Number \S+-SO-\S+ and each KSeF number/);
    expect(description).toMatch(/On Error to 'Continue \(using error output\)'/);
  });

  test("the stop message's advice works: Get Status returns the accepted invoices' results and UPOs", () => {
    expect(readBack.ksefNumbers).toHaveLength(2);
    const { run } = readBack;
    expect({ status: run.status, error: run.error }).toEqual({ status: 'success', error: undefined });
    const results = nodeOutput(run, SEND_NODE);
    expect(results.map((item) => item.json.ksefNumber)).toEqual(readBack.ksefNumbers);
    expect(results.map((item) => item.json.invoiceNumber)).toEqual([expect.stringMatching(/\/1$/), expect.stringMatching(/\/3$/)]);
    for (const item of results) {
      expectAcceptedWithUpo(host!, item);
      expect(item.json.sessionReferenceNumber).toBe(readBack.sessionReferenceNumber);
      // Read through a credential with a base URL: no sandbox marker.
      expect(item.json.environment).toBe('custom');
      expect(item.json.sandboxNote).toBeUndefined();
    }
  });

  test("the credential's Test button authenticates for real, and the editor gets the node's icon", async () => {
    const server = await host!.startServer();
    try {
      const sandboxDefaults = { environment: 'sandbox', contextIdentifierType: 'Nip', contextIdentifierValue: '', ksefToken: '' };
      await expect(server.testCredential('ksefApi', sandboxDefaults)).resolves.toEqual({
        status: 'OK',
        message: `Authenticated to KSeF (sandbox) in context Nip ${SANDBOX_NIP}`,
      });
      const wrongToken = 'not-the-sandbox-token-5f1c9a';
      const refused = await server.testCredential('ksefApi', {
        ...sandboxDefaults,
        contextIdentifierValue: SANDBOX_NIP,
        ksefToken: wrongToken,
      });
      expect(refused.status).toBe('Error');
      expect(refused.message).toMatch(
        /^Fix 'KSeF Token' in the 'KSeF API' credential\. .*\b450\b.* KSeF did not accept the KSeF token: .*\.$/,
      );
      expect(refused.message).not.toContain(wrongToken);

      const icon = await server.fetch('/icons/@ksef-flow/n8n-nodes-ksef/dist/nodes/n8n/Ksef/ksef.svg');
      expect(icon.status).toBe(200);
      expect(await icon.text()).toMatch(/^<svg[^>]+viewBox="0 0 60 60"/);
    } finally {
      await server.stop();
    }
  });
});
