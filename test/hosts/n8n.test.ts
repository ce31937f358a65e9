/**
 * The packed package in a real n8n 2.41 on Node 24: the example workflow sends its invoices to the embedded
 * sandbox (started inside the n8n process); with one broken invoice, "On Error: Continue" still gets KSeF numbers
 * for the others, and without it the error names the invoices already in KSeF; the credential's Test button
 * authenticates through the n8n server. Needs test/hosts/ensure-hosts.sh to have run.
 */
import { isValidKsefNumber } from '../../shared/model/ksefNumber';
import {
  N8nHost,
  nodeOutput,
  readExampleWorkflow,
  workflowNode,
  type ExecutionItem,
  type Workflow,
  type WorkflowRun,
} from './support/n8nHost';

const SANDBOX_NIP = '1234563218';
const SEND_NODE = 'Send to KSeF';
const CODE_NODE = 'Demo invoices (FA(3) XML)';
const TO_FILE_NODE = 'Invoice XML to file';

const exampleWorkflow = readExampleWorkflow('send-invoices.workflow.json');

/**
 * The example's three invoices with the second replaced by text that is not XML, turned into files by n8n's own
 * Convert to File node (so the XML arrives as binary data).
 */
function brokenInvoiceWorkflow(id: string, continueOnFail: boolean): Workflow {
  const workflow = structuredClone(exampleWorkflow);
  workflow.id = id;
  workflow.name = `KSeF: one broken invoice${continueOnFail ? ', on error continue' : ''}`;
  const code = workflowNode(workflow, CODE_NODE);
  code.parameters.jsCode = [
    `const invoices = (() => {\n${code.parameters.jsCode as string}\n})();`,
    `invoices[1].json.xml = 'This is not an invoice';`,
    'return invoices;',
  ].join('\n');
  const send = workflowNode(workflow, SEND_NODE);
  send.parameters = { ...send.parameters, xmlSource: 'binary', binaryPropertyName: 'data' };
  if (continueOnFail) send.onError = 'continueRegularOutput';
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

function expectAcceptedWithUpo(host: N8nHost, item: ExecutionItem): void {
  const ksefNumber = item.json.ksefNumber as string;
  expect(item.json.error).toBeUndefined();
  expect(isValidKsefNumber(ksefNumber)).toBe(true);
  expect(ksefNumber.startsWith(`${SANDBOX_NIP}-`)).toBe(true);
  expect(item.json).toMatchObject({ accepted: true, pending: false, status: { code: 200 } });
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
  let runs: Record<string, WorkflowRun>;
  // execute-batch skips workflow ids without a digit.
  const continuingWorkflow = brokenInvoiceWorkflow('KsefOneBroken002', true);
  const stoppingWorkflow = brokenInvoiceWorkflow('KsefOneBroken003', false);

  beforeAll(async () => {
    host = await N8nHost.withPackedPackage();
    const sendNode = workflowNode(exampleWorkflow, SEND_NODE);
    const credentialRef = sendNode.credentials!.ksefApi;
    await host.importCredentials([
      {
        ...credentialRef,
        type: 'ksefApi',
        data: { environment: 'sandbox', contextIdentifierType: 'Nip', contextIdentifierValue: '', ksefToken: '' },
      },
    ]);
    const workflows = [exampleWorkflow, continuingWorkflow, stoppingWorkflow];
    await host.importWorkflows(workflows);
    runs = await host.executeBatch(workflows.map((workflow) => workflow.id));
  });

  afterAll(async () => {
    await host?.cleanup();
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
    });
    expect(new Set(results.map((item) => item.json.sessionReferenceNumber)).size).toBe(1);
    expect(new Set(results.map((item) => item.json.ksefNumber)).size).toBe(results.length);
  });

  test('with On Error: Continue, a broken invoice gets an error item and the others are still accepted', () => {
    const run = runs[continuingWorkflow.id];
    expect({ status: run.status, error: run.error }).toEqual({ status: 'success', error: undefined });
    const [first, broken, third] = nodeOutput(run, SEND_NODE);
    expectAcceptedWithUpo(host!, first);
    expectAcceptedWithUpo(host!, third);
    expect(broken.pairedItem).toEqual({ item: 1 });
    expect(broken.json).toMatchObject({ accepted: false, pending: false, errorDetails: { name: 'KsefInputError' } });
    expect(broken.json.ksefNumber).toBeUndefined();
    expect(broken.binary).toBeUndefined();
    expect(broken.json.error).toMatch(/^The invoice of item 1 cannot be sent: .*not well-formed XML/);
  });

  test('without it, the workflow stops at the broken invoice and names the invoices already in KSeF', () => {
    const run = runs[stoppingWorkflow.id];
    expect(run.status).toBe('error');
    // execute-batch reports the error's description: the KSeF numbers the user must not send again.
    expect(run.error).toMatch(
      new RegExp(`^Do not send the accepted invoices again: ${SANDBOX_NIP}-\\S+, ${SANDBOX_NIP}-\\S+\\. .* on node ${SEND_NODE}$`),
    );
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
      const refused = await server.testCredential('ksefApi', { ...sandboxDefaults, contextIdentifierValue: SANDBOX_NIP, ksefToken: wrongToken });
      expect(refused.status).toBe('Error');
      expect(refused.message).toMatch(/\b450\b.*Fix 'KSeF Token' in the 'KSeF API' credential\. KSeF did not accept the KSeF token: .*\.$/);
      expect(refused.message).not.toContain(wrongToken);

      const icon = await server.fetch('/icons/@ksef-flow/n8n-nodes-ksef/dist/nodes/n8n/Ksef/ksef.svg');
      expect(icon.status).toBe(200);
      expect(await icon.text()).toMatch(/^<svg[^>]+viewBox="0 0 60 60"/);
    } finally {
      await server.stop();
    }
  });
});
