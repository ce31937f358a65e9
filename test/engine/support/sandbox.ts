import { startSandbox, type SandboxExchange, type SandboxHandle, type SandboxOptions } from '../../../sandbox';
import { ContractRecorder } from '../../support/contract';
import { createKsefClient, MemoryTokenStore, type KsefClient, type KsefClientOptions } from '../../../shared';

/**
 * A sandbox that records every exchange, so tests can count what the engine asked for. Closing it fails when any
 * answer the engine got broke the official OpenAPI contract.
 */
export interface RecordedSandbox extends SandboxHandle {
  exchanges: SandboxExchange[];
  count(operation: string): number;
}

export async function startRecordedSandbox(options: SandboxOptions = {}): Promise<RecordedSandbox> {
  const recorder = new ContractRecorder();
  const { exchanges } = recorder;
  const sandbox = await startSandbox({ processingDelayMs: 5, ...options, onExchange: recorder.record });
  return {
    ...sandbox,
    exchanges,
    async close() {
      await sandbox.close();
      const violations = recorder.violations();
      if (violations.length > 0) throw new Error(`Sandbox answers broke the OpenAPI contract:\n${violations.join('\n')}`);
    },
    count: (operation) => exchanges.filter((e) => e.operation === operation).length,
  };
}

/** A client of `sandbox` (or of a proxy in front of it) with its own token store unless one is given. */
export function clientOf(sandbox: SandboxHandle, overrides: Partial<KsefClientOptions> & { baseUrl?: string } = {}): KsefClient {
  return createKsefClient({
    environment: 'custom',
    baseUrl: sandbox.baseUrl,
    credentials: { method: 'ksefToken', contextIdentifier: sandbox.contextIdentifier, ksefToken: sandbox.ksefToken },
    tokenStore: new MemoryTokenStore(),
    ...overrides,
  });
}
