/**
 * DER building blocks over node-forge's ASN.1 model, for everything we write ourselves: certificates, PKCS#10
 * requests, PKCS#12 files. Byte strings are forge's binary strings; Buffers cross the boundary via toDer/fromDer.
 */
import * as forge from 'node-forge';

const { asn1 } = forge;

export type Asn1 = forge.asn1.Asn1;

export function sequence(value: Asn1[]): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, value);
}

export function set(value: Asn1[]): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, value);
}

/** A universal primitive of type `type` whose content is the binary string `bytes`. */
export function primitive(type: number, bytes: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, type, false, bytes);
}

/** A constructed context-specific [tag] holding `content` (EXPLICIT tagging, or an IMPLICIT SET/SEQUENCE). */
export function explicit(tag: number, ...content: Asn1[]): Asn1 {
  return asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, true, content);
}

export function oid(dotted: string): Asn1 {
  return primitive(asn1.Type.OID, asn1.oidToDer(dotted).getBytes());
}

export function integer(value: number): Asn1 {
  return primitive(asn1.Type.INTEGER, asn1.integerToDer(value).getBytes());
}

/** An INTEGER whose content octets are `bytes` as given (a serial number: the caller keeps it positive). */
export function integerOfBytes(bytes: Buffer): Asn1 {
  return primitive(asn1.Type.INTEGER, bytes.toString('binary'));
}

export function octets(bytes: Buffer): Asn1 {
  return primitive(asn1.Type.OCTETSTRING, bytes.toString('binary'));
}

/** A BIT STRING of whole bytes (no unused bits), as signatures are written. */
export function bitString(bytes: Buffer): Asn1 {
  return primitive(asn1.Type.BITSTRING, `\x00${bytes.toString('binary')}`);
}

export function booleanTrue(): Asn1 {
  return primitive(asn1.Type.BOOLEAN, '\xff');
}

export function nullValue(): Asn1 {
  return primitive(asn1.Type.NULL, '');
}

/** X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
export function time(date: Date): Asn1 {
  return date.getUTCFullYear() < 2050
    ? primitive(asn1.Type.UTCTIME, asn1.dateToUtcTime(date))
    : primitive(asn1.Type.GENERALIZEDTIME, asn1.dateToGeneralizedTime(date));
}

export function fromDer(der: Buffer): Asn1 {
  return asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
}

export function toDer(node: Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}
