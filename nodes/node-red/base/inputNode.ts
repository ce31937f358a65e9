import { KsefInputError, type EnvironmentName, type KsefClient } from '../../../shared';
import type { KsefConfigNode } from '../ksef-config';
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeStatus } from '../runtimeTypes';

/** The setting every KSeF node has. */
export interface InputNodeDef extends NodeDef {
  /** Id of the ksef-config node. */
  ksef?: string;
}

export interface InputContext<Def, Credentials> {
  msg: NodeMessage;
  def: Def;
  node: Node<Credentials>;
  /** The config node's engine client; throws `errors.no-config` (status `no-config`) when no config is selected. */
  client(): KsefClient;
  /** Shows `<type>.status.<key>` in blue while the node works; `count` fills its `__count__`. */
  busy(key: string, count?: number): void;
  /** Hands a message to the next nodes now, for a node that sends several (a source node: one per item). */
  send(msg: NodeMessage): void;
}

/** A status from the `<type>.status` catalogue. */
export interface StatusView {
  /** Keys under `<type>.status.`, with the count that fills `__count__` and the time that fills `__time__`; shown joined with ", ". */
  keys: Array<{ key: string; count?: number; time?: string }>;
  /** Green unless told otherwise (yellow for a partial or pending outcome, red for a failure). */
  fill?: 'green' | 'yellow' | 'red';
  /**
   * The KSeF that answered, when the result says it: 'sandbox' appends `<type>.status.sandbox` ("(sandbox)"), so a
   * simulator's KSeF numbers are not taken for real ones.
   */
  environment?: EnvironmentName;
}

export interface InputOutcome {
  /** The input message goes on with this as `msg.payload` (and `ksef` as `msg.ksef`); absent, nothing more is sent. */
  output?: { payload: unknown; ksef?: Record<string, unknown> };
  /** The status once done; absent, the status stays as it is. */
  status?: StatusView;
  /** A failure reported through `done(err)` after the output went out (e.g. some invoices of a message rejected). */
  error?: Error;
}

export type InputHandler<Def, Credentials> = (input: InputContext<Def, Credentials>) => Promise<InputOutcome>;

export interface InputNodeOptions<Def, Credentials> {
  /** Called once per deployed node; returns what handles each of its input messages. */
  create(node: Node<Credentials>, def: Def): InputHandler<Def, Credentials>;
  /** False when the node as configured needs no KSeF connection, so no config node (default: always needs one). */
  needsKsef?(def: Def): boolean;
  /** The node's own credentials (secrets it keeps besides the config node's). */
  credentials?: Record<string, { type: 'text' | 'password' }>;
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
 * Registers a KSeF node that turns each input message into output: every KSeF node but the config node is one
 * (ksef-send, ksef-auth, ksef-token, ksef-certificate through operationNode.ts, source nodes through sourceNode.ts),
 * so they handle messages, statuses and errors the same way. A failure goes to `done(err)`, so Catch nodes see it,
 * with KSeF's error details (engine errors' `toJSON()`, which never hold secrets) in `msg.ksef.error`. Statuses and
 * errors come from the `<type>` catalogue: the handler's keys under `status.`, and `status.failed`,
 * `status.bad-input`, `status.no-config` and `errors.no-config`; statuses never show message content, so no secret
 * reaches the canvas.
 */
export function registerInputNode<Def extends InputNodeDef, Credentials = Record<string, never>>(
  RED: NodeAPI,
  type: string,
  options: InputNodeOptions<Def, Credentials>,
): void {
  function InputNode(this: Node<Credentials>, def: Def): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const config = def.ksef ? (RED.nodes.getNode(def.ksef) as KsefConfigNode | null) : null;
    const text = (key: string, count?: number, time?: string) =>
      RED._(
        `${type}.status.${key}`,
        count === undefined && time === undefined ? undefined : { ...(count !== undefined && { count }), ...(time && { time }) },
      );
    const client = (): KsefClient => {
      if (!config) throw new NodeInputError(RED._(`${type}.errors.no-config`), 'no-config');
      return config.client();
    };
    const handle = options.create(node, def);

    if (!config && options.needsKsef?.(def) !== false) node.status({ fill: 'red', shape: 'dot', text: text('no-config') });

    node.on('input', (msg, send, done) => {
      void (async () => {
        let outcome: InputOutcome;
        try {
          outcome = await handle({
            msg,
            def,
            node,
            client,
            busy: (key, count) => node.status({ fill: 'blue', shape: 'dot', text: text(key, count) }),
            send,
          });
        } catch (err) {
          const status = err instanceof NodeInputError ? err.status : err instanceof KsefInputError ? 'bad-input' : 'failed';
          node.status({ fill: 'red', shape: 'dot', text: text(status) });
          if (hasToJson(err)) msg.ksef = { error: err.toJSON() };
          return done(err instanceof Error ? err : new Error(String(err)));
        }
        if (outcome.status) node.status(statusOf(outcome.status));
        if (outcome.output) {
          msg.payload = outcome.output.payload;
          if (outcome.output.ksef) msg.ksef = outcome.output.ksef;
          send(msg);
        }
        done(outcome.error);
      })().catch((err: unknown) => done(err instanceof Error ? err : new Error(String(err))));
    });

    function statusOf({ keys, fill = 'green', environment }: StatusView): NodeStatus {
      const marker = environment === 'sandbox' ? ` ${text('sandbox')}` : '';
      return { fill, shape: 'dot', text: keys.map(({ key, count, time }) => text(key, count, time)).join(', ') + marker };
    }
  }

  RED.nodes.registerType(type, InputNode as (this: never, def: never) => void, options.credentials && { credentials: options.credentials });
}

function hasToJson(err: unknown): err is { toJSON(): Record<string, unknown> } {
  return typeof err === 'object' && err !== null && typeof (err as { toJSON?: unknown }).toJSON === 'function';
}
