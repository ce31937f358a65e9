/**
 * The storage host of download links (UPOs): no token, no rate limit, Azure-blob-like answers — 403 for a
 * forged or expired signature, 404 for a missing blob.
 */
import { sha256Base64 } from '../../shared/crypto/hashes';
import type { SandboxContext } from '../context';
import type { RenderedResponse } from '../errors';
import { STORAGE_BLOB_PATTERN } from '../storage';

export function serveStorageBlob(ctx: SandboxContext, url: URL, now: Date): RenderedResponse {
  const match = STORAGE_BLOB_PATTERN.exec(url.pathname);
  if (!match) return azureError(404, 'BlobNotFound', 'The specified blob does not exist.');
  const verdict = ctx.storage.check(url.pathname, url.searchParams, now);
  if (verdict !== 'ok') {
    return azureError(
      403,
      'AuthenticationFailed',
      verdict === 'expired' ? 'Signed expiry time has expired.' : 'Server failed to authenticate the request. Make sure the signature is formed correctly.',
    );
  }
  const [, sessionRef, kind, name] = match;
  const session = ctx.state.onlineSessions.get(sessionRef.toUpperCase());
  const xml =
    kind === 'invoice-upo'
      ? session?.invoices.find((i) => i.ksefNumber === name)?.upo
      : /^\d{2}$/.test(name)
        ? session?.upoPages[Number(name)]?.xml
        : undefined;
  if (!xml) return azureError(404, 'BlobNotFound', 'The specified blob does not exist.');
  const body = Buffer.from(xml, 'utf8');
  return { status: 200, headers: { 'content-type': 'application/xml', 'x-ms-meta-hash': sha256Base64(body), 'x-ms-blob-type': 'BlockBlob' }, body };
}

function azureError(status: number, code: string, message: string): RenderedResponse {
  const body = Buffer.from(`<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`, 'utf8');
  return { status, headers: { 'content-type': 'application/xml', 'x-ms-error-code': code }, body };
}
