import type { SandboxHandle } from '../../sandbox';

/** The n8n KSeF API credential's fields for a sandbox: its address, the demo context and its KSeF token. */
export function sandboxCredentialData(sandbox: Pick<SandboxHandle, 'baseUrl' | 'contextIdentifier' | 'ksefToken'>): Record<string, string> {
  return {
    environment: 'custom',
    baseUrl: sandbox.baseUrl,
    contextIdentifierType: 'Nip',
    contextIdentifierValue: sandbox.contextIdentifier.value,
    authenticationMethod: 'ksefToken',
    ksefToken: sandbox.ksefToken,
  };
}
