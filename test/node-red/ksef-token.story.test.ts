/**
 * The story of issue 3 in the real Node-RED flow engine against a sandbox over loopback HTTP: a company signs in
 * with its (self-signed, sandbox-only) seal certificate, generates a KSeF token, sends an invoice with that token,
 * revokes it, and the token then no longer authenticates, which a Catch node sees.
 */
import helper = require('node-red-node-test-helper');
import ksefConfigNode from '../../nodes/node-red/ksef-config';
import ksefSendNode from '../../nodes/node-red/ksef-send';
import ksefTokenNode from '../../nodes/node-red/ksef-token';
import ksefAuthNode from '../../nodes/node-red/ksef-auth';
import { generateTestCertificate } from '../../shared';
import { startSandbox, type RunningSandbox } from '../../sandbox';
import { buildDemoInvoice, DEMO_SELLER_NIP } from '../../sandbox/samples/demoInvoice';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { everythingLogged, messagesOf, nextMessage, statusesOf } from './support/flow';

helper.init(require.resolve('node-red'));

const NODES = [ksefConfigNode, ksefSendNode, ksefTokenNode, ksefAuthNode];
const PKCS12_PASSWORD = 'seal-password-1';

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

function sealCertificateConfig(id: string) {
  return {
    id,
    type: 'ksef-config',
    name: 'KSeF seal',
    environment: 'custom',
    baseUrl: sandbox.baseUrl,
    contextType: 'Nip',
    contextValue: DEMO_SELLER_NIP,
    authMethod: 'certificate',
    certificateFormat: 'pkcs12',
    subjectIdentifierType: 'certificateSubject',
  };
}

function tokenConfig(id: string) {
  return {
    id,
    type: 'ksef-config',
    name: 'KSeF token',
    environment: 'custom',
    baseUrl: sandbox.baseUrl,
    contextType: 'Nip',
    contextValue: DEMO_SELLER_NIP,
    authMethod: 'ksefToken',
  };
}

it('generates a KSeF token with a seal certificate, sends an invoice with it, revokes it, and then it no longer authenticates', async () => {
  const seal = generateTestCertificate({
    subject: { kind: 'seal', organizationName: 'Demo Sprzedawca sp. z o.o.', nip: DEMO_SELLER_NIP },
    pkcs12Password: PKCS12_PASSWORD,
  });
  const sealCredentials = { pkcs12: seal.pkcs12.toString('base64'), pkcs12Password: PKCS12_PASSWORD };

  // 1. The certificate config generates a token.
  await helper.load(
    NODES,
    [
      { id: 'f1', type: 'tab', label: 'generate' },
      sealCertificateConfig('cfgSeal'),
      {
        id: 'tokenGenerate',
        type: 'ksef-token',
        z: 'f1',
        ksef: 'cfgSeal',
        operation: 'generate',
        description: 'Node-RED invoice sending',
        permissions: ['InvoiceWrite', 'InvoiceRead'],
        waitUntilActive: true,
        wires: [['generated']],
      },
      { id: 'generated', type: 'helper', z: 'f1' },
    ],
    { cfgSeal: sealCredentials },
  );
  const generatedMessage = nextMessage('generated');
  helper.getNode('tokenGenerate').receive({ payload: '' });
  const generated = (await generatedMessage).payload;

  expect(generated).toMatchObject({ status: 'Active', referenceNumber: expect.any(String), token: expect.any(String) });
  expect(statusesOf('tokenGenerate')).toEqual([
    ['blue', 'ksef-token.status.generating'],
    ['green', 'ksef-token.status.generated'],
  ]);
  expect(everythingLogged('tokenGenerate')).not.toContain(generated.token);
  await helper.unload();

  // 2. A second config uses the token: send an invoice; the certificate config revokes the token; authenticating
  //    with the token then fails and the Catch node gets the reason.
  await helper.load(
    NODES,
    [
      { id: 'f2', type: 'tab', label: 'use and revoke' },
      sealCertificateConfig('cfgSeal'),
      tokenConfig('cfgToken'),
      { id: 'send', type: 'ksef-send', z: 'f2', ksef: 'cfgToken', schema: 'FA(3)', waitSeconds: 60, fetchUpo: false, wires: [['sent']] },
      { id: 'sent', type: 'helper', z: 'f2' },
      { id: 'tokenRevoke', type: 'ksef-token', z: 'f2', ksef: 'cfgSeal', operation: 'revoke', wires: [['revoked']] },
      { id: 'revoked', type: 'helper', z: 'f2' },
      { id: 'auth', type: 'ksef-auth', z: 'f2', ksef: 'cfgToken', operation: 'authenticate', wires: [['authenticated']] },
      { id: 'authenticated', type: 'helper', z: 'f2' },
      { id: 'authErrors', type: 'catch', z: 'f2', scope: ['auth'], wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'f2' },
    ],
    { cfgSeal: sealCredentials, cfgToken: { ksefToken: generated.token } },
  );

  const sentMessage = nextMessage('sent');
  helper.getNode('send').receive({ payload: buildDemoInvoice() });
  const invoice = (await sentMessage).payload;
  expect(invoice.accepted).toBe(true);
  expect(isValidKsefNumber(invoice.ksefNumber)).toBe(true);
  expect(invoice.ksefNumber.startsWith(DEMO_SELLER_NIP)).toBe(true);

  // The output of ksef-token generate wired in as is: revoke takes msg.payload.referenceNumber.
  const revokedMessage = nextMessage('revoked');
  helper.getNode('tokenRevoke').receive({ payload: generated });
  expect((await revokedMessage).payload).toEqual({ referenceNumber: generated.referenceNumber, revoked: true });
  expect(statusesOf('tokenRevoke').at(-1)).toEqual(['green', 'ksef-token.status.revoked']);

  const authenticated = messagesOf('authenticated');
  const caughtMessage = nextMessage('caught');
  helper.getNode('auth').receive({ payload: '' });
  const caught = await caughtMessage;

  expect(caught.error.source.id).toBe('auth');
  // KSeF's reason (450, "Token unieważniony": token revoked) and the field to check.
  expect(caught.error.message).toMatch(/KsefAuthError.*450.*Token unieważniony.*Check the KSeF token and the context identifier\./);
  expect(caught.ksef.error).toMatchObject({ name: 'KsefAuthError', code: 450 });
  expect(authenticated).toHaveLength(0);
  expect(statusesOf('auth').at(-1)).toEqual(['red', 'ksef-auth.status.failed']);
  expect(JSON.stringify(caught)).not.toContain(generated.token);
  expect(everythingLogged('auth')).not.toContain(generated.token);
});

it('binds the tokens of a certificate config to its allowed IPs: this machine works only when it is allowed', async () => {
  const seal = generateTestCertificate({
    subject: { kind: 'seal', organizationName: 'Demo Sprzedawca sp. z o.o.', nip: DEMO_SELLER_NIP },
    pkcs12Password: PKCS12_PASSWORD,
  });
  const sealCredentials = { pkcs12: seal.pkcs12.toString('base64'), pkcs12Password: PKCS12_PASSWORD };
  const listTokens = (id: string, config: string) => ({
    id,
    type: 'ksef-token',
    z: 'f3',
    ksef: config,
    operation: 'list',
    wires: [[`${id}Out`]],
  });
  await helper.load(
    NODES,
    [
      { id: 'f3', type: 'tab', label: 'allowed IPs' },
      // Elsewhere only: a documentation address and range, and a mask around them.
      { ...sealCertificateConfig('cfgElsewhere'), allowedIps: '203.0.113.7, 198.51.100.1-198.51.100.9 192.0.2.0/24' },
      { ...sealCertificateConfig('cfgHere'), allowedIps: '203.0.113.7', allowCurrentIp: true, authTokenRequestSchema: '2.1' },
      listTokens('listElsewhere', 'cfgElsewhere'),
      listTokens('listHere', 'cfgHere'),
      { id: 'listHereOut', type: 'helper', z: 'f3' },
      { id: 'listElsewhereOut', type: 'helper', z: 'f3' },
      { id: 'errors', type: 'catch', z: 'f3', scope: ['listElsewhere'], wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'f3' },
    ],
    { cfgElsewhere: sealCredentials, cfgHere: sealCredentials },
  );

  const caughtMessage = nextMessage('caught');
  helper.getNode('listElsewhere').receive({ payload: '' });
  const caught = await caughtMessage;
  expect(caught.ksef.error).toMatchObject({
    name: 'KsefForbiddenError',
    status: 403,
    reasonCode: 'ip-not-allowed',
    security: { clientIp: '127.0.0.1' },
  });
  expect(caught.error.message).toMatch(/authorization policy of this authentication does not allow the client IP 127\.0\.0\.1/);
  expect(messagesOf('listElsewhereOut')).toHaveLength(0);

  const listed = nextMessage('listHereOut');
  helper.getNode('listHere').receive({ payload: '' });
  expect(Array.isArray((await listed).payload)).toBe(true);
});
