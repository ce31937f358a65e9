/**
 * Key pair and PKCS#10 certificate request for a KSeF certificate (certyfikaty-KSeF.md §3): RSA-2048
 * (sha256WithRSAEncryption) or EC P-256 (ecdsa-with-SHA256), subject exactly as `/certificates/enrollments/data`
 * returned it. The request is built with node-forge's ASN.1 writer and signed with node:crypto, which (unlike
 * forge's CSR writer) handles EC keys too.
 */
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import * as forge from 'node-forge';
import type { CertificateEnrollmentData } from '../types';
import { KsefError } from '../http/errors';
import { SUBJECT_OIDS } from '../certificates/x509';

export type CsrKeyType = 'RSA' | 'EC';

export interface CertificateRequest {
  /** DER PKCS#10. */
  csrDer: Buffer;
  privateKey: KeyObject;
}

const OID = {
  sha256WithRsa: '1.2.840.113549.1.1.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  uniqueIdentifier: '2.5.4.45',
};
/** X.520 gives these PrintableString; every other attribute is written as UTF8String, as the official example does. */
const PRINTABLE_ATTRIBUTES = new Set<string>([SUBJECT_OIDS.countryName, SUBJECT_OIDS.serialNumber]);

export function generateCertificateRequest(data: CertificateEnrollmentData, keyType: CsrKeyType): CertificateRequest {
  const { privateKey } =
    keyType === 'RSA' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const { asn1 } = forge;
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const info = sequence([
    primitive(asn1.Type.INTEGER, asn1.integerToDer(0).getBytes()),
    subjectName(data),
    fromDer(spki),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, []),
  ]);
  const infoDer = toDer(info);
  const isEc = keyType === 'EC';
  const algorithm = isEc ? sequence([oid(OID.ecdsaWithSha256)]) : sequence([oid(OID.sha256WithRsa), primitive(asn1.Type.NULL, '')]);
  const signature = sign('sha256', infoDer, isEc ? { key: privateKey, dsaEncoding: 'der' } : privateKey);
  const request = sequence([info, algorithm, primitive(asn1.Type.BITSTRING, `\x00${signature.toString('binary')}`)]);
  return { csrDer: toDer(request), privateKey };
}

/** The subject in the official example's order; KSeF rejects a request whose data differ from what it returned. */
function subjectName(data: CertificateEnrollmentData): forge.asn1.Asn1 {
  if (!data || typeof data.commonName !== 'string' || typeof data.countryName !== 'string') {
    throw new KsefError('KSeF returned enrollment data without commonName and countryName; a certificate request cannot be built from it.');
  }
  const attributes: [string, string | undefined][] = [
    [SUBJECT_OIDS.commonName, data.commonName],
    ...[data.givenName ?? []].flat().map((name): [string, string] => [SUBJECT_OIDS.givenName, name]),
    [SUBJECT_OIDS.surname, data.surname],
    [SUBJECT_OIDS.organizationName, data.organizationName],
    [SUBJECT_OIDS.organizationIdentifier, data.organizationIdentifier],
    [SUBJECT_OIDS.countryName, data.countryName],
    [SUBJECT_OIDS.serialNumber, data.serialNumber],
    [OID.uniqueIdentifier, data.uniqueIdentifier],
  ];
  const { asn1 } = forge;
  return sequence(
    attributes
      .filter((entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== '')
      .map(([type, value]) =>
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [
          sequence([oid(type), primitive(PRINTABLE_ATTRIBUTES.has(type) ? asn1.Type.PRINTABLESTRING : asn1.Type.UTF8, forge.util.encodeUtf8(value))]),
        ]),
      ),
  );
}

function sequence(value: forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.SEQUENCE, true, value);
}

function primitive(type: number, bytes: string): forge.asn1.Asn1 {
  return forge.asn1.create(forge.asn1.Class.UNIVERSAL, type, false, bytes);
}

function oid(dotted: string): forge.asn1.Asn1 {
  return primitive(forge.asn1.Type.OID, forge.asn1.oidToDer(dotted).getBytes());
}

function fromDer(der: Buffer): forge.asn1.Asn1 {
  return forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
}

function toDer(node: forge.asn1.Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary');
}
