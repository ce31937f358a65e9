/**
 * The storage host: UPO downloads, batch part uploads and streamed part downloads. No token, no rate limit and
 * no 20 MB body cap (parts reach 100 MB), Azure-Blob-like answers (Put Blob / Get Blob of the Azure Storage REST
 * API): 403 for a forged, expired or wrong-direction signature, 404 for a missing blob, 409 for a second upload of
 * the same part, 411 without Content-Length. Bodies of parts stream to and from temporary files.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import type { SandboxContext } from '../context';
import type { PipelineOptions } from '../http/server';
import { STORAGE_BLOB_PATTERN, blobEtag, type StoragePermission } from './store';

interface StorageAnswer {
  status: number;
  headers: Record<string, string>;
  /** A small body (UPOs, error documents), recorded in the exchange. */
  body?: Buffer;
  /** A part's bytes, streamed and not recorded. */
  stream?: Readable;
}

/**
 * Answers one storage request and reports it to `onExchange`. Part bodies are streamed, so the exchange of a part
 * upload or download carries its headers with empty bodies.
 */
export async function serveStorage(
  ctx: SandboxContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  options: PipelineOptions,
): Promise<void> {
  const method = req.method ?? '';
  const now = ctx.clock.now();
  let answer: StorageAnswer;
  if (method === 'PUT') {
    answer = await receive(ctx, req, url, now);
  } else {
    // GET and HEAD have no body; whatever another method sends is discarded.
    req.resume();
    if (method === 'GET' || method === 'HEAD') {
      answer = read(ctx, req, url, now);
    } else {
      answer = azureError(405, 'UnsupportedHttpVerb', "The resource doesn't support the specified HTTP verb.");
      answer.headers.allow = 'GET, HEAD, PUT';
    }
  }
  if (res.destroyed) return;
  const responseBody = answer.body ?? Buffer.alloc(0);
  const headers = { ...answer.headers, ...(answer.body && { 'content-length': String(answer.body.length) }) };
  res.writeHead(answer.status, headers);
  // Reported once answered, before a streamed body goes out: its reader may finish before the server sees it sent.
  options.onExchange?.({
    method,
    url: req.url ?? '/',
    requestHeaders: { ...req.headers },
    requestBody: Buffer.alloc(0),
    status: answer.status,
    responseHeaders: headers,
    responseBody,
  });
  if (answer.stream && method !== 'HEAD') {
    // A reader that goes away midway ends the stream; nothing is left to answer.
    await pipeline(answer.stream, res).catch(() => undefined);
  } else {
    answer.stream?.destroy();
    res.end(responseBody);
  }
}

function read(ctx: SandboxContext, req: IncomingMessage, url: URL, now: Date): StorageAnswer {
  const refusal = checkSignature(ctx, url, 'r', now);
  if (refusal) return refusal;
  const upo = STORAGE_BLOB_PATTERN.exec(url.pathname);
  if (upo) return serveUpo(ctx, upo);
  const blob = ctx.storage.blob(url.pathname);
  if (!blob) return blobNotFound();
  const ifMatch = req.headers['if-match'];
  if (ifMatch && ifMatch !== '*' && ifMatch !== blob.etag) {
    return azureError(412, 'ConditionNotMet', 'The condition specified using HTTP conditional header(s) is not met.');
  }
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    etag: blob.etag,
    'last-modified': blob.lastModified.toUTCString(),
    'accept-ranges': 'bytes',
    'x-ms-blob-type': 'BlockBlob',
    ...blob.metadata,
  };
  // One range `bytes=start-[end]` (Range or x-ms-range), so an interrupted download can resume where it stopped.
  const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers['x-ms-range'] ?? req.headers.range ?? ''));
  if (range) {
    const start = Number(range[1]);
    const end = Math.min(range[2] === '' ? blob.size - 1 : Number(range[2]), blob.size - 1);
    if (start > end) return azureError(416, 'InvalidRange', 'The range specified is invalid for the current size of the resource.');
    return {
      status: 206,
      headers: { ...headers, 'content-length': String(end - start + 1), 'content-range': `bytes ${start}-${end}/${blob.size}` },
      stream: servedBytes(ctx, req, url.pathname, { start, end }),
    };
  }
  return { status: 200, headers: { ...headers, 'content-length': String(blob.size) }, stream: servedBytes(ctx, req, url.pathname) };
}

/**
 * The blob's bytes as they go out: intact, or, for the one GET a test asked to corrupt (`corruptNextDownload`), with
 * the first byte flipped.
 */
function servedBytes(
  ctx: SandboxContext,
  req: IncomingMessage,
  blobPath: string,
  range?: { start: number; end: number },
): Readable | undefined {
  const stream = ctx.storage.openBlob(blobPath, range);
  if (!stream || req.method !== 'GET' || !ctx.storage.takeCorruption(blobPath)) return stream;
  let flipped = false;
  const flipFirstByte = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (flipped || chunk.length === 0) return callback(null, chunk);
      flipped = true;
      const corrupted = Buffer.from(chunk);
      corrupted[0] ^= 0xff;
      callback(null, corrupted);
    },
  });
  stream.on('error', (error) => flipFirstByte.destroy(error));
  return stream.pipe(flipFirstByte);
}

function serveUpo(ctx: SandboxContext, [, sessionRef, kind, name]: RegExpExecArray): StorageAnswer {
  const reference = sessionRef.toUpperCase();
  const session = ctx.state.onlineSessions.get(reference) ?? ctx.state.batchSessions.get(reference);
  const xml =
    kind === 'invoice-upo'
      ? session?.invoices.find((i) => i.ksefNumber === name)?.upo
      : /^\d{2}$/.test(name)
        ? session?.upoPages[Number(name)]?.xml
        : undefined;
  if (!xml) return blobNotFound();
  const body = Buffer.from(xml, 'utf8');
  return {
    status: 200,
    headers: { 'content-type': 'application/xml', 'x-ms-meta-hash': sha256Base64(body), 'x-ms-blob-type': 'BlockBlob' },
    body,
  };
}

/** Put Blob into an upload slot: once, with Content-Length, streamed to a temporary file while hashed. */
async function receive(ctx: SandboxContext, req: IncomingMessage, url: URL, now: Date): Promise<StorageAnswer> {
  const refusal = checkSignature(ctx, url, 'w', now) ?? refuseUpload(ctx, req, url);
  if (refusal) {
    // The answer goes out at once; the body still arriving is read and dropped, so the client sees the answer
    // rather than a reset connection.
    req.resume();
    return refusal;
  }
  const slot = ctx.storage.slot(url.pathname)!;
  slot.receiving?.destroy();
  slot.receiving = req;
  const file = await ctx.storage.temporaryFile();
  const hash = createHash('sha256');
  let size = 0;
  try {
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    // Node's parser ends the body at Content-Length and fails it ('aborted') when the connection closes first, so
    // a body that completes has exactly the declared length.
    await pipeline(req, tap, createWriteStream(file));
  } catch {
    // The client went away (its answer is not sent) or the file could not be written.
    if (slot.receiving === req) slot.receiving = undefined;
    await rm(file, { force: true });
    return azureError(500, 'InternalError', 'The server encountered an internal error. Please retry the request.');
  }
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers))
    if (name.startsWith('x-ms-meta-') && typeof value === 'string') metadata[name] = value;
  const digest = hash.digest();
  const etag = blobEtag(digest);
  slot.blob = { file, size, sha256: digest.toString('base64'), etag, lastModified: now, metadata };
  slot.receiving = undefined;
  return {
    status: 201,
    headers: { etag, 'last-modified': now.toUTCString(), 'x-ms-request-server-encrypted': 'true' },
    body: Buffer.alloc(0),
  };
}

/** Why a correctly signed PUT is refused before its body is read, if it is. */
function refuseUpload(ctx: SandboxContext, req: IncomingMessage, url: URL): StorageAnswer | undefined {
  const slot = ctx.storage.slot(url.pathname);
  if (!slot) return blobNotFound();
  if (slot.blob) return azureError(409, 'BlobAlreadyExists', 'The specified blob already exists.');
  if (req.headers['content-length'] === undefined)
    return azureError(411, 'MissingContentLengthHeader', 'Content-Length HTTP header is missing.');
  if (Number(req.headers['content-length']) > slot.maxBytes) {
    return azureError(
      413,
      'RequestBodyTooLarge',
      `The request body is too large and exceeds the maximum permissible limit (${slot.maxBytes} bytes).`,
    );
  }
  if (req.headers['x-ms-blob-type'] !== 'BlockBlob') {
    return azureError(400, 'MissingRequiredHeader', "An HTTP header that's mandatory for this request is not specified: x-ms-blob-type.");
  }
  return undefined;
}

function checkSignature(ctx: SandboxContext, url: URL, permission: StoragePermission, now: Date): StorageAnswer | undefined {
  switch (ctx.storage.check(url.pathname, url.searchParams, permission, now)) {
    case 'ok':
      return undefined;
    case 'expired':
      return azureError(403, 'AuthenticationFailed', 'Signed expiry time has expired.');
    case 'permission':
      return azureError(
        403,
        'AuthorizationPermissionMismatch',
        'This request is not authorized to perform this operation using this permission.',
      );
    default:
      return azureError(
        403,
        'AuthenticationFailed',
        'Server failed to authenticate the request. Make sure the signature is formed correctly.',
      );
  }
}

function blobNotFound(): StorageAnswer {
  return azureError(404, 'BlobNotFound', 'The specified blob does not exist.');
}

function azureError(status: number, code: string, message: string): StorageAnswer {
  const body = Buffer.from(
    `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    'utf8',
  );
  return { status, headers: { 'content-type': 'application/xml', 'x-ms-error-code': code }, body };
}
