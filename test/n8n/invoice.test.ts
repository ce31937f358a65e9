/**
 * Invoice > Send and Invoice > Get Status in n8n's own execution engine (test/n8n/harness.ts), against the embedded
 * sandbox the credential defaults to: error output routing, continueOnFail, pairedItem, binary input and UPO
 * output, and what a stopped workflow says. The real-host suite (test/hosts/n8n.test.ts) keeps the end-to-end
 * stories with the packed package and the example workflow.
 */
import { isValidKsefNumber } from '../../shared';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { binaryText, describeWithN8n, runKsefNode, type InputItem } from './harness';
import { sandboxCredentialData } from '../support/n8nCredential';

const SEND_TEXT = { resource: 'invoice', operation: 'send', xmlSource: 'text', xml: '={{ $json.xml }}' };
let serial = 0;
function invoiceXml(): string {
  serial += 1;
  return buildDemoInvoice({ invoiceNumber: `FV/N8N/${process.pid}/${serial}`, lines: 1 });
}
/** An issue date (P_1) 30 days after today: KSeF rejects it with 450. */
function rejectedXml(): string {
  const future = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
  return invoiceXml().replace(/<P_1>[^<]*<\/P_1>/, `<P_1>${future}</P_1>`);
}

describeWithN8n('Invoice > Send in n8n', () => {
  test('with the error output, the good invoice goes to output 0 and the rejected and the non-XML ones to output 1, each with its error and pairedItem', async () => {
    const items: InputItem[] = [
      { json: { erpId: 'ERP-1', xml: invoiceXml() } },
      { json: { erpId: 'ERP-2', xml: rejectedXml() } },
      { json: { erpId: 'ERP-3', xml: 'This is not an invoice' } },
    ];
    const { outputs, error } = await runKsefNode({
      parameters: { ...SEND_TEXT, options: { includeInputFields: true } },
      items,
      settings: { onError: 'continueErrorOutput' },
    });

    expect(error).toBeUndefined();
    const [good, bad] = outputs;
    expect(good).toHaveLength(1);
    expect(good[0].json).toMatchObject({ erpId: 'ERP-1', status: 'accepted', accepted: true, environment: 'sandbox' });
    expect(isValidKsefNumber(good[0].json.ksefNumber as string)).toBe(true);
    expect(good[0].pairedItem).toEqual({ item: 0 });
    expect(await binaryText(good[0], 'upo')).toContain(good[0].json.ksefNumber as string);

    expect(bad.map((item) => item.pairedItem)).toEqual([{ item: 1 }, { item: 2 }]);
    expect(bad[0].json).toMatchObject({ erpId: 'ERP-2', details: { status: 'rejected', statusCode: 450 } });
    expect(bad[0].json.error).toMatch(/^KSeF rejected invoice FV\/N8N\/.* \(item 2\): 450 /);
    expect(bad[1].json).toMatchObject({ erpId: 'ERP-3', details: { status: 'notSent' } });
    expect(bad[1].json.error).toMatch(/^The invoice of item 3 cannot be sent: .*not .*XML/i);
  });

  test('with Continue (regular output), every item comes out on the one output in input order, failures with their error', async () => {
    const { outputs, error } = await runKsefNode({
      parameters: SEND_TEXT,
      items: [{ json: { xml: 'not XML' } }, { json: { xml: invoiceXml() } }],
      settings: { onError: 'continueRegularOutput' },
    });

    expect(error).toBeUndefined();
    expect(outputs).toHaveLength(1);
    const [out] = outputs;
    expect(out.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
    expect(out[0].json).toMatchObject({ details: { status: 'notSent' } });
    expect(out[0].json.error).toMatch(/item 1/);
    expect(out[1].json).toMatchObject({ status: 'accepted' });
  });

  test('reads the XML from a binary property', async () => {
    const { outputs } = await runKsefNode({
      parameters: { resource: 'invoice', operation: 'send', xmlSource: 'binary', binaryPropertyName: 'invoice', downloadUpo: false },
      items: [{ binary: { invoice: { text: invoiceXml(), fileName: 'invoice.xml' } } }],
    });

    expect(outputs[0]).toHaveLength(1);
    expect(outputs[0][0].json).toMatchObject({ status: 'accepted' });
    expect(outputs[0][0].binary).toBeUndefined();
  });

  test('without continuing, the workflow stops with an error naming the failed item and listing what is already in KSeF', async () => {
    const { error } = await runKsefNode({
      parameters: SEND_TEXT,
      items: [{ json: { xml: invoiceXml() } }, { json: { xml: rejectedXml() } }],
    });

    expect(error?.message).toMatch(/^KSeF rejected invoice FV\/N8N\/.* \(item 2\): 450 /);
    expect(error?.description).toMatch(/Already in KSeF .*\n- invoice FV\/N8N\/.* \(item 1\): \d{10}-\d{8}-/);
  });

  test("Get Status reads Send's output back with its default expressions, UPO included", async () => {
    const sent = await runKsefNode({ parameters: SEND_TEXT, items: [{ json: { xml: invoiceXml() } }] });
    const [accepted] = sent.outputs[0];

    const { outputs } = await runKsefNode({
      parameters: { resource: 'invoice', operation: 'getStatus' },
      items: [{ json: accepted.json }],
    });

    expect(outputs[0]).toHaveLength(1);
    expect(outputs[0][0].json).toMatchObject({
      ksefNumber: accepted.json.ksefNumber,
      status: 'accepted',
      sessionReferenceNumber: accepted.json.sessionReferenceNumber,
    });
    expect(outputs[0][0].pairedItem).toEqual({ item: 0 });
    expect(await binaryText(outputs[0][0], 'upo')).toContain(accepted.json.ksefNumber as string);
  });
});

describeWithN8n('Invoice > Send when KSeF makes the session unavailable (21184)', () => {
  let sandbox: SandboxHandle;
  let credentials: Record<string, string>;
  /** The online sessions sent to, in order. */
  let sessions: string[];
  beforeAll(async () => {
    sandbox = await startSandbox();
    credentials = sandboxCredentialData(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });
  beforeEach(() => {
    // Service work: the first session takes one invoice and is then unavailable; the engine goes on in a new session.
    sessions = [];
    sandbox.state.sessionsUnderMaintenance.has = (referenceNumber: string) => {
      if (!sessions.includes(referenceNumber)) sessions.push(referenceNumber);
      return sessions.indexOf(referenceNumber) === 0 && sandbox.state.onlineSessions.get(referenceNumber)!.invoices.length >= 1;
    };
  });

  test('each item names the session its invoice is in, so Get Status finds it', async () => {
    const sent = await runKsefNode({
      parameters: SEND_TEXT,
      items: [{ json: { xml: invoiceXml() } }, { json: { xml: invoiceXml() } }],
      credentials,
    });

    const out = sent.outputs[0];
    expect(out.map((item) => item.json.status)).toEqual(['accepted', 'accepted']);
    expect(out.map((item) => item.json.sessionReferenceNumber)).toEqual(sessions);
    const status = await runKsefNode({
      parameters: { resource: 'invoice', operation: 'getStatus' },
      items: out.map(({ json }) => ({ json })),
      credentials,
    });
    expect(status.outputs[0].map((item) => item.json.ksefNumber)).toEqual(out.map((item) => item.json.ksefNumber));
  });

  test("a stopped workflow's message names the earlier session beside the invoice sent in it", async () => {
    const { error } = await runKsefNode({
      parameters: SEND_TEXT,
      items: [{ json: { xml: invoiceXml() } }, { json: { xml: rejectedXml() } }],
      credentials,
    });

    expect(sessions).toHaveLength(2);
    expect(error?.description).toContain(` (in session ${sessions[0]})`);
    expect(error?.description).toContain(`Session Reference Number ${sessions[1]} (or the session named beside the invoice)`);
  });
});
