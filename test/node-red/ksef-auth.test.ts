/**
 * ksef-auth in the real Node-RED flow engine (node-red-node-test-helper) against a sandbox over loopback HTTP.
 * The helper returns i18n keys untranslated, so statuses and errors are asserted by key.
 */
import helper = require('node-red-node-test-helper');
import ksefConfigNode from '../../nodes/node-red/ksef-config';
import ksefAuthNode from '../../nodes/node-red/ksef-auth';
import { startSandbox, type RunningSandbox } from '../../sandbox';
import { everythingLogged, messagesOf, nextMessage, sandboxConfigNode, statusesOf, type Msg } from './support/flow';

helper.init(require.resolve('node-red'));

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

/** ksef-config (the sandbox's demo token) -> ksef-auth `authNode` -> `out`, and a Catch node on it -> `caught`. */
async function loadFlow(auth: Record<string, unknown>, withConfig = true): Promise<void> {
  await helper.load(
    [ksefConfigNode, ksefAuthNode],
    [
      { id: 'f1', type: 'tab', label: 'test' },
      { ...sandboxConfigNode(sandbox), authMethod: 'ksefToken' },
      { id: 'authNode', type: 'ksef-auth', z: 'f1', ...(withConfig && { ksef: 'cfg' }), wires: [['out']], ...auth },
      { id: 'out', type: 'helper', z: 'f1' },
      { id: 'errors', type: 'catch', z: 'f1', scope: ['authNode'], wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'f1' },
    ],
    { cfg: { ksefToken: sandbox.ksefToken } },
  );
}

async function run(msg: Msg): Promise<Msg> {
  const output = nextMessage('out');
  helper.getNode('authNode').receive(msg);
  return output;
}

async function fails(msg: Msg): Promise<Msg> {
  const caught = nextMessage('caught');
  helper.getNode('authNode').receive(msg);
  return caught;
}

describe('ksef-auth', () => {
  it('authenticates anew on every message and reports the session without any token', async () => {
    await loadFlow({ operation: 'authenticate' });

    const first = (await run({ payload: '' })).payload;
    const second = (await run({ payload: '' })).payload;

    for (const result of [first, second]) {
      expect(result.referenceNumber).toMatch(/^\d{8}-AU-/);
      expect(result.contextIdentifier).toEqual(sandbox.contextIdentifier);
      expect(Date.parse(result.accessTokenValidUntil)).toBeGreaterThan(Date.now());
      expect(Date.parse(result.refreshTokenValidUntil)).toBeGreaterThan(Date.parse(result.accessTokenValidUntil));
    }
    expect(second.referenceNumber).not.toBe(first.referenceNumber);
    expect(statusesOf('authNode')).toEqual([
      ['blue', 'ksef-auth.status.authenticating'],
      ['green', 'ksef-auth.status.authenticated'],
      ['blue', 'ksef-auth.status.authenticating'],
      ['green', 'ksef-auth.status.authenticated'],
    ]);
    expect(JSON.stringify([first, second])).not.toContain(sandbox.ksefToken);
    expect(everythingLogged('authNode')).not.toContain(sandbox.ksefToken);
  });

  it('lists the sessions, revokes one by msg.referenceNumber and the current one, chosen by msg.operation', async () => {
    await loadFlow({ operation: 'authenticate' });
    const older = (await run({ payload: '' })).payload.referenceNumber as string;
    const current = (await run({ payload: '' })).payload.referenceNumber as string;

    const listed = (await run({ operation: 'listSessions' })).payload as Msg[];
    expect(listed.find((session) => session.referenceNumber === current)).toMatchObject({ isCurrent: true });
    expect(listed.find((session) => session.referenceNumber === older)).toMatchObject({ isCurrent: false });
    expect(statusesOf('authNode').at(-1)).toEqual(['green', 'ksef-auth.status.listed']);

    expect((await run({ operation: 'revoke', referenceNumber: older })).payload).toEqual({ referenceNumber: older, revoked: true });
    expect((await run({ operation: 'revokeCurrent' })).payload).toEqual({ current: true, revoked: true });
    expect(statusesOf('authNode').at(-1)).toEqual(['green', 'ksef-auth.status.revoked']);

    // The client forgot its revoked session's tokens, so listing signs in again.
    const remaining = ((await run({ operation: 'listSessions' })).payload as Msg[]).map((session) => session.referenceNumber);
    expect(remaining).not.toContain(older);
    expect(remaining).not.toContain(current);
    expect(remaining.length).toBeGreaterThan(0);
  });

  it('revokes the session named by msg.payload.referenceNumber, e.g. an authenticate result wired in', async () => {
    await loadFlow({ operation: 'authenticate' });
    const session = (await run({ payload: '' })).payload;

    expect((await run({ operation: 'revoke', payload: session })).payload).toEqual({
      referenceNumber: session.referenceNumber,
      revoked: true,
    });
  });

  it('reports KSeF refusing to revoke an unknown session to Catch with KSeF details', async () => {
    await loadFlow({ operation: 'revoke' });
    const output = messagesOf('out');

    const caught = await fails({ payload: '20250101-AU-0000000000-0000000000-00' });

    expect(caught.error.message).toMatch(/^Ksef\w*Error/);
    expect(caught.ksef.error.name).toMatch(/^Ksef\w*Error$/);
    expect(output).toHaveLength(0);
    expect(statusesOf('authNode').at(-1)).toEqual(['red', 'ksef-auth.status.failed']);
  });

  it.each([
    ['a revoke without a reference number', { operation: 'revoke' }, { payload: 42 }, 'ksef-auth.errors.missing-reference'],
    ['an unknown msg.operation', { operation: 'authenticate' }, { operation: 'logout' }, 'ksef-auth.errors.bad-operation'],
  ])('reports %s to Catch as bad input', async (_label, settings, msg, key) => {
    await loadFlow(settings);
    const output = messagesOf('out');

    const caught = await fails(msg);

    expect(caught.error.message).toContain(key);
    expect(output).toHaveLength(0);
    expect(statusesOf('authNode').at(-1)).toEqual(['red', 'ksef-auth.status.bad-input']);
  });

  it('shows and reports a missing KSeF config', async () => {
    await loadFlow({ operation: 'authenticate' }, false);

    const caught = await fails({ payload: '' });

    expect(caught.error.message).toContain('ksef-auth.errors.no-config');
    expect(statusesOf('authNode')[0]).toEqual(['red', 'ksef-auth.status.no-config']);
    expect(statusesOf('authNode').at(-1)).toEqual(['red', 'ksef-auth.status.no-config']);
  });
});
