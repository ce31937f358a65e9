import { hash } from 'node:crypto';

/**
 * Base64 SHA-256, the form of every KSeF hash field (`invoiceHash`, `fileHash`, `x-ms-meta-hash`, ...). One-shot
 * `crypto.hash` (Node.js 20.12+): for an invoice of a few kB it costs half of a `createHash` object's update and digest.
 */
export function sha256Base64(data: Buffer | string): string {
  return hash('sha256', data, 'base64');
}

export function sha256Hex(data: Buffer | string): string {
  return hash('sha256', data, 'hex');
}
