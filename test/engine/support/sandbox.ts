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

/**
 * Base URLs of the sandboxes started in this test file. The engine keeps KSeF's public keys and rate windows per base
 * URL for the whole process (one URL is one KSeF), so a sandbox on a port an earlier one of the file had would meet
 * the earlier sandbox's keys (21470, and the request sent again) and windows. The OS hands a freed port out again
 * soon (in 400 starts in a row, the first port to come back did so after 20 to 170), so each sandbox gets a base URL
 * of its own.
 */
const usedBaseUrls = new Set<string>();

async function startOnUnusedPort(options: SandboxOptions): Promise<SandboxHandle> {
  // Kept open while looking, so the OS cannot offer their ports again.
  const taken: SandboxHandle[] = [];
  try {
    for (;;) {
      const sandbox = await startSandbox(options);
      if (options.port || !usedBaseUrls.has(sandbox.baseUrl)) {
        usedBaseUrls.add(sandbox.baseUrl);
        return sandbox;
      }
      taken.push(sandbox);
    }
  } finally {
    await Promise.all(taken.map((sandbox) => sandbox.close()));
  }
}

export async function startRecordedSandbox(options: SandboxOptions = {}): Promise<RecordedSandbox> {
  const recorder = new ContractRecorder();
  const { exchanges } = recorder;
  const sandbox = await startOnUnusedPort({ processingDelayMs: 5, ...options, onExchange: recorder.record });
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
