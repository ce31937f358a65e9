import { constants, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';

/** RSA-OAEP with SHA-256 and MGF1-SHA-256, empty label: how KSeF wraps session keys and KSeF tokens. */
export function rsaOaepEncrypt(publicKey: KeyObject | string, data: Buffer): Buffer {
  return publicEncrypt(
    {
      key: typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey,
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: 'sha256',
    },
    data,
  );
}

export function rsaOaepDecrypt(privateKey: KeyObject | string, data: Buffer): Buffer {
  return privateDecrypt(
    {
      key: typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey,
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: 'sha256',
    },
    data,
  );
}
