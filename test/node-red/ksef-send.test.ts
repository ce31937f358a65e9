/**
 * The Node-RED nodes in the real Node-RED flow engine (node-red-node-test-helper), sending to a sandbox over
 * loopback HTTP. The helper returns i18n keys untranslated, so statuses and errors are asserted by key here;
 * test/hosts/node-red.test.ts checks the translated catalogues in a real Node-RED process.
 */
import helper = require('node-red-node-test-helper');
import ksefConfigNode from '../../nodes/node-red/ksef-config';
import ksefSendNode from '../../nodes/node-red/ksef-send';
import { ensureEmbeddedSandbox, startSandbox, type RunningSandbox } from '../../sandbox';
import { buildDemoInvoice, DEMO_SELLER_NIP } from '../../sandbox/samples/demoInvoice';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import type { KsefClient, SendInvoicesResult } from '../../shared/types';
import type { KsefConfigNode } from '../../nodes/node-red/ksef-config';
import { ksefSendFlow } from './support/flow';

helper.init(require.resolve('node-red'));

type Msg = Record<string, any>;

let sandbox: RunningSandbox;

beforeAll(async () => {
  sandbox = await startSandbox();
});

afterAll(async () => {
  await sandbox.close();
});

afterEach(async () => {
  await helper.unload();
});

function flow(config: Record<string, unknown>, send: Record<string, unknown> = {}) {
  return ksefSendFlow({ id: 'cfg', type: 'ksef-config', name: 'KSeF', contextType: 'Nip', contextValue: '', baseUrl: '', ...config }, send);
}

function sandboxConfig() {
  return {
    config: { environment: 'custom', baseUrl: sandbox.baseUrl, contextType: 'Nip', contextValue: sandbox.contextIdentifier.value },
    credentials: { cfg: { ksefToken: sandbox.ksefToken } },
  };
}

function messagesOf(id: string): Msg[] {
  const received: Msg[] = [];
  helper.getNode(id).on('input', (msg) => received.push(msg));
  return received;
}

function nextMessage(id: string): Promise<Msg> {
  return new Promise((resolve) => helper.getNode(id).on('input', resolve));
}

function callsOnSendNode(method: 'status' | 'error'): unknown[][] {
  const send = helper.getNode('send');
  return send[method]
    .getCalls()
    .filter((call) => call.thisValue.id === send.id)
    .map((call) => call.args);
}

function statuses(): Array<{ fill?: string; text?: string }> {
  return callsOnSendNode('status').map((args) => args[0] as { fill?: string; text?: string });
}

/** Errors ksef-send reported (done(err) reports through node.error), seen at once, before Catch delivery. */
function reportedErrors(): unknown[] {
  return callsOnSendNode('error').map((args) => args[0]);
}

describe('ksef-send', () => {
  it('sends an array of invoices in one session and returns their KSeF numbers and UPOs', async () => {
    const { config, credentials } = sandboxConfig();
    await helper.load([ksefConfigNode, ksefSendNode], flow(config), credentials);
    const output = nextMessage('out');

    helper.getNode('send').receive({ payload: [buildDemoInvoice(), { xml: Buffer.from(buildDemoInvoice()), offlineMode: true }] });
    const msg = await output;

    expect(msg.payload).toHaveLength(2);
    for (const [index, result] of (msg.payload as Msg[]).entries()) {
      expect(result).toMatchObject({ index, accepted: true, pending: false });
      expect(isValidKsefNumber(result.ksefNumber)).toBe(true);
      expect(result.ksefNumber.startsWith(sandbox.contextIdentifier.value)).toBe(true);
      expect(result.upo).toContain(result.ksefNumber);
    }
    expect(msg.payload[1].invoicingMode).toBe('Offline');
    expect(msg.ksef.sessionReferenceNumber).toMatch(/^\d{8}-SO-/);
    expect(msg.payload.map((result: Msg) => result.sessionReferenceNumber)).toEqual([
      msg.ksef.sessionReferenceNumber,
      msg.ksef.sessionReferenceNumber,
    ]);
    expect(msg.ksef.sessionUpo.length).toBeGreaterThan(0);
    // A KSeF at a base URL of one's own: no sandbox marker.
    expect(msg.ksef.environment).toBe('custom');
    expect(statuses().map((s) => [s.fill, s.text])).toEqual([
      ['blue', 'ksef-send.status.sending'],
      ['green', 'ksef-send.status.accepted'],
    ]);
    expect(reportedErrors()).toEqual([]);
    expect(JSON.stringify(msg)).not.toContain(sandbox.ksefToken);
  });

  it('answers a single invoice (a Buffer) with a single result', async () => {
    const { config, credentials } = sandboxConfig();
    await helper.load([ksefConfigNode, ksefSendNode], flow(config, { fetchUpo: false }), credentials);
    const output = nextMessage('out');

    helper.getNode('send').receive({ payload: Buffer.from(buildDemoInvoice({ invoiceNumber: 'FV/NR/1' })) });
    const msg = await output;

    expect(Array.isArray(msg.payload)).toBe(false);
    expect(msg.payload).toMatchObject({ index: 0, accepted: true, invoiceNumber: 'FV/NR/1' });
    expect(isValidKsefNumber(msg.payload.ksefNumber)).toBe(true);
    expect(msg.payload.upo).toBeUndefined();
  });

  it('still sends the results of all invoices when one is rejected, then reports the failure to Catch', async () => {
    const { config, credentials } = sandboxConfig();
    await helper.load([ksefConfigNode, ksefSendNode], flow(config), credentials);
    const output = nextMessage('out');
    const caught = nextMessage('caught');
    const broken = buildDemoInvoice().replace(/<P_15>[^<]*<\/P_15>/, '<P_15>not a number</P_15>');

    helper.getNode('send').receive({ payload: [buildDemoInvoice(), broken] });
    const [msg, error] = await Promise.all([output, caught]);

    expect(msg.payload[0]).toMatchObject({ index: 0, accepted: true });
    expect(isValidKsefNumber(msg.payload[0].ksefNumber)).toBe(true);
    expect(msg.payload[1]).toMatchObject({ index: 1, accepted: false, pending: false });
    expect(msg.payload[1].ksefNumber).toBeUndefined();
    expect(error.error.message).toContain('ksef-send.errors.rejected');
    expect(error.error.source.id).toBe('send');
    expect(error.payload).toEqual(msg.payload);
    // Both outcomes, so the accepted invoice is not hidden behind "1 rejected".
    expect(statuses().at(-1)).toMatchObject({ fill: 'red', text: 'ksef-send.status.accepted, ksef-send.status.rejected' });
  });

  it('counts invoices the engine could not send before the rate limit allowed as not sent', async () => {
    const { config, credentials } = sandboxConfig();
    await helper.load([ksefConfigNode, ksefSendNode], flow(config), credentials);
    const retryAt = new Date(Date.now() + 60_000).toISOString();
    const notSent = {
      index: 1,
      accepted: false,
      pending: false,
      invoiceHash: 'h1',
      error: { name: 'KsefRateLimitError', message: 'not sent', retryAt },
    };
    const result: SendInvoicesResult = {
      environment: 'custom',
      mode: 'online',
      sessionReferenceNumber: '20260101-SO-0000000000-0000000000-00',
      invoices: [{ index: 0, accepted: true, pending: false, invoiceHash: 'h0', ksefNumber: 'k' }, notSent, { ...notSent, index: 2 }],
    };
    // The engine's answer when KSeF's rate limit outlasts the deadline, without waiting for a real limit.
    (helper.getNode('cfg') as unknown as KsefConfigNode).client = () =>
      ({ sessions: { send: async () => result } }) as unknown as KsefClient;
    const output = nextMessage('out');
    const caught = nextMessage('caught');

    helper.getNode('send').receive({ payload: [buildDemoInvoice(), buildDemoInvoice(), buildDemoInvoice()] });
    const [msg, error] = await Promise.all([output, caught]);

    expect(msg.payload[1].error.retryAt).toBe(retryAt);
    expect(error.error.message).toContain('ksef-send.errors.rejected');
    expect(statuses().at(-1)).toMatchObject({ fill: 'red', text: 'ksef-send.status.accepted, ksef-send.status.not-sent' });
  });

  it('names on each result the session its invoice went in, also when KSeF made a session unavailable (21184)', async () => {
    const { config, credentials } = sandboxConfig();
    await helper.load([ksefConfigNode, ksefSendNode], flow(config), credentials);
    const earlier = '20260101-SO-1111111111-1111111111-11';
    const later = '20260101-SO-2222222222-2222222222-22';
    // The engine's answer after 21184: the first invoice went in the earlier session, the second in the new one.
    const result: SendInvoicesResult = {
      environment: 'custom',
      mode: 'online',
      sessionReferenceNumber: later,
      invoices: [
        { index: 0, accepted: true, pending: false, invoiceHash: 'h0', ksefNumber: 'k0', sessionReferenceNumber: earlier },
        { index: 1, accepted: true, pending: false, invoiceHash: 'h1', ksefNumber: 'k1' },
      ],
    };
    (helper.getNode('cfg') as unknown as KsefConfigNode).client = () =>
      ({ sessions: { send: async () => result } }) as unknown as KsefClient;
    const output = nextMessage('out');

    helper.getNode('send').receive({ payload: [buildDemoInvoice(), buildDemoInvoice()] });
    const msg = await output;

    expect(msg.payload.map((invoice: Msg) => invoice.sessionReferenceNumber)).toEqual([earlier, later]);
    expect(msg.ksef.sessionReferenceNumber).toBe(later);
  });

  it('returns pending results, not an error, when told not to wait for processing', async () => {
    const { config, credentials } = sandboxConfig();
    await helper.load([ksefConfigNode, ksefSendNode], flow(config, { waitSeconds: 0 }), credentials);
    const output = nextMessage('out');

    helper.getNode('send').receive({ payload: buildDemoInvoice() });
    const msg = await output;

    expect(msg.payload).toMatchObject({ accepted: false, pending: true });
    expect(msg.payload.referenceNumber).toMatch(/^\d{8}-EE-/);
    expect(statuses().at(-1)).toMatchObject({ fill: 'yellow', text: 'ksef-send.status.pending' });
    expect(reportedErrors()).toEqual([]);
  });

  it.each([
    ['empty', '', 'ksef-send.errors.empty-payload'],
    ['an empty array', [], 'ksef-send.errors.empty-payload'],
    ['a number', 42, 'ksef-send.errors.bad-payload'],
    ['an array with an object without xml', ['<x/>', { invoice: '<x/>' }], 'ksef-send.errors.bad-payload'],
  ])('reports a payload that is %s to Catch without sending', async (_label, payload, key) => {
    const { config, credentials } = sandboxConfig();
    await helper.load([ksefConfigNode, ksefSendNode], flow(config), credentials);
    const output = messagesOf('out');
    const caught = nextMessage('caught');

    helper.getNode('send').receive({ payload });
    const error = await caught;

    expect(error.error.message).toContain(key);
    expect(output).toHaveLength(0);
    expect(statuses().at(-1)).toMatchObject({ fill: 'red', text: 'ksef-send.status.bad-input' });
  });

  it('reports a wrong KSeF token to Catch with KSeF details and without the token', async () => {
    const { config } = sandboxConfig();
    const wrongToken = `wrong-token-${Date.now()}`;
    await helper.load([ksefConfigNode, ksefSendNode], flow(config), { cfg: { ksefToken: wrongToken } });
    const output = messagesOf('out');
    const caught = nextMessage('caught');

    helper.getNode('send').receive({ payload: buildDemoInvoice() });
    const error = await caught;

    expect(error.error.message).toMatch(/Ksef\w*Error/);
    expect(error.ksef.error.name).toMatch(/^Ksef\w*Error$/);
    expect(JSON.stringify(error)).not.toContain(wrongToken);
    expect(output).toHaveLength(0);
    expect(statuses().at(-1)).toMatchObject({ fill: 'red', text: 'ksef-send.status.failed' });
  });

  it('names the config field to fill when a KSeF environment has no token', async () => {
    await helper.load([ksefConfigNode, ksefSendNode], flow({ environment: 'test', contextType: 'Nip', contextValue: DEMO_SELLER_NIP }), {});
    const caught = nextMessage('caught');

    helper.getNode('send').receive({ payload: buildDemoInvoice() });

    expect((await caught).error.message).toContain('ksef-config.errors.missing-token');
  });

  it('uses the embedded sandbox and its demo company when the config is left at its defaults', async () => {
    try {
      await helper.load([ksefConfigNode, ksefSendNode], flow({ environment: 'sandbox' }), {});
      const output = nextMessage('out');

      helper.getNode('send').receive({ payload: buildDemoInvoice() });
      const msg = await output;

      expect(msg.payload.accepted).toBe(true);
      expect(msg.payload.ksefNumber.startsWith(DEMO_SELLER_NIP)).toBe(true);
      // The sandbox's KSeF numbers look real: the message and the status say who answered.
      expect(msg.ksef.environment).toBe('sandbox');
      expect(statuses().at(-1)).toEqual({ fill: 'green', shape: 'dot', text: 'ksef-send.status.accepted ksef-send.status.sandbox' });
    } finally {
      await helper.unload();
      await (await ensureEmbeddedSandbox()).close();
    }
  });
});
