import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** AES-256-CBC key material of one session or export. KSeF sends the IV separately: it is not prefixed to the ciphertext. */
export interface SymmetricKey {
  key: Buffer;
  iv: Buffer;
}

export function newSymmetricKey(): SymmetricKey {
  return { key: randomBytes(32), iv: randomBytes(16) };
}

export function aesEncrypt(plain: Buffer, { key, iv }: SymmetricKey): Buffer {
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([cipher.update(plain), cipher.final()]);
}

export function aesDecrypt(encrypted: Buffer, { key, iv }: SymmetricKey): Buffer {
  const decipher = createDecipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([decipher.update(encrypted), decipher.final()]);
}
