import { X509Certificate, type KeyObject } from 'node:crypto';
import type { Clock, Logger, PublicKeyUsage } from '../protocol/types';
import { KsefError } from '../http/errors';
import type { RequestFunction } from '../http/transport';

/** One entry of `GET /security/public-key-certificates` (PublicKeyCertificate, open-api.json, CIRFMF/ksef-api). */
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

/**
 * How long a downloaded key list is trusted. KSeF publishes a new key next to the old one before a rotation, so a
 * long-running workflow host that looks again now and then moves to the new key before the old one is withdrawn.
 */
export const PUBLIC_KEYS_MAX_AGE_MS = 6 * 3600_000;

interface CachedCertificates {
  fetchedAt: number;
  certificates: Promise<PublicKeyCertificate[]>;
}

/** Public data, so shared by every client in the process: one download per base URL and max age, or on rotation. */
const certificatesByBaseUrl = new Map<string, CachedCertificates>();

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
    let chosen = newestValid(await this.certificates(), usage, this.clock.now().getTime());
    if (!chosen) {
      // Every key we knew has expired: the list is out of date, not necessarily KSeF.
      certificatesByBaseUrl.delete(this.baseUrl);
      chosen = newestValid(await this.certificates(), usage, this.clock.now().getTime());
    }
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
    const now = this.clock.now().getTime();
    const cached = certificatesByBaseUrl.get(this.baseUrl);
    if (cached && now - cached.fetchedAt < PUBLIC_KEYS_MAX_AGE_MS) return cached.certificates;
    const entry: CachedCertificates = {
      fetchedAt: now,
      certificates: this.request<PublicKeyCertificate[]>({ method: 'GET', path: '/security/public-key-certificates' }).then(
        (response) => response.data,
      ),
    };
    certificatesByBaseUrl.set(this.baseUrl, entry);
    // A failed download must not stay cached.
    entry.certificates.catch(() => {
      if (certificatesByBaseUrl.get(this.baseUrl) === entry) certificatesByBaseUrl.delete(this.baseUrl);
    });
    return entry.certificates;
  }
}

/** The rule both official clients follow: the right usage, valid now, the newest `validFrom`. */
function newestValid(certificates: PublicKeyCertificate[], usage: PublicKeyUsage, now: number): PublicKeyCertificate | undefined {
  return certificates
    .filter((c) => c.usage.includes(usage) && Date.parse(c.validFrom) <= now && now < Date.parse(c.validTo))
    .sort((a, b) => Date.parse(b.validFrom) - Date.parse(a.validFrom))[0];
}
