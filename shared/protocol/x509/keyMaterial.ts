/**
 * Loading the signing key and certificate for XAdES authentication, from PKCS#12 (.p12/.pfx) or PEM, with every
 * problem reported as a typed `KeyMaterialError` before anything is sent. Messages name the field as a person sees it
 * ("the PKCS#12 password"; the option's name is in `field`) and the fix, and never carry the password, the passphrase or key bytes (no library error is attached as `cause` for that reason).
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import * as forge from 'node-forge';
import { KsefInputError } from '../errors';
import type { Clock } from '../types';
import { fromDer, toDer } from './asn1';
import { SUBJECT_OIDS, parseCertificate, pemCertificates, subjectValue, type CertificateInfo } from './x509';

export type KeyMaterialSource =
  | {
      /** PKCS#12 file contents, or its Base64 text. */
      pkcs12: Buffer | string;
      password: string;
    }
  | {
      /** The certificate in PEM (the one matching the key is picked when a chain is given). */
      certificatePem: string | Buffer;
      /** PKCS#8, PKCS#1 or SEC1 PEM; encrypted (PKCS#8 or legacy `Proc-Type: 4,ENCRYPTED`) keys need `passphrase`. */
      privateKeyPem: string | Buffer;
      passphrase?: string;
    };

export interface LoadKeyMaterialOptions {
  clock?: Clock;
  /** Prefix of the field names in errors (default `credentials`). */
  field?: string;
}

/** The key material fields as forms name them, by the last part of the engine's field name. */
const FIELD_WORDS: Record<string, string> = {
  pkcs12: 'the PKCS#12 file',
  password: 'the PKCS#12 password',
  certificatePem: 'the certificate (PEM)',
  privateKeyPem: 'the private key (PEM)',
  passphrase: 'the private key passphrase',
  encryptedPrivateKeyPem: 'the encrypted private key (PEM)',
  pkcs12Password: 'the PKCS#12 password',
};

/** How a message names `field`: as a person sees it, else (a field this file does not know) by its name. */
function words(field: string): string {
  return FIELD_WORDS[field.slice(field.lastIndexOf('.') + 1)] ?? field;
}

/** The same words opening a sentence. */
function opening(field: string): string {
  const text = words(field);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export interface KeyMaterial {
  privateKey: KeyObject;
  certificate: CertificateInfo;
}

export type KeyMaterialProblem =
  'unreadable' | 'missing-password' | 'wrong-password' | 'unsupported-key' | 'weak-key' | 'key-mismatch' | 'expired' | 'not-yet-valid';

export class KeyMaterialError extends KsefInputError {
  readonly problem: KeyMaterialProblem;
  constructor(problem: KeyMaterialProblem, message: string, field: string) {
    super(message, { field });
    this.problem = problem;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), problem: this.problem };
  }
}

/** Curves KSeF accepts (at least 256 bits), with the hash their ECDSA signatures use. */
export const SUPPORTED_EC_CURVES: Record<string, 'sha256' | 'sha384' | 'sha512'> = {
  prime256v1: 'sha256',
  secp384r1: 'sha384',
  secp521r1: 'sha512',
};
export const MIN_RSA_BITS = 2048;

export function loadKeyMaterial(source: KeyMaterialSource, options: LoadKeyMaterialOptions = {}): KeyMaterial {
  const prefix = options.field ?? 'credentials';
  const { privateKey, certificates, certificateField } =
    source && 'pkcs12' in source ? readPkcs12(source.pkcs12, source.password, prefix) : readPem(source, prefix);
  checkKey(privateKey, `${prefix}.${certificateField === 'pkcs12' ? 'pkcs12' : 'privateKeyPem'}`);

  const matching = certificates.find((der) => new X509Certificate(der).checkPrivateKey(privateKey));
  if (!matching) {
    throw new KeyMaterialError(
      'key-mismatch',
      `The private key does not belong to the certificate in ${words(certificateField)}: supply the certificate issued for this key.`,
      `${prefix}.${certificateField}`,
    );
  }
  const certificate = parseCertificate(matching);
  checkValidity(certificate, (options.clock ?? { now: () => new Date() }).now(), `${prefix}.${certificateField}`);
  return { privateKey, certificate };
}

interface RawKeyMaterial {
  privateKey: KeyObject;
  certificates: Buffer[];
  certificateField: string;
}

function readPkcs12(input: Buffer | string, password: string, prefix: string): RawKeyMaterial {
  const field = `${prefix}.pkcs12`;
  if (typeof password !== 'string')
    throw new KeyMaterialError('missing-password', 'The PKCS#12 password is required to open the PKCS#12 file.', `${prefix}.password`);
  const der = typeof input === 'string' || input[0] !== 0x30 ? Buffer.from(input.toString().replace(/\s+/g, ''), 'base64') : input;
  let pfx: forge.pkcs12.Pkcs12Pfx;
  try {
    pfx = readPfxKeepingRawBags(fromDer(der), password);
  } catch (error) {
    const message = (error as Error).message ?? '';
    if (/password/i.test(message)) {
      throw new KeyMaterialError(
        'wrong-password',
        'The PKCS#12 password does not open the PKCS#12 file: check the password (or the file is damaged).',
        `${prefix}.password`,
      );
    }
    throw new KeyMaterialError(
      'unreadable',
      `The PKCS#12 file is not a readable PKCS#12 (.p12/.pfx) file: export it again (${message.slice(0, 120)}).`,
      field,
    );
  }
  const bags = (type: string): forge.pkcs12.Bag[] => pfx.getBags({ bagType: type })[type] ?? [];
  const keyBags = [...bags(forge.pki.oids.pkcs8ShroudedKeyBag), ...bags(forge.pki.oids.keyBag)];
  const certificates = bags(forge.pki.oids.certBag).map((bag) => asn1ToBuffer(bag.asn1));
  if (keyBags.length === 0)
    throw new KeyMaterialError(
      'unreadable',
      'The PKCS#12 file holds no private key: export the certificate together with its private key.',
      field,
    );
  if (certificates.length === 0)
    throw new KeyMaterialError(
      'unreadable',
      'The PKCS#12 file holds no certificate: export the certificate together with its private key.',
      field,
    );
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: asn1ToBuffer(keyBags[0].asn1), format: 'der', type: 'pkcs8' });
  } catch {
    throw new KeyMaterialError(
      'unsupported-key',
      'The private key in the PKCS#12 file is of a kind that cannot be read: use an RSA (2048+ bits) or EC P-256 key.',
      field,
    );
  }
  return { privateKey, certificates, certificateField: 'pkcs12' };
}

type Pbes2CipherFactory = (oid: string, params: unknown, password: string) => unknown;

/**
 * Two corrections to node-forge's PKCS#12 reader, swapped in only for this synchronous call:
 * - forge turns bags into its own key/certificate objects (RSA only) and drops the original bytes; re-encoding
 *   its certificate object need not give the signed DER back. With both converters failing, forge keeps every
 *   bag's original ASN.1 (`bag.asn1`) for any key type.
 * - PBES2 (what OpenSSL 3 and Windows write) takes the password as UTF-8 octets, while forge passes the JS string
 *   as if it were Latin-1, so non-ASCII passwords would fail; the PKCS#12 MAC and legacy PBEs (BMPString) are right.
 */
function readPfxKeepingRawBags(pfxAsn1: forge.asn1.Asn1, password: string): forge.pkcs12.Pkcs12Pfx {
  const pki = forge.pki as unknown as Record<'certificateFromAsn1' | 'privateKeyFromAsn1', unknown>;
  const pbe = (forge.pki as unknown as { pbe: { getCipherForPBES2: Pbes2CipherFactory } }).pbe;
  const { certificateFromAsn1, privateKeyFromAsn1 } = pki;
  const { getCipherForPBES2 } = pbe;
  const keepRaw = (): never => {
    throw new Error('keep the original ASN.1');
  };
  pki.certificateFromAsn1 = keepRaw;
  pki.privateKeyFromAsn1 = keepRaw;
  pbe.getCipherForPBES2 = (oid, params, pbes2Password) => getCipherForPBES2(oid, params, forge.util.encodeUtf8(pbes2Password));
  try {
    return forge.pkcs12.pkcs12FromAsn1(pfxAsn1, false, password);
  } finally {
    pki.certificateFromAsn1 = certificateFromAsn1;
    pki.privateKeyFromAsn1 = privateKeyFromAsn1;
    pbe.getCipherForPBES2 = getCipherForPBES2;
  }
}

function asn1ToBuffer(node: forge.asn1.Asn1 | undefined): Buffer {
  if (!node) throw new Error('missing bag content');
  return toDer(node);
}

/**
 * Single-line inputs (n8n's password fields, some form builders) deliver a pasted PEM with its line breaks removed
 * or turned into spaces, which no PEM reader accepts; each BEGIN/END block is re-wrapped the way PEM is written.
 */
export function restorePemLineBreaks(pem: string): string {
  if (pem.includes('\n')) return pem;
  return pem.replace(
    /-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----/g,
    (_block, label: string, body: string) =>
      `-----BEGIN ${label}-----\n${(body.replace(/\s+/g, '').match(/.{1,64}/g) ?? []).join('\n')}\n-----END ${label}-----\n`,
  );
}

function readPem(
  source: { certificatePem: string | Buffer; privateKeyPem: string | Buffer; passphrase?: string },
  prefix: string,
): RawKeyMaterial {
  const certificateField = 'certificatePem';
  const text = restorePemLineBreaks(source?.certificatePem?.toString() ?? '');
  const certificates = pemCertificates(text);
  if (certificates.length === 0) {
    throw new KeyMaterialError(
      'unreadable',
      'The certificate (PEM) holds no PEM certificate (-----BEGIN CERTIFICATE-----).',
      `${prefix}.certificatePem`,
    );
  }
  for (const der of certificates) {
    try {
      new X509Certificate(der);
    } catch {
      throw new KeyMaterialError(
        'unreadable',
        'The certificate (PEM) holds a damaged certificate: copy the whole PEM block again.',
        `${prefix}.certificatePem`,
      );
    }
  }
  const privateKey = readPrivateKeyPem(source.privateKeyPem, source.passphrase, {
    key: `${prefix}.privateKeyPem`,
    passphrase: `${prefix}.passphrase`,
  });
  return { privateKey, certificates, certificateField };
}

/**
 * A PEM private key (PKCS#8, PKCS#1 or SEC1; encrypted PKCS#8 or legacy `Proc-Type: 4,ENCRYPTED` with
 * `passphrase`), every problem a `KeyMaterialError` naming `fields.key` or `fields.passphrase`.
 */
export function readPrivateKeyPem(
  pem: string | Buffer | undefined,
  passphrase: string | undefined,
  fields: { key: string; passphrase: string },
): KeyObject {
  const keyText = restorePemLineBreaks(pem?.toString() ?? '');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyText)) {
    throw new KeyMaterialError(
      'unreadable',
      `${opening(fields.key)} holds no PEM private key (a BEGIN PRIVATE KEY block, or RSA/EC/ENCRYPTED PRIVATE KEY).`,
      fields.key,
    );
  }
  const encrypted = /ENCRYPTED/.test(keyText);
  if (encrypted && !passphrase) {
    throw new KeyMaterialError(
      'missing-password',
      `${opening(fields.key)} is encrypted: provide ${words(fields.passphrase)}.`,
      fields.passphrase,
    );
  }
  try {
    return createPrivateKey({ key: keyText, format: 'pem', passphrase });
  } catch (error) {
    const { code = '', message = '' } = error as Error & { code?: string };
    if (encrypted && /decrypt/i.test(`${code} ${message}`)) {
      throw new KeyMaterialError(
        'wrong-password',
        `${opening(fields.passphrase)} does not decrypt ${words(fields.key)}: check that it is the one the key was encrypted with.`,
        fields.passphrase,
      );
    }
    throw new KeyMaterialError(
      'unreadable',
      `${opening(fields.key)} is not a readable private key: use PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM.`,
      fields.key,
    );
  }
}

function checkKey(privateKey: KeyObject, field: string): void {
  const type = privateKey.asymmetricKeyType;
  const details = privateKey.asymmetricKeyDetails ?? {};
  if (type === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) {
      throw new KeyMaterialError(
        'weak-key',
        `The RSA key in ${words(field)} has ${bits} bits; KSeF requires at least ${MIN_RSA_BITS}. Use a stronger key.`,
        field,
      );
    }
    return;
  }
  if (type === 'ec' && details.namedCurve && details.namedCurve in SUPPORTED_EC_CURVES) return;
  const what = type === 'ec' ? `EC key on curve ${details.namedCurve ?? 'unknown'}` : `${type ?? 'unknown'} key`;
  throw new KeyMaterialError(
    'unsupported-key',
    `The ${what} in ${words(field)} cannot sign for KSeF: use an RSA key of at least ${MIN_RSA_BITS} bits or an EC key on P-256, P-384 or P-521.`,
    field,
  );
}

function checkValidity(certificate: CertificateInfo, now: Date, field: string): void {
  const name = subjectValue(certificate, SUBJECT_OIDS.commonName) ?? certificate.fingerprintSha256;
  if (now < certificate.notBefore) {
    throw new KeyMaterialError(
      'not-yet-valid',
      `The certificate "${name}" in ${words(field)} is valid only from ${certificate.notBefore.toISOString()}: wait, or check the computer's clock.`,
      field,
    );
  }
  if (now > certificate.notAfter) {
    throw new KeyMaterialError(
      'expired',
      `The certificate "${name}" in ${words(field)} expired on ${certificate.notAfter.toISOString()}: renew it or use another certificate.`,
      field,
    );
  }
}
