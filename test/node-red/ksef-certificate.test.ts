/**
 * ksef-certificate (and ksef-config's certificate method) in the real Node-RED flow engine
 * (node-red-node-test-helper) against a sandbox over loopback HTTP. The helper returns i18n keys untranslated.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import helper = require('node-red-node-test-helper');
import ksefConfigNode from '../../nodes/node-red/ksef-config';
import ksefCertificateNode from '../../nodes/node-red/ksef-certificate';
import ksefAuthNode from '../../nodes/node-red/ksef-auth';
import { generateTestCertificate, TEST_CERTIFICATE_WARNING } from '../../shared';
import { loadKeyMaterial } from '../../shared/protocol/x509/keyMaterial';
import { startFaultProxy } from '../engine/support/faultProxy';
import { startSandbox, type RunningSandbox } from '../../sandbox';
import { DEMO_SELLER_NIP } from '../../sandbox/samples/demoInvoice';
import { everythingLogged, messagesOf, nextMessage, statusesOf, type Msg } from './support/flow';
import { expectNoPemSecret } from '../support/secrets';

helper.init(require.resolve('node-red'));

const PKCS12_PASSWORD = 'pkcs12-password-7';

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

function certificateConfig(id: string, certificateFormat: 'pkcs12' | 'pem' = 'pkcs12') {
  return {
    id,
    type: 'ksef-config',
    environment: 'custom',
    baseUrl: sandbox.baseUrl,
    contextType: 'Nip',
    contextValue: DEMO_SELLER_NIP,
    authMethod: 'certificate',
    certificateFormat,
    subjectIdentifierType: 'certificateSubject',
  };
}

/**
 * ksef-config `cfg` (a certificate) -> ksef-certificate `certNode` -> `out`, ksef-auth `authNode` -> `authOut`,
 * and a Catch node on both -> `caught`.
 */
async function loadFlow(
  certificate: Record<string, unknown>,
  credentials: Record<string, Record<string, string>>,
  config = certificateConfig('cfg'),
) {
  await helper.load(
    [ksefConfigNode, ksefCertificateNode, ksefAuthNode],
    [
      { id: 'f1', type: 'tab', label: 'test' },
      config,
      { id: 'certNode', type: 'ksef-certificate', z: 'f1', ksef: 'cfg', wires: [['out']], ...certificate },
      { id: 'out', type: 'helper', z: 'f1' },
      { id: 'authNode', type: 'ksef-auth', z: 'f1', ksef: 'cfg', operation: 'authenticate', wires: [['authOut']] },
      { id: 'authOut', type: 'helper', z: 'f1' },
      { id: 'errors', type: 'catch', z: 'f1', scope: ['certNode', 'authNode'], wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'f1' },
    ],
    credentials,
  );
}

async function run(msg: Msg, nodeId = 'certNode', outputId = 'out'): Promise<Msg> {
  const output = nextMessage(outputId);
  helper.getNode(nodeId).receive(msg);
  return output;
}

async function fails(msg: Msg, nodeId = 'certNode'): Promise<Msg> {
  const caught = nextMessage('caught');
  helper.getNode(nodeId).receive(msg);
  return caught;
}

function sealCredentials() {
  const seal = generateTestCertificate({
    subject: { kind: 'seal', organizationName: 'Demo Sprzedawca sp. z o.o.', nip: DEMO_SELLER_NIP },
    pkcs12Password: PKCS12_PASSWORD,
  });
  return { pkcs12: seal.pkcs12.toString('base64'), pkcs12Password: PKCS12_PASSWORD };
}

describe('ksef-certificate', () => {
  it('generates a self-signed test seal without a config node, warns that only the sandbox and TEST accept it, and the certificate signs in', async () => {
    await helper.load(
      [ksefCertificateNode],
      [
        { id: 'f1', type: 'tab', label: 'test' },
        {
          id: 'certNode',
          type: 'ksef-certificate',
          z: 'f1',
          operation: 'generateTestCertificate',
          subjectKind: 'seal',
          organizationName: 'Demo Sprzedawca sp. z o.o.',
          nip: DEMO_SELLER_NIP,
          keyType: 'EC',
          wires: [['out']],
        },
        { id: 'out', type: 'helper', z: 'f1' },
      ],
      { certNode: { pkcs12Password: PKCS12_PASSWORD } },
    );

    const generated = (await run({ payload: '' })).payload;

    expect(Buffer.isBuffer(generated.pkcs12)).toBe(true);
    expect(generated.pkcs12Base64).toBe(generated.pkcs12.toString('base64'));
    expect(generated.warning).toBe(TEST_CERTIFICATE_WARNING);
    const certificate = new X509Certificate(generated.certificatePem);
    expect(certificate.subject).toContain(`VATPL-${DEMO_SELLER_NIP}`);
    expect(certificate.publicKey.asymmetricKeyType).toBe('ec');
    expect(statusesOf('certNode')).toEqual([
      ['blue', 'ksef-certificate.status.generating'],
      ['green', 'ksef-certificate.status.test-certificate'],
    ]);
    const logged = everythingLogged('certNode');
    expect(logged).toContain('ksef-certificate.warnings.test-certificate');
    expect(logged).not.toContain(PKCS12_PASSWORD);
    expect(logged).not.toContain(generated.pkcs12Base64.slice(0, 40));
    await helper.unload();

    // What the help tells users to do: paste pkcs12Base64 into a config node with the Certificate method.
    await loadFlow({ operation: 'limits' }, { cfg: { pkcs12: generated.pkcs12Base64, pkcs12Password: PKCS12_PASSWORD } });
    const session = (await run({ payload: '' }, 'authNode', 'authOut')).payload;
    expect(session.contextIdentifier).toEqual({ type: 'Nip', value: DEMO_SELLER_NIP });
  });

  it('takes a person subject from msg.subject and the PKCS#12 password from msg.pkcs12Password', async () => {
    await loadFlow({ operation: 'generateTestCertificate', subjectKind: 'seal' }, { cfg: sealCredentials() });

    const generated = (
      await run({
        subject: { kind: 'person', givenName: 'Anna', surname: 'Nowak', pesel: '90010112345' },
        pkcs12Password: 'from-the-message',
      })
    ).payload;

    const certificate = new X509Certificate(generated.certificatePem);
    expect(certificate.subject).toContain('serialNumber=PNOPL-90010112345');
    expect(certificate.subject).toContain('GN=Anna');
    expect(generated.privateKeyPem).toContain('PRIVATE KEY');
    expect(loadKeyMaterial({ pkcs12: generated.pkcs12, password: 'from-the-message' }).certificate.fingerprintSha256).toBe(
      generated.fingerprintSha256,
    );
  });

  it('removes msg.pkcs12Password from the message it sends on', async () => {
    await loadFlow(
      { operation: 'generateTestCertificate', subjectKind: 'seal', organizationName: 'Demo Sprzedawca sp. z o.o.', nip: DEMO_SELLER_NIP },
      { cfg: sealCredentials() },
    );

    const output = await run({ payload: '', pkcs12Password: 'from-the-message', topic: 'kept' });

    expect(output).not.toHaveProperty('pkcs12Password');
    expect(output.topic).toBe('kept');
    expect(JSON.stringify(output)).not.toContain('from-the-message');
    expect(loadKeyMaterial({ pkcs12: output.payload.pkcs12, password: 'from-the-message' }).certificate.fingerprintSha256).toBe(
      output.payload.fingerprintSha256,
    );
    expect(everythingLogged('certNode')).not.toContain('from-the-message');
  });

  it('reads enrollment data and limits, enrolls a KSeF certificate that then signs in (PEM), queries, retrieves and revokes it', async () => {
    await loadFlow(
      { operation: 'enrollmentData', certificateName: 'Node-RED seal', certificateType: 'Authentication', keyType: 'EC' },
      {
        cfg: sealCredentials(),
        certNode: { pkcs12Password: PKCS12_PASSWORD },
      },
    );

    expect((await run({ payload: '' })).payload).toMatchObject({ organizationIdentifier: `VATPL-${DEMO_SELLER_NIP}`, countryName: 'PL' });
    const limits = (await run({ operation: 'limits' })).payload;
    expect(limits).toMatchObject({ canRequest: true });

    const enrolledMsg = await run({ operation: 'enroll', pkcs12Password: 'msg-pkcs12-password-9' });
    expect(enrolledMsg).not.toHaveProperty('pkcs12Password');
    const enrolled = enrolledMsg.payload;
    expect(enrolled).toMatchObject({
      status: 'Issued',
      certificateName: 'Node-RED seal',
      certificateType: 'Authentication',
      serialNumber: expect.stringMatching(/^[0-9A-F]{16}$/),
    });
    expect(Buffer.isBuffer(enrolled.pkcs12)).toBe(true);
    expect(enrolled.pkcs12Base64).toBe(enrolled.pkcs12.toString('base64'));
    // msg.pkcs12Password, not the node's, protects the PKCS#12.
    expect(loadKeyMaterial({ pkcs12: enrolled.pkcs12, password: 'msg-pkcs12-password-9' }).certificate.fingerprintSha256).toBe(
      enrolled.fingerprintSha256,
    );
    expect(everythingLogged('certNode')).not.toContain('msg-pkcs12-password-9');
    expect(statusesOf('certNode').at(-1)).toEqual(['green', 'ksef-certificate.status.enrolled']);
    expectNoPemSecret(everythingLogged('certNode'), enrolled.privateKeyPem);

    const queried = (await run({ operation: 'query', filter: { certificateSerialNumber: enrolled.serialNumber } })).payload as Msg[];
    expect(queried).toEqual([expect.objectContaining({ certificateSerialNumber: enrolled.serialNumber, status: 'Active' })]);

    // The output of query wired in as is: retrieve takes the serial numbers of msg.payload's items.
    const retrieved = (await run({ operation: 'retrieve', payload: queried })).payload as Msg[];
    expect(retrieved).toHaveLength(1);
    expect(new X509Certificate(retrieved[0].certificatePem).serialNumber).toBe(new X509Certificate(enrolled.certificatePem).serialNumber);
    await helper.unload();

    // The new KSeF certificate signs in, from PEM with an encrypted key.
    const passphrase = 'key-passphrase-3';
    const encryptedKeyPem = createPrivateKey(enrolled.privateKeyPem)
      .export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase })
      .toString();
    await loadFlow(
      { operation: 'revoke', revocationReason: 'Superseded' },
      {
        cfg: { certificatePem: enrolled.certificatePem, privateKeyPem: encryptedKeyPem, privateKeyPassphrase: passphrase },
      },
      certificateConfig('cfg', 'pem'),
    );
    const session = (await run({ payload: '' }, 'authNode', 'authOut')).payload;
    expect(session.referenceNumber).toMatch(/^\d{8}-AU-/);
    expect(everythingLogged('authNode')).not.toContain(passphrase);

    expect((await run({ payload: enrolled })).payload).toEqual({ certificateSerialNumber: enrolled.serialNumber, revoked: true });
    const afterRevoke = (await run({ operation: 'query', filter: { certificateSerialNumber: enrolled.serialNumber } })).payload as Msg[];
    expect(afterRevoke[0].status).toBe('Revoked');
  });

  it('names the config field when the PKCS#12 is missing, and never shows a wrong password', async () => {
    await loadFlow({ operation: 'limits' }, { cfg: { pkcs12Password: PKCS12_PASSWORD } });
    expect((await fails({ payload: '' })).error.message).toContain('ksef-config.errors.missing-pkcs12');
    await helper.unload();

    const wrongPassword = 'not-the-right-one-42';
    await loadFlow({ operation: 'limits' }, { cfg: { ...sealCredentials(), pkcs12Password: wrongPassword } });
    const caught = await fails({ payload: '' });

    expect(caught.error.message).toContain('ksef-config.errors.bad-credentials');
    expect(JSON.stringify(caught)).not.toContain(wrongPassword);
    expect(everythingLogged('certNode')).not.toContain(wrongPassword);
  });

  it.each([
    [
      'an enroll without a PKCS#12 password',
      { operation: 'enroll', certificateName: 'Node-RED seal' },
      { payload: '' },
      'ksef-certificate.errors.missing-pkcs12-password',
    ],
    [
      'a revoke without a serial number',
      { operation: 'revoke' },
      { payload: { name: 'x' } },
      'ksef-certificate.errors.missing-serial-number',
    ],
    [
      'a retrieve with an item without a serial number',
      { operation: 'retrieve' },
      { payload: ['0123456789ABCDEF', 7] },
      'ksef-certificate.errors.bad-serial-number',
    ],
    ['a query filter that is not an object', { operation: 'query' }, { filter: ['Active'] }, 'ksef-certificate.errors.bad-filter'],
    [
      'a subject that is not an object',
      { operation: 'generateTestCertificate' },
      { subject: 'seal', pkcs12Password: 'x' },
      'ksef-certificate.errors.bad-subject',
    ],
    [
      'an enrollment status without a reference number',
      { operation: 'enrollmentStatus' },
      { payload: {} },
      'ksef-certificate.errors.missing-reference',
    ],
    [
      'completing an enrollment without its private key',
      { operation: 'completeEnrollment' },
      { payload: { referenceNumber: '20251010-EH-1B6C9EB000-4B15D3AEB9-89' }, pkcs12Password: 'x' },
      'ksef-certificate.errors.missing-private-key',
    ],
    [
      'completing an enrollment without its reference number',
      { operation: 'completeEnrollment' },
      { payload: { encryptedPrivateKeyPem: '-----BEGIN ENCRYPTED PRIVATE KEY-----' }, pkcs12Password: 'x' },
      'ksef-certificate.errors.missing-reference',
    ],
  ])('reports %s to Catch as bad input', async (_label, settings, msg, key) => {
    await loadFlow(settings, { cfg: sealCredentials() });
    const output = messagesOf('out');

    const caught = await fails(msg);

    expect(caught.error.message).toContain(key);
    // A password the message carried is gone even when the operation failed.
    expect(caught).not.toHaveProperty('pkcs12Password');
    expect(output).toHaveLength(0);
    expect(statusesOf('certNode').at(-1)).toEqual(['red', 'ksef-certificate.status.bad-input']);
  });

  it('outputs an enrollment whose certificate could not be fetched as Pending, and completes it from that output later', async () => {
    const proxy = await startFaultProxy(sandbox.baseUrl);
    let broken = true;
    proxy.inject(
      (request) => broken && request.method === 'GET' && /^\/certificates\/enrollments\/\d{8}-/.test(request.path),
      { kind: 'respond', status: 503 },
      1000,
    );
    try {
      await loadFlow(
        { operation: 'enroll', certificateName: 'Node-RED pending', certificateType: 'Authentication', keyType: 'EC' },
        { cfg: sealCredentials() },
        {
          ...certificateConfig('cfg'),
          baseUrl: proxy.baseUrl,
        },
      );

      const enrolled = await run({ payload: '', pkcs12Password: PKCS12_PASSWORD });
      broken = false;

      expect(enrolled).not.toHaveProperty('pkcs12Password');
      const pending = enrolled.payload;
      expect(pending).toMatchObject({
        status: 'Pending',
        referenceNumber: expect.stringMatching(/^\d{8}-/),
        certificateName: 'Node-RED pending',
        encryptedPrivateKeyPem: expect.stringMatching(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/),
        reason: expect.stringContaining('503'),
      });
      expect(statusesOf('certNode').at(-1)).toEqual(['green', 'ksef-certificate.status.pending']);
      const logged = everythingLogged('certNode');
      expect(logged).toContain('ksef-certificate.warnings.enrollment-pending');
      expect(logged).not.toContain(PKCS12_PASSWORD);
      expectNoPemSecret(logged, pending.encryptedPrivateKeyPem);

      // The pending output wired in as is: the reference number comes from msg.payload.
      const status = (await run({ operation: 'enrollmentStatus', payload: pending })).payload;
      expect(status).toMatchObject({
        referenceNumber: pending.referenceNumber,
        status: { code: 200 },
        certificateSerialNumber: expect.stringMatching(/^[0-9A-F]{16}$/),
      });
      expect(statusesOf('certNode').at(-1)).toEqual(['green', 'ksef-certificate.status.read']);

      const completed = await run({ operation: 'completeEnrollment', payload: pending, pkcs12Password: PKCS12_PASSWORD });

      expect(completed).not.toHaveProperty('pkcs12Password');
      expect(completed.payload).toMatchObject({
        status: 'Issued',
        referenceNumber: pending.referenceNumber,
        serialNumber: status.certificateSerialNumber,
      });
      expect(completed.payload.pkcs12Base64).toBe(completed.payload.pkcs12.toString('base64'));
      const opened = loadKeyMaterial({ pkcs12: completed.payload.pkcs12Base64, password: PKCS12_PASSWORD });
      expect(opened.certificate.fingerprintSha256).toBe(completed.payload.fingerprintSha256);
      expect(opened.privateKey.export({ format: 'der', type: 'pkcs8' })).toEqual(
        createPrivateKey({ key: pending.encryptedPrivateKeyPem, passphrase: PKCS12_PASSWORD }).export({ format: 'der', type: 'pkcs8' }),
      );
      expect(statusesOf('certNode').at(-1)).toEqual(['green', 'ksef-certificate.status.enrolled']);
      expectNoPemSecret(everythingLogged('certNode'), completed.payload.privateKeyPem);
    } finally {
      await helper.unload();
      await proxy.close();
    }
  });

  it('reports KSeF refusing enrollment data to a KSeF-token session to Catch', async () => {
    await loadFlow(
      { operation: 'enrollmentData' },
      { cfg: { ksefToken: sandbox.ksefToken } },
      { ...certificateConfig('cfg'), authMethod: 'ksefToken' },
    );

    const caught = await fails({ payload: '' });

    expect(caught.ksef.error.name).toMatch(/^Ksef\w*Error$/);
    expect(statusesOf('certNode').at(-1)).toEqual(['red', 'ksef-certificate.status.failed']);
  });
});
