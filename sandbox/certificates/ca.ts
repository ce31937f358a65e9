/**
 * The sandbox's own certification authority for KSeF certificates (certyfikaty-KSeF.md): it reads PKCS#10
 * requests and issues X.509 certificates of type Authentication (keyUsage digitalSignature) or Offline
 * (keyUsage nonRepudiation), with 16-hex-digit serial numbers. Certificates are built with node-forge's ASN.1
 * writer and signed with node:crypto; the CA key is EC P-256 and lives only as long as the sandbox.
 */
import {
  X509Certificate,
  constants,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  verify,
  type KeyObject,
} from 'node:crypto';
import * as forge from 'node-forge';
import { booleanTrue, fromDer, octets, primitive, sequence, toDer } from '../../shared/protocol/x509/asn1';
import { SUBJECT_OIDS, readName, type NameAttribute } from '../../shared/protocol/x509/x509';
import {
  distinguishedName,
  extension,
  sha256SignatureAlgorithm,
  signWithSha256,
  tbsCertificate,
} from '../../shared/protocol/x509/x509Writer';
import type { KsefCertificateType } from '../../shared/protocol/types';

const { asn1 } = forge;

const OID = {
  rsaPss: '1.2.840.113549.1.1.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
};

/** Hashes of the CSR signature algorithms KSeF accepts (POST /certificates/enrollments): PKCS#1 v1.5, PSS, ECDSA with SHA-1/2. */
const RSA_SIGNATURES: Record<string, string> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};
const ECDSA_SIGNATURES: Record<string, string> = {
  '1.2.840.10045.4.1': 'sha1',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};
const HASHES: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** Why a CSR is refused, with the KSeF exception code of `POST /certificates/enrollments`. */
export class CertificationRequestError extends Error {
  constructor(
    readonly code: 25004 | 25010 | 25011,
    message: string,
  ) {
    super(message);
  }
}

export interface CertificationRequest {
  subject: NameAttribute[];
  /** The subject Name exactly as encoded in the request (copied into the certificate). */
  subjectDer: Buffer;
  spkiDer: Buffer;
  publicKey: KeyObject;
}

/** Parses a DER PKCS#10 request and checks its key (RSA-2048 or EC P-256), signature algorithm and signature. */
export function readCertificationRequest(der: Buffer): CertificationRequest {
  let info: Buffer, algorithm: Buffer, signatureBits: Buffer, subjectDer: Buffer, spkiDer: Buffer, subject: NameAttribute[];
  try {
    [info, algorithm, signatureBits] = children(der, 0x30);
    const infoParts = children(info, 0x30);
    [, subjectDer, spkiDer] = infoParts;
    subject = readName(fromDer(subjectDer));
  } catch (error) {
    throw new CertificationRequestError(25004, `The CSR is not a DER PKCS#10 certification request (${(error as Error).message}).`);
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  } catch {
    throw new CertificationRequestError(25010, 'The CSR public key is neither RSA nor EC.');
  }
  const details = publicKey.asymmetricKeyDetails ?? {};
  if (
    publicKey.asymmetricKeyType === 'rsa'
      ? details.modulusLength !== 2048
      : !(publicKey.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1')
  ) {
    const found =
      publicKey.asymmetricKeyType === 'rsa'
        ? `RSA-${details.modulusLength}`
        : `${publicKey.asymmetricKeyType} ${details.namedCurve ?? ''}`.trim();
    throw new CertificationRequestError(25010, `The CSR key is ${found}; KSeF certifies RSA keys of 2048 bits or EC keys on curve P-256.`);
  }
  const signature = signatureAlgorithm(algorithm, publicKey);
  const value = bitStringContent(signatureBits);
  if (!verify(signature.hash, tlv(info), signature.key, value)) {
    throw new CertificationRequestError(25004, 'The CSR signature does not verify with the CSR public key.');
  }
  return { subject, subjectDer: tlv(subjectDer), spkiDer: tlv(spkiDer), publicKey };
}

export interface IssueCertificateInput {
  certificationRequest: CertificationRequest;
  type: KsefCertificateType;
  validFrom: Date;
  validTo: Date;
}

export interface IssuedCertificate {
  der: Buffer;
  /** 16 uppercase hex digits, as KSeF's `certificateSerialNumber`. */
  serialNumber: string;
}

export class SandboxCertificateAuthority {
  private constructor(
    private readonly privateKey: KeyObject,
    private readonly nameDer: Buffer,
    private readonly keyIdentifier: Buffer,
    readonly certificate: X509Certificate,
  ) {}

  static create(now: Date): SandboxCertificateAuthority {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    const keyIdentifier = createHash('sha1').update(spki).digest();
    const nameDer = toDer(
      distinguishedName([
        [SUBJECT_OIDS.commonName, 'KSeF Sandbox CA'],
        [SUBJECT_OIDS.organizationName, 'KSeF Sandbox'],
        [SUBJECT_OIDS.countryName, 'PL'],
      ]),
    );
    const tbs = tbsCertificate({
      serial: randomSerial(),
      signatureAlgorithm: sha256SignatureAlgorithm(privateKey),
      issuer: fromDer(nameDer),
      subject: fromDer(nameDer),
      notBefore: new Date(now.getTime() - 24 * 3600_000),
      notAfter: new Date(now.getTime() + 20 * 365 * 24 * 3600_000),
      spki,
      extensions: [
        extension(OID.basicConstraints, true, sequence([booleanTrue()])),
        // keyCertSign + cRLSign
        extension(OID.keyUsage, true, primitive(asn1.Type.BITSTRING, '\x01\x06')),
        extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier)),
      ],
    });
    const der = signWithSha256(tbs, privateKey);
    return new SandboxCertificateAuthority(privateKey, nameDer, keyIdentifier, new X509Certificate(der));
  }

  issue(input: IssueCertificateInput): IssuedCertificate {
    const serial = randomSerial();
    const { spkiDer } = input.certificationRequest;
    // Authentication: digitalSignature (80); Offline: nonRepudiation (40) — certyfikaty-KSeF.md.
    const keyUsage = input.type === 'Authentication' ? '\x07\x80' : '\x06\x40';
    const tbs = tbsCertificate({
      serial,
      signatureAlgorithm: sha256SignatureAlgorithm(this.privateKey),
      issuer: fromDer(this.nameDer),
      subject: fromDer(input.certificationRequest.subjectDer),
      notBefore: input.validFrom,
      notAfter: input.validTo,
      spki: spkiDer,
      extensions: [
        extension(OID.basicConstraints, true, sequence([])),
        extension(OID.keyUsage, true, primitive(asn1.Type.BITSTRING, keyUsage)),
        extension(OID.subjectKeyIdentifier, false, octets(createHash('sha1').update(spkiDer).digest())),
        extension(
          OID.authorityKeyIdentifier,
          false,
          sequence([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, this.keyIdentifier.toString('binary'))]),
        ),
      ],
    });
    return { der: signWithSha256(tbs, this.privateKey), serialNumber: serial.toString('hex').toUpperCase() };
  }

  /** The KSeF serial number of `der` when this CA issued it (name and signature check out); undefined otherwise. */
  issuedSerialNumber(der: Buffer): string | undefined {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(der);
    } catch {
      return undefined;
    }
    if (!certificate.checkIssued(this.certificate) || !certificate.verify(this.certificate.publicKey)) return undefined;
    return certificate.serialNumber.toUpperCase().padStart(16, '0');
  }
}

/** 8 random bytes with the top bit clear: a positive INTEGER of exactly 16 hex digits. */
function randomSerial(): Buffer {
  const serial = randomBytes(8);
  serial[0] = (serial[0] & 0x7f) | 0x10;
  return serial;
}

function signatureAlgorithm(
  algorithmDer: Buffer,
  publicKey: KeyObject,
): { hash: string; key: KeyObject | { key: KeyObject; padding: number; saltLength: number } } {
  let oid: string;
  let parameters: Buffer | undefined;
  try {
    const parts = children(algorithmDer, 0x30);
    oid = asn1.derToOid(forge.util.createBuffer(parts[0].subarray(headerLength(parts[0])).toString('binary')));
    parameters = parts[1];
  } catch {
    throw new CertificationRequestError(25004, 'The CSR signature algorithm cannot be read.');
  }
  const isRsa = publicKey.asymmetricKeyType === 'rsa';
  if (RSA_SIGNATURES[oid] && isRsa) return { hash: RSA_SIGNATURES[oid], key: publicKey };
  if (ECDSA_SIGNATURES[oid] && !isRsa) return { hash: ECDSA_SIGNATURES[oid], key: publicKey };
  if (oid === OID.rsaPss && isRsa) {
    const { hash, saltLength } = pssParameters(parameters);
    return { hash, key: { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength } };
  }
  throw new CertificationRequestError(
    25011,
    `The CSR is signed with algorithm ${oid}${RSA_SIGNATURES[oid] || ECDSA_SIGNATURES[oid] ? ', which does not fit its key' : ''}; KSeF accepts RSA PKCS#1 v1.5, RSA-PSS or ECDSA with SHA-1/256/384/512.`,
  );
}

/** RSASSA-PSS-params: hashAlgorithm [0] (default SHA-1), saltLength [2] (default 20). */
function pssParameters(parameters: Buffer | undefined): { hash: string; saltLength: number } {
  let hash = 'sha1';
  let saltLength = 20;
  if (parameters && parameters[0] === 0x30) {
    for (const field of children(parameters, 0x30)) {
      const inner = field.subarray(headerLength(field));
      if (field[0] === 0xa0) {
        const hashOidTlv = children(inner, 0x30)[0];
        const oid = asn1.derToOid(forge.util.createBuffer(hashOidTlv.subarray(headerLength(hashOidTlv)).toString('binary')));
        if (!HASHES[oid])
          throw new CertificationRequestError(25011, `The CSR's RSA-PSS signature uses hash ${oid}; KSeF accepts SHA-1/256/384/512.`);
        hash = HASHES[oid];
      } else if (field[0] === 0xa2) {
        saltLength = Number(asn1.derToInteger(forge.util.createBuffer(inner.subarray(headerLength(inner)).toString('binary'))));
      }
    }
  }
  return { hash, saltLength };
}

// --- DER reading: exact byte slices, so the signed bytes are the ones received -------------------------

/** Length of the tag+length header of the TLV at the start of `der`. */
function headerLength(der: Buffer): number {
  if (der.length < 2) throw new Error('truncated DER');
  return der[1] < 0x80 ? 2 : 2 + (der[1] & 0x7f);
}

function contentLength(der: Buffer): number {
  if (der[1] < 0x80) return der[1];
  const octets = der[1] & 0x7f;
  if (octets === 0 || octets > 4 || der.length < 2 + octets) throw new Error('unsupported DER length');
  return der.subarray(2, 2 + octets).reduce((length, byte) => length * 256 + byte, 0);
}

/** The TLV at the start of `der`. */
function tlv(der: Buffer): Buffer {
  const end = headerLength(der) + contentLength(der);
  if (end > der.length) throw new Error('truncated DER');
  return der.subarray(0, end);
}

/** The TLVs inside the constructed TLV at the start of `der`, which must have tag `tag`. */
function children(der: Buffer, tag: number): Buffer[] {
  if (der[0] !== tag) throw new Error(`expected tag 0x${tag.toString(16)}, found 0x${(der[0] ?? 0).toString(16)}`);
  let content = tlv(der).subarray(headerLength(der));
  const found: Buffer[] = [];
  while (content.length > 0) {
    const child = tlv(content);
    found.push(child);
    content = content.subarray(child.length);
  }
  return found;
}

function bitStringContent(der: Buffer): Buffer {
  if (der[0] !== 0x03) throw new CertificationRequestError(25004, 'The CSR signature is not a BIT STRING.');
  return tlv(der).subarray(headerLength(der) + 1);
}
