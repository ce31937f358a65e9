/**
 * ksef-token in the real Node-RED flow engine (node-red-node-test-helper) against a sandbox over loopback HTTP,
 * signed in with the sandbox's demo (owner) KSeF token. The helper returns i18n keys untranslated.
 */
import helper = require('node-red-node-test-helper');
import ksefConfigNode from '../../nodes/node-red/ksef-config';
import ksefTokenNode from '../../nodes/node-red/ksef-token';
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

/** ksef-config -> ksef-token `tokenNode` -> `out`, and a Catch node on it -> `caught`. */
async function loadFlow(token: Record<string, unknown>): Promise<void> {
  await helper.load(
    [ksefConfigNode, ksefTokenNode],
    [
      { id: 'f1', type: 'tab', label: 'test' },
      { ...sandboxConfigNode(sandbox), authMethod: 'ksefToken' },
      {
        id: 'tokenNode',
        type: 'ksef-token',
        z: 'f1',
        ksef: 'cfg',
        description: 'ERP invoice export',
        permissions: ['InvoiceWrite'],
        waitUntilActive: true,
        wires: [['out']],
        ...token,
      },
      { id: 'out', type: 'helper', z: 'f1' },
      { id: 'errors', type: 'catch', z: 'f1', scope: ['tokenNode'], wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'f1' },
    ],
    { cfg: { ksefToken: sandbox.ksefToken } },
  );
}

async function run(msg: Msg): Promise<Msg> {
  const output = nextMessage('out');
  helper.getNode('tokenNode').receive(msg);
  return output;
}

async function fails(msg: Msg): Promise<Msg> {
  const caught = nextMessage('caught');
  helper.getNode('tokenNode').receive(msg);
  return caught;
}

describe('ksef-token', () => {
  it('generates an active token whose secret is only in msg.payload, then gets, lists and revokes it', async () => {
    await loadFlow({ operation: 'generate' });

    const generated = (await run({ payload: '' })).payload;
    expect(generated).toEqual({ referenceNumber: expect.stringMatching(/^\d{8}-/), token: expect.any(String), status: 'Active' });
    expect(generated.token.length).toBeGreaterThan(20);

    const info = (await run({ operation: 'get', payload: generated.referenceNumber })).payload;
    expect(info).toMatchObject({
      referenceNumber: generated.referenceNumber,
      description: 'ERP invoice export',
      requestedPermissions: ['InvoiceWrite'],
      status: 'Active',
    });
    expect(statusesOf('tokenNode').at(-1)).toEqual(['green', 'ksef-token.status.token-Active']);

    const listed = (await run({ operation: 'list', filter: { description: 'ERP invoice', status: 'Active' } })).payload as Msg[];
    expect(listed.map((token) => token.referenceNumber)).toContain(generated.referenceNumber);
    expect(statusesOf('tokenNode').at(-1)).toEqual(['green', 'ksef-token.status.listed']);

    expect((await run({ operation: 'revoke', referenceNumber: generated.referenceNumber })).payload).toEqual({
      referenceNumber: generated.referenceNumber,
      revoked: true,
    });
    const afterRevoke = (await run({ operation: 'get', payload: { referenceNumber: generated.referenceNumber } })).payload;
    expect(['Revoking', 'Revoked']).toContain(afterRevoke.status);

    expect(JSON.stringify([info, listed, afterRevoke])).not.toContain(generated.token);
    expect(everythingLogged('tokenNode')).not.toContain(generated.token);
  });

  it('takes the description and permissions from msg.description and msg.permissions', async () => {
    await loadFlow({ operation: 'generate' });

    const generated = (await run({ description: 'Read-only archive robot', permissions: ['InvoiceRead', 'CredentialsRead'] })).payload;
    const info = (await run({ operation: 'get', payload: generated })).payload;

    expect(info).toMatchObject({ description: 'Read-only archive robot', requestedPermissions: ['InvoiceRead', 'CredentialsRead'] });
  });

  it.each([
    ['no permissions', { operation: 'generate', permissions: [] }, { payload: '' }, 'ksef-token.errors.missing-permissions'],
    ['a get without a reference number', { operation: 'get' }, { payload: { token: 'x' } }, 'ksef-token.errors.missing-reference'],
    ['a list filter that is not an object', { operation: 'list' }, { filter: 'Active' }, 'ksef-token.errors.bad-filter'],
    [
      'a too short description (the engine names the option)',
      { operation: 'generate', description: 'ERP' },
      { payload: '' },
      'options.description',
    ],
  ])('reports %s to Catch as bad input', async (_label, settings, msg, expected) => {
    await loadFlow(settings);
    const output = messagesOf('out');

    const caught = await fails(msg);

    expect(caught.error.message).toContain(expected);
    expect(output).toHaveLength(0);
    expect(statusesOf('tokenNode').at(-1)).toEqual(['red', 'ksef-token.status.bad-input']);
  });

  it('reports a token secret given instead of its reference number to Catch without repeating the secret', async () => {
    await loadFlow({ operation: 'generate' });
    const generated = (await run({ payload: '' })).payload;
    const secret = generated.token.split('|').slice(1).join('|');

    const caught = await fails({ operation: 'revoke', referenceNumber: generated.token });

    expect(caught.error.message).toMatch(/looks like a KSeF token secret: give only its reference number, the part before the first "\|"/);
    expect(JSON.stringify([caught.error, caught.ksef])).not.toContain(secret);
    expect(everythingLogged('tokenNode')).not.toContain(secret);
    expect(statusesOf('tokenNode').at(-1)).toEqual(['red', 'ksef-token.status.bad-input']);
  });

  it('reports an unknown token to Catch with KSeF details', async () => {
    await loadFlow({ operation: 'get' });

    const caught = await fails({ referenceNumber: '20250101-EC-0000000000-0000000000-00' });

    expect(caught.ksef.error.name).toMatch(/^Ksef\w*Error$/);
    expect(statusesOf('tokenNode').at(-1)).toEqual(['red', 'ksef-token.status.failed']);
  });
});
