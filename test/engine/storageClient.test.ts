import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { startSandbox, type SandboxExchange, type SandboxHandle } from '../../sandbox';
import { MAX_PART_BYTES, batchPartBlobPath } from '../../sandbox/storage/store';
import { KsefError, KsefGoneError, KsefNetworkError } from '../../shared';
import { KsefIntegrityError, StorageClient, type StorageClientOptions } from '../../shared/storage/storageClient';
import { ManualClock, RecordingLogger } from './support/time';

const SESSION = '20261202-SB-213D593000-4DE10D80A5-E9';
const HOUR = 3_600_000;

/** `size` bytes of a fixed random block, produced on demand (the test holds no copy of the body). */
function generated(size: number, block: Buffer): () => Readable {
  return () =>
    Readable.from(
      (function* () {
        for (let offset = 0; offset < size; offset += block.length) yield block.subarray(0, Math.min(block.length, size - offset));
      })(),
    );
}

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('base64');
}

/** A Writable that only counts, as a hashing or decrypting consumer would, without keeping anything. */
function sink(): Writable & { bytes: number } {
  const writable = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      writable.bytes += chunk.length;
      callback();
    },
  }) as Writable & { bytes: number };
  writable.bytes = 0;
  return writable;
}

/** Largest RSS and heap seen while `work` runs, above what they were before it (sampled every 20 ms). */
async function memoryGrowth<T>(work: () => Promise<T>): Promise<{ result: T; rssMb: number; heapMb: number }> {
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage();
  let rss = before.rss;
  let heap = before.heapUsed;
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    rss = Math.max(rss, now.rss);
    heap = Math.max(heap, now.heapUsed);
  }, 20);
  try {
    const result = await work();
    return { result, rssMb: (rss - before.rss) / 2 ** 20, heapMb: (heap - before.heapUsed) / 2 ** 20 };
  } finally {
    clearInterval(sampler);
  }
}

/** A TCP relay to `port` that cuts its first connection once `cutAfter` bytes went in `direction`. */
async function startCuttingRelay(port: number, direction: 'request' | 'response', cutAfter: number) {
  let connections = 0;
  const server = net.createServer((downstream) => {
    const first = ++connections === 1;
    const upstream = net.connect(port, '127.0.0.1');
    let moved = 0;
    const relay = (from: net.Socket, to: net.Socket, counted: boolean) =>
      from.on('data', (chunk: Buffer) => {
        if (first && counted) {
          moved += chunk.length;
          if (moved > cutAfter) {
            downstream.destroy();
            upstream.destroy();
            return;
          }
        }
        to.write(chunk);
      });
    relay(downstream, upstream, direction === 'request');
    relay(upstream, downstream, direction === 'response');
    downstream.on('error', () => upstream.destroy());
    upstream.on('error', () => downstream.destroy());
    downstream.on('close', () => upstream.destroy());
    upstream.on('close', () => downstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('storage client and the sandbox storage host', () => {
  let clock: ManualClock;
  let sandbox: SandboxHandle;
  let exchanges: SandboxExchange[];
  let logger: RecordingLogger;
  let client: StorageClient;
  const newClient = (options: Partial<StorageClientOptions> = {}) => new StorageClient({ clock, sleep: clock.sleep, logger, ...options });

  beforeEach(async () => {
    clock = new ManualClock();
    exchanges = [];
    logger = new RecordingLogger();
    sandbox = await startSandbox({ clock, specDir: null, onExchange: (e) => exchanges.push(e) });
    client = newClient();
  });
  afterEach(async () => {
    client.close();
    await sandbox.close();
    // No signature reaches a log line.
    expect(JSON.stringify(logger.entries)).not.toMatch(/sig=|[?&]se=/);
  });

  function slot(ordinal: number, validityMs = HOUR) {
    return sandbox.storage.createUploadSlot(batchPartBlobPath(SESSION, ordinal), new Date(clock.now().getTime() + validityMs));
  }
  function readLink(ordinal: number, validityMs = HOUR): string {
    return sandbox.storage.sign(batchPartBlobPath(SESSION, ordinal), new Date(clock.now().getTime() + validityMs));
  }

  it('uploads and downloads a 100 MB part streamed, with memory independent of its size and the SHA-256 checked on the way', async () => {
    const size = MAX_PART_BYTES;
    const body = generated(size, randomBytes(1024 * 1024));
    const expectedSha256 = await sha256Of(body());
    const part = slot(1);

    const upload = await memoryGrowth(() => client.upload(part.url, part.method, part.headers, body, { size }));
    expect(upload.result).toEqual({ status: 201, size });
    const stored = sandbox.storage.uploaded(batchPartBlobPath(SESSION, 1))!;
    expect(stored).toMatchObject({ size, sha256: expectedSha256 });
    expect(await sha256Of(sandbox.storage.openBlob(batchPartBlobPath(SESSION, 1))!)).toBe(expectedSha256);

    const destination = sink();
    const download = await memoryGrowth(() => client.downloadTo(readLink(1), destination, { expectedSha256, expectedSize: size }));
    expect(download.result).toEqual({ size, sha256: expectedSha256 });
    expect(destination.bytes).toBe(size);

    // Measured, not timed: client and storage host run in this process, so both sides' buffering shows here.
    console.log(
      `100 MB part: upload RSS +${upload.rssMb.toFixed(1)} MB, heap +${upload.heapMb.toFixed(1)} MB; ` +
        `download RSS +${download.rssMb.toFixed(1)} MB, heap +${download.heapMb.toFixed(1)} MB`,
    );
    for (const growth of [upload, download]) {
      expect(growth.rssMb).toBeLessThan(60);
      expect(growth.heapMb).toBeLessThan(60);
    }

    // The storage host saw the headers KSeF returned and never an access token.
    const storageRequests = exchanges.filter((e) => e.url.startsWith('/storage/'));
    expect(storageRequests.map((e) => `${e.method} ${e.status}`)).toEqual(['PUT 201', 'GET 200']);
    expect(storageRequests[0].requestHeaders).toMatchObject({ 'x-ms-blob-type': 'BlockBlob', 'content-length': String(size) });
    for (const exchange of storageRequests) expect(exchange.requestHeaders.authorization).toBeUndefined();
  }, 180_000);

  it('fails with a clear error when the downloaded bytes do not have the announced SHA-256, and takes a part only once', async () => {
    const part = slot(1);
    const content = randomBytes(300_000);
    await client.upload(part.url, part.method, part.headers, content, { size: content.length });

    const wrong = createHash('sha256').update('another part').digest('base64');
    const failure = client.downloadTo(readLink(1), sink(), { expectedSha256: wrong });
    await expect(failure).rejects.toThrow(KsefIntegrityError);
    await expect(failure).rejects.toThrow(
      /^GET http:\/\/127\.0\.0\.1:\d+\/storage\/00\/.+\/batch-parts\/1 delivered bytes with SHA-256 \S+, not the \S+ announced; discard what was read and download again\.$/,
    );
    await expect(client.downloadTo(readLink(1), sink(), { expectedSize: content.length + 1 })).rejects.toThrow(
      /delivered 300000 bytes, not the 300001 announced/,
    );
    await expect(client.downloadTo(readLink(1), sink(), { maxBytes: 1000 })).rejects.toThrow(
      /answers 300000 bytes, more than the 1000 allowed/,
    );

    const again = client.upload(part.url, part.method, part.headers, content, { size: content.length });
    await expect(again).rejects.toMatchObject({ status: 409 });
    await expect(again).rejects.toThrow(
      /already holds a body for PUT .*batch-parts\/1; each part URL takes one upload \(409 BlobAlreadyExists\)/,
    );
  });

  it('says that a URL expired, for an upload and for a download', async () => {
    const part = slot(1, 60_000);
    const content = randomBytes(1000);
    await client.upload(slot(2).url, 'PUT', { 'x-ms-blob-type': 'BlockBlob' }, content, { size: content.length });
    const link = readLink(2, 60_000);
    clock.advance(60_001);

    const upload = client.upload(part.url, part.method, part.headers, content, { size: content.length });
    await expect(upload).rejects.toThrow(KsefGoneError);
    await expect(upload).rejects.toThrow(
      /^The storage URL of PUT \S+\/batch-parts\/1 expired at \S+; ask KSeF for a new one \(403 AuthenticationFailed\): Signed expiry time has expired\.$/,
    );
    await expect(client.downloadTo(link, sink())).rejects.toThrow(/^The storage URL of GET \S+\/batch-parts\/2 expired at/);
    expect(sandbox.storage.uploaded(batchPartBlobPath(SESSION, 1))).toBeUndefined();
  });

  it('refuses a PUT without Content-Length or beyond the part limit, and a read link used for writing', async () => {
    const part = slot(1);
    const chunked = await new Promise<number>((resolve, reject) => {
      const request = http.request(part.url, { method: 'PUT', headers: part.headers }, (response) => {
        response.resume();
        resolve(response.statusCode!);
      });
      request.on('error', reject);
      request.write('part');
      request.end();
    });
    expect(chunked).toBe(411);
    const huge = client.upload(part.url, part.method, part.headers, generated(MAX_PART_BYTES + 1, Buffer.alloc(65536)), {
      size: MAX_PART_BYTES + 1,
    });
    await expect(huge).rejects.toThrow(/\(413 RequestBodyTooLarge\)/);
    await expect(client.upload(readLink(1), 'PUT', part.headers, Buffer.from('x'), { size: 1 })).rejects.toThrow(
      /refused the signature .*\(403 AuthorizationPermissionMismatch\)/,
    );
    await expect(client.upload(part.url, part.method, part.headers, Buffer.from('abc'), { size: 4 })).rejects.toThrow(
      /has 3 bytes but its declared size is 4/,
    );
  });

  it('resumes a download whose connection was cut, with a Range request for the rest', async () => {
    const part = slot(1);
    const content = randomBytes(8 * 1024 * 1024);
    await client.upload(part.url, part.method, part.headers, content, { size: content.length });
    const relay = await startCuttingRelay(Number(new URL(sandbox.baseUrl).port), 'response', 3 * 1024 * 1024);
    try {
      const url = readLink(1).replace(/:\d+\//, `:${relay.port}/`);
      const expectedSha256 = createHash('sha256').update(content).digest('base64');
      await expect(client.downloadTo(url, sink(), { expectedSha256 })).resolves.toEqual({ size: content.length, sha256: expectedSha256 });
      expect(relay.connections()).toBe(2);
      const resumed = exchanges.filter((e) => e.method === 'GET').at(-1)!;
      expect(resumed.status).toBe(206);
      expect(resumed.requestHeaders.range).toMatch(/^bytes=[1-9]\d*-$/);
      expect(resumed.requestHeaders['if-match']).toBe(sandbox.storage.uploaded(batchPartBlobPath(SESSION, 1))!.etag);
      expect(logger.entries.some((e) => e.level === 'warn' && e.message === 'Storage download interrupted; resuming')).toBe(true);
    } finally {
      await relay.close();
    }
  });

  it('sends a re-creatable upload again after its connection was cut; a plain stream only once', async () => {
    const size = 6 * 1024 * 1024;
    const body = generated(size, randomBytes(65536));
    const relay = await startCuttingRelay(Number(new URL(sandbox.baseUrl).port), 'request', 2 * 1024 * 1024);
    try {
      const part = slot(1);
      const url = part.url.replace(/:\d+\//, `:${relay.port}/`);
      await expect(client.upload(url, part.method, part.headers, body, { size })).resolves.toEqual({ status: 201, size });
      expect(relay.connections()).toBe(2);
      expect(sandbox.storage.uploaded(batchPartBlobPath(SESSION, 1))).toMatchObject({ size, sha256: await sha256Of(body()) });
    } finally {
      await relay.close();
    }

    const onceRelay = await startCuttingRelay(Number(new URL(sandbox.baseUrl).port), 'request', 2 * 1024 * 1024);
    try {
      const part = slot(2);
      const url = part.url.replace(/:\d+\//, `:${onceRelay.port}/`);
      const failure = client.upload(url, part.method, part.headers, body(), { size });
      await expect(failure).rejects.toThrow(KsefNetworkError);
      await expect(failure).rejects.toThrow(
        /^The connection to the storage host failed on PUT http:\/\/127\.0\.0\.1:\d+\/storage\/00\/\S+\/batch-parts\/2: /,
      );
      expect(onceRelay.connections()).toBe(1);
    } finally {
      await onceRelay.close();
    }
  });

  it('takes the conflict after a lost answer as the earlier attempt having completed', async () => {
    const content = randomBytes(100_000);
    const relay = await startCuttingRelay(Number(new URL(sandbox.baseUrl).port), 'response', 0);
    try {
      const part = slot(1);
      const url = part.url.replace(/:\d+\//, `:${relay.port}/`);
      await expect(client.upload(url, part.method, part.headers, content, { size: content.length })).resolves.toEqual({
        status: 409,
        size: content.length,
      });
      expect(exchanges.filter((e) => e.method === 'PUT').map((e) => e.status)).toEqual([201, 409]);
      expect(sandbox.storage.uploaded(batchPartBlobPath(SESSION, 1))).toMatchObject({
        sha256: createHash('sha256').update(content).digest('base64'),
      });
    } finally {
      await relay.close();
    }
  });

  describe('against a server that stalls', () => {
    let server: http.Server;
    let url: string;
    let requests: number;

    beforeEach(async () => {
      requests = 0;
      server = http.createServer((req, res) => {
        requests++;
        if (req.method === 'GET') {
          res.writeHead(200, { 'content-length': '1000000' });
          res.write(Buffer.alloc(1000));
          // ... and nothing more.
        } else {
          req.resume();
          // The body is read, the answer never comes.
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/storage/00/stall?se=2099-01-01T00%3A00%3A00Z&sig=secret`;
    });
    afterEach(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('gives up after the idle timeout, having retried', async () => {
      const impatient = newClient({ idleTimeoutMs: 300, maxRetries: 1 });
      try {
        const download = impatient.downloadTo(url, sink());
        await expect(download).rejects.toThrow(KsefNetworkError);
        await expect(download).rejects.toThrow(
          /^No byte moved for 300 ms on GET http:\/\/127\.0\.0\.1:\d+\/storage\/00\/stall \(\d+ bytes received\)\.$/,
        );
        expect(requests).toBe(2);
        const upload = impatient.upload(url, 'PUT', { 'x-ms-blob-type': 'BlockBlob' }, Buffer.alloc(10), { size: 10 });
        await expect(upload).rejects.toThrow(/^No byte moved for 300 ms on PUT http:\/\/127\.0\.0\.1:\d+\/storage\/00\/stall\.$/);
        expect(requests).toBe(4);
      } finally {
        impatient.close();
      }
    });

    it('retries a 5xx answer, for a download and for a re-creatable upload', async () => {
      const body = randomBytes(5000);
      server.removeAllListeners('request');
      server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
        req.resume();
        if (++requests % 2 === 1) {
          res
            .writeHead(503, { 'x-ms-error-code': 'ServerBusy' })
            .end('<Error><Code>ServerBusy</Code><Message>The server is busy.</Message></Error>');
        } else if (req.method === 'GET') {
          res.writeHead(200, { 'content-length': String(body.length) }).end(body);
        } else {
          req.on('end', () => res.writeHead(201).end());
        }
      });
      await expect(client.downloadTo(url, sink())).resolves.toEqual({
        size: body.length,
        sha256: createHash('sha256').update(body).digest('base64'),
      });
      await expect(client.upload(url, 'PUT', {}, () => Readable.from([body]), { size: body.length })).resolves.toEqual({
        status: 201,
        size: body.length,
      });
      expect(requests).toBe(4);
      const once = client.upload(url, 'PUT', {}, Readable.from([body]), { size: body.length });
      await expect(once).rejects.toThrow(
        /^The storage host failed on PUT http:\/\/127\.0\.0\.1:\d+\/storage\/00\/stall; try again later \(503 ServerBusy\): The server is busy\.$/,
      );
      expect(requests).toBe(5);
    });

    it('gives up at the size-based total deadline when bytes keep trickling', async () => {
      const strict = newClient({ idleTimeoutMs: 5_000, baseTimeoutMs: 200, minBytesPerSecond: 10_000_000, maxRetries: 0 });
      server.removeAllListeners('request');
      server.on('request', (_req, res: http.ServerResponse) => {
        res.writeHead(200, { 'content-length': '1000000' });
        const trickle = setInterval(() => res.write(Buffer.alloc(10)), 50);
        res.on('close', () => clearInterval(trickle));
      });
      try {
        await expect(strict.downloadTo(url, sink())).rejects.toThrow(/^The transfer did not complete within 300 ms on GET /);
      } finally {
        strict.close();
      }
    });
  });

  it('rejects a non-storage answer with KsefError naming the URL without its query', async () => {
    const failure = client.downloadTo(
      `${sandbox.baseUrl.replace('/v2', '')}/storage/00/nothing?se=2099-01-01T00:00:00Z&sp=r&sig=forged`,
      sink(),
    );
    await expect(failure).rejects.toThrow(KsefError);
    await expect(failure).rejects.toThrow(
      /^The storage host refused the signature of GET http:\/\/127\.0\.0\.1:\d+\/storage\/00\/nothing \(403 AuthenticationFailed\)/,
    );
  });
});
