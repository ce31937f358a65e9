import { clientOptionsFromSettings, createKsefClient, KsefInputError } from '../../shared';
import type {
  AuthTokenRequestSchemaVersion,
  ContextIdentifierType,
  EnvironmentName,
  KsefClient,
  KsefClientOptions,
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
  allowedIps?: string;
  allowCurrentIp?: boolean;
  authTokenRequestSchema?: AuthTokenRequestSchemaVersion;
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

  /**
   * Maps the editor fields to engine options. Fields the form must have are checked here, so the message names
   * the editor field in the user's language; the rest is the engine's to check.
   */
  function clientOptions(def: KsefConfigDef, node: KsefConfigNode): KsefClientOptions {
    const environment = def.environment || 'sandbox';
    const credentials: Partial<KsefConfigCredentials> = node.credentials ?? {};
    const given = (value: string | undefined) => !!value?.trim();
    if (environment === 'custom' && !given(def.baseUrl)) throw new Error(RED._('ksef-config.errors.missing-base-url'));
    if (environment !== 'sandbox' && !given(def.contextValue)) throw new Error(RED._('ksef-config.errors.missing-context'));
    if (def.authMethod === 'certificate') {
      if (def.certificateFormat === 'pem') {
        if (!given(credentials.certificatePem) || !given(credentials.privateKeyPem)) throw new Error(RED._('ksef-config.errors.missing-pem'));
      } else if (!given(credentials.pkcs12)) {
        throw new Error(RED._('ksef-config.errors.missing-pkcs12'));
      }
    } else if (environment !== 'sandbox' && !given(credentials.ksefToken)) {
      throw new Error(RED._('ksef-config.errors.missing-token'));
    }
    return clientOptionsFromSettings(
      {
        environment,
        baseUrl: def.baseUrl,
        contextIdentifierType: def.contextType,
        contextIdentifierValue: def.contextValue,
        authenticationMethod: def.authMethod,
        certificateFormat: def.certificateFormat,
        subjectIdentifierType: def.subjectIdentifierType,
        allowedIps: def.allowedIps,
        allowCurrentIp: def.allowCurrentIp,
        authTokenRequestSchema: def.authTokenRequestSchema,
        ...credentials,
      },
      runtimeLogger(node),
    );
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
