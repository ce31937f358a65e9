import {
  clientOptionsFromSettings,
  createKsefClient,
  KsefInputError,
  type AuthTokenRequestSchemaVersion,
  type ContextIdentifierType,
  type EnvironmentName,
  type KsefClient,
  type KsefClientOptions,
  type Logger,
  type StateStore,
  type SubjectIdentifierType,
} from '../../shared';
import { embeddedSandbox } from '../../sandbox';
import type { Node, NodeAPI, NodeDef } from './runtimeTypes';
import { NodeContextStore } from './state';

/** The settings of the dialog (the credentials aside). */
interface KsefConfigSettings {
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

interface KsefConfigDef extends NodeDef, KsefConfigSettings {}

const SETTING_NAMES: Array<keyof KsefConfigSettings> = [
  'environment',
  'baseUrl',
  'contextType',
  'contextValue',
  'authMethod',
  'certificateFormat',
  'subjectIdentifierType',
  'allowedIps',
  'allowCurrentIp',
  'authTokenRequestSchema',
];

interface KsefConfigCredentials {
  ksefToken: string;
  /** PKCS#12 (.p12/.pfx) file as Base64 text. */
  pkcs12: string;
  pkcs12Password: string;
  certificatePem: string;
  privateKeyPem: string;
  privateKeyPassphrase: string;
}

const CREDENTIALS: Record<keyof KsefConfigCredentials, { type: 'text' | 'password' }> = {
  ksefToken: { type: 'password' },
  pkcs12: { type: 'password' },
  pkcs12Password: { type: 'password' },
  certificatePem: { type: 'text' },
  privateKeyPem: { type: 'password' },
  privateKeyPassphrase: { type: 'password' },
};

/** The dialog's default environment; the engine takes it only when handed in. */
const sandbox = embeddedSandbox();

/** What the editor sends for a saved password credential the user did not retype. */
const SAVED_PASSWORD = '__PWRD__';

/** The answer of the Test connection endpoint: never a secret, only what identifies the authentication. */
type ConnectionTestAnswer =
  { ok: true; referenceNumber: string; contextIdentifier: { type: string; value: string } } | { ok: false; error: string };

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

    // What must outlive a run (an export KSeF is still building, resumed by the next run) lives in this node's context,
    // which a persistent context store (settings.js `contextStorage`) keeps across restarts.
    node.client = () => (client ??= createClient(def, node.credentials ?? {}, runtimeLogger(node), new NodeContextStore(node.context())));

    node.on('close', (_removed, done) => {
      const closing = client;
      client = undefined;
      Promise.resolve(closing?.close())
        .catch((err: unknown) => node.warn(RED._('ksef-config.errors.close-failed', { reason: messageOf(err) })))
        .finally(done);
    });
  }

  /** The engine rejects unusable credentials (e.g. a wrong PKCS#12 password) at once; say they come from this node. */
  function createClient(
    settings: KsefConfigSettings,
    credentials: Partial<KsefConfigCredentials>,
    logger?: Logger,
    stateStore?: StateStore,
  ): KsefClient {
    const options = { ...clientOptions(settings, credentials, logger), ...(stateStore && { stateStore }) };
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
  function clientOptions(def: KsefConfigSettings, credentials: Partial<KsefConfigCredentials>, logger?: Logger): KsefClientOptions {
    const environment = def.environment || 'sandbox';
    const given = (value: string | undefined) => !!value?.trim();
    if (environment === 'custom' && !given(def.baseUrl)) throw new Error(RED._('ksef-config.errors.missing-base-url'));
    if (environment !== 'sandbox' && !given(def.contextValue)) throw new Error(RED._('ksef-config.errors.missing-context'));
    if (def.authMethod === 'certificate') {
      if (def.certificateFormat === 'pem') {
        if (!given(credentials.certificatePem) || !given(credentials.privateKeyPem))
          throw new Error(RED._('ksef-config.errors.missing-pem'));
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
      { sandbox, logger },
    );
  }

  /**
   * The dialog's Test connection button: authenticates anew with the settings as typed in the dialog, before they are
   * deployed. A saved password the user did not retype arrives as the editor's placeholder and is taken from the
   * deployed credentials of the same config node. The answer holds the engine's message on failure (the engine's
   * errors never repeat a secret) and no credential.
   */
  async function testConnection(id: string, body: unknown): Promise<ConnectionTestAnswer> {
    const typed = isRecord(body) ? body : {};
    let client: KsefClient | undefined;
    try {
      client = createClient(settingsOf(typed), credentialsOf(id, isRecord(typed.credentials) ? typed.credentials : {}));
      const { referenceNumber, contextIdentifier } = await client.authenticate({ force: true });
      return { ok: true, referenceNumber, contextIdentifier };
    } catch (err) {
      return { ok: false, error: messageOf(err) };
    } finally {
      await client?.close();
    }
  }

  function credentialsOf(id: string, typed: Record<string, unknown>): Partial<KsefConfigCredentials> {
    const stored = RED.nodes.getCredentials(id) ?? {};
    const credentials: Partial<KsefConfigCredentials> = {};
    for (const name of Object.keys(CREDENTIALS) as Array<keyof KsefConfigCredentials>) {
      const value = typed[name] === SAVED_PASSWORD && CREDENTIALS[name].type === 'password' ? stored[name] : typed[name];
      if (typeof value === 'string') credentials[name] = value;
    }
    return credentials;
  }

  RED.nodes.registerType('ksef-config', KsefConfig as (this: never, def: never) => void, { credentials: CREDENTIALS });

  RED.httpAdmin.post('/ksef-config/:id/test', RED.auth.needsPermission('ksef-config.write'), (req, res) => {
    void testConnection(req.params.id, req.body)
      .catch((err: unknown): ConnectionTestAnswer => ({ ok: false, error: messageOf(err) }))
      .then((answer) => res.json(answer));
  });
}

/** The dialog's settings from a request body: only the known fields, only of the types the dialog sends. */
function settingsOf(typed: Record<string, unknown>): KsefConfigSettings {
  const settings: Record<string, string | boolean> = {};
  for (const name of SETTING_NAMES) {
    const value = typed[name];
    if (typeof value === 'string' || typeof value === 'boolean') settings[name] = value;
  }
  return settings as KsefConfigSettings;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
