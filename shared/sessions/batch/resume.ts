/**
 * What a batch session keeps in the state store while it runs, so a run that dies half way is finished by the next
 * run with the same invoices instead of sending them again: the session's reference and upload URLs, its AES key
 * (all SEALED with the credential-derived key, as exports keep theirs), the package it declared, the invoices in it
 * and which parts are uploaded. Written before the session opens and after every step; removed once the caller
 * has the session's final results.
 */
import { sha256Hex } from '../../protocol/crypto/hashes';
import type { SymmetricKey } from '../../protocol/crypto/aes';
import { KsefError } from '../../http/errors';
import type { JsonValue, StateStore } from '../../state/stateStore';
import type { SealKey } from '../../state/seal';
import { batchFileInfo, type BatchPackage } from './package';

/** `PartUploadRequest` of `POST /sessions/batch` (open-api.json, CIRFMF/ksef-api). */
export interface PartUploadRequest {
  ordinalNumber: number;
  method: string;
  url: string;
  headers: Record<string, string | null>;
}

/** One invoice of the package, as KSeF reports it back (`invoiceFileName`, `invoiceHash`). */
export interface BatchInvoiceRecord {
  index: number;
  fileName: string;
  sha256: string;
}

export type BatchDeclaration = ReturnType<typeof batchFileInfo>;

/** The state of one batch session, as stored. */
export interface BatchSessionState {
  createdAt: string;
  /** AES key and IV, sealed. */
  sealedKey: string;
  declaration: BatchDeclaration;
  invoices: BatchInvoiceRecord[];
  /** Set once KSeF opened the session. */
  referenceNumber?: string;
  /** The upload window's end: 20 minutes per declared part from the open (sesja-wsadowa.md, CIRFMF/ksef-docs). */
  uploadDeadline?: string;
  /** The upload URLs (their signatures let anyone write the parts), sealed. */
  sealedUploads?: string;
  partsDone: number[];
  closed: boolean;
}

/** What identifies a batch of the same invoices sent the same way: the state key hashes it. */
export interface BatchIdentity {
  options: { schema: string; offlineMode: boolean; compressionType: string; partSizeBytes: number };
  pkg: Pick<BatchPackage, 'entries' | 'rejected'>;
}

/** The state of one batch session under its key, sealing and unsealing its secrets. */
export class BatchSessionStore {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly store: StateStore,
    private readonly sealKey: SealKey,
    readonly key: string,
  ) {}

  /** The store of the session for `identity` in `scope`: same invoices (same order, names and hashes) and options, same key. */
  static of(store: StateStore, sealKey: SealKey, scope: string, identity: BatchIdentity): BatchSessionStore {
    const fingerprint = JSON.stringify({
      options: identity.options,
      invoices: identity.pkg.entries.map((entry) => [entry.index, entry.fileName, entry.invoiceHash]),
      rejected: identity.pkg.rejected.map((rejection) => [rejection.index, rejection.invoiceHash]),
    });
    return new BatchSessionStore(store, sealKey, `ksef-flow/batch/${scope}/${sha256Hex(fingerprint)}`);
  }

  async read(): Promise<BatchSessionState | undefined> {
    return (await this.store.get(this.key)) as unknown as BatchSessionState | undefined;
  }

  /** Writes `state`; writes are queued, so concurrent part uploads never store an older list over a newer one. */
  write(state: BatchSessionState): Promise<void> {
    const snapshot = JSON.parse(JSON.stringify(state)) as JsonValue;
    const written = this.writing.then(() => this.store.set(this.key, snapshot));
    this.writing = written.catch(() => undefined);
    return written;
  }

  async remove(): Promise<void> {
    await this.writing;
    await this.store.delete(this.key);
  }

  sealSessionKey(key: SymmetricKey): string {
    return this.sealKey.seal(Buffer.concat([key.key, key.iv]), `${this.key} key`);
  }

  openSessionKey(state: BatchSessionState): SymmetricKey {
    const material = this.opened(() => this.sealKey.open(state.sealedKey, `${this.key} key`));
    return { key: material.subarray(0, 32), iv: material.subarray(32) };
  }

  sealUploads(uploads: PartUploadRequest[]): string {
    return this.sealKey.seal(Buffer.from(JSON.stringify(uploads), 'utf8'), `${this.key} uploads`);
  }

  openUploads(state: BatchSessionState): PartUploadRequest[] {
    return JSON.parse(
      this.opened(() => this.sealKey.open(state.sealedUploads!, `${this.key} uploads`)).toString('utf8'),
    ) as PartUploadRequest[];
  }

  private opened(open: () => Buffer): Buffer {
    try {
      return open();
    } catch (error) {
      throw new KsefError(
        `The saved state of an unfinished batch session (${this.key}) does not open with this credential: it was written by a client with another KSeF token or certificate. Run it with that credential, or remove the state to send the invoices anew (check in KSeF first that they are not there).`,
        { cause: error },
      );
    }
  }
}
