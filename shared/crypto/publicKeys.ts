import { X509Certificate, type KeyObject } from 'node:crypto';
import type { Clock, Logger } from '../types';
import { KsefError } from '../http/errors';
import type { RequestFunction } from '../http/transport';

export type PublicKeyUsage = 'KsefTokenEncryption' | 'SymmetricKeyEncryption';

/** One entry of `GET /security/public-key-certificates` (NOTES.md 4.6). */
export interface PublicKeyCertificate {
  certificate: string;
  certificateId: string;
  publicKeyId: string;
  validFrom: string;
  validTo: string;
  usage: string[];
}

export interface EncryptionKey {
  publicKeyId: string;
  key: KeyObject;
}

/** KSeF answers 21470 when a `publicKeyId` is unknown or withdrawn (key rotation). */
export const UNKNOWN_PUBLIC_KEY_CODE = 21470;

/** Public data, so shared by every client in the process: one download per base URL until KSeF rotates its keys. */
const certificatesByBaseUrl = new Map<string, Promise<PublicKeyCertificate[]>>();

/** The Ministry's encryption keys of one environment: chosen by usage and validity, refetched on rotation. */
export class PublicKeys {
  constructor(
    private readonly baseUrl: string,
    private readonly request: RequestFunction,
    private readonly clock: Clock,
    private readonly logger?: Logger,
  ) {}

  /** The currently valid key for `usage` with the newest `validFrom` (the rule both official clients follow). */
  async get(usage: PublicKeyUsage): Promise<EncryptionKey> {
    const now = this.clock.now().getTime();
    const candidates = (await this.certificates())
      .filter((c) => c.usage.includes(usage) && Date.parse(c.validFrom) <= now && now < Date.parse(c.validTo))
      .sort((a, b) => Date.parse(b.validFrom) - Date.parse(a.validFrom));
    const chosen = candidates[0];
    if (!chosen) {
      throw new KsefError(`KSeF at ${this.baseUrl} publishes no currently valid public key for ${usage}.`);
    }
    return {
      publicKeyId: chosen.publicKeyId,
      key: new X509Certificate(Buffer.from(chosen.certificate, 'base64')).publicKey,
    };
  }

  /** Runs `use` with the key; when KSeF no longer knows that key (21470), refetches the keys and runs it once more. */
  async withKey<T>(usage: PublicKeyUsage, use: (key: EncryptionKey) => Promise<T>): Promise<T> {
    try {
      return await use(await this.get(usage));
    } catch (error) {
      if (!(error instanceof KsefError) || !error.hasCode(UNKNOWN_PUBLIC_KEY_CODE)) throw error;
      this.logger?.info('KSeF rotated its public keys; fetching them again', { usage });
      certificatesByBaseUrl.delete(this.baseUrl);
      return use(await this.get(usage));
    }
  }

  private certificates(): Promise<PublicKeyCertificate[]> {
    let pending = certificatesByBaseUrl.get(this.baseUrl);
    if (!pending) {
      pending = this.request<PublicKeyCertificate[]>({ method: 'GET', path: '/security/public-key-certificates' }).then(
        (response) => response.data,
      );
      certificatesByBaseUrl.set(this.baseUrl, pending);
      // A failed download must not stay cached.
      const cached = pending;
      cached.catch(() => {
        if (certificatesByBaseUrl.get(this.baseUrl) === cached) certificatesByBaseUrl.delete(this.baseUrl);
      });
    }
    return pending;
  }
}
