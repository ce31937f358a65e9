import type {
  ICredentialDataDecryptedObject,
  ICredentialTestFunctions,
  ICredentialsDecrypted,
  IExecuteFunctions,
  INodeCredentialTestResult,
} from 'n8n-workflow';
import { createKsefClient } from '../../../../shared';
import { sha256Hex } from '../../../../shared/crypto/hashes';
import type {
  ContextIdentifierType,
  EnvironmentName,
  KsefClient,
  KsefClientOptions,
  KsefCredentials,
  Logger,
  SubjectIdentifierType,
} from '../../../../shared/types';
import { credentialTestMessage } from './errors';

export const KSEF_CREDENTIAL_NAME = 'ksefApi';

/** The fields of the `ksefApi` credential (credentials/KsefApi.credentials.ts). */
interface KsefApiCredentialData {
  environment: EnvironmentName;
  baseUrl?: string;
  contextIdentifierType?: ContextIdentifierType;
  contextIdentifierValue?: string;
  authenticationMethod: 'ksefToken' | 'certificate';
  ksefToken?: string;
  certificateFormat?: 'pkcs12' | 'pem';
  pkcs12?: string;
  pkcs12Password?: string;
  certificatePem?: string;
  privateKeyPem?: string;
  privateKeyPassphrase?: string;
  subjectIdentifierType?: SubjectIdentifierType;
}

/**
 * One engine client per credential content for the life of the n8n process, so its cached access token is reused
 * across executions. Keyed by a hash, so an edited credential gets a fresh client and the token is not a map key.
 */
const clients = new Map<string, KsefClient>();

/**
 * n8n's password inputs are single-line: a pasted PEM arrives with its line breaks removed or turned into spaces,
 * which no PEM reader accepts. Each BEGIN/END block is re-wrapped the way PEM is written.
 */
function restorePemLineBreaks(pem: string): string {
  if (pem.includes('\n')) return pem;
  return pem.replace(
    /-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----/g,
    (_block, label: string, body: string) =>
      `-----BEGIN ${label}-----\n${(body.replace(/\s+/g, '').match(/.{1,64}/g) ?? []).join('\n')}\n-----END ${label}-----\n`,
  );
}

function readCredentialData(data: ICredentialDataDecryptedObject | undefined): KsefApiCredentialData {
  const text = (name: string) => (typeof data?.[name] === 'string' ? (data[name] as string).trim() : '');
  // Passwords are taken as typed: spaces may be part of them.
  const secret = (name: string) => (typeof data?.[name] === 'string' ? (data[name] as string) : undefined);
  return {
    environment: (text('environment') || 'sandbox') as EnvironmentName,
    baseUrl: text('baseUrl') || undefined,
    contextIdentifierType: (text('contextIdentifierType') || 'Nip') as ContextIdentifierType,
    contextIdentifierValue: text('contextIdentifierValue') || undefined,
    // Credentials saved before certificates were supported have no method: they hold a KSeF token.
    authenticationMethod: text('authenticationMethod') === 'certificate' ? 'certificate' : 'ksefToken',
    ksefToken: text('ksefToken') || undefined,
    certificateFormat: text('certificateFormat') === 'pem' ? 'pem' : 'pkcs12',
    pkcs12: text('pkcs12') || undefined,
    pkcs12Password: secret('pkcs12Password'),
    certificatePem: text('certificatePem') ? restorePemLineBreaks(text('certificatePem')) : undefined,
    privateKeyPem: text('privateKeyPem') ? restorePemLineBreaks(text('privateKeyPem')) : undefined,
    privateKeyPassphrase: secret('privateKeyPassphrase') || undefined,
    subjectIdentifierType: (text('subjectIdentifierType') || undefined) as SubjectIdentifierType | undefined,
  };
}

function engineCredentials(credential: KsefApiCredentialData): KsefCredentials {
  const contextIdentifier = credential.contextIdentifierValue
    ? { contextIdentifier: { type: credential.contextIdentifierType ?? 'Nip', value: credential.contextIdentifierValue } }
    : {};
  if (credential.authenticationMethod === 'ksefToken') {
    return { method: 'ksefToken', ...contextIdentifier, ...(credential.ksefToken && { ksefToken: credential.ksefToken }) };
  }
  return {
    method: 'certificate',
    ...contextIdentifier,
    certificate:
      credential.certificateFormat === 'pem'
        ? { certificatePem: credential.certificatePem, privateKeyPem: credential.privateKeyPem, passphrase: credential.privateKeyPassphrase }
        : { pkcs12: credential.pkcs12, password: credential.pkcs12Password },
    subjectIdentifierType: credential.subjectIdentifierType,
  };
}

function clientOptions(credential: KsefApiCredentialData, logger?: Logger): KsefClientOptions {
  return {
    environment: credential.environment,
    ...(credential.environment === 'custom' && { baseUrl: credential.baseUrl }),
    credentials: engineCredentials(credential),
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
    const method = data.authenticationMethod === 'certificate' ? ' with the certificate' : '';
    return { status: 'OK', message: `Authenticated to KSeF (${data.environment})${method} in context ${context.type} ${context.value}` };
  } catch (error) {
    return { status: 'Error', message: credentialTestMessage(error) };
  } finally {
    await client?.close();
  }
}
