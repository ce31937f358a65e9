/**
 * The credential test (`ksefApiTest`) in this process: it names the 'KSeF API' credential field to fix when the
 * engine rejects the options (before any request), and authenticates with a certificate pasted as PEM into
 * n8n's single-line fields (against a sandbox on 127.0.0.1). n8n.test.ts and n8n-certificate-token.test.ts run
 * it through a real n8n server.
 */
import type { ICredentialTestFunctions, ICredentialsDecrypted } from 'n8n-workflow';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { generateTestCertificate } from '../../shared';
import { ksefApiTest } from '../../nodes/n8n/Ksef/transport/client';

const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };
const testContext = { logger: silentLogger, helpers: {} } as unknown as ICredentialTestFunctions;

async function testCredential(data: Record<string, string>) {
  const credential: ICredentialsDecrypted = { id: 'test', name: 'KSeF API', type: 'ksefApi', data };
  return await ksefApiTest.call(testContext, credential);
}

describe('ksefApi credential test', () => {
  test('Custom without a base URL names the field to fill in', async () => {
    const result = await testCredential({ environment: 'custom', baseUrl: ' ', contextIdentifierValue: '1234563218', ksefToken: 'x' });
    expect(result.status).toBe('Error');
    expect(result.message).toMatch(/^Fix 'Base URL' in the 'KSeF API' credential\. 'Base URL' is required when environment is 'custom'\./);
  });

  test('Test without a context identifier names the field to fill in, before any request', async () => {
    const result = await testCredential({ environment: 'test', contextIdentifierType: 'Nip', contextIdentifierValue: '', ksefToken: '' });
    expect(result.status).toBe('Error');
    expect(result.message).toMatch(/^Fix 'Context Identifier' in the 'KSeF API' credential\. /);
    expect(result.message).not.toContain('credentials.');
  });
});

describe('ksefApi credential test with the Certificate method', () => {
  let sandbox: SandboxHandle | undefined;
  const seal = generateTestCertificate({
    subject: { kind: 'seal', organizationName: 'Demo Biuro Rachunkowe sp. z o.o.', nip: '1234563218' },
    keyType: 'ec',
    pkcs12Password: 'unused',
  });

  beforeAll(async () => {
    sandbox = await startSandbox();
  });

  afterAll(async () => {
    await sandbox?.close();
  });

  const pemCredential = (privateKeyPem: string) => ({
    environment: 'custom',
    baseUrl: sandbox!.baseUrl,
    contextIdentifierType: 'Nip',
    contextIdentifierValue: '1234563218',
    authenticationMethod: 'certificate',
    certificateFormat: 'pem',
    certificatePem: seal.certificatePem,
    privateKeyPem,
  });

  test('a PEM private key pasted into the single-line password field, its line breaks lost, still authenticates', async () => {
    const flattened = seal.privateKeyPem.replace(/\n/g, ' ');
    await expect(testCredential(pemCredential(flattened))).resolves.toEqual({
      status: 'OK',
      message: 'Authenticated to KSeF (custom) with the certificate in context Nip 1234563218',
    });
  });

  test('a private key that is not PEM names the field to fix, and is not repeated', async () => {
    const result = await testCredential(pemCredential('MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEH'));
    expect(result.status).toBe('Error');
    expect(result.message).toMatch(/^Fix 'Private Key \(PEM\)' in the 'KSeF API' credential\. /);
    expect(result.message).not.toContain('MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEH');
  });
});
