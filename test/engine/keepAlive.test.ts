import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transport } from '../../shared/http/transport';
import { StorageClient } from '../../shared/storage/storageClient';

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A server that keeps connections open far longer than it announces (`Keep-Alive: timeout=2`): a client that
 * honours the announcement opens a new connection after 1-2 s idle instead of reusing one the real server (KSeF's
 * front door, or Node's 5 s default) may be closing at that very moment, which fails the request with ECONNRESET.
 */
async function startAnnouncingServer(): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive', 'keep-alive': 'timeout=2' });
    res.end('{}');
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("idle kept-alive connections end before the server's announced limit", () => {
  it('the API transport opens a new connection after the announced idle time, and reuses one before it', async () => {
    const server = await startAnnouncingServer();
    const transport = new Transport({
      baseUrl: server.url,
      clock: { now: () => new Date() },
      sleep: realSleep,
      timeoutMs: 10_000,
      maxRetryAfterMs: 0,
    });
    try {
      await transport.request({ method: 'GET', path: '/a' });
      await transport.request({ method: 'GET', path: '/b' });
      expect(server.connections()).toBe(1);
      await realSleep(1_500);
      await transport.request({ method: 'GET', path: '/c' });
      expect(server.connections()).toBe(2);
    } finally {
      transport.close();
      await server.close();
    }
  });

  it('so does the storage client', async () => {
    const server = await startAnnouncingServer();
    const storage = new StorageClient({ clock: { now: () => new Date() }, sleep: realSleep });
    const read = async (path: string) => {
      for await (const chunk of storage.download(`${server.url}${path}`)) void chunk;
    };
    try {
      await read('/a');
      await read('/b');
      expect(server.connections()).toBe(1);
      await realSleep(1_500);
      await read('/c');
      expect(server.connections()).toBe(2);
    } finally {
      storage.close();
      await server.close();
    }
  });
});
