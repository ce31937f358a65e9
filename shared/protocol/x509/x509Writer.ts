/**
 * The parts X.509 certificates and PKCS#10 requests share when we write them: keys, Names, extensions, the
 * TBSCertificate, and the signed envelope SEQUENCE { content, algorithm, BIT STRING signature }. Signing is done
 * by node:crypto, which (unlike node-forge) handles EC keys too.
 */
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import * as forge from 'node-forge';
import {
  bitString,
  booleanTrue,
  explicit,
  fromDer,
  integer,
  integerOfBytes,
  nullValue,
  octets,
  oid,
  primitive,
  sequence,
  set,
  time,
  toDer,
  type Asn1,
} from './asn1';
import { SUBJECT_OIDS } from './x509';

const OID = {
  sha256WithRsa: '1.2.840.113549.1.1.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
};

/** X.520 gives these PrintableString; every other attribute is written as UTF8String, as the official example does. */
const PRINTABLE_ATTRIBUTES = new Set<string>([SUBJECT_OIDS.countryName, SUBJECT_OIDS.serialNumber]);

export type NameAttributes = [oid: string, value: string][];

/** RSA-2048 (or `rsaBits`) or EC P-256: the keys KSeF certifies. */
export function generatePrivateKey(type: 'rsa' | 'ec', rsaBits = 2048): KeyObject {
  return type === 'ec'
    ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey
    : generateKeyPairSync('rsa', { modulusLength: rsaBits }).privateKey;
}

/** DER SubjectPublicKeyInfo of the key's public half. */
export function subjectPublicKeyInfo(key: KeyObject): Buffer {
  return createPublicKey(key).export({ format: 'der', type: 'spki' });
}

/** An X.501 Name with one attribute per RDN, in the order given. */
export function distinguishedName(attributes: NameAttributes): Asn1 {
  return sequence(
    attributes.map(([type, value]) =>
      set([
        sequence([
          oid(type),
          primitive(PRINTABLE_ATTRIBUTES.has(type) ? forge.asn1.Type.PRINTABLESTRING : forge.asn1.Type.UTF8, forge.util.encodeUtf8(value)),
        ]),
      ]),
    ),
  );
}

export function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  return sequence([oid(id), ...(critical ? [booleanTrue()] : []), octets(toDer(value))]);
}

export interface TbsCertificateInput {
  serial: Buffer;
  signatureAlgorithm: Asn1;
  issuer: Asn1;
  subject: Asn1;
  notBefore: Date;
  notAfter: Date;
  /** DER SubjectPublicKeyInfo. */
  spki: Buffer;
  extensions: Asn1[];
}

/** A version 3 TBSCertificate. */
export function tbsCertificate(input: TbsCertificateInput): Asn1 {
  return sequence([
    explicit(0, integer(2)),
    integerOfBytes(input.serial),
    input.signatureAlgorithm,
    input.issuer,
    sequence([time(input.notBefore), time(input.notAfter)]),
    input.subject,
    fromDer(input.spki),
    explicit(3, sequence(input.extensions)),
  ]);
}

/** A PKCS#10 CertificationRequestInfo (version 0, no attributes). */
export function certificationRequestInfo(subject: Asn1, spki: Buffer): Asn1 {
  return sequence([integer(0), subject, fromDer(spki), explicit(0)]);
}

/** sha256WithRSAEncryption for RSA keys, ecdsa-with-SHA256 for EC keys. */
export function sha256SignatureAlgorithm(privateKey: KeyObject): Asn1 {
  return privateKey.asymmetricKeyType === 'ec' ? sequence([oid(OID.ecdsaWithSha256)]) : sequence([oid(OID.sha256WithRsa), nullValue()]);
}

/** SEQUENCE { content, algorithm, BIT STRING signature }: the shape of Certificate and CertificationRequest. */
export function signedEnvelope(content: Asn1, algorithm: Asn1, signature: Buffer): Asn1 {
  return sequence([content, algorithm, bitString(signature)]);
}

/** DER of `content` signed with SHA-256 (PKCS#1 v1.5 or DER-encoded ECDSA, by the key's type). */
export function signWithSha256(content: Asn1, privateKey: KeyObject): Buffer {
  const isEc = privateKey.asymmetricKeyType === 'ec';
  const signature = sign('sha256', toDer(content), isEc ? { key: privateKey, dsaEncoding: 'der' } : privateKey);
  return toDer(signedEnvelope(content, sha256SignatureAlgorithm(privateKey), signature));
}
