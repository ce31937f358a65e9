import { createKsefClient, KsefInputError } from '../../shared';
import type {
  ContextIdentifierType,
  EnvironmentName,
  KsefClient,
  KsefClientOptions,
  KsefCredentials,
  Logger,
  SubjectIdentifierType,
} from '../../shared/types';
import type { Node, NodeAPI, NodeDef } from './runtimeTypes';

interface KsefConfigDef extends NodeDef {
  environment?: EnvironmentName;
  baseUrl?: string;
  contextType?: ContextIdentifierType;
  contextValue?: string;
  authMethod?: 'ksefToken' | 'certificate';
  certificateFormat?: 'pkcs12' | 'pem';
  subjectIdentifierType?: SubjectIdentifierType;
}

interface KsefConfigCredentials {
  ksefToken: string;
  /** PKCS#12 (.p12/.pfx) file as Base64 text. */
  pkcs12: string;
  pkcs12Password: string;
  certificatePem: string;
  privateKeyPem: string;
  privateKeyPassphrase: string;
}

export interface KsefConfigNode extends Node<KsefConfigCredentials> {
  /** The engine client of this configuration, created on first use and closed with the node. */
  client(): KsefClient;
}

/**
 * Config node: one KSeF environment and the credentials for it (a KSeF token or a certificate). The KSeF nodes
 * share its engine client, so they share its access-token cache.
 */
export default function registerKsefConfig(RED: NodeAPI): void {
  function KsefConfig(this: KsefConfigNode, def: KsefConfigDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    let client: KsefClient | undefined;

    node.client = () => (client ??= createClient(def, node));

    node.on('close', (_removed, done) => {
      const closing = client;
      client = undefined;
      Promise.resolve(closing?.close())
        .catch((err: unknown) => node.warn(RED._('ksef-config.errors.close-failed', { reason: messageOf(err) })))
        .finally(done);
    });
  }

  /** The engine rejects unusable credentials (e.g. a wrong PKCS#12 password) at once; say they come from this node. */
  function createClient(def: KsefConfigDef, node: KsefConfigNode): KsefClient {
    const options = clientOptions(def, node);
    try {
      return createKsefClient(options);
    } catch (err) {
      if (err instanceof KsefInputError) throw new Error(RED._('ksef-config.errors.bad-credentials', { reason: err.message }));
      throw err;
    }
  }

  /** Maps the editor fields to engine options; errors name the editor field to fix. */
  function clientOptions(def: KsefConfigDef, node: KsefConfigNode): KsefClientOptions {
    const environment = def.environment || 'sandbox';
    const baseUrl = def.baseUrl?.trim();
    const contextValue = def.contextValue?.trim();
    if (environment === 'custom' && !baseUrl) throw new Error(RED._('ksef-config.errors.missing-base-url'));
    if (environment !== 'sandbox' && !contextValue) throw new Error(RED._('ksef-config.errors.missing-context'));
    const contextIdentifier = contextValue ? { type: def.contextType || 'Nip', value: contextValue } : undefined;
    return {
      environment,
      ...(environment === 'custom' && { baseUrl }),
      credentials:
        def.authMethod === 'certificate'
          ? certificateCredentials(def, node.credentials, contextIdentifier)
          : ksefTokenCredentials(environment, node.credentials, contextIdentifier),
      logger: runtimeLogger(node),
    };
  }

  function ksefTokenCredentials(
    environment: EnvironmentName,
    credentials: Partial<KsefConfigCredentials>,
    contextIdentifier: KsefCredentials['contextIdentifier'],
  ): KsefCredentials {
    const ksefToken = credentials.ksefToken?.trim();
    if (environment !== 'sandbox' && !ksefToken) throw new Error(RED._('ksef-config.errors.missing-token'));
    return { method: 'ksefToken', ...(contextIdentifier && { contextIdentifier }), ...(ksefToken && { ksefToken }) };
  }

  function certificateCredentials(
    def: KsefConfigDef,
    credentials: Partial<KsefConfigCredentials>,
    contextIdentifier: KsefCredentials['contextIdentifier'],
  ): KsefCredentials {
    const subjectIdentifierType = def.subjectIdentifierType || 'certificateSubject';
    if (def.certificateFormat === 'pem') {
      const certificatePem = credentials.certificatePem?.trim();
      const privateKeyPem = credentials.privateKeyPem?.trim();
      if (!certificatePem || !privateKeyPem) throw new Error(RED._('ksef-config.errors.missing-pem'));
      return {
        method: 'certificate',
        ...(contextIdentifier && { contextIdentifier }),
        certificate: { certificatePem, privateKeyPem, ...(credentials.privateKeyPassphrase && { passphrase: credentials.privateKeyPassphrase }) },
        subjectIdentifierType,
      };
    }
    const pkcs12 = credentials.pkcs12?.trim();
    if (!pkcs12) throw new Error(RED._('ksef-config.errors.missing-pkcs12'));
    return {
      method: 'certificate',
      ...(contextIdentifier && { contextIdentifier }),
      certificate: { pkcs12, password: credentials.pkcs12Password ?? '' },
      subjectIdentifierType,
    };
  }

  RED.nodes.registerType('ksef-config', KsefConfig as (this: never, def: never) => void, {
    credentials: {
      ksefToken: { type: 'password' },
      pkcs12: { type: 'password' },
      pkcs12Password: { type: 'password' },
      certificatePem: { type: 'text' },
      privateKeyPem: { type: 'password' },
      privateKeyPassphrase: { type: 'password' },
    },
  });
}

/**
 * Engine log lines go to the Node-RED log. Engine errors are logged as warnings: `node.error` on a config
 * node would reach the Catch nodes of every flow using it, while the failing call already reports to its own.
 */
function runtimeLogger(node: KsefConfigNode): Logger {
  const line = (message: string, data?: Record<string, unknown>) => (data ? `${message} ${JSON.stringify(data)}` : message);
  return {
    debug: (message, data) => node.debug(line(message, data)),
    info: (message, data) => node.log(line(message, data)),
    warn: (message, data) => node.warn(line(message, data)),
    error: (message, data) => node.warn(line(message, data)),
  };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
