import { createKsefClient } from '../../shared';
import type { ContextIdentifierType, EnvironmentName, KsefClient, KsefClientOptions, Logger } from '../../shared/types';
import type { Node, NodeAPI, NodeDef } from './runtimeTypes';

interface KsefConfigDef extends NodeDef {
  environment?: EnvironmentName;
  baseUrl?: string;
  contextType?: ContextIdentifierType;
  contextValue?: string;
}

interface KsefConfigCredentials {
  ksefToken: string;
}

export interface KsefConfigNode extends Node<KsefConfigCredentials> {
  /** The engine client of this configuration, created on first use and closed with the node. */
  client(): KsefClient;
}

/**
 * Config node: one KSeF environment and the credentials for it. Send nodes share its engine client,
 * so they share its access-token cache.
 */
export default function registerKsefConfig(RED: NodeAPI): void {
  function KsefConfig(this: KsefConfigNode, def: KsefConfigDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    let client: KsefClient | undefined;

    node.client = () => (client ??= createKsefClient(clientOptions(def, node)));

    node.on('close', (_removed, done) => {
      const closing = client;
      client = undefined;
      Promise.resolve(closing?.close())
        .catch((err: unknown) => node.warn(RED._('ksef-config.errors.close-failed', { reason: messageOf(err) })))
        .finally(done);
    });
  }

  /** Maps the editor fields to engine options; errors name the editor field to fix. */
  function clientOptions(def: KsefConfigDef, node: KsefConfigNode): KsefClientOptions {
    const environment = def.environment || 'sandbox';
    const baseUrl = def.baseUrl?.trim();
    const contextValue = def.contextValue?.trim();
    const ksefToken = node.credentials.ksefToken?.trim();
    if (environment === 'custom' && !baseUrl) throw new Error(RED._('ksef-config.errors.missing-base-url'));
    if (environment !== 'sandbox' && !contextValue) throw new Error(RED._('ksef-config.errors.missing-context'));
    if (environment !== 'sandbox' && !ksefToken) throw new Error(RED._('ksef-config.errors.missing-token'));
    return {
      environment,
      ...(environment === 'custom' && { baseUrl }),
      credentials: {
        method: 'ksefToken',
        ...(contextValue && { contextIdentifier: { type: def.contextType || 'Nip', value: contextValue } }),
        ...(ksefToken && { ksefToken }),
      },
      logger: runtimeLogger(node),
    };
  }

  RED.nodes.registerType('ksef-config', KsefConfig as (this: never, def: never) => void, {
    credentials: { ksefToken: { type: 'password' } },
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
