/**
 * The sandbox's own "Ministry of Finance" encryption keys: RSA-2048 key pairs, each published in a self-signed
 * X.509 certificate exactly like `/security/public-key-certificates` publishes the real ones. It starts with one
 * per usage; during a rotation, as on KSeF, a new key is published next to the old one until that is withdrawn.
 */
import { generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { toDer } from '../../shared/protocol/x509/asn1';
import type { PublicKeyUsage } from '../../shared/protocol/types';
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { DAY_MS, MINUTE_MS } from '../dates';

export interface SandboxKey {
  usage: PublicKeyUsage;
  privateKey: KeyObject;
  /** DER of the self-signed certificate. */
  certificate: Buffer;
  /** Base64 SHA-256 of the certificate DER. */
  certificateId: string;
  /** Base64 SHA-256 of the DER SubjectPublicKeyInfo. */
  publicKeyId: string;
  validFrom: Date;
  validTo: Date;
}

const generateRsaKeyPair = promisify(generateKeyPair);
const CERTIFICATE_VALIDITY_MS = 2 * 365 * DAY_MS;

export function generateSandboxKeys(now: Date): Promise<SandboxKey[]> {
  const usages: PublicKeyUsage[] = ['KsefTokenEncryption', 'SymmetricKeyEncryption'];
  return Promise.all(usages.map((usage) => generateSandboxKey(usage, new Date(now.getTime() - MINUTE_MS))));
}

/** The key KSeF uses for `usage` when a request names none: the currently valid one with the newest `validFrom`. */
export function currentKey(keys: SandboxKey[], usage: PublicKeyUsage, now: Date): SandboxKey | undefined {
  return keys
    .filter((k) => k.usage === usage && k.validFrom <= now && now < k.validTo)
    .sort((a, b) => b.validFrom.getTime() - a.validFrom.getTime())[0];
}

export async function generateSandboxKey(usage: PublicKeyUsage, notBefore: Date): Promise<SandboxKey> {
  const { publicKey, privateKey } = await generateRsaKeyPair('rsa', { modulusLength: 2048 });
  const validFrom = new Date(Math.floor(notBefore.getTime() / 1000) * 1000);
  const validTo = new Date(validFrom.getTime() + CERTIFICATE_VALIDITY_MS);

  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  // A leading 0x01 keeps the DER serial positive.
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = validFrom;
  cert.validity.notAfter = validTo;
  const name = [
    { name: 'commonName', value: `KSeF Sandbox ${usage}` },
    { name: 'organizationName', value: 'KSeF Sandbox' },
    { name: 'countryName', value: 'PL' },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', critical: true, keyEncipherment: true, dataEncipherment: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), forge.md.sha256.create());
  const certificate = toDer(forge.pki.certificateToAsn1(cert));

  return {
    usage,
    privateKey,
    certificate,
    certificateId: sha256Base64(certificate),
    publicKeyId: sha256Base64(publicKey.export({ type: 'spki', format: 'der' })),
    validFrom,
    validTo,
  };
}
