import type { KsefClient } from '../../../shared';
import type { Node, NodeAPI, NodeMessage } from '../runtimeTypes';
import { NodeInputError, registerInputNode, type InputNodeDef } from './inputNode';

/** The settings every operation node has. */
export interface OperationNodeDef extends InputNodeDef {
  operation?: string;
}

export interface OperationInput<Def, Credentials> {
  msg: NodeMessage;
  def: Def;
  node: Node<Credentials>;
  /** The config node's engine client; throws the node's `errors.no-config` when no config is selected. */
  client(): KsefClient;
  /**
   * Sends a copy of the input message with `payload` (and `properties`, e.g. `msg.invoice`) now, for an operation that
   * outputs one message per item as the items come; it then returns no `payload`.
   */
  send(payload: unknown, properties?: Record<string, unknown>): void;
}

export interface OperationResult {
  /** The output message's payload; absent when the operation sent its messages itself (`send`). */
  payload?: unknown;
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

/**
 * Registers an input node (inputNode.ts) that runs one of `operations` per message: the one chosen in the node, or
 * `msg.operation` when set. The result replaces `msg.payload`, or the operation sends one message per item itself. Besides the input node's catalogue keys it uses
 * `status.<running|result>` of each operation and `errors.bad-operation`.
 */
export function registerOperationNode<Def extends OperationNodeDef, Credentials = Record<string, never>>(
  RED: NodeAPI,
  type: string,
  operations: Record<string, Operation<Def, Credentials>>,
  credentials?: Record<string, { type: 'text' | 'password' }>,
): void {
  registerInputNode<Def, Credentials>(RED, type, {
    credentials,
    needsKsef: (def) => !operations[def.operation ?? '']?.offline,
    create:
      (_node, def) =>
      async ({ msg, node, client, busy, send }) => {
        const name = typeof msg.operation === 'string' && msg.operation !== '' ? msg.operation : (def.operation ?? '');
        const operation = Object.prototype.hasOwnProperty.call(operations, name) ? operations[name] : undefined;
        if (!operation) {
          throw new NodeInputError(
            RED._(`${type}.errors.bad-operation`, { operation: name, operations: Object.keys(operations).join(', ') }),
          );
        }
        busy(operation.running);
        const result = await operation.run({
          msg,
          def,
          node,
          client,
          send: (payload, properties) => send({ ...RED.util.cloneMessage(msg), ...properties, payload }),
        });
        const status = { keys: [{ key: result.status, count: result.count }] };
        return 'payload' in result ? { output: { payload: result.payload }, status } : { status };
      },
  });
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
