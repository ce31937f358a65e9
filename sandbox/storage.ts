/**
 * Storage-style download links (Azure-blob SAS lookalikes, as the UPO download URLs of open-api.json): plain GET, no access token, not
 * rate-limited, expiring, `x-ms-meta-hash` header. Links are HMAC-signed so they cannot be forged or extended.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DAY_MS } from './dates';

export const UPO_LINK_VALIDITY_MS = 3 * DAY_MS;

export class StorageLinks {
  private origin = '';

  constructor(private readonly secret: Buffer) {}

  /** Set once the server listens: `http://127.0.0.1:N`. */
  setOrigin(origin: string): void {
    this.origin = origin;
  }

  /** `blobPath` like `/storage/01/20250918-so-…/session-upo/upo_00.xml`. */
  sign(blobPath: string, expiresAt: Date): string {
    const se = expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const query = new URLSearchParams({ sv: '2025-01-05', se, sr: 'b', sp: 'r', sig: this.signature(blobPath, se) });
    return `${this.origin}${blobPath}?${query.toString()}`;
  }

  /** 'ok', or why the link is refused. */
  check(blobPath: string, query: URLSearchParams, now: Date): 'ok' | 'invalid' | 'expired' {
    const se = query.get('se');
    const sig = query.get('sig');
    if (!se || !sig) return 'invalid';
    const expected = Buffer.from(this.signature(blobPath, se));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'invalid';
    return Date.parse(se) > now.getTime() ? 'ok' : 'expired';
  }

  private signature(blobPath: string, se: string): string {
    return createHmac('sha256', this.secret).update(`${blobPath}\n${se}`).digest('base64');
  }
}

export function invoiceUpoBlobPath(sessionReferenceNumber: string, ksefNumber: string): string {
  return `/storage/01/${sessionReferenceNumber.toLowerCase()}/invoice-upo/upo_${ksefNumber}.xml`;
}

export function sessionUpoBlobPath(sessionReferenceNumber: string, pageIndex: number): string {
  return `/storage/01/${sessionReferenceNumber.toLowerCase()}/session-upo/upo_${String(pageIndex).padStart(2, '0')}.xml`;
}

export const STORAGE_BLOB_PATTERN = /^\/storage\/01\/([0-9a-z-]{36})\/(invoice-upo|session-upo)\/upo_([0-9A-Za-z-]+)\.xml$/;
