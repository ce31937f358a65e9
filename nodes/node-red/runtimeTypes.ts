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
  on(event: 'input', listener: (msg: NodeMessage, send: (msg: NodeMessage) => void, done: (err?: Error) => void) => void): void;
  on(event: 'close', listener: (removed: boolean, done: () => void) => void): void;
}

export interface NodeAPI {
  nodes: {
    createNode(node: object, def: NodeDef): void;
    getNode(id: string): unknown;
    registerType(
      type: string,
      constructor: (this: never, def: never) => void,
      options?: { credentials?: Record<string, { type: 'text' | 'password' }> },
    ): void;
  };
  _(key: string, substitutions?: Record<string, string | number>): string;
}
