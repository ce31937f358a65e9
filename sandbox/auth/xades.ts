/**
 * The sandbox's verifier of `POST /auth/xades-signature` bodies: a signed AuthTokenRequest (auth/podpis-xades.md,
 * uwierzytelnianie.md, CIRFMF/ksef-docs). Generic XML-DSig processing — it must accept what the official clients and EU DSS produce,
 * not only what our signer writes — then the XAdES binding (SignedProperties/SigningCertificate), the certificate
 * (validity against the injected clock, key strength) and the identity KSeF reads from it.
 *
 * Failures carry the KSeF exception code, its Polish description and an English detail for the developer.
 * Not verified (as on KSeF TEST with verifyCertificateChain=false): the certificate chain, OCSP/CRL.
 * Supported XPath transforms are the expressions signers use to drop the signature
 * (`not(ancestor-or-self::ds:Signature)`, filter-2 `subtract` of `/descendant::ds:Signature` or `//ds:Signature`).
 */
import { constants, createHash, verify as verifySignature, type KeyObject } from 'node:crypto';
import type { Document, Element, Node } from '@xmldom/xmldom';
import { XMLSerializer } from '@xmldom/xmldom';
import { KsefInputError } from '../../shared/protocol/errors';
import type { Clock } from '../../shared/protocol/types';
import {
  BASE64_TRANSFORM,
  CANONICALIZATION_ALGORITHMS,
  DIGEST_ALGORITHMS,
  ENVELOPED_SIGNATURE_TRANSFORM,
  SIGNATURE_ALGORITHMS,
  XADES_NS,
  XMLDSIG_NS,
  XPATH_FILTER2_NS,
  XPATH_FILTER2_TRANSFORM,
  XPATH_TRANSFORM,
  type SignatureAlgorithm,
} from '../../shared/protocol/xml/xades/algorithms';
import {
  authTokenRequestVersion,
  readAuthTokenRequest,
  type AuthTokenRequest,
  type AuthTokenRequestSchemaVersion,
} from '../../shared/protocol/xml/xades/authTokenRequest';
import { validateAuthTokenRequestXsd } from '../../shared/protocol/xml/xades/authTokenSchema';
import { canonicalize } from '../../shared/protocol/xml/c14n';
import {
  XmlParseError,
  childElements,
  childrenNamed,
  descendantElements,
  isElement,
  parseXml,
  textOf,
} from '../../shared/protocol/xml/xmlDom';
import { MIN_RSA_BITS, SUPPORTED_EC_CURVES } from '../../shared/protocol/x509/keyMaterial';
import {
  CertificateFormatError,
  SUBJECT_OIDS,
  parseCertificate,
  subjectValue,
  type CertificateInfo,
} from '../../shared/protocol/x509/x509';
import { EXCEPTIONS, type ExceptionCode } from '../catalogue';

/** The exception codes of `POST /auth/xades-signature` (open-api.json). */
export type XadesExceptionCode = Extract<ExceptionCode, 9101 | 9102 | 9103 | 9105 | 21001 | 21115 | 21117 | 21217 | 21401 | 21406>;

export interface XadesVerificationFailure {
  ok: false;
  code: XadesExceptionCode;
  /** KSeF's Polish exception description. */
  description: string;
  /** What exactly is wrong, in English (KSeF's `details`). */
  details: string[];
}

/** Who signed, as KSeF reads it from the certificate subject (auth/podpis-xades.md, CIRFMF/ksef-docs). */
export interface CertificateIdentity {
  /** `seal` when organizationIdentifier carries VATPL-<NIP>; `person` when serialNumber carries a NIP/PESEL. */
  kind: 'person' | 'seal' | 'unrecognised';
  nip?: string;
  pesel?: string;
  givenName?: string;
  surname?: string;
  serialNumber?: string;
  commonName?: string;
  countryName?: string;
  organizationName?: string;
  organizationIdentifier?: string;
  /** Uppercase hex SHA-256 of the certificate (the `certificateFingerprint` identity). */
  fingerprintSha256: string;
}

export interface VerifiedAuthTokenRequest {
  ok: true;
  request: AuthTokenRequest;
  schemaVersion: AuthTokenRequestSchemaVersion;
  signatureForm: 'enveloped' | 'enveloping';
  signatureMethod: string;
  /** XAdES SigningTime as written by the signer. */
  signingTime?: string;
  certificate: CertificateInfo;
  identity: CertificateIdentity;
}

export type XadesVerificationResult = VerifiedAuthTokenRequest | XadesVerificationFailure;

export interface VerifyXadesOptions {
  /** Certificate validity is checked at this time (default: the system clock). */
  clock?: Clock;
  /** Spec folder for the auth XSD (default: `findSpecFolder()`); without one only our own value rules apply. */
  specDir?: string;
  /** false: leave the certificate's validity period to the caller (KSeF reports it as auth status 460). Default true. */
  checkValidity?: boolean;
}

class Rejection extends Error {
  constructor(
    readonly code: XadesExceptionCode,
    readonly detail: string,
    /** KSeF's own Polish detail, where it is known (open-api.json error table of POST /auth/xades-signature). */
    readonly ksefDetail?: string,
  ) {
    super(detail);
  }
}

const NEGATIVE_VERIFICATION = 'Podpis zweryfikowany negatywnie.';

const INVALID_SIGNATURE_FORMAT = 'Format podpisu niezgodny z akceptowanymi profilami XAdES.';

export async function verifyXadesAuthTokenRequest(
  body: Buffer | string,
  options: VerifyXadesOptions = {},
): Promise<XadesVerificationResult> {
  try {
    return await verify(body, options);
  } catch (error) {
    if (!(error instanceof Rejection)) throw error;
    const details = error.ksefDetail ? [error.ksefDetail, error.detail] : [error.detail];
    return { ok: false, code: error.code, description: EXCEPTIONS[error.code], details };
  }
}

async function verify(body: Buffer | string, options: VerifyXadesOptions): Promise<VerifiedAuthTokenRequest> {
  const document = parse(decode(body));
  const signatures = document.getElementsByTagNameNS(XMLDSIG_NS, 'Signature');
  if (signatures.length === 0) throw new Rejection(9102, 'The document carries no ds:Signature element.');
  if (signatures.length > 1)
    throw new Rejection(9103, `The document carries ${signatures.length} ds:Signature elements; exactly one is allowed.`);
  const signature = signatures[0];

  const { content, form } = locateContent(document, signature);
  const { request, schemaVersion } = await readContent(content, options.specDir);

  const signedInfo = single(signature, 'SignedInfo');
  const references = childrenNamed(signedInfo, XMLDSIG_NS, 'Reference');
  if (references.length === 0) throw new Rejection(9105, 'SignedInfo has no Reference.');
  const processed = references.map((reference, i) => processReference(reference, i + 1, document, signature));
  const coversContent = processed.some((r) => r.covers(content));
  if (!coversContent)
    throw new Rejection(
      9105,
      'No Reference covers the AuthTokenRequest: the signature must sign the document (URI="" or the element\'s Id).',
    );

  const signedProperties = processed
    .map((r) => r.target)
    .find((t): t is Element => isElement(t) && t.localName === 'SignedProperties' && t.namespaceURI === XADES_NS);
  if (!signedProperties || !isDescendant(signedProperties, signature)) {
    throw new Rejection(
      9105,
      'No Reference to xades:SignedProperties inside the signature (XAdES-BES requires signed properties).',
      INVALID_SIGNATURE_FORMAT,
    );
  }
  checkQualifyingPropertiesTarget(signedProperties, signature);

  const method = signatureMethod(signedInfo);
  const certificates = keyInfoCertificates(signature);
  const certificate = certificates.find((c) => signatureVerifies(signedInfo, signature, method.algorithm, c, method.pssSaltLength));
  if (!certificate) {
    checkKeyStrength(certificates[0]);
    throw new Rejection(9105, 'SignatureValue does not verify with the KeyInfo certificate.', NEGATIVE_VERIFICATION);
  }
  checkKeyStrength(certificate);
  const signingTime = checkSigningCertificate(signedProperties, certificate);
  if (options.checkValidity !== false) checkValidity(certificate, (options.clock ?? { now: () => new Date() }).now());

  const identity = identityOf(certificate);
  checkSubject(request, identity);
  return { ok: true, request, schemaVersion, signatureForm: form, signatureMethod: method.uri, signingTime, certificate, identity };
}

function decode(body: Buffer | string): string {
  let text: string;
  if (typeof body === 'string') {
    text = body;
  } else {
    if (body.length >= 2 && ((body[0] === 0xfe && body[1] === 0xff) || (body[0] === 0xff && body[1] === 0xfe))) {
      throw new Rejection(21217, 'The document is UTF-16 encoded; send it as UTF-8.');
    }
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      throw new Rejection(21217, 'The document is not valid UTF-8; send it as UTF-8.');
    }
  }
  text = text.replace(/^\uFEFF/, '');
  const declared = /^<\?xml[^>]*\bencoding\s*=\s*["']([^"']+)["']/.exec(text)?.[1];
  if (declared && !/^(utf-?8|us-ascii)$/i.test(declared)) {
    throw new Rejection(21217, `The XML declaration names encoding "${declared}"; send the document as UTF-8.`);
  }
  if (text.trim() === '') throw new Rejection(21001, 'The request body is empty.');
  return text;
}

function parse(text: string): Document {
  try {
    return parseXml(text);
  } catch (error) {
    throw new Rejection(21001, `The body is not well-formed XML: ${(error as XmlParseError).message}`);
  }
}

/** Enveloped: the AuthTokenRequest root holds the signature. Enveloping: the signature root holds it in ds:Object. */
function locateContent(document: Document, signature: Element): { content: Element; form: 'enveloped' | 'enveloping' } {
  const root = document.documentElement!;
  if (root === signature) {
    for (const object of childrenNamed(signature, XMLDSIG_NS, 'Object')) {
      const embedded = childElements(object).find((e) => e.localName === 'AuthTokenRequest');
      if (embedded) return { content: embedded, form: 'enveloping' };
    }
    throw new Rejection(9101, 'An enveloping signature must carry the AuthTokenRequest element in a ds:Object.');
  }
  if (root.localName === 'AuthTokenRequest') return { content: root, form: 'enveloped' };
  throw new Rejection(
    9101,
    `The root element is ${root.nodeName}: expected AuthTokenRequest (enveloped signature) or ds:Signature (enveloping).`,
  );
}

async function readContent(
  content: Element,
  specDir: string | undefined,
): Promise<{ request: AuthTokenRequest; schemaVersion: AuthTokenRequestSchemaVersion }> {
  if (!authTokenRequestVersion(content)) {
    throw new Rejection(
      21401,
      `AuthTokenRequest is in namespace "${content.namespaceURI ?? ''}"; expected http://ksef.mf.gov.pl/auth/token/2.0 or 2.1.`,
    );
  }
  const unsigned = content.cloneNode(true) as Element;
  for (const child of childrenNamed(unsigned, XMLDSIG_NS, 'Signature')) unsigned.removeChild(child);
  const xsdErrors = await validateAuthTokenRequestXsd(new XMLSerializer().serializeToString(unsigned), specDir);
  if (xsdErrors && xsdErrors.length > 0) throw new Rejection(21401, xsdErrors.join('; '));
  try {
    return readAuthTokenRequest(content);
  } catch (error) {
    if (error instanceof KsefInputError) throw new Rejection(21401, error.message);
    throw error;
  }
}

function single(parent: Element, localName: string): Element {
  const found = childrenNamed(parent, XMLDSIG_NS, localName);
  if (found.length !== 1)
    throw new Rejection(9105, `ds:${parent.localName} must contain exactly one ds:${localName} (found ${found.length}).`);
  return found[0];
}

/** What a reference's transforms work on: a node-set (apex minus excluded subtrees) or octets. */
type Data = { kind: 'nodes'; apex: Node; excluded: Set<Node>; comments: boolean } | { kind: 'octets'; bytes: Buffer };

interface ProcessedReference {
  /** The dereferenced node (document or element). */
  target: Node;
  /** True when `element` is inside the signed node-set. */
  covers(element: Element): boolean;
}

function processReference(reference: Element, position: number, document: Document, signature: Element): ProcessedReference {
  const uri = reference.getAttribute('URI');
  const label = `Reference #${position} (URI="${uri ?? ''}")`;
  let data: Data;
  if (uri === null) throw new Rejection(9105, `${label} has no URI attribute; detached signatures are not accepted.`);
  if (uri === '') data = { kind: 'nodes', apex: document, excluded: new Set(), comments: false };
  else if (uri === '#xpointer(/)') data = { kind: 'nodes', apex: document, excluded: new Set(), comments: true };
  else if (uri.startsWith('#')) {
    const xpointer = /^#xpointer\(id\(['"]([^'"]+)['"]\)\)$/.exec(uri);
    data = {
      kind: 'nodes',
      apex: elementById(document, xpointer ? xpointer[1] : uri.slice(1), label),
      excluded: new Set(),
      comments: !!xpointer,
    };
  } else {
    throw new Rejection(
      9105,
      `${label} points outside the document: detached signatures are not accepted (use an enveloped or enveloping signature).`,
    );
  }
  const target = data.apex;

  // The signed node-set is the last one before the transforms turned it into octets.
  let coverage = data;
  const transforms = childrenNamed(reference, XMLDSIG_NS, 'Transforms');
  for (const transform of transforms.flatMap((t) => childrenNamed(t, XMLDSIG_NS, 'Transform'))) {
    data = applyTransform(data, transform, signature, label);
    if (data.kind === 'nodes') coverage = data;
  }
  const octets =
    data.kind === 'nodes' ? canonicalize(data.apex, { method: 'c14n', withComments: data.comments, excluded: data.excluded }) : data.bytes;

  const digestMethod = single(reference, 'DigestMethod').getAttribute('Algorithm') ?? '';
  const hash = DIGEST_ALGORITHMS[digestMethod];
  if (!hash) throw new Rejection(9105, `${label} uses DigestMethod ${digestMethod}, which KSeF does not accept.`);
  const expected = textOf(single(reference, 'DigestValue')).replace(/\s+/g, '');
  if (createHash(hash).update(octets).digest('base64') !== expected) {
    throw new Rejection(
      9105,
      `The digest of ${label} does not match: the signed content was changed after signing.`,
      NEGATIVE_VERIFICATION,
    );
  }
  return {
    target,
    covers: (element) =>
      coverage.kind === 'nodes' &&
      (coverage.apex === element || isDescendant(element, coverage.apex)) &&
      !isExcluded(element, coverage.excluded),
  };
}

function applyTransform(data: Data, transform: Element, signature: Element, label: string): Data {
  const algorithm = transform.getAttribute('Algorithm') ?? '';
  const canonicalization = CANONICALIZATION_ALGORITHMS[algorithm];
  if (canonicalization) {
    if (data.kind === 'octets') throw new Rejection(9105, `${label}: canonicalization of octets (parsing them again) is not supported.`);
    const prefixList = childElements(transform)
      .find((e) => e.localName === 'InclusiveNamespaces')
      ?.getAttribute('PrefixList');
    const bytes = canonicalize(data.apex, {
      method: canonicalization.method,
      withComments: data.comments && canonicalization.withComments,
      excluded: data.excluded,
      inclusivePrefixes: prefixList ? prefixList.trim().split(/\s+/) : undefined,
    });
    return { kind: 'octets', bytes };
  }
  if (data.kind === 'octets' && algorithm !== BASE64_TRANSFORM) {
    throw new Rejection(9105, `${label}: transform ${algorithm} cannot follow a canonicalization.`);
  }
  switch (algorithm) {
    case ENVELOPED_SIGNATURE_TRANSFORM:
      return withExcluded(data, [signature]);
    case XPATH_TRANSFORM:
      return withExcluded(data, signaturesDroppedByXPath(transform, label));
    case XPATH_FILTER2_TRANSFORM:
      return withExcluded(data, signaturesDroppedByFilter2(transform, label));
    case BASE64_TRANSFORM: {
      const text = data.kind === 'octets' ? data.bytes.toString('latin1') : textOfNodeSet(data.apex, data.excluded);
      return { kind: 'octets', bytes: Buffer.from(text.replace(/\s+/g, ''), 'base64') };
    }
    default:
      throw new Rejection(9105, `${label} uses transform ${algorithm || '(none)'}, which KSeF does not accept.`);
  }
}

function withExcluded(data: Data, nodes: Node[]): Data {
  if (data.kind !== 'nodes') return data;
  return { ...data, excluded: new Set([...data.excluded, ...nodes]) };
}

/** `not(ancestor-or-self::ds:Signature)`: the node-set without any signature. */
function signaturesDroppedByXPath(transform: Element, label: string): Element[] {
  const xpath = childrenNamed(transform, XMLDSIG_NS, 'XPath')[0];
  const expression = xpath ? textOf(xpath).replace(/\s+/g, '') : '';
  const match = /^not\(ancestor-or-self::(?:([\w.-]+):)?Signature\)$/.exec(expression);
  if (!xpath || !match || xpath.lookupNamespaceURI(match[1] ?? null) !== XMLDSIG_NS) {
    throw new Rejection(9105, `${label}: XPath transform "${expression}" is not supported; use not(ancestor-or-self::ds:Signature).`);
  }
  return allSignatures(transform);
}

/** XPath Filter 2.0 with `subtract` of every ds:Signature (what EU DSS writes for enveloped signatures). */
function signaturesDroppedByFilter2(transform: Element, label: string): Element[] {
  const filters = childrenNamed(transform, XPATH_FILTER2_NS, 'XPath');
  if (filters.length === 0) throw new Rejection(9105, `${label}: an XPath Filter 2.0 transform needs an XPath element.`);
  let dropped: Element[] = [];
  for (const filter of filters) {
    const expression = textOf(filter).replace(/\s+/g, '');
    const kind = filter.getAttribute('Filter');
    const subtractsSignatures = /^(?:\/descendant::|\/\/)(?:([\w.-]+):)?Signature$/.exec(expression);
    if (kind === 'subtract' && subtractsSignatures && filter.lookupNamespaceURI(subtractsSignatures[1] ?? null) === XMLDSIG_NS) {
      dropped = allSignatures(transform);
    } else if (!((kind === 'intersect' || kind === 'union') && expression === '/')) {
      throw new Rejection(
        9105,
        `${label}: XPath Filter 2.0 "${kind} ${expression}" is not supported; use subtract /descendant::ds:Signature.`,
      );
    }
  }
  return dropped;
}

function allSignatures(node: Element): Element[] {
  return Array.from(node.ownerDocument!.getElementsByTagNameNS(XMLDSIG_NS, 'Signature'));
}

function textOfNodeSet(apex: Node, excluded: ReadonlySet<Node>): string {
  if (excluded.has(apex)) return '';
  if (apex.nodeType === 3 || apex.nodeType === 4) return apex.nodeValue ?? '';
  return Array.from(apex.childNodes)
    .map((child) => textOfNodeSet(child, excluded))
    .join('');
}

/** The one element with this Id (Id/ID/id/xml:id); several are a signature-wrapping attempt. */
function elementById(document: Document, id: string, label: string): Element {
  const matches = descendantElements(document).filter((e) => ['Id', 'ID', 'id', 'xml:id'].some((name) => e.getAttribute(name) === id));
  if (matches.length === 0) throw new Rejection(9105, `${label} points to no element of the document.`);
  if (matches.length > 1) throw new Rejection(9105, `${label}: ${matches.length} elements carry Id "${id}"; Ids must be unique.`);
  return matches[0];
}

function isDescendant(node: Node, ancestor: Node): boolean {
  for (let current = node.parentNode; current; current = current.parentNode) if (current === ancestor) return true;
  return false;
}

function isExcluded(node: Node, excluded: ReadonlySet<Node>): boolean {
  for (let current: Node | null = node; current; current = current.parentNode) if (excluded.has(current)) return true;
  return false;
}

function signatureMethod(signedInfo: Element): { uri: string; algorithm: SignatureAlgorithm; pssSaltLength?: number } {
  const method = single(signedInfo, 'SignatureMethod');
  const uri = method.getAttribute('Algorithm') ?? '';
  const algorithm = SIGNATURE_ALGORITHMS[uri];
  if (!algorithm) throw new Rejection(9105, `SignatureMethod ${uri || '(none)'} is not accepted by KSeF.`);
  const saltLength = descendantElements(method).find((e) => e.localName === 'SaltLength');
  return { uri, algorithm, pssSaltLength: saltLength ? Number(textOf(saltLength)) : undefined };
}

function keyInfoCertificates(signature: Element): CertificateInfo[] {
  const keyInfo = childrenNamed(signature, XMLDSIG_NS, 'KeyInfo')[0];
  const encoded = keyInfo
    ? childrenNamed(keyInfo, XMLDSIG_NS, 'X509Data').flatMap((data) => childrenNamed(data, XMLDSIG_NS, 'X509Certificate'))
    : [];
  if (encoded.length === 0) throw new Rejection(9105, 'KeyInfo carries no X509Data/X509Certificate: include the signing certificate.');
  return encoded.map((element) => {
    try {
      return parseCertificate(Buffer.from(textOf(element).replace(/\s+/g, ''), 'base64'));
    } catch (error) {
      if (error instanceof CertificateFormatError) throw new Rejection(21115, `KeyInfo X509Certificate is ${error.message}.`);
      throw error;
    }
  });
}

function signatureVerifies(
  signedInfo: Element,
  signature: Element,
  algorithm: SignatureAlgorithm,
  certificate: CertificateInfo,
  pssSaltLength?: number,
): boolean {
  const canonicalizationUri = single(signedInfo, 'CanonicalizationMethod').getAttribute('Algorithm') ?? '';
  const canonicalization = CANONICALIZATION_ALGORITHMS[canonicalizationUri];
  if (!canonicalization) throw new Rejection(9105, `CanonicalizationMethod ${canonicalizationUri || '(none)'} is not accepted by KSeF.`);
  const prefixList = childElements(single(signedInfo, 'CanonicalizationMethod'))
    .find((e) => e.localName === 'InclusiveNamespaces')
    ?.getAttribute('PrefixList');
  const signed = canonicalize(signedInfo, {
    method: canonicalization.method,
    withComments: canonicalization.withComments,
    inclusivePrefixes: prefixList ? prefixList.trim().split(/\s+/) : undefined,
  });
  const value = Buffer.from(textOf(single(signature, 'SignatureValue')).replace(/\s+/g, ''), 'base64');
  const key = keyFor(certificate.publicKey, algorithm, pssSaltLength);
  if (!key) return false;
  try {
    return verifySignature(algorithm.hash, signed, key, value);
  } catch {
    return false;
  }
}

type VerifyKey = KeyObject | { key: KeyObject; padding?: number; saltLength?: number; dsaEncoding?: 'ieee-p1363' };

function keyFor(publicKey: KeyObject, algorithm: SignatureAlgorithm, pssSaltLength?: number): VerifyKey | undefined {
  const type = publicKey.asymmetricKeyType;
  if (algorithm.scheme === 'ecdsa') return type === 'ec' ? { key: publicKey, dsaEncoding: 'ieee-p1363' } : undefined;
  if (algorithm.scheme === 'rsa-pss') {
    if (type !== 'rsa' && type !== 'rsa-pss') return undefined;
    const hashLength = createHash(algorithm.hash).digest().length;
    return { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pssSaltLength ?? hashLength };
  }
  return type === 'rsa' ? publicKey : undefined;
}

function checkKeyStrength(certificate: CertificateInfo | undefined): void {
  if (!certificate) return;
  if ((certificate.keyType === 'rsa' || certificate.keyType === 'rsa-pss') && certificate.keyBits < MIN_RSA_BITS) {
    throw new Rejection(21115, `The certificate's RSA key has ${certificate.keyBits} bits; KSeF requires at least ${MIN_RSA_BITS}.`);
  }
  if (certificate.keyType === 'ec' && !(certificate.curve && certificate.curve in SUPPORTED_EC_CURVES)) {
    throw new Rejection(
      21115,
      `The certificate's EC key is on curve ${certificate.curve ?? 'unknown'}; KSeF requires a curve of at least 256 bits (P-256, P-384, P-521).`,
    );
  }
}

function checkQualifyingPropertiesTarget(signedProperties: Element, signature: Element): void {
  const qualifying = signedProperties.parentNode;
  const target = isElement(qualifying) && qualifying.localName === 'QualifyingProperties' ? qualifying.getAttribute('Target') : null;
  const id = signature.getAttribute('Id');
  if (!target || !id || target !== `#${id}`) {
    throw new Rejection(
      9105,
      `xades:QualifyingProperties/@Target must point to the ds:Signature Id (#${id ?? '?'}).`,
      INVALID_SIGNATURE_FORMAT,
    );
  }
}

/** The SigningCertificate(V2) CertDigest must be the KeyInfo certificate's; IssuerSerial formats vary and are not checked. */
function checkSigningCertificate(signedProperties: Element, certificate: CertificateInfo): string | undefined {
  const elements = descendantElements(signedProperties);
  const signingCertificate = elements.find(
    (e) => e.namespaceURI === XADES_NS && (e.localName === 'SigningCertificate' || e.localName === 'SigningCertificateV2'),
  );
  if (!signingCertificate) {
    throw new Rejection(9105, 'SignedProperties lack xades:SigningCertificate (or SigningCertificateV2).', INVALID_SIGNATURE_FORMAT);
  }
  const digests = descendantElements(signingCertificate).filter((e) => e.namespaceURI === XADES_NS && e.localName === 'CertDigest');
  const matches = digests.some((certDigest) => {
    const hash = DIGEST_ALGORITHMS[childrenNamed(certDigest, XMLDSIG_NS, 'DigestMethod')[0]?.getAttribute('Algorithm') ?? ''];
    const value = childrenNamed(certDigest, XMLDSIG_NS, 'DigestValue')[0];
    return !!hash && !!value && createHash(hash).update(certificate.der).digest('base64') === textOf(value).replace(/\s+/g, '');
  });
  if (!matches) throw new Rejection(9105, 'SigningCertificate/CertDigest does not match the certificate in KeyInfo.');
  const signingTime = elements.find((e) => e.namespaceURI === XADES_NS && e.localName === 'SigningTime');
  return signingTime ? textOf(signingTime) : undefined;
}

function checkValidity(certificate: CertificateInfo, now: Date): void {
  if (now < certificate.notBefore)
    throw new Rejection(21115, `The certificate is not valid yet (valid from ${certificate.notBefore.toISOString()}).`);
  if (now > certificate.notAfter) throw new Rejection(21115, `The certificate expired on ${certificate.notAfter.toISOString()}.`);
}

const PESEL_PATTERN = /(PNOPL|PESEL).*?(?<identifier>\d{11})/;
const NIP_PATTERN = /(TINPL|NIP).*?(?<identifier>\d{10})/;
const SEAL_NIP_PATTERN = /(VATPL).*?(?<identifier>\d{10})/;

/** The subject attributes and identifiers KSeF reads (auth/podpis-xades.md). */
export function identityOf(certificate: CertificateInfo): CertificateIdentity {
  const value = (oid: string): string | undefined => subjectValue(certificate, oid);
  const attributes = {
    givenName: value(SUBJECT_OIDS.givenName),
    surname: value(SUBJECT_OIDS.surname),
    serialNumber: value(SUBJECT_OIDS.serialNumber),
    commonName: value(SUBJECT_OIDS.commonName),
    countryName: value(SUBJECT_OIDS.countryName),
    organizationName: value(SUBJECT_OIDS.organizationName),
    organizationIdentifier: value(SUBJECT_OIDS.organizationIdentifier),
  };
  const defined = Object.fromEntries(Object.entries(attributes).filter(([, v]) => v !== undefined));
  const fingerprintSha256 = certificate.fingerprintSha256;
  const sealNip = attributes.organizationIdentifier && SEAL_NIP_PATTERN.exec(attributes.organizationIdentifier)?.groups?.identifier;
  if (sealNip) return { kind: 'seal', nip: sealNip, ...defined, fingerprintSha256 };
  const pesel = attributes.serialNumber && PESEL_PATTERN.exec(attributes.serialNumber)?.groups?.identifier;
  if (pesel) return { kind: 'person', pesel, ...defined, fingerprintSha256 };
  const nip = attributes.serialNumber && NIP_PATTERN.exec(attributes.serialNumber)?.groups?.identifier;
  if (nip) return { kind: 'person', nip, ...defined, fingerprintSha256 };
  return { kind: 'unrecognised', ...defined, fingerprintSha256 };
}

/**
 * Subject rules (our reading of the codes; KSeF does not document the exact triggers):
 * 21115 seal certificate with givenName/surname, or a person/seal certificate lacking a required attribute;
 * 21406 certificateSubject chosen but the certificate carries no NIP/PESEL/VATPL identifier (use certificateFingerprint);
 * 21117 PeppolId context authenticated by a person (Peppol providers authenticate with their organisation's seal).
 */
function checkSubject(request: AuthTokenRequest, identity: CertificateIdentity): void {
  if (identity.kind === 'seal') {
    if (identity.givenName !== undefined || identity.surname !== undefined) {
      throw new Rejection(21115, 'A seal certificate (organizationIdentifier VATPL-…) must not carry givenName or surname.');
    }
    const missing = (['organizationName', 'commonName', 'countryName'] as const).filter((k) => identity[k] === undefined);
    if (missing.length > 0) throw new Rejection(21115, `The seal certificate's subject lacks ${missing.join(', ')}.`);
  }
  if (identity.kind === 'person') {
    const missing = (['givenName', 'surname', 'commonName', 'countryName'] as const).filter((k) => identity[k] === undefined);
    if (missing.length > 0) throw new Rejection(21115, `The personal certificate's subject lacks ${missing.join(', ')}.`);
  }
  if (request.subjectIdentifierType === 'certificateSubject' && identity.kind === 'unrecognised') {
    throw new Rejection(
      21406,
      'SubjectIdentifierType is certificateSubject but the certificate carries no NIP or PESEL (serialNumber TINPL-/PNOPL-, organizationIdentifier VATPL-); use certificateFingerprint.',
    );
  }
  if (
    request.contextIdentifier.type === 'PeppolId' &&
    request.subjectIdentifierType === 'certificateSubject' &&
    identity.kind === 'person'
  ) {
    throw new Rejection(21117, "A PeppolId context is authenticated with the Peppol provider's seal certificate, not a personal one.");
  }
}
