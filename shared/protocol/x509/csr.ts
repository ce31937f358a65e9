/**
 * Key pair and PKCS#10 certificate request for a KSeF certificate (certyfikaty-KSeF.md §3): RSA-2048
 * (sha256WithRSAEncryption) or EC P-256 (ecdsa-with-SHA256), subject exactly as `/certificates/enrollments/data`
 * returned it. The request is built with node-forge's ASN.1 writer and signed with node:crypto, which (unlike
 * forge's CSR writer) handles EC keys too.
 */
import type { KeyObject } from 'node:crypto';
import type { CertificateEnrollmentData } from '../types';
import { KsefError } from '../errors';
import type { Asn1 } from './asn1';
import { SUBJECT_OIDS } from './x509';
import { certificationRequestInfo, distinguishedName, generatePrivateKey, signWithSha256, subjectPublicKeyInfo } from './x509Writer';

export type CsrKeyType = 'RSA' | 'EC';

export interface CertificateRequest {
  /** DER PKCS#10. */
  csrDer: Buffer;
  privateKey: KeyObject;
}

export function generateCertificateRequest(data: CertificateEnrollmentData, keyType: CsrKeyType): CertificateRequest {
  const privateKey = generatePrivateKey(keyType === 'RSA' ? 'rsa' : 'ec');
  const info = certificationRequestInfo(subjectName(data), subjectPublicKeyInfo(privateKey));
  return { csrDer: signWithSha256(info, privateKey), privateKey };
}

/** The subject in the official example's order; KSeF rejects a request whose data differ from what it returned. */
function subjectName(data: CertificateEnrollmentData): Asn1 {
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
    [SUBJECT_OIDS.uniqueIdentifier, data.uniqueIdentifier],
  ];
  return distinguishedName(attributes.filter((entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== ''));
}
