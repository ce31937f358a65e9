/**
 * The credential test (`ksefApiTest`) names the 'KSeF API' credential field to fix when the engine rejects the
 * options, in this process and without a network. n8n.test.ts runs the same test through a real n8n server.
 */
import type { ICredentialTestFunctions, ICredentialsDecrypted } from 'n8n-workflow';
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
    expect(result.message).toMatch(/^baseUrl is required .* Fix 'Base URL' in the 'KSeF API' credential\.$/);
  });

  test('Test without a context identifier names the field to fill in, before any request', async () => {
    const result = await testCredential({ environment: 'test', contextIdentifierType: 'Nip', contextIdentifierValue: '', ksefToken: '' });
    expect(result.status).toBe('Error');
    expect(result.message).toMatch(/Fix 'Context Identifier' in the 'KSeF API' credential\.$/);
  });
});
