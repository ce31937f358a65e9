import { createHash } from 'node:crypto';

/** Base64 SHA-256, the form of every KSeF hash field (`invoiceHash`, `fileHash`, `x-ms-meta-hash`, ...). */
export function sha256Base64(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('base64');
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
