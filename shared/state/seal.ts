/**
 * Sealing key material before it goes to the state port (which keeps values in clear: n8n static data, Node-RED
 * context, files). A pending export's AES key must outlive the run that started it, so it is stored sealed:
 * AES-256-GCM under a key derived with HKDF-SHA256 from the client's own credential secret (the KSeF token, or the
 * certificate's private key). Whoever reads the state without that credential learns nothing; whoever has the
 * credential could read the invoices from KSeF anyway.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { KsefError } from '../http/errors';

/** Binds derived keys to this use, so the same credential secret never keys anything else the same way. */
const HKDF_SALT = 'ksef-flow state seal v1';
const FORMAT = 'v1';

/** The key a client seals with; derived once from its credential secret. */
export class SealKey {
  private readonly key: Buffer;

  constructor(credentialSecret: Buffer) {
    if (credentialSecret.length === 0) throw new KsefError('A state seal needs a non-empty credential secret.');
    this.key = Buffer.from(hkdfSync('sha256', credentialSecret, HKDF_SALT, 'state', 32));
  }

  /**
   * `plain` sealed as one JSON-safe string. `purpose` (e.g. the state key) is authenticated with it: a sealed value
   * moved under another purpose does not open.
   */
  seal(plain: Buffer, purpose: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(purpose, 'utf8'));
    const data = Buffer.concat([cipher.update(plain), cipher.final()]);
    return [FORMAT, iv, cipher.getAuthTag(), data].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
  }

  /** What `seal` sealed with the same credential and purpose; anything else fails with a `KsefError`. */
  open(sealed: string, purpose: string): Buffer {
    const [format, iv, tag, data] = sealed.split('.');
    if (format !== FORMAT || iv === undefined || tag === undefined || data === undefined) {
      throw new KsefError('The sealed state value is not in a format this version reads.');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(purpose, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]);
    } catch (error) {
      throw new KsefError('The sealed state value does not open with this credential (it was sealed with another one, or changed).', {
        cause: error,
      });
    }
  }
}
