import { createHash } from 'node:crypto';
import type {
  ICredentialDataDecryptedObject,
  ICredentialTestFunctions,
  ICredentialsDecrypted,
  IExecuteFunctions,
  ILoadOptionsFunctions,
  INodeCredentialTestResult,
  IPollFunctions,
} from 'n8n-workflow';
import { embeddedSandbox, type EmbeddedSandboxProvider } from '../../../../sandbox';
import {
  clientOptionsFromSettings,
  createKsefClient,
  type ConnectionSettings,
  type KsefClient,
  type KsefClientOptions,
  type StateStore,
} from '../../../../shared';
import { credentialTestMessage } from './errors';

export const KSEF_CREDENTIAL_NAME = 'ksefApi';

/**
 * The credential's default environment, the engine takes it only when handed in; seeded with the credential's
 * 'Demo: Received Invoices to Seed' when it starts.
 */
function sandboxOf(data: ICredentialDataDecryptedObject | undefined): EmbeddedSandboxProvider {
  const seedReceived = Number(data?.sandboxSeedReceived ?? 0);
  return embeddedSandbox(Number.isInteger(seedReceived) && seedReceived > 0 ? { seedReceived } : {});
}

/**
 * One engine client per credential content for the life of the n8n process, so its cached access token is reused
 * across executions. Keyed by a hash, so an edited credential gets a fresh client and the token is not a map key.
 */
const clients = new Map<string, KsefClient>();

/** The `ksefApi` credential's fields (credentials/KsefApi.credentials.ts) are the engine's connection settings. */
function settingsOf(data: ICredentialDataDecryptedObject | undefined): ConnectionSettings {
  const settings: Record<string, string | boolean> = {};
  for (const [name, value] of Object.entries(data ?? {}))
    if (typeof value === 'string' || typeof value === 'boolean') settings[name] = value;
  return settings as ConnectionSettings;
}

/** The node contexts that use the engine: operations, a polling trigger's poll and the editor's option lists. */
export type KsefFunctions = IExecuteFunctions | IPollFunctions | ILoadOptionsFunctions;

export async function getKsefClient(this: KsefFunctions): Promise<KsefClient> {
  const data = await credentialData.call(this);
  const key = createHash('sha256').update(JSON.stringify(data)).digest('hex');
  let client = clients.get(key);
  if (!client) {
    client = createKsefClient(clientOptionsOf(data, this.logger));
    clients.set(key, client);
  }
  return client;
}

async function credentialData(this: KsefFunctions): Promise<ICredentialDataDecryptedObject> {
  return await this.getCredentials<ICredentialDataDecryptedObject>(KSEF_CREDENTIAL_NAME);
}

function clientOptionsOf(data: ICredentialDataDecryptedObject | undefined, logger: KsefFunctions['logger']): KsefClientOptions {
  return clientOptionsFromSettings(settingsOf(data), { sandbox: sandboxOf(data), logger });
}

/**
 * Runs `use` with a client whose state (pending exports to resume) lives in `stateStore`, e.g. the node's workflow
 * static data, and closes it afterwards. The access token is still shared: clients keep it in the process-wide token
 * store.
 */
export async function withStatefulKsefClient<T>(
  this: KsefFunctions,
  stateStore: StateStore,
  use: (client: KsefClient) => Promise<T>,
): Promise<T> {
  const client = createKsefClient({ ...clientOptionsOf(await credentialData.call(this), this.logger), stateStore });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

/** The credential test behind the "Test" button: a real authentication with a throwaway client. */
export async function ksefApiTest(this: ICredentialTestFunctions, credential: ICredentialsDecrypted): Promise<INodeCredentialTestResult> {
  const settings = settingsOf(credential.data);
  let client: KsefClient | undefined;
  try {
    client = createKsefClient(clientOptionsOf(credential.data, this.logger));
    const session = await client.authenticate({ force: true });
    const context = session.contextIdentifier;
    const method = settings.authenticationMethod === 'certificate' ? ' with the certificate' : '';
    return {
      status: 'OK',
      message: `Authenticated to KSeF (${settings.environment || 'sandbox'})${method} in context ${context.type} ${context.value}`,
    };
  } catch (error) {
    return { status: 'Error', message: credentialTestMessage(error) };
  } finally {
    await client?.close();
  }
}
