/** PKCS#10 certification requests for the KSeF-certificate tests, built with node-forge's ASN.1 writer and node:crypto. */
import { constants, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import * as forge from 'node-forge';
import { SUBJECT_OIDS } from '../../shared/certificates/x509';

const { asn1 } = forge;

/** The order the official clients write the enrollment data in. */
const FIELD_OIDS: [field: string, oid: string][] = [
  ['givenName', SUBJECT_OIDS.givenName],
  ['surname', SUBJECT_OIDS.surname],
  ['serialNumber', SUBJECT_OIDS.serialNumber],
  ['uniqueIdentifier', '2.5.4.45'],
  ['organizationIdentifier', SUBJECT_OIDS.organizationIdentifier],
  ['organizationName', SUBJECT_OIDS.organizationName],
  ['commonName', SUBJECT_OIDS.commonName],
  ['countryName', SUBJECT_OIDS.countryName],
];

export type SubjectAttributes = [oid: string, value: string][];

/** The enrollment data (`GET /certificates/enrollments/data`) as subject attributes. */
export function subjectFromEnrollmentData(data: Record<string, string>): SubjectAttributes {
  return FIELD_OIDS.filter(([field]) => data[field] !== undefined).map(([field, oid]) => [oid, data[field]]);
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

export function newKey(type: 'ec' | 'rsa', rsaBits = 2048): KeyObject {
  return type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey : generateKeyPairSync('rsa', { modulusLength: rsaBits }).privateKey;
}

/** Base64 DER PKCS#10 request for `subject`, signed with the key; returns the key too. */
export function buildCsr(subject: SubjectAttributes, options: CsrOptions = {}): { csr: string; privateKey: KeyObject } {
  const privateKey = options.privateKey ?? newKey('ec');
  const isEc = privateKey.asymmetricKeyType === 'ec';
  const hash = options.hash ?? 'sha256';
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const name = sequence(
    subject.map(([type, value]) =>
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [
        sequence([oid(type), primitive(type === SUBJECT_OIDS.countryName || type === SUBJECT_OIDS.serialNumber ? asn1.Type.PRINTABLESTRING : asn1.Type.UTF8, forge.util.encodeUtf8(value))]),
      ]),
    ),
  );
  const info = sequence([
    primitive(asn1.Type.INTEGER, asn1.integerToDer(0).getBytes()),
    name,
    asn1.fromDer(forge.util.createBuffer(spki.toString('binary'))),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, []),
  ]);
  const infoDer = Buffer.from(asn1.toDer(info).getBytes(), 'binary');
  const rsaOids = { sha256: '1.2.840.113549.1.1.11', sha1: '1.2.840.113549.1.1.5', md5: '1.2.840.113549.1.1.4' };
  const ecOids = { sha256: '1.2.840.10045.4.3.2', sha1: '1.2.840.10045.4.1', md5: '1.2.840.10045.4.3.2' };
  const sha256 = (): forge.asn1.Asn1 => sequence([oid('2.16.840.1.101.3.4.2.1'), primitive(asn1.Type.NULL, '')]);
  const pssAlgorithm = (): forge.asn1.Asn1 =>
    sequence([
      oid('1.2.840.113549.1.1.10'),
      sequence([
        asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [sha256()]),
        asn1.create(asn1.Class.CONTEXT_SPECIFIC, 1, true, [sequence([oid('1.2.840.113549.1.1.8'), sha256()])]),
        asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, true, [primitive(asn1.Type.INTEGER, asn1.integerToDer(32).getBytes())]),
      ]),
    ]);
  const algorithm = isEc
    ? sequence([oid(ecOids[hash])])
    : options.pss
      ? pssAlgorithm()
      : sequence([oid(rsaOids[hash]), primitive(asn1.Type.NULL, '')]);
  const signingKey = isEc
    ? { key: privateKey, dsaEncoding: 'der' as const }
    : options.pss
      ? { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
      : privateKey;
  const signature = sign(options.pss ? 'sha256' : hash, infoDer, signingKey);
  if (options.corruptSignature) signature[signature.length - 1] ^= 0x01;
  const csr = sequence([info, algorithm, primitive(asn1.Type.BITSTRING, `\x00${signature.toString('binary')}`)]);
  return { csr: Buffer.from(asn1.toDer(csr).getBytes(), 'binary').toString('base64'), privateKey };
}

function sequence(value: forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, value);
}

function primitive(type: number, bytes: string): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, type, false, bytes);
}

function oid(dotted: string): forge.asn1.Asn1 {
  return primitive(asn1.Type.OID, asn1.oidToDer(dotted).getBytes());
}
