import { newSymmetricKey, type SymmetricKey } from '../protocol/crypto/aes';
import { rsaOaepEncrypt } from '../protocol/crypto/rsa';
import type { EncryptionKey, PublicKeys } from '../security/publicKeys';

/**
 * The `encryption` block of `POST /sessions/online`, `POST /sessions/batch` and `POST /invoices/exports`
 * (`EncryptionInfo` in open-api.json, CIRFMF/ksef-api; bezpieczenstwo/klucze-publiczne-do-szyfrowania.md).
 */
export interface EncryptionInfo {
  /** The AES-256 key, RSA-OAEP (SHA-256) encrypted with KSeF's `SymmetricKeyEncryption` public key, Base64. */
  encryptedSymmetricKey: string;
  /** The 16-byte IV, Base64: KSeF takes it in clear beside the key, never prefixed to a ciphertext. */
  initializationVector: string;
  /** Which of KSeF's public keys wrapped the key. */
  publicKeyId: string;
}

/**
 * Opens something KSeF encrypts with a symmetric key of ours (an online or batch session, an export): a fresh
 * AES-256 key and IV, wrapped with KSeF's current public key, go to `open` as the `encryption` block. When KSeF no
 * longer knows that public key (21470, key rotation), the same key is wrapped again with the refetched public key
 * and `open` runs once more. Returns what `open` returned and the key, which encrypts what is sent (invoices,
 * batch parts) or decrypts what comes back (export parts). A batch session passes the `key` it encrypted its
 * package with already (the declaration holds the encrypted parts' hashes).
 */
export async function openWithSessionKey<T>(
  publicKeys: PublicKeys,
  open: (encryption: EncryptionInfo) => Promise<T>,
  key: SymmetricKey = newSymmetricKey(),
): Promise<{ key: SymmetricKey; opened: T }> {
  const opened = await publicKeys.withKey('SymmetricKeyEncryption', (publicKey) => open(wrap(key, publicKey)));
  return { key, opened };
}

function wrap(key: SymmetricKey, publicKey: EncryptionKey): EncryptionInfo {
  return {
    encryptedSymmetricKey: rsaOaepEncrypt(publicKey.key, key.key).toString('base64'),
    initializationVector: key.iv.toString('base64'),
    publicKeyId: publicKey.publicKeyId,
  };
}
