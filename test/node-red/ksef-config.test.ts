/**
 * The config dialog's Test connection endpoint (`POST /ksef-config/:id/test`) in the real flow engine
 * (node-red-node-test-helper), authenticating against a sandbox over loopback HTTP.
 */
import helper = require('node-red-node-test-helper');
import ksefConfigNode from '../../nodes/node-red/ksef-config';
import { startSandbox, type RunningSandbox } from '../../sandbox';
import { generateTestCertificate } from '../../shared';

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

/** A deployed config node `cfg` with the given stored credentials. */
async function deployConfig(storedCredentials: Record<string, string> = {}): Promise<void> {
  await helper.load([ksefConfigNode], [{ id: 'cfg', type: 'ksef-config', name: 'KSeF', ...dialogSettings() }], { cfg: storedCredentials });
}

/** The dialog's fields as the editor sends them, pointed at the test's sandbox. */
function dialogSettings(): Record<string, unknown> {
  return {
    environment: 'custom',
    baseUrl: sandbox.baseUrl,
    contextType: 'Nip',
    contextValue: sandbox.contextIdentifier.value,
    authMethod: 'ksefToken',
    certificateFormat: 'pkcs12',
    subjectIdentifierType: 'certificateSubject',
    allowedIps: '',
    allowCurrentIp: false,
    authTokenRequestSchema: '2.0',
  };
}

async function testConnection(id: string, body: Record<string, unknown>): Promise<Record<string, any>> {
  const response = await helper.request().post(`/ksef-config/${id}/test`).send(body);
  expect(response.status).toBe(200);
  return response.body;
}

describe('ksef-config Test connection endpoint', () => {
  it('authenticates with the settings typed in the dialog and answers ok with the context, no token', async () => {
    await deployConfig();

    const answer = await testConnection('cfg', { ...dialogSettings(), credentials: { ksefToken: sandbox.ksefToken } });

    expect(answer).toEqual({
      ok: true,
      referenceNumber: expect.stringMatching(/^\d{8}-AU-/),
      contextIdentifier: sandbox.contextIdentifier,
    });
    expect(JSON.stringify(answer)).not.toContain(sandbox.ksefToken);
  });

  it("answers KSeF's error for a wrong token, without the token", async () => {
    await deployConfig();
    const wrongToken = `wrong-token-${Date.now()}`;

    const answer = await testConnection('cfg', { ...dialogSettings(), credentials: { ksefToken: wrongToken } });

    expect(answer.ok).toBe(false);
    expect(answer.error).toMatch(/KSeF refused authentication .*450.*Nieprawidłowy token/);
    // The dialog shows this text: the field as the user knows it, not the engine's option name.
    expect(answer.error).toContain('Check the KSeF token and the context identifier.');
    expect(answer.error).not.toContain('credentials.');
    expect(JSON.stringify(answer)).not.toContain(wrongToken);
  });

  it('uses the deployed secret of the same config node for a saved password the user did not retype', async () => {
    await deployConfig({ ksefToken: sandbox.ksefToken });

    const kept = await testConnection('cfg', { ...dialogSettings(), credentials: { ksefToken: '__PWRD__' } });
    // Another node's id has no stored token: the placeholder is then no token at all, never another node's secret.
    const otherNode = await testConnection('other', { ...dialogSettings(), credentials: { ksefToken: '__PWRD__' } });

    expect(kept.ok).toBe(true);
    expect(otherNode).toEqual({ ok: false, error: expect.stringContaining('ksef-config.errors.missing-token') });
  });

  it('prefers what is typed over the deployed secret', async () => {
    await deployConfig({ ksefToken: 'an-old-revoked-token' });

    const answer = await testConnection('cfg', { ...dialogSettings(), credentials: { ksefToken: sandbox.ksefToken } });

    expect(answer.ok).toBe(true);
  });

  it('authenticates with a certificate loaded in the dialog (PKCS#12 as Base64)', async () => {
    await deployConfig();
    const seal = generateTestCertificate({
      subject: { kind: 'seal', organizationName: 'Demo Sprzedawca sp. z o.o.', nip: sandbox.contextIdentifier.value },
      pkcs12Password: 'dialog-password',
    });

    const answer = await testConnection('cfg', {
      ...dialogSettings(),
      authMethod: 'certificate',
      credentials: { pkcs12: seal.pkcs12.toString('base64'), pkcs12Password: 'dialog-password' },
    });
    const wrongPassword = await testConnection('cfg', {
      ...dialogSettings(),
      authMethod: 'certificate',
      credentials: { pkcs12: seal.pkcs12.toString('base64'), pkcs12Password: 'not-the-password' },
    });

    expect(answer.ok).toBe(true);
    expect(wrongPassword).toEqual({ ok: false, error: expect.stringContaining('ksef-config.errors.bad-credentials') });
  });

  it('names the dialog field that is missing', async () => {
    await deployConfig();

    const answer = await testConnection('cfg', { ...dialogSettings(), baseUrl: '', credentials: {} });

    expect(answer).toEqual({ ok: false, error: 'ksef-config.errors.missing-base-url' });
  });
});
