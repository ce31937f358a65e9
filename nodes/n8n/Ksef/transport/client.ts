import type {
  ICredentialDataDecryptedObject,
  ICredentialTestFunctions,
  ICredentialsDecrypted,
  IExecuteFunctions,
  INodeCredentialTestResult,
} from 'n8n-workflow';
import { createKsefClient } from '../../../../shared';
import { sha256Hex } from '../../../../shared/crypto/hashes';
import type { ContextIdentifierType, EnvironmentName, KsefClient, KsefClientOptions, Logger } from '../../../../shared/types';
import { credentialTestMessage } from './errors';

export const KSEF_CREDENTIAL_NAME = 'ksefApi';

/** The fields of the `ksefApi` credential (credentials/KsefApi.credentials.ts). */
interface KsefApiCredentialData {
  environment: EnvironmentName;
  baseUrl?: string;
  contextIdentifierType?: ContextIdentifierType;
  contextIdentifierValue?: string;
  ksefToken?: string;
}

/**
 * One engine client per credential content for the life of the n8n process, so its cached access token is reused
 * across executions. Keyed by a hash, so an edited credential gets a fresh client and the token is not a map key.
 */
const clients = new Map<string, KsefClient>();

function readCredentialData(data: ICredentialDataDecryptedObject | undefined): KsefApiCredentialData {
  const text = (name: string) => (typeof data?.[name] === 'string' ? (data[name] as string).trim() : '');
  return {
    environment: (text('environment') || 'sandbox') as EnvironmentName,
    baseUrl: text('baseUrl') || undefined,
    contextIdentifierType: (text('contextIdentifierType') || 'Nip') as ContextIdentifierType,
    contextIdentifierValue: text('contextIdentifierValue') || undefined,
    ksefToken: text('ksefToken') || undefined,
  };
}

function clientOptions(credential: KsefApiCredentialData, logger?: Logger): KsefClientOptions {
  return {
    environment: credential.environment,
    ...(credential.environment === 'custom' && { baseUrl: credential.baseUrl }),
    credentials: {
      method: 'ksefToken',
      ...(credential.contextIdentifierValue && {
        contextIdentifier: { type: credential.contextIdentifierType ?? 'Nip', value: credential.contextIdentifierValue },
      }),
      ...(credential.ksefToken && { ksefToken: credential.ksefToken }),
    },
    logger,
  };
}

export async function getKsefClient(this: IExecuteFunctions): Promise<KsefClient> {
  const credential = readCredentialData(await this.getCredentials<ICredentialDataDecryptedObject>(KSEF_CREDENTIAL_NAME));
  const key = sha256Hex(JSON.stringify(credential));
  let client = clients.get(key);
  if (!client) {
    client = createKsefClient(clientOptions(credential, this.logger));
    clients.set(key, client);
  }
  return client;
}

/** The credential test behind the "Test" button: a real authentication with a throwaway client. */
export async function ksefApiTest(
  this: ICredentialTestFunctions,
  credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
  const data = readCredentialData(credential.data);
  let client: KsefClient | undefined;
  try {
    client = createKsefClient(clientOptions(data, this.logger));
    const session = await client.authenticate({ force: true });
    const context = session.contextIdentifier;
    return { status: 'OK', message: `Authenticated to KSeF (${data.environment}) in context ${context.type} ${context.value}` };
  } catch (error) {
    return { status: 'Error', message: credentialTestMessage(error) };
  } finally {
    await client?.close();
  }
}
