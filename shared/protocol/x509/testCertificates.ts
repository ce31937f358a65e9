/**
 * Self-signed test certificates shaped like the ones the official clients generate for KSeF TEST (CIRFMF/ksef-client-csharp
 * `SelfSignedCertificateForSignatureBuilder`/`SelfSignedCertificateForSealBuilder`, CIRFMF/ksef-client-java
 * `CertificateBuilders`; auth/testowe-certyfikaty-i-podpisy-xades.md, CIRFMF/ksef-docs):
 * a person (givenName, surname, serialNumber TINPL-<NIP> / PNOPL-<PESEL>, CN, C=PL) or an organisation seal
 * (organizationIdentifier VATPL-<NIP>, O, CN, C=PL), RSA-2048 or EC P-256. The certificate is built with
 * node-forge's ASN.1 writer and signed with node:crypto (forge cannot sign with EC keys).
 */
import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import * as forge from 'node-forge';
import { KsefInputError } from '../errors';
import type { Clock } from '../types';
import { buildPkcs12 } from './pkcs12';
import { octets, primitive, sequence } from './asn1';
import { SUBJECT_OIDS, certificateToPem } from './x509';
import {
  distinguishedName,
  extension,
  generatePrivateKey,
  sha256SignatureAlgorithm,
  signWithSha256,
  subjectPublicKeyInfo,
  tbsCertificate,
  type NameAttributes,
} from './x509Writer';

/** Say this wherever a generated certificate is offered to a user. */
export const TEST_CERTIFICATE_WARNING =
  'Self-signed test certificates are accepted only by the embedded KSeF sandbox and the KSeF TEST environment; ' +
  'DEMO (pre-production) and production require a qualified certificate or a KSeF certificate.';

export type TestCertificateSubject =
  | {
      kind: 'person';
      givenName: string;
      surname: string;
      /** The person's NIP (serialNumber `TINPL-<nip>`); give this or `pesel`. */
      nip?: string;
      /** The person's PESEL (serialNumber `PNOPL-<pesel>`); give this or `nip`. */
      pesel?: string;
      /** Default `<givenName> <surname>`. */
      commonName?: string;
    }
  | {
      kind: 'seal';
      organizationName: string;
      /** The organisation's NIP (organizationIdentifier `VATPL-<nip>`). */
      nip: string;
      /** Default: the organisation name. */
      commonName?: string;
    };

export interface TestCertificateOptions {
  subject: TestCertificateSubject;
  /** Protects the returned PKCS#12; chosen by the caller. */
  pkcs12Password: string;
  /** `rsa` (RSA-2048, default) or `ec` (P-256). */
  keyType?: 'rsa' | 'ec';
  /** Days of validity from now (default 730, like the C# client). */
  validityDays?: number;
  clock?: Clock;
}

export interface TestCertificate {
  /** PKCS#12 with the key and certificate, protected by `pkcs12Password`. */
  pkcs12: Buffer;
  certificatePem: string;
  /** Unencrypted PKCS#8 PEM: a secret, handle it as such. */
  privateKeyPem: string;
  /** Uppercase hex SHA-256 of the DER certificate (`certificateFingerprint` identity). */
  fingerprintSha256: string;
}

const OID = {
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  subjectKeyIdentifier: '2.5.29.14',
};
/** Like the C# client: valid from an hour ago, so small clock differences do not matter. */
const BACKDATE_MS = 61 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export function generateTestCertificate(options: TestCertificateOptions): TestCertificate {
  const subjectName = subjectAttributes(options.subject);
  if (typeof options.pkcs12Password !== 'string' || options.pkcs12Password.length === 0) {
    throw new KsefInputError('pkcs12Password must be a non-empty string: it protects the generated PKCS#12 file.', {
      field: 'pkcs12Password',
    });
  }
  const keyType = options.keyType ?? 'rsa';
  if (keyType !== 'rsa' && keyType !== 'ec') throw new KsefInputError("keyType must be 'rsa' or 'ec'.", { field: 'keyType' });
  const validityDays = options.validityDays ?? 730;
  if (!Number.isInteger(validityDays) || validityDays < 1)
    throw new KsefInputError('validityDays must be a whole number of days, at least 1.', { field: 'validityDays' });

  const privateKey = generatePrivateKey(keyType);
  const now = (options.clock ?? { now: () => new Date() }).now().getTime();
  const der = selfSignedCertificate(privateKey, subjectName, new Date(now - BACKDATE_MS), new Date(now + validityDays * DAY_MS));
  const friendlyName = subjectName.find(([oid]) => oid === SUBJECT_OIDS.commonName)?.[1];
  return {
    pkcs12: buildPkcs12(privateKey, der, options.pkcs12Password, { friendlyName }),
    certificatePem: certificateToPem(der),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    fingerprintSha256: createHash('sha256').update(der).digest('hex').toUpperCase(),
  };
}

function subjectAttributes(subject: TestCertificateSubject): NameAttributes {
  const required = (field: string, value: unknown): string => {
    if (typeof value !== 'string' || value.trim() === '')
      throw new KsefInputError(`subject.${field} is required.`, { field: `subject.${field}` });
    return value.trim();
  };
  const digits = (field: string, value: string | undefined, length: number): string => {
    if (!value || !new RegExp(`^\\d{${length}}$`).test(value)) {
      throw new KsefInputError(`subject.${field} must be ${length} digits.`, { field: `subject.${field}` });
    }
    return value;
  };
  if (subject?.kind === 'person') {
    const givenName = required('givenName', subject.givenName);
    const surname = required('surname', subject.surname);
    if ((subject.nip === undefined) === (subject.pesel === undefined)) {
      throw new KsefInputError('A person certificate needs exactly one of subject.nip and subject.pesel.', { field: 'subject.nip' });
    }
    const serialNumber =
      subject.nip !== undefined ? `TINPL-${digits('nip', subject.nip, 10)}` : `PNOPL-${digits('pesel', subject.pesel, 11)}`;
    return [
      [SUBJECT_OIDS.givenName, givenName],
      [SUBJECT_OIDS.surname, surname],
      [SUBJECT_OIDS.serialNumber, serialNumber],
      [SUBJECT_OIDS.commonName, subject.commonName?.trim() || `${givenName} ${surname}`],
      [SUBJECT_OIDS.countryName, 'PL'],
    ];
  }
  if (subject?.kind === 'seal') {
    const organizationName = required('organizationName', subject.organizationName);
    return [
      [SUBJECT_OIDS.organizationIdentifier, `VATPL-${digits('nip', subject.nip, 10)}`],
      [SUBJECT_OIDS.organizationName, organizationName],
      [SUBJECT_OIDS.commonName, subject.commonName?.trim() || organizationName],
      [SUBJECT_OIDS.countryName, 'PL'],
    ];
  }
  throw new KsefInputError("subject.kind must be 'person' or 'seal'.", { field: 'subject.kind' });
}

function selfSignedCertificate(privateKey: KeyObject, subject: NameAttributes, notBefore: Date, notAfter: Date): Buffer {
  const publicKeyDer = subjectPublicKeyInfo(privateKey);
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x40;
  const name = distinguishedName(subject);
  const tbs = tbsCertificate({
    serial,
    signatureAlgorithm: sha256SignatureAlgorithm(privateKey),
    issuer: name,
    subject: name,
    notBefore,
    notAfter,
    spki: publicKeyDer,
    extensions: [
      extension(OID.basicConstraints, true, sequence([])),
      // digitalSignature + nonRepudiation (contentCommitment), as on qualified signature certificates.
      extension(OID.keyUsage, true, primitive(forge.asn1.Type.BITSTRING, '\x06\xc0')),
      extension(OID.subjectKeyIdentifier, false, octets(createHash('sha1').update(publicKeyDer).digest())),
    ],
  });
  return signWithSha256(tbs, privateKey);
}
