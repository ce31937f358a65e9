import type { NodeContext } from './state';

/**
 * The slice of the Node-RED runtime API these nodes use. Declared here instead of adding @types/node-red,
 * whose express/util typings would become a dependency of every consumer of our declarations.
 */

export interface NodeMessage {
  _msgid?: string;
  payload?: unknown;
  [key: string]: unknown;
}

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export interface NodeDef {
  id: string;
  type: string;
  name?: string;
}

export interface Node<Credentials = Record<string, never>> {
  id: string;
  name?: string;
  credentials: Partial<Credentials>;
  status(status: NodeStatus | Record<string, never>): void;
  log(message: unknown): void;
  debug(message: unknown): void;
  warn(message: unknown): void;
  error(message: unknown, msg?: NodeMessage): void;
  /** The node's own context, which `NodeContextStore` (state.ts) turns into the engine's state port. */
  context(): NodeContext;
  on(event: 'input', listener: (msg: NodeMessage, send: (msg: NodeMessage) => void, done: (err?: Error) => void) => void): void;
  on(event: 'close', listener: (removed: boolean, done: () => void) => void): void;
}

/** The parts of Express's request and response an admin endpoint uses. */
export interface AdminRequest {
  params: Record<string, string>;
  body?: unknown;
}

export interface AdminResponse {
  json(body: unknown): void;
}

type AdminHandler = (req: AdminRequest, res: AdminResponse, next: () => void) => void;

export interface NodeAPI {
  nodes: {
    createNode(node: object, def: NodeDef): void;
    getNode(id: string): unknown;
    /** The deployed credentials of a node, by id (undefined when it has none). */
    getCredentials(id: string): Record<string, unknown> | undefined;
    registerType(
      type: string,
      constructor: (this: never, def: never) => void,
      options?: { credentials?: Record<string, { type: 'text' | 'password' }> },
    ): void;
  };
  _(key: string, substitutions?: Record<string, string | number>): string;
  util: {
    /** A deep copy of a message, as Node-RED makes when one message goes to several nodes. */
    cloneMessage<T extends NodeMessage>(msg: T): T;
  };
  /** Node-RED's admin HTTP API, which the editor calls (with the user's admin token when admin auth is on). */
  httpAdmin: { post(path: string, ...handlers: AdminHandler[]): void };
  auth: { needsPermission(permission: string): AdminHandler };
}
