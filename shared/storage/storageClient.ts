/**
 * The client of KSeF's storage URLs: UPO links, batch part uploads (`partUploadRequests` of `POST /sessions/batch`,
 * up to 100 MB each) and export part downloads (`package.parts` of `GET /invoices/exports/{ref}`, up to 50 MB).
 * These URLs are Azure Blob SAS links (open-api.json): the signature is in the query, so they are used without
 * the access token, are not rate-limited, and their query is never logged.
 *
 * Built on `node:http`/`node:https` rather than axios: bodies stream in both directions with the streams' own
 * backpressure, every byte moved can reset an idle timer, the request carries exactly the headers KSeF returned
 * plus Content-Length, and nothing in between buffers a body, adds a header or keeps the URL in an error object.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Clock, Logger, Sleep } from '../types';
import { backoffDelayMs } from '../http/backoff';
import {
  KsefError,
  KsefForbiddenError,
  KsefGoneError,
  KsefInputError,
  KsefNetworkError,
  KsefNotFoundError,
  KsefServerError,
  KsefValidationError,
} from '../http/errors';
import { bodyExcerpt, redactSecrets } from '../util/redact';
import { keepAliveAgents } from '../http/agents';

/** The bytes that came are not the bytes announced: another size or SHA-256 than KSeF declared, or too many. */
export class KsefIntegrityError extends KsefError {}

export interface StorageClientOptions {
  /** Tells whether a refused URL had expired (its `se` parameter against now). */
  clock: Clock;
  /** Waits between retries. */
  sleep: Sleep;
  logger?: Logger;
  /** An attempt fails when no byte moves for this long (default 30 s). */
  idleTimeoutMs?: number;
  /** The total deadline of an attempt is this plus the size at `minBytesPerSecond` (default 60 s). */
  baseTimeoutMs?: number;
  /**
   * The slowest transfer accepted (default 100 000 B/s): a 100 MB part gets 1 000 s plus the base, within the 20
   * minutes KSeF allows for each part of a batch session (sesja-wsadowa.md, CIRFMF/ksef-docs).
   */
  minBytesPerSecond?: number;
  /** Retries after a network error, a timeout or a 5xx (default 3). */
  maxRetries?: number;
}

export interface DownloadOptions {
  /** Base64 SHA-256 the body must have (`encryptedPartHash`); without it, the `x-ms-meta-hash` of the answer, if any. */
  expectedSha256?: string;
  /** Size in bytes the body must have (`encryptedPartSize`). */
  expectedSize?: number;
  /** Refuse a body larger than this. */
  maxBytes?: number;
}

export interface DownloadResult {
  size: number;
  /** Base64 SHA-256 of the whole body. */
  sha256: string;
}

/** A re-creatable body (a factory) may be sent again after a network error; a plain Readable is sent once. */
export type UploadBody = Buffer | Readable | (() => Readable);

export interface UploadResult {
  /**
   * The storage host's status: 201 normally. 409 only when an earlier attempt of this call lost its answer and the
   * host reports the part as already uploaded, i.e. that attempt completed (the URL is this caller's alone).
   */
  status: number;
  size: number;
}

const USER_AGENT = 'ksef-flow/0.1 (+https://github.com/ksef-flow)';
/** How much of an error answer is read: Azure's error documents are a few hundred bytes. */
const MAX_ERROR_BODY = 64 * 1024;
const CHUNK = 64 * 1024;

export class StorageClient {
  private readonly connection: StorageConnection;

  constructor(options: StorageClientOptions) {
    this.connection = new StorageConnection(options);
  }

  /**
   * The body at `url` as a stream, fetched when first read. A connection lost midway is resumed with a Range
   * request for the rest (pinned to the blob's ETag). Size and SHA-256 are computed on the way and checked before
   * the stream ends; on a mismatch it fails with `KsefIntegrityError` instead, and what was read must be discarded.
   * The deadline counts the reader's time too: read at the pace of a file or a decryption, not of a person.
   */
  download(url: string, options: DownloadOptions = {}): StorageDownload {
    return new StorageDownload(this.connection, url, options);
  }

  /** Streams the body at `url` into `destination` (ended afterwards); rejects as `download` would fail. */
  async downloadTo(url: string, destination: Writable, options: DownloadOptions = {}): Promise<DownloadResult> {
    const body = this.download(url, options);
    await pipeline(body, destination);
    return body.result!;
  }

  /**
   * Sends `body` with `method` and exactly the `headers` KSeF returned for the URL, plus Content-Length `size`.
   * A Buffer or a body factory is sent again after a network error, a timeout or a 5xx; a Readable only once.
   */
  async upload(
    url: string,
    method: string,
    headers: Record<string, string>,
    body: UploadBody,
    { size }: { size: number },
  ): Promise<UploadResult> {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new KsefInputError(`The upload size must be a byte count, got ${size}.`, { field: 'size' });
    if (Buffer.isBuffer(body) && body.length !== size) {
      throw new KsefInputError(`The upload body has ${body.length} bytes but its declared size is ${size}.`, { field: 'size' });
    }
    const { connection } = this;
    const replayable = typeof body === 'function' || Buffer.isBuffer(body);
    const sendHeaders: Record<string, string> = { 'user-agent': USER_AGENT };
    for (const [name, value] of Object.entries(headers))
      if (name.toLowerCase() !== 'content-length') sendHeaders[name.toLowerCase()] = value;
    sendHeaders['content-length'] = String(size);
    const startedAt = performance.now();
    for (let attempt = 1, failures = 0; ; attempt++) {
      const source = typeof body === 'function' ? body() : Buffer.isBuffer(body) ? Readable.from(chunksOf(body)) : body;
      try {
        const status = await connection.sendOnce(url, method, sendHeaders, source, size);
        connection.logger?.debug('Storage upload', {
          method,
          url: loggableUrl(url),
          status,
          bytes: size,
          durationMs: Math.round(performance.now() - startedAt),
          attempt,
        });
        return { status, size };
      } catch (error) {
        if (failures > 0 && error instanceof KsefError && error.status === 409) {
          connection.logger?.info('Storage upload: an earlier attempt had completed', { method, url: loggableUrl(url), attempt });
          return { status: 409, size };
        }
        if (!replayable || !connection.mayRetry(error, failures)) throw connection.describe(error, method, url);
        connection.logger?.warn('Storage upload failed; retrying', {
          method,
          url: loggableUrl(url),
          attempt,
          reason: (error as Error).message,
        });
        await connection.sleep(backoffDelayMs(failures++));
      }
    }
  }

  /** Frees pooled connections. */
  close(): void {
    this.connection.close();
  }
}

/** What uploads and downloads share: agents, deadlines, retry policy and error wording. */
class StorageConnection {
  private readonly agents = keepAliveAgents();
  private readonly httpAgent = this.agents.http;
  private readonly httpsAgent = this.agents.https;
  readonly idleTimeoutMs: number;
  readonly logger?: Logger;
  readonly sleep: Sleep;

  constructor(private readonly options: StorageClientOptions) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    this.logger = options.logger;
    this.sleep = options.sleep;
  }

  connect(url: string, method: string, headers: Record<string, string>): http.ClientRequest {
    const secure = url.startsWith('https:');
    const request = secure ? https.request : http.request;
    return request(url, { method, headers, agent: secure ? this.httpsAgent : this.httpAgent });
  }

  /** The deadline of one attempt moving `size` bytes. */
  totalTimeoutMs(size: number): number {
    return (this.options.baseTimeoutMs ?? 60_000) + Math.ceil((Math.max(0, size) / (this.options.minBytesPerSecond ?? 100_000)) * 1000);
  }

  /** Network errors, timeouts and 5xx may be retried, up to `maxRetries` times. */
  mayRetry(error: unknown, failures: number): boolean {
    return (error instanceof KsefNetworkError || error instanceof KsefServerError) && failures < (this.options.maxRetries ?? 3);
  }

  /** A failed answer as a typed error; an expired URL says so, with its expiry. */
  statusError(method: string, url: string, status: number, headers: http.IncomingHttpHeaders, body: string): KsefError {
    const where = `${method} ${loggableUrl(url)}`;
    const code = (typeof headers['x-ms-error-code'] === 'string' && headers['x-ms-error-code']) || /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
    const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? bodyExcerpt(body);
    const detail = `(${status}${code ? ` ${code}` : ''})${message ? `: ${redactSignatures(redactSecrets(message))}` : ''}`;
    const expiry = expiryOf(url);
    if ((status === 403 || status === 410) && expiry && expiry.getTime() <= this.options.clock.now().getTime()) {
      return new KsefGoneError(`The storage URL of ${where} expired at ${expiry.toISOString()}; ask KSeF for a new one ${detail}`, {
        status,
      });
    }
    if (status === 403) return new KsefForbiddenError(`The storage host refused the signature of ${where} ${detail}`, { status });
    if (status === 410) return new KsefGoneError(`The storage host no longer keeps ${where} ${detail}`, { status });
    if (status === 404) return new KsefNotFoundError(`The storage host has nothing at ${where} ${detail}`, { status });
    if (status === 409)
      return new KsefError(`The storage host already holds a body for ${where}; each part URL takes one upload ${detail}`, { status });
    if (status >= 500) return new KsefServerError(`The storage host failed on ${where}; try again later ${detail}`, { status });
    if (status >= 400) return new KsefValidationError(`The storage host rejected ${where} ${detail}`, { status });
    return new KsefError(`The storage host answered ${where} with an unexpected HTTP status ${detail}`, { status });
  }

  /** Node's own errors name neither URL nor headers; ours already name the transfer. */
  describe(error: unknown, method: string, url: string): KsefError {
    if (error instanceof KsefError) return error;
    const { code, message } = (error ?? {}) as { code?: string; message?: string };
    return new KsefNetworkError(
      `The connection to the storage host failed on ${method} ${loggableUrl(url)}: ${code ?? 'network error'}${message && message !== code ? ` (${message})` : ''}.`,
    );
  }

  /** One upload attempt; resolves with the 2xx status once the host confirmed the whole body. */
  sendOnce(url: string, method: string, headers: Record<string, string>, source: Readable, size: number): Promise<number> {
    return new Promise((resolve, reject) => {
      let sent = 0;
      let settled = false;
      const request = this.connect(url, method, headers);
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        watchdog.stop();
        source.destroy();
        request.destroy();
        reject(this.describe(error, method, url));
      };
      const watchdog = new Watchdog(this.idleTimeoutMs, this.totalTimeoutMs(size), (reason) =>
        fail(new KsefNetworkError(`${reason} on ${method} ${loggableUrl(url)}.`)),
      );
      const tap = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          sent += chunk.length;
          if (sent > size)
            return callback(new KsefInputError(`The upload body is longer than its declared size ${size}.`, { field: 'size' }));
          watchdog.touch();
          callback(null, chunk);
        },
        flush(callback) {
          callback(
            sent === size
              ? null
              : new KsefInputError(`The upload body has ${sent} bytes but its declared size is ${size}.`, { field: 'size' }),
          );
        },
      });
      request.on('error', fail);
      request.on('response', (response) => {
        watchdog.touch();
        readSmallBody(response, watchdog).then((body) => {
          const status = response.statusCode ?? 0;
          if (status < 200 || status >= 300 || sent !== size) return fail(this.statusError(method, url, status, response.headers, body));
          if (settled) return;
          settled = true;
          watchdog.stop();
          resolve(status);
        }, fail);
      });
      // An early answer (e.g. 403) ends the attempt once its body is read; the pipeline's failure is then moot.
      pipeline(source, tap, request).catch(fail);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** The body of a GET on a storage URL; see `StorageClient.download`. */
export class StorageDownload extends Readable {
  /** Size and SHA-256, once the stream has ended. */
  result?: DownloadResult;
  private readonly hash = createHash('sha256');
  private received = 0;
  private started = false;
  private etag?: string;
  private response?: http.IncomingMessage;
  private request?: http.ClientRequest;
  private watchdog?: Watchdog;
  private metaHash?: string;

  constructor(
    private readonly connection: StorageConnection,
    private readonly url: string,
    private readonly options: DownloadOptions,
  ) {
    super({ highWaterMark: CHUNK });
  }

  override _read(): void {
    if (!this.started) {
      this.started = true;
      void this.run();
      return;
    }
    this.watchdog?.touch();
    this.response?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.watchdog?.stop();
    this.request?.destroy();
    callback(error);
  }

  private async run(): Promise<void> {
    const startedAt = performance.now();
    for (let attempt = 1, failures = 0; ; attempt++) {
      try {
        await this.attempt();
        if (this.destroyed) return;
        this.finish();
        this.connection.logger?.debug('Storage download', {
          url: loggableUrl(this.url),
          bytes: this.received,
          durationMs: Math.round(performance.now() - startedAt),
          attempt,
        });
        return;
      } catch (error) {
        if (this.destroyed) return;
        if (!this.connection.mayRetry(error, failures)) {
          this.destroy(this.connection.describe(error, 'GET', this.url));
          return;
        }
        this.connection.logger?.warn('Storage download interrupted; resuming', {
          url: loggableUrl(this.url),
          attempt,
          receivedBytes: this.received,
          reason: (error as Error).message,
        });
        await this.connection.sleep(backoffDelayMs(failures++));
        if (this.destroyed) return;
      }
    }
  }

  /** One GET: from the start, or for the rest of the body after an interruption. */
  private attempt(): Promise<void> {
    const { url, connection, options } = this;
    return new Promise((resolve, reject) => {
      const offset = this.received;
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: '*/*' };
      if (offset > 0) headers.range = `bytes=${offset}-`;
      if (offset > 0 && this.etag) headers['if-match'] = this.etag;
      let settled = false;
      const settle = (error?: unknown) => {
        if (settled) return;
        settled = true;
        this.watchdog?.stop();
        if (error) {
          this.request?.destroy();
          reject(connection.describe(error, 'GET', url));
        } else {
          resolve();
        }
      };
      const sizeHint = options.expectedSize ?? options.maxBytes ?? 0;
      this.watchdog = new Watchdog(connection.idleTimeoutMs, connection.totalTimeoutMs(sizeHint - offset), (reason) =>
        settle(new KsefNetworkError(`${reason} on GET ${loggableUrl(url)} (${this.received} bytes received).`)),
      );
      const request = (this.request = connection.connect(url, 'GET', headers));
      request.on('error', settle);
      request.on('response', (response) => {
        this.response = response;
        this.watchdog?.touch();
        const status = response.statusCode ?? 0;
        if (status !== 200 && status !== 206) {
          readSmallBody(response, this.watchdog!).then(
            (body) => settle(connection.statusError('GET', url, status, response.headers, body)),
            settle,
          );
          return;
        }
        // A server that ignores Range sends the whole body again: the bytes already passed on are skipped.
        let skip = 0;
        if (status === 206) {
          const start = Number(/^bytes (\d+)-/.exec(String(response.headers['content-range']))?.[1]);
          if (start !== offset)
            return settle(new KsefIntegrityError(`The storage host resumed GET ${loggableUrl(url)} at byte ${start}, not ${offset}.`));
        } else {
          skip = offset;
        }
        const length = Number(response.headers['content-length']);
        const total = status === 206 ? offset + length : length;
        if (Number.isFinite(total)) {
          const limit = options.maxBytes;
          if (limit !== undefined && total > limit) {
            return settle(new KsefIntegrityError(`GET ${loggableUrl(url)} answers ${total} bytes, more than the ${limit} allowed.`));
          }
          this.watchdog?.setTotal(connection.totalTimeoutMs(total - offset));
        }
        this.etag ??= typeof response.headers.etag === 'string' ? response.headers.etag : undefined;
        this.metaHash ??= typeof response.headers['x-ms-meta-hash'] === 'string' ? response.headers['x-ms-meta-hash'] : undefined;
        response.on('data', (chunk: Buffer) => {
          this.watchdog?.touch();
          if (skip > 0) {
            const dropped = Math.min(skip, chunk.length);
            skip -= dropped;
            chunk = chunk.subarray(dropped);
            if (chunk.length === 0) return;
          }
          this.received += chunk.length;
          if (options.maxBytes !== undefined && this.received > options.maxBytes) {
            return settle(new KsefIntegrityError(`GET ${loggableUrl(url)} sent more than the ${options.maxBytes} bytes allowed.`));
          }
          this.hash.update(chunk);
          if (!this.push(chunk)) {
            // The consumer is behind: stop reading and stop the idle clock until it asks for more.
            response.pause();
            this.watchdog?.pause();
          }
        });
        response.on('error', settle);
        response.on('close', () => {
          if (!response.complete)
            settle(
              new KsefNetworkError(`The connection closed before the end of GET ${loggableUrl(url)} (${this.received} bytes received).`),
            );
        });
        response.on('end', () => settle());
      });
      request.end();
    });
  }

  private finish(): void {
    const sha256 = this.hash.digest('base64');
    const where = `GET ${loggableUrl(this.url)}`;
    const { expectedSize } = this.options;
    const expectedSha256 = this.options.expectedSha256 ?? this.metaHash;
    if (expectedSize !== undefined && this.received !== expectedSize) {
      this.destroy(
        new KsefIntegrityError(
          `${where} delivered ${this.received} bytes, not the ${expectedSize} announced; discard what was read and download again.`,
        ),
      );
    } else if (expectedSha256 !== undefined && sha256 !== expectedSha256) {
      this.destroy(
        new KsefIntegrityError(
          `${where} delivered bytes with SHA-256 ${sha256}, not the ${expectedSha256} announced; discard what was read and download again.`,
        ),
      );
    } else {
      this.result = { size: this.received, sha256 };
      this.push(null);
    }
  }
}

/**
 * The two deadlines of an attempt: no byte for `idleMs` (not counted while the reader applies backpressure), and
 * the whole attempt within `totalMs` (revised once the size is known).
 */
class Watchdog {
  private idleTimer?: NodeJS.Timeout;
  private totalTimer?: NodeJS.Timeout;
  private readonly startedAt = performance.now();
  private stopped = false;

  constructor(
    private readonly idleMs: number,
    totalMs: number,
    private readonly expire: (reason: string) => void,
  ) {
    this.setTotal(totalMs);
    this.touch();
  }

  touch(): void {
    if (this.stopped) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.fire(`No byte moved for ${this.idleMs} ms`), this.idleMs);
  }

  pause(): void {
    clearTimeout(this.idleTimer);
  }

  setTotal(totalMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.totalTimer);
    const left = Math.max(0, this.startedAt + totalMs - performance.now());
    this.totalTimer = setTimeout(() => this.fire(`The transfer did not complete within ${totalMs} ms`), left);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.totalTimer);
  }

  private fire(reason: string): void {
    this.stop();
    this.expire(reason);
  }
}

/** At most MAX_ERROR_BODY bytes of a (failed or empty) answer, as text. */
function readSmallBody(response: http.IncomingMessage, watchdog: Watchdog): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      watchdog.touch();
      if (size < MAX_ERROR_BODY) chunks.push(chunk.subarray(0, MAX_ERROR_BODY - size));
      size += chunk.length;
    });
    response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.on('error', reject);
  });
}

function* chunksOf(buffer: Buffer): Generator<Buffer> {
  for (let offset = 0; offset < buffer.length; offset += CHUNK) yield buffer.subarray(offset, offset + CHUNK);
}

/** The URL without its query (the SAS signature) and fragment: the only form that is logged or quoted. */
export function loggableUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** The SAS expiry (`se`) of a storage URL, when it has one. */
function expiryOf(url: string): Date | undefined {
  try {
    const se = new URL(url).searchParams.get('se');
    const time = se ? Date.parse(se) : NaN;
    return Number.isNaN(time) ? undefined : new Date(time);
  } catch {
    return undefined;
  }
}

/** A storage host may echo the request URL in its error page: its signature is removed. */
function redactSignatures(text: string): string {
  return text.replace(/([?&]sig=)[^&\s"'<>]+/gi, '$1[removed]');
}
