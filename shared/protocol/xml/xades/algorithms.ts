/** XML-DSig / XAdES namespaces and the algorithm identifiers KSeF accepts (auth/podpis-xades.md, CIRFMF/ksef-docs). */

export const XMLDSIG_NS = 'http://www.w3.org/2000/09/xmldsig#';
export const XADES_NS = 'http://uri.etsi.org/01903/v1.3.2#';
export const SIGNED_PROPERTIES_TYPE = 'http://uri.etsi.org/01903#SignedProperties';
export const XML_NS = 'http://www.w3.org/XML/1998/namespace';

export type CanonicalizationMethod = 'c14n' | 'c14n11' | 'exc-c14n';

export interface CanonicalizationAlgorithm {
  method: CanonicalizationMethod;
  withComments: boolean;
}

export const CANONICALIZATION_ALGORITHMS: Record<string, CanonicalizationAlgorithm> = {
  'http://www.w3.org/TR/2001/REC-xml-c14n-20010315': { method: 'c14n', withComments: false },
  'http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments': { method: 'c14n', withComments: true },
  'http://www.w3.org/2006/12/xml-c14n11': { method: 'c14n11', withComments: false },
  'http://www.w3.org/2006/12/xml-c14n11#WithComments': { method: 'c14n11', withComments: true },
  'http://www.w3.org/2001/10/xml-exc-c14n#': { method: 'exc-c14n', withComments: false },
  'http://www.w3.org/2001/10/xml-exc-c14n#WithComments': { method: 'exc-c14n', withComments: true },
};

export const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
export const ENVELOPED_SIGNATURE_TRANSFORM = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
export const XPATH_TRANSFORM = 'http://www.w3.org/TR/1999/REC-xpath-19991116';
export const XPATH_FILTER2_TRANSFORM = 'http://www.w3.org/2002/06/xmldsig-filter2';
export const XPATH_FILTER2_NS = 'http://www.w3.org/2002/06/xmldsig-filter2';
export const BASE64_TRANSFORM = 'http://www.w3.org/2000/09/xmldsig#base64';

/** node:crypto hash names by DigestMethod URI (references and XAdES CertDigest). */
export const DIGEST_ALGORITHMS: Record<string, string> = {
  'http://www.w3.org/2000/09/xmldsig#sha1': 'sha1',
  'http://www.w3.org/2001/04/xmlenc#sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#sha384': 'sha384',
  'http://www.w3.org/2001/04/xmlenc#sha512': 'sha512',
  'http://www.w3.org/2007/05/xmldsig-more#sha3-256': 'sha3-256',
  'http://www.w3.org/2007/05/xmldsig-more#sha3-384': 'sha3-384',
  'http://www.w3.org/2007/05/xmldsig-more#sha3-512': 'sha3-512',
};

export const SHA256_DIGEST = 'http://www.w3.org/2001/04/xmlenc#sha256';

export type SignatureScheme = 'rsa-pkcs1' | 'rsa-pss' | 'ecdsa';

export interface SignatureAlgorithm {
  scheme: SignatureScheme;
  /** node:crypto hash name. */
  hash: string;
}

const RSA_MORE = 'http://www.w3.org/2001/04/xmldsig-more#';
const PSS_MORE = 'http://www.w3.org/2007/05/xmldsig-more#';
const ECDSA_SHA3_MORE = 'http://www.w3.org/2021/04/xmldsig-more#';

export const SIGNATURE_ALGORITHMS: Record<string, SignatureAlgorithm> = {
  'http://www.w3.org/2000/09/xmldsig#rsa-sha1': { scheme: 'rsa-pkcs1', hash: 'sha1' },
  [`${RSA_MORE}rsa-sha256`]: { scheme: 'rsa-pkcs1', hash: 'sha256' },
  [`${RSA_MORE}rsa-sha384`]: { scheme: 'rsa-pkcs1', hash: 'sha384' },
  [`${RSA_MORE}rsa-sha512`]: { scheme: 'rsa-pkcs1', hash: 'sha512' },
  [`${PSS_MORE}sha1-rsa-MGF1`]: { scheme: 'rsa-pss', hash: 'sha1' },
  [`${PSS_MORE}sha256-rsa-MGF1`]: { scheme: 'rsa-pss', hash: 'sha256' },
  [`${PSS_MORE}sha384-rsa-MGF1`]: { scheme: 'rsa-pss', hash: 'sha384' },
  [`${PSS_MORE}sha512-rsa-MGF1`]: { scheme: 'rsa-pss', hash: 'sha512' },
  [`${PSS_MORE}sha3-256-rsa-MGF1`]: { scheme: 'rsa-pss', hash: 'sha3-256' },
  [`${PSS_MORE}sha3-384-rsa-MGF1`]: { scheme: 'rsa-pss', hash: 'sha3-384' },
  [`${PSS_MORE}sha3-512-rsa-MGF1`]: { scheme: 'rsa-pss', hash: 'sha3-512' },
  [`${RSA_MORE}ecdsa-sha1`]: { scheme: 'ecdsa', hash: 'sha1' },
  [`${RSA_MORE}ecdsa-sha256`]: { scheme: 'ecdsa', hash: 'sha256' },
  [`${RSA_MORE}ecdsa-sha384`]: { scheme: 'ecdsa', hash: 'sha384' },
  [`${RSA_MORE}ecdsa-sha512`]: { scheme: 'ecdsa', hash: 'sha512' },
  [`${ECDSA_SHA3_MORE}ecdsa-sha3-256`]: { scheme: 'ecdsa', hash: 'sha3-256' },
  [`${ECDSA_SHA3_MORE}ecdsa-sha3-384`]: { scheme: 'ecdsa', hash: 'sha3-384' },
  [`${ECDSA_SHA3_MORE}ecdsa-sha3-512`]: { scheme: 'ecdsa', hash: 'sha3-512' },
};

/** The SignatureMethod URI for a PKCS#1 v1.5 RSA or an ECDSA signature with `hash`. */
export function signatureMethodUri(scheme: 'rsa-pkcs1' | 'ecdsa', hash: 'sha256' | 'sha384' | 'sha512'): string {
  return `${RSA_MORE}${scheme === 'ecdsa' ? 'ecdsa' : 'rsa'}-${hash}`;
}
