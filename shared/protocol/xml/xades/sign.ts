/**
 * Enveloped XAdES-BES signature of an XML document (the AuthTokenRequest), in the form KSeF accepts
 * (auth/podpis-xades.md, CIRFMF/ksef-docs): the ds:Signature is the last child of the root element;
 *   Reference URI=""                   transforms enveloped-signature + exclusive C14N, SHA-256
 *   Reference URI="#SignedProperties-…" Type=…#SignedProperties, exclusive C14N, SHA-256
 *   SignedProperties: SigningTime + SigningCertificate v1 (CertDigest SHA-256 + IssuerSerial)
 *   KeyInfo/X509Data/X509Certificate: the signing certificate
 *   SignatureMethod: rsa-sha256 (PKCS#1 v1.5) for RSA keys, ecdsa-sha256/384/512 (raw R||S) for EC keys.
 *
 * SignedInfo is canonicalized with exclusive C14N (as the Java client / EU DSS does), not the inclusive C14N 1.0
 * the C# client gets by default: exclusive C14N makes the signed bytes independent of the namespaces declared
 * on the AuthTokenRequest root (its default namespace, .NET's xsi/xsd declarations), the classic source of
 * signatures that verify in one library and not another.
 *
 * The signature is inserted as text before the root's end tag, so the caller's bytes are kept exactly; digests
 * are computed over the parsed result, which is what any verifier sees.
 */
import { randomBytes, sign } from 'node:crypto';
import { sha256Base64 } from '../../crypto/hashes';
import { KsefInputError } from '../../errors';
import type { Clock } from '../../types';
import { SUPPORTED_EC_CURVES, type KeyMaterial } from '../../x509/keyMaterial';
import {
  ENVELOPED_SIGNATURE_TRANSFORM,
  EXC_C14N,
  SHA256_DIGEST,
  SIGNED_PROPERTIES_TYPE,
  XADES_NS,
  XMLDSIG_NS,
  signatureMethodUri,
} from './algorithms';
import { buildAuthTokenRequestXml, type AuthTokenRequest, type BuildAuthTokenRequestOptions } from './authTokenRequest';
import { canonicalize } from '../c14n';
import { XmlParseError, descendantElements, parseXml } from '../xmlDom';

export interface SignXadesOptions {
  /** SigningTime source (default: the system clock). */
  clock?: Clock;
}

/** The key and certificate that sign; what `loadKeyMaterial` returns. */
export type XadesSigningKey = Pick<KeyMaterial, 'privateKey' | 'certificate'>;

/** Builds the AuthTokenRequest XML and signs it: the body of `POST /auth/xades-signature`. */
export function signAuthTokenRequest(
  request: AuthTokenRequest,
  signingKey: XadesSigningKey,
  options: SignXadesOptions & BuildAuthTokenRequestOptions = {},
): string {
  return signXadesEnveloped(buildAuthTokenRequestXml(request, options), signingKey, options);
}

/** `xml` with an enveloped XAdES-BES signature appended to its root element. */
export function signXadesEnveloped(xml: string, signingKey: XadesSigningKey, options: SignXadesOptions = {}): string {
  const { privateKey, certificate } = signingKey;
  const { scheme, hash } = signatureAlgorithmFor(signingKey);
  const unsigned = parseForSigning(xml);
  if (unsigned.getElementsByTagNameNS(XMLDSIG_NS, 'Signature').length > 0) {
    throw new KsefInputError('The XML document is already signed: KSeF accepts exactly one signature. Sign the unsigned document.', {
      field: 'xml',
    });
  }

  const idSuffix = randomBytes(8).toString('hex');
  const signatureId = `Signature-${idSuffix}`;
  const signedPropertiesId = `SignedProperties-${idSuffix}`;
  const signingTime = (options.clock ?? { now: () => new Date() })
    .now()
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z');
  const signedProperties =
    `<xades:SignedProperties Id="${signedPropertiesId}"><xades:SignedSignatureProperties>` +
    `<xades:SigningTime>${signingTime}</xades:SigningTime>` +
    '<xades:SigningCertificate><xades:Cert><xades:CertDigest>' +
    `<ds:DigestMethod Algorithm="${SHA256_DIGEST}"/><ds:DigestValue>${sha256Base64(certificate.der)}</ds:DigestValue></xades:CertDigest>` +
    `<xades:IssuerSerial><ds:X509IssuerName>${escapeXml(certificate.issuerName)}</ds:X509IssuerName>` +
    `<ds:X509SerialNumber>${certificate.serialNumber}</ds:X509SerialNumber></xades:IssuerSerial>` +
    '</xades:Cert></xades:SigningCertificate></xades:SignedSignatureProperties></xades:SignedProperties>';
  const signedInfo = (documentDigest: string, propertiesDigest: string): string =>
    '<ds:SignedInfo>' +
    `<ds:CanonicalizationMethod Algorithm="${EXC_C14N}"/>` +
    `<ds:SignatureMethod Algorithm="${signatureMethodUri(scheme, hash)}"/>` +
    '<ds:Reference URI=""><ds:Transforms>' +
    `<ds:Transform Algorithm="${ENVELOPED_SIGNATURE_TRANSFORM}"/><ds:Transform Algorithm="${EXC_C14N}"/>` +
    `</ds:Transforms><ds:DigestMethod Algorithm="${SHA256_DIGEST}"/><ds:DigestValue>${documentDigest}</ds:DigestValue></ds:Reference>` +
    `<ds:Reference Type="${SIGNED_PROPERTIES_TYPE}" URI="#${signedPropertiesId}"><ds:Transforms>` +
    `<ds:Transform Algorithm="${EXC_C14N}"/></ds:Transforms>` +
    `<ds:DigestMethod Algorithm="${SHA256_DIGEST}"/><ds:DigestValue>${propertiesDigest}</ds:DigestValue></ds:Reference>` +
    '</ds:SignedInfo>';
  const signature = (info: string, signatureValue: string): string =>
    `<ds:Signature xmlns:ds="${XMLDSIG_NS}" Id="${signatureId}">${info}` +
    `<ds:SignatureValue>${signatureValue}</ds:SignatureValue>` +
    `<ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificate.der.toString('base64')}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>` +
    `<ds:Object><xades:QualifyingProperties xmlns:xades="${XADES_NS}" Target="#${signatureId}">${signedProperties}</xades:QualifyingProperties></ds:Object>` +
    '</ds:Signature>';

  const draft = parseXml(insertBeforeRootEnd(xml, signature(signedInfo('', ''), '')));
  const draftSignature = draft.getElementsByTagNameNS(XMLDSIG_NS, 'Signature')[0];
  const propertiesElement = descendantElements(draftSignature).find(
    (e) => e.localName === 'SignedProperties' && e.namespaceURI === XADES_NS,
  )!;
  const documentDigest = sha256Base64(canonicalize(draft, { method: 'exc-c14n', excluded: new Set([draftSignature]) }));
  const propertiesDigest = sha256Base64(canonicalize(propertiesElement, { method: 'exc-c14n' }));

  const finalSignedInfo = signedInfo(documentDigest, propertiesDigest);
  const withDigests = parseXml(insertBeforeRootEnd(xml, signature(finalSignedInfo, '')));
  const signedInfoElement = withDigests.getElementsByTagNameNS(XMLDSIG_NS, 'SignedInfo')[0];
  const signedBytes = canonicalize(signedInfoElement, { method: 'exc-c14n' });
  const signatureValue = sign(hash, signedBytes, scheme === 'ecdsa' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey);
  return insertBeforeRootEnd(xml, signature(finalSignedInfo, signatureValue.toString('base64')));
}

function signatureAlgorithmFor({ privateKey }: XadesSigningKey): { scheme: 'rsa-pkcs1' | 'ecdsa'; hash: 'sha256' | 'sha384' | 'sha512' } {
  if (privateKey.asymmetricKeyType === 'rsa') return { scheme: 'rsa-pkcs1', hash: 'sha256' };
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  if (privateKey.asymmetricKeyType === 'ec' && curve && SUPPORTED_EC_CURVES[curve])
    return { scheme: 'ecdsa', hash: SUPPORTED_EC_CURVES[curve] };
  throw new KsefInputError('The signing key must be RSA (2048+ bits) or EC on P-256/P-384/P-521: load it with loadKeyMaterial().', {
    field: 'privateKey',
  });
}

function parseForSigning(xml: string): ReturnType<typeof parseXml> {
  try {
    return parseXml(xml);
  } catch (error) {
    throw new KsefInputError(`The XML to sign is not well-formed: ${(error as XmlParseError).message}`, { field: 'xml' });
  }
}

const ROOT_END_TAG = /<\/[^<>\s]+\s*>(?:\s|<!--(?:(?!-->)[\s\S])*-->|<\?(?:(?!\?>)[\s\S])*\?>)*$/;

function insertBeforeRootEnd(xml: string, fragment: string): string {
  const match = ROOT_END_TAG.exec(xml);
  if (!match)
    throw new KsefInputError('The XML to sign must end with the end tag of its root element (not a self-closing root).', { field: 'xml' });
  return xml.slice(0, match.index) + fragment + xml.slice(match.index);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
