/**
 * Writing PKCS#12 (.p12/.pfx) files for any key type node:crypto has. node-forge's writer only takes RSA keys,
 * so the key bag is node:crypto's encrypted PKCS#8 (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC — what OpenSSL 3 and
 * Windows 10+ read) and forge supplies the ASN.1 and the PKCS#12 MAC key derivation (HMAC-SHA256).
 */
import { createHash, createHmac, randomBytes, type KeyObject } from 'node:crypto';
import * as forge from 'node-forge';
import { explicit, fromDer, integer, nullValue, octets, oid, primitive, sequence, set, toDer, type Asn1 } from './asn1';

const OID = {
  data: '1.2.840.113549.1.7.1',
  certBag: '1.2.840.113549.1.12.10.1.3',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  localKeyId: '1.2.840.113549.1.9.21',
  friendlyName: '1.2.840.113549.1.9.20',
  sha256: '2.16.840.1.101.3.4.2.1',
};
const MAC_ITERATIONS = 2048;

export interface Pkcs12Options {
  friendlyName?: string;
}

/** A password-protected PKCS#12 holding `privateKey` and its certificate. */
export function buildPkcs12(privateKey: KeyObject, certificateDer: Buffer, password: string, options: Pkcs12Options = {}): Buffer {
  const localKeyId = createHash('sha1').update(certificateDer).digest();
  const attributes = bagAttributes(localKeyId, options.friendlyName);
  const encryptedKey = privateKey.export({ format: 'der', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: password });

  const certBag = sequence([
    oid(OID.certBag),
    explicit(0, sequence([oid(OID.x509Certificate), explicit(0, octets(certificateDer))])),
    attributes,
  ]);
  const keyBag = sequence([oid(OID.pkcs8ShroudedKeyBag), explicit(0, fromDer(encryptedKey)), attributes]);
  const authenticatedSafe = toDer(sequence([dataContentInfo(toDer(sequence([certBag]))), dataContentInfo(toDer(sequence([keyBag])))]));

  const macSalt = randomBytes(16);
  const macKey = forge.pkcs12.generateKey(
    password,
    forge.util.createBuffer(macSalt.toString('binary')),
    3,
    MAC_ITERATIONS,
    32,
    forge.md.sha256.create(),
  );
  const mac = createHmac('sha256', Buffer.from(macKey.getBytes(), 'binary')).update(authenticatedSafe).digest();

  const pfx = sequence([
    integer(3),
    dataContentInfo(authenticatedSafe),
    sequence([sequence([sequence([oid(OID.sha256), nullValue()]), octets(mac)]), octets(macSalt), integer(MAC_ITERATIONS)]),
  ]);
  return toDer(pfx);
}

function bagAttributes(localKeyId: Buffer, friendlyName: string | undefined): Asn1 {
  const attributes = [sequence([oid(OID.localKeyId), set([octets(localKeyId)])])];
  if (friendlyName) {
    // forge writes a BMPString from the JS string's UTF-16 code units itself.
    attributes.push(sequence([oid(OID.friendlyName), set([primitive(forge.asn1.Type.BMPSTRING, friendlyName)])]));
  }
  return set(attributes);
}

function dataContentInfo(content: Buffer): Asn1 {
  return sequence([oid(OID.data), explicit(0, octets(content))]);
}
