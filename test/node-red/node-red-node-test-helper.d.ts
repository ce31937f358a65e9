/** The part of node-red-node-test-helper 0.3.6 (which ships no types) that our tests use. */
declare module 'node-red-node-test-helper' {
  /** A call recorded by the helper's sinon spies, which sit on Node.prototype and so see every node. */
  interface SpyCall {
    args: unknown[];
    thisValue: { id?: string };
  }
  interface TestNode {
    id: string;
    on(event: 'input', listener: (msg: Record<string, any>) => void): void;
    receive(msg: Record<string, unknown>): void;
    status: { getCalls(): SpyCall[] };
    error: { getCalls(): SpyCall[] };
  }
  const helper: {
    init(nodeRedRuntimePath: string, userSettings?: Record<string, unknown>): void;
    load(
      nodes: Array<(RED: any) => void>,
      flow: Array<Record<string, unknown>>,
      credentials?: Record<string, Record<string, string>>,
    ): Promise<void>;
    unload(): Promise<void>;
    getNode(id: string): TestNode;
    /** The spy on the runtime log, which node.log/warn/error write to. */
    log(): { getCalls(): SpyCall[] };
    /** supertest on the admin HTTP app, where nodes register their admin endpoints. */
    request(): { post(url: string): { send(body: unknown): Promise<{ status: number; body: any }> } };
    startServer(): Promise<void>;
    stopServer(): Promise<void>;
  };
  export = helper;
}
