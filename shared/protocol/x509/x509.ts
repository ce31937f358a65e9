/**
 * Reading X.509 certificates: node:crypto for keys, validity checks and fingerprints; node-forge's ASN.1 reader for
 * the subject/issuer attributes by OID (node only offers them as display text) — for RSA, RSASSA-PSS and EC
 * certificates alike (forge's own certificate parser accepts RSA keys only).
 */
import { X509Certificate, createHash, type KeyObject } from 'node:crypto';
import * as forge from 'node-forge';
import { fromDer } from './asn1';

export const SUBJECT_OIDS = {
  commonName: '2.5.4.3',
  surname: '2.5.4.4',
  serialNumber: '2.5.4.5',
  countryName: '2.5.4.6',
  organizationName: '2.5.4.10',
  givenName: '2.5.4.42',
  uniqueIdentifier: '2.5.4.45',
  organizationIdentifier: '2.5.4.97',
} as const;

export interface NameAttribute {
  oid: string;
  value: string;
}

export interface CertificateInfo {
  der: Buffer;
  publicKey: KeyObject;
  /** `rsa`, `rsa-pss`, `ec`, ... (node:crypto's asymmetricKeyType). */
  keyType: string;
  /** RSA modulus length or EC field size in bits. */
  keyBits: number;
  /** EC curve (node:crypto name, e.g. `prime256v1`). */
  curve?: string;
  /** Relative distinguished names in certificate order, one entry per attribute. */
  subject: NameAttribute[];
  issuer: NameAttribute[];
  /** RFC 4514 text of the issuer name (what XAdES `X509IssuerName` holds). */
  issuerName: string;
  /** Positive serial number in decimal (XAdES `X509SerialNumber`). */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** Uppercase hex SHA-256 of the DER certificate (KSeF's certificate fingerprint). */
  fingerprintSha256: string;
}

export class CertificateFormatError extends Error {}

/** Parses a DER certificate, or PEM text (the first certificate), or Base64 DER. */
export function parseCertificate(input: Buffer | string): CertificateInfo {
  const der = toDer(input);
  let x509: X509Certificate;
  let tbs: forge.asn1.Asn1[];
  try {
    x509 = new X509Certificate(der);
    const certificate = fromDer(der);
    tbs = ((certificate.value as forge.asn1.Asn1[])[0].value as forge.asn1.Asn1[]).slice();
  } catch (error) {
    throw new CertificateFormatError(`not a readable X.509 certificate (${(error as Error).message})`);
  }
  if (tbs[0].tagClass === forge.asn1.Class.CONTEXT_SPECIFIC) tbs.shift();
  const [serial, , issuer, validity, subject] = tbs;
  const publicKey = x509.publicKey;
  const details = publicKey.asymmetricKeyDetails ?? {};
  const [notBefore, notAfter] = (validity.value as forge.asn1.Asn1[]).map(readTime);
  const issuerAttributes = readName(issuer);
  return {
    der,
    publicKey,
    keyType: publicKey.asymmetricKeyType ?? 'unknown',
    keyBits: details.modulusLength ?? curveBits(details.namedCurve),
    curve: details.namedCurve,
    subject: readName(subject),
    issuer: issuerAttributes,
    issuerName: rfc4514(issuer),
    serialNumber: BigInt(`0x${forge.util.bytesToHex(serial.value as string) || '0'}`).toString(10),
    notBefore,
    notAfter,
    fingerprintSha256: createHash('sha256').update(der).digest('hex').toUpperCase(),
  };
}

export function certificateToPem(der: Buffer): string {
  return derToPem(der, 'CERTIFICATE');
}

/** DER as a PEM block with `label` (e.g. `CERTIFICATE REQUEST`), 64 Base64 characters a line. */
export function derToPem(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Every certificate in PEM text, as DER. */
export function pemCertificates(pem: string): Buffer[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) =>
    Buffer.from(m[1].replace(/\s+/g, ''), 'base64'),
  );
}

/** The first value of a subject attribute. */
export function subjectValue(certificate: Pick<CertificateInfo, 'subject'>, oid: string): string | undefined {
  return certificate.subject.find((a) => a.oid === oid)?.value;
}

function toDer(input: Buffer | string): Buffer {
  const text = typeof input === 'string' ? input : input.subarray(0, 64).toString('latin1');
  if (text.includes('-----BEGIN')) {
    const [first] = pemCertificates(typeof input === 'string' ? input : input.toString('latin1'));
    if (!first) throw new CertificateFormatError('the PEM text holds no CERTIFICATE block');
    return first;
  }
  return typeof input === 'string' ? Buffer.from(input.replace(/\s+/g, ''), 'base64') : input;
}

function curveBits(curve: string | undefined): number {
  const known: Record<string, number> = {
    prime256v1: 256,
    secp256k1: 256,
    secp384r1: 384,
    secp521r1: 521,
    secp224r1: 224,
    prime192v1: 192,
  };
  return curve ? (known[curve] ?? 0) : 0;
}

function readTime(node: forge.asn1.Asn1): Date {
  const text = node.value as string;
  return node.type === forge.asn1.Type.UTCTIME ? forge.asn1.utcTimeToDate(text) : forge.asn1.generalizedTimeToDate(text);
}

/** The attributes of an X.501 Name, one entry per attribute in order (certificate or CSR subject). */
export function readName(name: forge.asn1.Asn1): NameAttribute[] {
  return (name.value as forge.asn1.Asn1[]).flatMap((rdn) =>
    (rdn.value as forge.asn1.Asn1[]).map((pair) => {
      const [type, value] = pair.value as forge.asn1.Asn1[];
      return { oid: forge.asn1.derToOid(type.value as string), value: decodeString(value) };
    }),
  );
}

function decodeString(node: forge.asn1.Asn1): string {
  const bytes = Buffer.from(node.value as string, 'binary');
  if (node.type === forge.asn1.Type.UTF8) return bytes.toString('utf8');
  if (node.type === forge.asn1.Type.BMPSTRING) return Buffer.from(bytes).swap16().toString('utf16le');
  return bytes.toString('latin1');
}

const RFC4514_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.9': 'STREET',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
};

/** RFC 4514: last RDN first; types without a short name as dotted OID with the BER-encoded value in hex (like Java's RFC2253 form). */
function rfc4514(name: forge.asn1.Asn1): string {
  return (name.value as forge.asn1.Asn1[])
    .slice()
    .reverse()
    .map((rdn) =>
      (rdn.value as forge.asn1.Asn1[])
        .map((pair) => {
          const [type, value] = pair.value as forge.asn1.Asn1[];
          const oid = forge.asn1.derToOid(type.value as string);
          const shortName = RFC4514_NAMES[oid];
          if (!shortName) return `${oid}=#${forge.util.bytesToHex(forge.asn1.toDer(value).getBytes())}`;
          return `${shortName}=${escapeRfc4514(decodeString(value))}`;
        })
        .join('+'),
    )
    .join(',');
}

function escapeRfc4514(value: string): string {
  return value
    .replace(/([,+"\\<>;])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/ $/, '\\ ');
}
