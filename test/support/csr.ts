/** PKCS#10 certification requests for the KSeF-certificate tests, built with node-forge's ASN.1 writer and node:crypto. */
import { constants, sign, type KeyObject } from 'node:crypto';
import { explicit, integer, nullValue, oid, sequence, toDer, type Asn1 } from '../../shared/protocol/x509/asn1';
import { SUBJECT_OIDS } from '../../shared/protocol/x509/x509';
import {
  certificationRequestInfo,
  distinguishedName,
  generatePrivateKey,
  subjectPublicKeyInfo,
  signedEnvelope,
  type NameAttributes,
} from '../../shared/protocol/x509/x509Writer';

/** The order the official clients write the enrollment data in. */
const FIELD_OIDS: [field: string, oid: string][] = [
  ['givenName', SUBJECT_OIDS.givenName],
  ['surname', SUBJECT_OIDS.surname],
  ['serialNumber', SUBJECT_OIDS.serialNumber],
  ['uniqueIdentifier', SUBJECT_OIDS.uniqueIdentifier],
  ['organizationIdentifier', SUBJECT_OIDS.organizationIdentifier],
  ['organizationName', SUBJECT_OIDS.organizationName],
  ['commonName', SUBJECT_OIDS.commonName],
  ['countryName', SUBJECT_OIDS.countryName],
];

export type SubjectAttributes = NameAttributes;

/** The enrollment data (`GET /certificates/enrollments/data`) as subject attributes. */
export function subjectFromEnrollmentData(data: Record<string, string>): SubjectAttributes {
  return FIELD_OIDS.filter(([field]) => data[field] !== undefined).map(([field, type]) => [type, data[field]]);
}

export interface CsrOptions {
  /** Default: a new EC P-256 key. */
  privateKey?: KeyObject;
  /** Digest of the signature (default sha256). */
  hash?: 'sha256' | 'sha1' | 'md5';
  /** RSA keys: sign with RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32) instead of PKCS#1 v1.5. */
  pss?: boolean;
  /** Flip a bit of the signature. */
  corruptSignature?: boolean;
}

export { generatePrivateKey as newKey };

/** Base64 DER PKCS#10 request for `subject`, signed with the key; returns the key too. */
export function buildCsr(subject: SubjectAttributes, options: CsrOptions = {}): { csr: string; privateKey: KeyObject } {
  const privateKey = options.privateKey ?? generatePrivateKey('ec');
  const isEc = privateKey.asymmetricKeyType === 'ec';
  const hash = options.hash ?? 'sha256';
  const info = certificationRequestInfo(distinguishedName(subject), subjectPublicKeyInfo(privateKey));
  const rsaOids = { sha256: '1.2.840.113549.1.1.11', sha1: '1.2.840.113549.1.1.5', md5: '1.2.840.113549.1.1.4' };
  const ecOids = { sha256: '1.2.840.10045.4.3.2', sha1: '1.2.840.10045.4.1', md5: '1.2.840.10045.4.3.2' };
  const sha256 = (): Asn1 => sequence([oid('2.16.840.1.101.3.4.2.1'), nullValue()]);
  const pssAlgorithm = (): Asn1 =>
    sequence([
      oid('1.2.840.113549.1.1.10'),
      sequence([explicit(0, sha256()), explicit(1, sequence([oid('1.2.840.113549.1.1.8'), sha256()])), explicit(2, integer(32))]),
    ]);
  const algorithm = isEc ? sequence([oid(ecOids[hash])]) : options.pss ? pssAlgorithm() : sequence([oid(rsaOids[hash]), nullValue()]);
  const signingKey = isEc
    ? { key: privateKey, dsaEncoding: 'der' as const }
    : options.pss
      ? { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
      : privateKey;
  const signature = sign(options.pss ? 'sha256' : hash, toDer(info), signingKey);
  if (options.corruptSignature) signature[signature.length - 1] ^= 0x01;
  return { csr: toDer(signedEnvelope(info, algorithm, signature)).toString('base64'), privateKey };
}
