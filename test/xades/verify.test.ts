/**
 * The sandbox verifier against signatures it did not produce: xmlsec1 signs templates shaped like the C# client's
 * (default-namespace Signature, inclusive C14N 1.0 SignedInfo), DSS-like ones (XPath / filter-2 transforms,
 * C14N 1.1) and enveloping ones; then every rejection code with a document that triggers it.
 */
import { constants, createHash, sign } from 'node:crypto';
import * as fs from 'node:fs';
import { buildAuthTokenRequestXml } from '../../shared/protocol/xml/xades/authTokenRequest';
import { canonicalize } from '../../shared/protocol/xml/c14n';
import { parseXml } from '../../shared/protocol/xml/xmlDom';
import { signAuthTokenRequest, signXadesEnveloped } from '../../shared/protocol/xml/xades/sign';
import { loadKeyMaterial, type KeyMaterial } from '../../shared/protocol/x509/keyMaterial';
import { generateTestCertificate, type TestCertificate } from '../../shared/protocol/x509/testCertificates';
import { verifyXadesAuthTokenRequest, type XadesVerificationResult } from '../../sandbox/auth/xades';
import { CHALLENGE, DEMO_NIP, authRequest, run, tempDir, type TempDir } from './fixtures';

const DS = 'http://www.w3.org/2000/09/xmldsig#';
const EXC = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const C14N = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';
const C14N11 = 'http://www.w3.org/2006/12/xml-c14n11';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const PASSWORD = 'p12-password';

let dir: TempDir;
let rsaPerson: TestCertificate;
let ecSeal: TestCertificate;

beforeAll(() => {
  dir = tempDir();
  rsaPerson = generateTestCertificate({
    subject: { kind: 'person', givenName: 'A', surname: 'R', nip: DEMO_NIP, commonName: 'A R' },
    pkcs12Password: PASSWORD,
  });
  ecSeal = generateTestCertificate({
    subject: { kind: 'seal', organizationName: 'AR sp. z o.o', nip: DEMO_NIP },
    keyType: 'ec',
    pkcs12Password: PASSWORD,
  });
});
afterAll(() => dir.remove());

function keyMaterialOf(certificate: TestCertificate): KeyMaterial {
  return loadKeyMaterial({ pkcs12: certificate.pkcs12, password: PASSWORD });
}

function expectAccepted(result: XadesVerificationResult): asserts result is Extract<XadesVerificationResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected acceptance, got ${result.code}: ${result.details.join(' ')}`);
}

function der(certificate: TestCertificate): Buffer {
  return Buffer.from(certificate.certificatePem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
}

interface TemplateOptions {
  /** '' writes the signature in the default namespace, like the C# client. */
  prefix: 'ds' | '';
  signedInfoC14n: string;
  signatureMethod: string;
  documentTransforms: string;
  /** Certificate whose digest goes into SigningCertificate (default: the signing one). */
  certDigestOf: Buffer;
  withSignedProperties?: boolean;
}

/** An xmlsec1 signing template: xmlsec1 fills in digests, the signature value and the certificate. */
function signatureTemplate(o: TemplateOptions, documentUri = ''): string {
  const p = o.prefix ? `${o.prefix}:` : '';
  const ns = o.prefix ? `xmlns:${o.prefix}="${DS}"` : `xmlns="${DS}"`;
  const certDigest = createHash('sha256').update(o.certDigestOf).digest('base64');
  const signedProperties =
    o.withSignedProperties === false
      ? ''
      : `<${p}Object><xades:QualifyingProperties xmlns:xades="http://uri.etsi.org/01903/v1.3.2#" Target="#Signature">` +
        '<xades:SignedProperties Id="SignedProperties"><xades:SignedSignatureProperties>' +
        '<xades:SigningTime>2025-10-01T12:00:00.1234567+00:00</xades:SigningTime><xades:SigningCertificate><xades:Cert><xades:CertDigest>' +
        `<${p}DigestMethod Algorithm="${SHA256}"/><${p}DigestValue>${certDigest}</${p}DigestValue></xades:CertDigest>` +
        `<xades:IssuerSerial><${p}X509IssuerName>CN=A R, C=PL</${p}X509IssuerName><${p}X509SerialNumber>-123456789</${p}X509SerialNumber></xades:IssuerSerial>` +
        '</xades:Cert></xades:SigningCertificate></xades:SignedSignatureProperties></xades:SignedProperties></xades:QualifyingProperties>' +
        `</${p}Object>`;
  const propertiesReference =
    o.withSignedProperties === false
      ? ''
      : `<${p}Reference URI="#SignedProperties" Type="http://uri.etsi.org/01903#SignedProperties"><${p}Transforms><${p}Transform Algorithm="${EXC}"/></${p}Transforms>` +
        `<${p}DigestMethod Algorithm="${SHA256}"/><${p}DigestValue/></${p}Reference>`;
  return (
    `<${p}Signature ${ns} Id="Signature"><${p}SignedInfo><${p}CanonicalizationMethod Algorithm="${o.signedInfoC14n}"/>` +
    `<${p}SignatureMethod Algorithm="${o.signatureMethod}"/>` +
    `<${p}Reference URI="${documentUri}"><${p}Transforms>${o.documentTransforms.replace(/\{p\}/g, p)}</${p}Transforms>` +
    `<${p}DigestMethod Algorithm="${SHA256}"/><${p}DigestValue/></${p}Reference>${propertiesReference}</${p}SignedInfo>` +
    `<${p}SignatureValue/><${p}KeyInfo><${p}X509Data><${p}X509Certificate/></${p}X509Data></${p}KeyInfo>${signedProperties}</${p}Signature>`
  );
}

function xmlsecSign(template: string, keyPem: string, certPem: string, extraIdAttrs: string[] = []): string {
  const out = dir.file('out.xml', '');
  const idArgs = ['SignedProperties', ...extraIdAttrs].flatMap((name) => ['--id-attr:Id', name]);
  const result = run('xmlsec1', [
    '--sign',
    '--privkey-pem',
    `${dir.file('key.pem', keyPem)},${dir.file('cert.pem', certPem)}`,
    ...idArgs,
    '--output',
    out,
    dir.file('template.xml', template),
  ]);
  if (result.status !== 0) throw new Error(`xmlsec1 --sign failed: ${result.output}`);
  return fs.readFileSync(out, 'utf8');
}

/** The AuthTokenRequest as .NET XmlSerializer writes it (xsi/xsd declarations), with a signature template appended. */
function envelopedTemplate(signature: string): string {
  return buildAuthTokenRequestXml(authRequest())
    .replace(
      '<AuthTokenRequest xmlns=',
      '<AuthTokenRequest xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns=',
    )
    .replace('</AuthTokenRequest>', `${signature}</AuthTokenRequest>`);
}

describe('signatures made by xmlsec1 are accepted', () => {
  it('C# client shape: default-namespace Signature, inclusive C14N 1.0 SignedInfo, RSA-SHA256', async () => {
    const template = envelopedTemplate(
      signatureTemplate({
        prefix: '',
        signedInfoC14n: C14N,
        signatureMethod: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
        documentTransforms: `<{p}Transform Algorithm="${ENVELOPED}"/><{p}Transform Algorithm="${EXC}"/>`,
        certDigestOf: der(rsaPerson),
      }),
    );
    const signed = xmlsecSign(template, rsaPerson.privateKeyPem, rsaPerson.certificatePem);
    const result = await verifyXadesAuthTokenRequest(signed);
    expectAccepted(result);
    expect(result.identity).toMatchObject({ kind: 'person', nip: DEMO_NIP, commonName: 'A R' });
    expect(result.signingTime).toBe('2025-10-01T12:00:00.1234567+00:00');
  });

  it('XPath not(ancestor-or-self::ds:Signature) transform, C14N 1.1 SignedInfo, ECDSA-SHA256', async () => {
    const template = envelopedTemplate(
      signatureTemplate({
        prefix: 'ds',
        signedInfoC14n: C14N11,
        signatureMethod: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
        documentTransforms:
          '<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>not(ancestor-or-self::ds:Signature)</ds:XPath></ds:Transform>' +
          `<ds:Transform Algorithm="${C14N11}"/>`,
        certDigestOf: der(ecSeal),
      }),
    );
    const result = await verifyXadesAuthTokenRequest(xmlsecSign(template, ecSeal.privateKeyPem, ecSeal.certificatePem));
    expectAccepted(result);
    expect(result.identity).toMatchObject({ kind: 'seal', nip: DEMO_NIP });
    expect(result.signatureMethod).toBe('http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256');
  });

  it('XPath Filter 2.0 subtract transform (EU DSS style) with the default C14N', async () => {
    const template = envelopedTemplate(
      signatureTemplate({
        prefix: 'ds',
        signedInfoC14n: EXC,
        signatureMethod: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
        documentTransforms:
          '<ds:Transform Algorithm="http://www.w3.org/2002/06/xmldsig-filter2"><dsig-filter2:XPath xmlns:dsig-filter2="http://www.w3.org/2002/06/xmldsig-filter2" Filter="subtract">/descendant::ds:Signature</dsig-filter2:XPath></ds:Transform>',
        certDigestOf: der(rsaPerson),
      }),
    );
    expectAccepted(await verifyXadesAuthTokenRequest(xmlsecSign(template, rsaPerson.privateKeyPem, rsaPerson.certificatePem)));
  });

  it('enveloping signature: the AuthTokenRequest inside a ds:Object referenced by Id', async () => {
    const request = buildAuthTokenRequestXml(authRequest()).replace(/^<\?xml[^>]*\?>\n/, '');
    const template = signatureTemplate(
      {
        prefix: 'ds',
        signedInfoC14n: EXC,
        signatureMethod: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
        documentTransforms: `<ds:Transform Algorithm="${EXC}"/>`,
        certDigestOf: der(rsaPerson),
      },
      '#Content',
    ).replace('</ds:Signature>', `<ds:Object Id="Content">${request}</ds:Object></ds:Signature>`);
    const result = await verifyXadesAuthTokenRequest(xmlsecSign(template, rsaPerson.privateKeyPem, rsaPerson.certificatePem, ['Object']));
    expectAccepted(result);
    expect(result.signatureForm).toBe('enveloping');
    expect(result.request.challenge).toBe(CHALLENGE);
  });

  it('a certificate self-signed with RSASSA-PSS, as the C# client generates them (our signer, our verifier)', async () => {
    const keyFile = dir.file('pss.key', '');
    const certFile = dir.file('pss.pem', '');
    const subject = `/GN=A/SN=R/serialNumber=TINPL-${DEMO_NIP}/CN=A R/C=PL`;
    const pssArgs = ['-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'];
    const made = run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      ...pssArgs,
      '-nodes',
      '-subj',
      subject,
      '-days',
      '2',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ]);
    expect(made.status).toBe(0);
    expect(run('openssl', ['x509', '-noout', '-text', '-in', certFile]).output).toContain('rsassaPss');
    const keyMaterial = loadKeyMaterial({ certificatePem: fs.readFileSync(certFile), privateKeyPem: fs.readFileSync(keyFile) });
    const result = await verifyXadesAuthTokenRequest(signAuthTokenRequest(authRequest(), keyMaterial));
    expectAccepted(result);
    expect(result.identity).toMatchObject({ kind: 'person', nip: DEMO_NIP });
  });

  it('RSASSA-PSS SignatureMethod (sha256-rsa-MGF1)', async () => {
    // xmlsec1 1.2 cannot sign with PSS: take our signature and re-sign its SignedInfo with PSS.
    const keyMaterial = keyMaterialOf(rsaPerson);
    const withPss = signAuthTokenRequest(authRequest(), keyMaterial).replace(
      'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
      'http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1',
    );
    const signedInfo = parseXml(withPss).getElementsByTagNameNS(DS, 'SignedInfo')[0];
    const pssKey = { key: keyMaterial.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
    const value = sign('sha256', canonicalize(signedInfo, { method: 'exc-c14n' }), pssKey);
    const pss = withPss.replace(/<ds:SignatureValue>[^<]+</, `<ds:SignatureValue>${value.toString('base64')}<`);
    const result = await verifyXadesAuthTokenRequest(pss);
    expectAccepted(result);
    expect(result.signatureMethod).toBe('http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1');
  });
});

describe('rejections', () => {
  const rejected = async (body: string | Buffer, code: number, detail: RegExp, options = {}): Promise<void> => {
    const result = await verifyXadesAuthTokenRequest(body, options);
    expect(result).toMatchObject({ ok: false, code });
    if (!result.ok) {
      expect(result.details.join(' ')).toMatch(detail);
      expect(result.description).toMatch(/\.$/);
    }
  };

  it('21001 for content that is not XML', async () => {
    await rejected('this is not xml', 21001, /not well-formed/);
    await rejected('', 21001, /empty/);
  });

  it('21217 for bytes that are not UTF-8, or a declared non-UTF-8 encoding', async () => {
    const latin2 = Buffer.concat([
      Buffer.from('<?xml version="1.0"?><AuthTokenRequest>'),
      Buffer.from([0xb3, 0xf3]),
      Buffer.from('</AuthTokenRequest>'),
    ]);
    await rejected(latin2, 21217, /not valid UTF-8/);
    await rejected('<?xml version="1.0" encoding="windows-1250"?><a/>', 21217, /windows-1250/);
  });

  it('9102 without a signature', async () => {
    await rejected(buildAuthTokenRequestXml(authRequest()), 9102, /no ds:Signature/);
  });

  it('9103 with two signatures', async () => {
    const signed = signAuthTokenRequest(authRequest(), keyMaterialOf(ecSeal));
    const signature = signed.slice(signed.indexOf('<ds:Signature '), signed.indexOf('</AuthTokenRequest>'));
    await rejected(signed.replace('</AuthTokenRequest>', `${signature}</AuthTokenRequest>`), 9103, /2 ds:Signature/);
  });

  it('9101 for a signed document that is not an AuthTokenRequest', async () => {
    await rejected(signXadesEnveloped('<Invoice xmlns="urn:x"><A>1</A></Invoice>', keyMaterialOf(ecSeal)), 9101, /root element is Invoice/);
  });

  it('21401 for a signed AuthTokenRequest that breaks the schema', async () => {
    const invalid = buildAuthTokenRequestXml(authRequest()).replace(CHALLENGE, 'not-a-challenge');
    await rejected(signXadesEnveloped(invalid, keyMaterialOf(ecSeal)), 21401, /Challenge/);
    const unknownNamespace = buildAuthTokenRequestXml(authRequest()).replace('auth/token/2.0', 'auth/token/9.9');
    await rejected(signXadesEnveloped(unknownNamespace, keyMaterialOf(ecSeal)), 21401, /namespace/);
  });

  it('9105 for a detached signature (Reference to an outside URI)', async () => {
    const signed = signAuthTokenRequest(authRequest(), keyMaterialOf(ecSeal)).replace(
      '<ds:Reference URI="">',
      '<ds:Reference URI="https://example.invalid/request.xml">',
    );
    await rejected(signed, 9105, /detached signatures are not accepted/);
  });

  it('9105 without XAdES SignedProperties, or with a SigningCertificate digest of another certificate', async () => {
    const base = {
      prefix: 'ds' as const,
      signedInfoC14n: EXC,
      signatureMethod: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
      documentTransforms: `<ds:Transform Algorithm="${ENVELOPED}"/><ds:Transform Algorithm="${EXC}"/>`,
    };
    const plain = xmlsecSign(
      envelopedTemplate(signatureTemplate({ ...base, certDigestOf: der(rsaPerson), withSignedProperties: false })),
      rsaPerson.privateKeyPem,
      rsaPerson.certificatePem,
    );
    await rejected(plain, 9105, /SignedProperties/);
    const wrongDigest = xmlsecSign(
      envelopedTemplate(signatureTemplate({ ...base, certDigestOf: der(ecSeal) })),
      rsaPerson.privateKeyPem,
      rsaPerson.certificatePem,
    );
    await rejected(wrongDigest, 9105, /CertDigest does not match/);
  });

  it('9105 for duplicate Ids (signature wrapping)', async () => {
    const signed = signAuthTokenRequest(authRequest(), keyMaterialOf(ecSeal));
    const id = /Id="(SignedProperties-[0-9a-f]+)"/.exec(signed)![1];
    const wrapped = signed.replace(
      '</ds:Object>',
      `</ds:Object><ds:Object><xades:SignedProperties xmlns:xades="http://uri.etsi.org/01903/v1.3.2#" Id="${id}"/></ds:Object>`,
    );
    await rejected(wrapped, 9105, /2 elements carry Id/);
  });

  it('21115 for a certificate outside its validity period (injected clock)', async () => {
    const signed = signAuthTokenRequest(authRequest(), keyMaterialOf(ecSeal));
    await rejected(signed, 21115, /expired on/, { clock: { now: () => new Date(Date.now() + 3 * 365 * 24 * 3600 * 1000) } });
    await rejected(signed, 21115, /not valid yet/, { clock: { now: () => new Date(Date.now() - 24 * 3600 * 1000) } });
  });

  it('21115 for an RSA key under 2048 bits', async () => {
    const req = [
      'req',
      '-x509',
      '-newkey',
      'rsa:1024',
      '-nodes',
      '-subj',
      '/GN=A/SN=R/serialNumber=TINPL-1234563218/CN=A R/C=PL',
      '-days',
      '2',
    ];
    const keyFile = dir.file('weak.key', '');
    const certFile = dir.file('weak.pem', '');
    expect(run('openssl', [...req, '-keyout', keyFile, '-out', certFile]).status).toBe(0);
    const weakPem = fs.readFileSync(certFile, 'utf8');
    const template = envelopedTemplate(
      signatureTemplate({
        prefix: 'ds',
        signedInfoC14n: EXC,
        signatureMethod: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
        documentTransforms: `<ds:Transform Algorithm="${ENVELOPED}"/><ds:Transform Algorithm="${EXC}"/>`,
        certDigestOf: Buffer.from(weakPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64'),
      }),
    );
    await rejected(xmlsecSign(template, fs.readFileSync(keyFile, 'utf8'), weakPem), 21115, /1024 bits/);
  });

  describe('certificates without a KSeF identifier', () => {
    let anonymous: KeyMaterial;
    beforeAll(() => {
      const keyFile = dir.file('anon.key', '');
      const certFile = dir.file('anon.pem', '');
      const result = run('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-subj',
        '/CN=Anonymous/C=PL',
        '-days',
        '2',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ]);
      expect(result.status).toBe(0);
      anonymous = loadKeyMaterial({ certificatePem: fs.readFileSync(certFile), privateKeyPem: fs.readFileSync(keyFile) });
    });

    it('21406 when certificateSubject is asked for', async () => {
      await rejected(signAuthTokenRequest(authRequest(), anonymous), 21406, /use certificateFingerprint/);
    });

    it('are accepted with certificateFingerprint, identified by the SHA-256 fingerprint', async () => {
      const result = await verifyXadesAuthTokenRequest(
        signAuthTokenRequest(authRequest({ subjectIdentifierType: 'certificateFingerprint' }), anonymous),
      );
      expectAccepted(result);
      expect(result.identity).toEqual({
        kind: 'unrecognised',
        commonName: 'Anonymous',
        countryName: 'PL',
        fingerprintSha256: anonymous.certificate.fingerprintSha256,
      });
      expect(result.identity.fingerprintSha256).toMatch(/^[0-9A-F]{64}$/);
    });
  });

  it('21117 for a PeppolId context signed with a personal certificate', async () => {
    const signed = signAuthTokenRequest(
      authRequest({ contextIdentifier: { type: 'PeppolId', value: 'PPL123456' } }),
      keyMaterialOf(rsaPerson),
    );
    await rejected(signed, 21117, /Peppol/);
  });
});
