import type { EnvironmentName, JsonValue } from '../../../shared';
import type { NodeAPI, NodeMessage } from '../runtimeTypes';
import { NodeContextStore } from '../state';
import { registerInputNode, type InputContext, type InputNodeDef, type StatusView } from './inputNode';

/** The settings every source node has. */
export interface SourceNodeDef extends InputNodeDef {
  /** 'item' (default): one message per item; 'array': one message whose payload is the items of one fetch. */
  output?: 'item' | 'array';
}

/** What one fetch found: the items after the checkpoint it was given, and the checkpoint after them. */
export interface SourceBatch<Item, Checkpoint extends JsonValue> {
  items: Item[];
  /** Where the next fetch starts; stored only once `items` were sent. */
  checkpoint: Checkpoint;
  /** More items wait after `checkpoint` (it must have moved): the node fetches again at once, in the same run. */
  more?: boolean;
  /** The KSeF that answered; 'sandbox' marks the status "(sandbox)" as ksef-send's. */
  environment?: EnvironmentName;
  /**
   * The source must not fetch before this ISO time (e.g. KSeF's export limits): shown as `status.waiting` (yellow,
   * `__time__` the local hour and minute); an input before then finds nothing new.
   */
  nextFetchAt?: string;
}

export interface SourceFetchInput<Def, Checkpoint> extends Omit<InputContext<Def, Record<string, never>>, 'busy' | 'send'> {
  /** The checkpoint stored by the last delivered fetch; undefined on the first run (the source picks its start). */
  checkpoint: Checkpoint | undefined;
}

export interface Source<Def, Item, Checkpoint extends JsonValue> {
  /** The items since `checkpoint`. It only reads: the base sends the items and then stores the new checkpoint. */
  fetch(input: SourceFetchInput<Def, Checkpoint>): Promise<SourceBatch<Item, Checkpoint>>;
  /** False when the node as configured needs no KSeF connection (default: always needs one). */
  needsKsef?(def: Def): boolean;
}

/** The node-context key of the checkpoint (NodeContextStore prefixes and escapes it). */
const CHECKPOINT_KEY = 'checkpoint';

/**
 * Registers an input node (inputNode.ts) that, on each input message (e.g. an inject every 15 minutes), sends what
 * `source` finds since the checkpoint kept in the node's context, through the state port (state.ts). Two phases, so
 * a crash between them re-delivers and never loses: the fetch returns the items and the next checkpoint, the node
 * sends the items, and only then stores the checkpoint. "Sent" means handed to Node-RED, which has no delivery
 * receipt. The context's default store is memory unless settings.js names a persistent one (`localfilesystem`);
 * without one a restart starts from the source's first-run point again.
 *
 * A message that arrives while the node still fetches is refused with `warnings.still-fetching` (a warning, not an
 * error: the running fetch delivers what it would have found), so two fetches never read the same checkpoint. A
 * node closed mid-fetch (redeploy, stop) sends and stores nothing: the next one fetches the same items again.
 * No message goes out when there is nothing new. Catalogue keys besides the input node's: `status.fetching`
 * (blue, `__count__` sent so far), `status.sent`, `status.up-to-date`, `status.waiting`, `warnings.still-fetching`.
 *
 * Used by ksef-sync (incremental invoice sync) and test/node-red/sourceNode.test.ts's fake source.
 */
export function registerSourceNode<Def extends SourceNodeDef, Item, Checkpoint extends JsonValue>(
  RED: NodeAPI,
  type: string,
  source: Source<Def, Item, Checkpoint>,
): void {
  registerInputNode<Def>(RED, type, {
    needsKsef: source.needsKsef,
    create: (node, def) => {
      let fetching = false;
      let closed = false;
      node.on('close', (_removed, done) => {
        closed = true;
        done();
      });

      return async ({ msg, client, busy, send }): Promise<{ status?: StatusView }> => {
        if (fetching) {
          node.warn(RED._(`${type}.warnings.still-fetching`));
          return {};
        }
        fetching = true;
        try {
          const store = new NodeContextStore(node.context());
          let checkpoint = await store.get<Checkpoint>(CHECKPOINT_KEY);
          let sent = 0;
          let environment: EnvironmentName | undefined;
          let nextFetchAt: string | undefined;
          for (let more = true; more;) {
            busy('fetching', sent);
            const batch = await source.fetch({ msg, def, node, client, checkpoint });
            if (closed) return {};
            for (const payload of def.output === 'array' ? (batch.items.length > 0 ? [batch.items] : []) : batch.items) {
              send(withPayload(msg, payload));
            }
            sent += batch.items.length;
            await store.set(CHECKPOINT_KEY, batch.checkpoint);
            checkpoint = batch.checkpoint;
            environment = batch.environment;
            nextFetchAt = batch.nextFetchAt;
            more = batch.more === true;
          }
          const sentKeys = sent > 0 ? [{ key: 'sent', count: sent }] : [];
          const waiting = nextFetchAt && { key: 'waiting', time: hourAndMinute(nextFetchAt) };
          const keys = [...sentKeys, waiting || { key: 'up-to-date' }];
          return { status: { keys, fill: waiting ? 'yellow' : 'green', environment } };
        } finally {
          fetching = false;
        }
      };
    },
  });

  /** Each message a copy of the input message (topic and the like go on), so downstream nodes never share one. */
  function withPayload(msg: NodeMessage, payload: unknown): NodeMessage {
    const copy = RED.util.cloneMessage(msg);
    copy.payload = payload;
    return copy;
  }
}

/** `HH:MM` in the runtime's time zone, as the canvas shows a time of day. */
function hourAndMinute(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}
