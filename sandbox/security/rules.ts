/** Which of KSeF's public keys a request means (bezpieczenstwo/klucze-publiczne-do-szyfrowania.md, CIRFMF/ksef-docs). */
import type { SymmetricKey } from '../../shared/protocol/crypto/aes';
import { rsaOaepDecrypt } from '../../shared/protocol/crypto/rsa';
import type { PublicKeyUsage } from '../../shared/protocol/types';
import type { SandboxContext } from '../context';
import { inputValidationError, ksefException } from '../http/errors';
import { requireBase64, requireObject, requireString } from '../http/input';
import { currentKey, type SandboxKey } from './keys';

/** The published key a request names by `publicKeyId`, or the current one when it names none. */
export function keyFor(ctx: SandboxContext, usage: PublicKeyUsage, publicKeyId?: string | null): SandboxKey | undefined {
  if (publicKeyId == null) return currentKey(ctx.keys, usage, ctx.clock.now());
  return ctx.keys.find((k) => k.usage === usage && k.publicKeyId === publicKeyId);
}

/** The `encryption` block (`EncryptionInfo`) of an online session or an export: an AES key wrapped with one of KSeF's keys. */
export interface EncryptionRequest {
  encryptedSymmetricKey: Buffer;
  initializationVector: Buffer;
  key: SandboxKey;
}

/** Reads `body.encryption`: 21405 when it is malformed or the IV is not 16 bytes, 21470 when it names an unknown key. */
export function readEncryptionInfo(ctx: SandboxContext, body: Record<string, unknown>): EncryptionRequest {
  const encryption = requireObject(body.encryption, 'encryption');
  const encryptedSymmetricKey = requireBase64(encryption, 'encryptedSymmetricKey', 'encryption.encryptedSymmetricKey');
  const initializationVector = requireBase64(encryption, 'initializationVector', 'encryption.initializationVector');
  const publicKeyId = encryption.publicKeyId == null ? undefined : requireString(encryption, 'publicKeyId', 'encryption.publicKeyId');
  if (initializationVector.length !== 16) {
    throw inputValidationError([
      `'encryption.initializationVector' must be 16 bytes (Base64 of the AES IV), got ${initializationVector.length}.`,
    ]);
  }
  const key = keyFor(ctx, 'SymmetricKeyEncryption', publicKeyId);
  if (!key) throw ksefException(21470, `Klucz o identyfikatorze ${publicKeyId} nie jest wspierany.`);
  return { encryptedSymmetricKey, initializationVector, key };
}

/**
 * The AES-256 key the caller wrapped (RSA-OAEP SHA-256), or undefined when it cannot be unwrapped: KSeF reports
 * that asynchronously, as status 415 of the session or export, not as an error of the request.
 */
export function unwrapSymmetricKey(request: EncryptionRequest): SymmetricKey | undefined {
  try {
    const key = rsaOaepDecrypt(request.key.privateKey, request.encryptedSymmetricKey);
    return key.length === 32 ? { key, iv: request.initializationVector } : undefined;
  } catch {
    return undefined;
  }
}
