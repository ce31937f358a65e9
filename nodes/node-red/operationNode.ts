import { KsefInputError, type KsefClient } from '../../shared';
import type { KsefConfigNode } from './ksef-config';
import type { Node, NodeAPI, NodeDef, NodeMessage } from './runtimeTypes';

/** The node settings every operation node has. */
export interface OperationNodeDef extends NodeDef {
  /** Id of the ksef-config node. */
  ksef?: string;
  operation?: string;
}

export interface OperationInput<Def, Credentials> {
  msg: NodeMessage;
  def: Def;
  node: Node<Credentials>;
  /** The config node's engine client; throws the node's `errors.no-config` when no config is selected. */
  client(): KsefClient;
}

export interface OperationResult {
  payload: unknown;
  /** Key under `<type>.status.` shown (green) when the operation succeeded. */
  status: string;
  count?: number;
}

export interface Operation<Def, Credentials> {
  /** Key under `<type>.status.` shown (blue) while the operation runs. */
  running: string;
  /** True when the operation needs no KSeF connection (and so no config node). */
  offline?: boolean;
  run(input: OperationInput<Def, Credentials>): Promise<OperationResult>;
}

/** A problem with the message or the node settings, reported with `status` (a key under `<type>.status.`). */
export class NodeInputError extends Error {
  constructor(
    message: string,
    readonly status = 'bad-input',
  ) {
    super(message);
  }
}

/**
 * Registers a node that runs one of `operations` per message: the one chosen in the node, or `msg.operation` when
 * set. The result replaces `msg.payload`; a failure goes to `done(err)` so Catch nodes see it, with KSeF's error
 * details in `msg.ksef.error`. Statuses and errors come from the `<type>` catalogue: `status.<running|result>`,
 * `status.failed`, `status.bad-input`, `status.no-config`, `errors.no-config` and `errors.bad-operation`.
 */
export function registerOperationNode<Def extends OperationNodeDef, Credentials = Record<string, never>>(
  RED: NodeAPI,
  type: string,
  operations: Record<string, Operation<Def, Credentials>>,
  credentials?: Record<string, { type: 'text' | 'password' }>,
): void {
  function OperationNode(this: Node<Credentials>, def: Def): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const config = def.ksef ? (RED.nodes.getNode(def.ksef) as KsefConfigNode | null) : null;
    const status = (fill: 'blue' | 'green' | 'red', key: string, count?: number) =>
      node.status({ fill, shape: 'dot', text: RED._(`${type}.status.${key}`, count === undefined ? undefined : { count }) });
    const client = (): KsefClient => {
      if (!config) throw new NodeInputError(RED._(`${type}.errors.no-config`), 'no-config');
      return config.client();
    };

    if (!config && !operations[def.operation ?? '']?.offline) status('red', 'no-config');

    node.on('input', (msg, send, done) => {
      void (async () => {
        const name = typeof msg.operation === 'string' && msg.operation !== '' ? msg.operation : def.operation ?? '';
        const operation = Object.prototype.hasOwnProperty.call(operations, name) ? operations[name] : undefined;
        if (!operation) {
          status('red', 'bad-input');
          return done(new Error(RED._(`${type}.errors.bad-operation`, { operation: name, operations: Object.keys(operations).join(', ') })));
        }
        status('blue', operation.running);
        let result: OperationResult;
        try {
          result = await operation.run({ msg, def, node, client });
        } catch (err) {
          status('red', err instanceof NodeInputError ? err.status : err instanceof KsefInputError ? 'bad-input' : 'failed');
          if (hasToJson(err)) msg.ksef = { error: err.toJSON() };
          return done(err instanceof Error ? err : new Error(String(err)));
        }
        status('green', result.status, result.count);
        msg.payload = result.payload;
        send(msg);
        done();
      })().catch((err: unknown) => done(err instanceof Error ? err : new Error(String(err))));
    });
  }

  RED.nodes.registerType(type, OperationNode as (this: never, def: never) => void, credentials && { credentials });
}

/** Every item of an engine listing (they are paged by the engine). */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/**
 * An identifier the help promises to take from the message: `msg.<property>`, else `msg.payload` when it is a
 * string, else the first of `payloadKeys` that `msg.payload` has (so the output of another KSeF node can be wired in).
 */
export function identifierFrom(msg: NodeMessage, property: string, payloadKeys: string[]): string | undefined {
  const direct = textOf(msg[property]) ?? textOf(msg.payload);
  if (direct) return direct;
  const payload = msg.payload;
  if (typeof payload !== 'object' || payload === null) return undefined;
  for (const key of payloadKeys) {
    const value = textOf((payload as Record<string, unknown>)[key]);
    if (value) return value;
  }
  return undefined;
}

/** An options object the help promises to take from `msg.<property>`; `undefined` when the message has none. */
export function objectFrom<T>(msg: NodeMessage, property: string, error: () => string): T | undefined {
  const value = msg[property];
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new NodeInputError(error());
  return value as T;
}

/**
 * A secret-bearing property of the message (e.g. a password), removed from it as it is read: the message travels on
 * to other nodes, debug sidebars and Catch nodes.
 */
export function takeSecret(msg: NodeMessage, property: string): unknown {
  const value = msg[property];
  delete msg[property];
  return value;
}

function textOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

export function hasToJson(err: unknown): err is { toJSON(): Record<string, unknown> } {
  return typeof err === 'object' && err !== null && typeof (err as { toJSON?: unknown }).toJSON === 'function';
}
