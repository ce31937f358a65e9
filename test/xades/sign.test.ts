/**
 * Signing the AuthTokenRequest with RSA and EC keys, person and seal certificates, loaded from PKCS#12 and from
 * PEM with an encrypted key — checked by tools that share no code with ours (xmlsec1, xmllint) and by the
 * sandbox's verifier, including tampered copies.
 */
import { createPrivateKey } from 'node:crypto';
import { buildAuthTokenRequestXml } from '../../shared/protocol/xml/xades/authTokenRequest';
import { AUTH_TOKEN_XSD_PATH, validateAuthTokenRequestXsd, withoutLiteralAnchors } from '../../shared/protocol/xml/xades/authTokenSchema';
import { signAuthTokenRequest, signXadesEnveloped } from '../../shared/protocol/xml/xades/sign';
import { loadKeyMaterial, type KeyMaterial } from '../../shared/protocol/x509/keyMaterial';
import { generateTestCertificate, type TestCertificate, type TestCertificateOptions } from '../../shared/protocol/x509/testCertificates';
import { findSpecFolder } from '../../shared/protocol/spec/specFolder';
import { KsefInputError } from '../../shared/http/errors';
import { verifyXadesAuthTokenRequest } from '../../sandbox/auth/xades';
import { CHALLENGE, DEMO_NIP, OTHER_CHALLENGE, authRequest, run, tempDir, type TempDir } from './fixtures';
import * as fs from 'node:fs';
import * as path from 'node:path';

const PASSWORD = 'correct horse battery staple';

interface Case {
  name: string;
  options: Omit<TestCertificateOptions, 'pkcs12Password'>;
  load: (certificate: TestCertificate) => KeyMaterial;
  expectedIdentity: Record<string, unknown>;
  signatureMethod: string;
}

const fromPkcs12 = (certificate: TestCertificate): KeyMaterial => loadKeyMaterial({ pkcs12: certificate.pkcs12, password: PASSWORD });
const fromEncryptedPem = (certificate: TestCertificate): KeyMaterial => {
  const encryptedKey = createPrivateKey(certificate.privateKeyPem).export({
    format: 'pem',
    type: 'pkcs8',
    cipher: 'aes-256-cbc',
    passphrase: 'pem secret',
  });
  return loadKeyMaterial({ certificatePem: certificate.certificatePem, privateKeyPem: encryptedKey, passphrase: 'pem secret' });
};

const cases: Case[] = [
  {
    name: 'RSA person certificate (TINPL NIP) from PKCS#12',
    options: { subject: { kind: 'person', givenName: 'Jan', surname: 'Kowalski', nip: DEMO_NIP }, keyType: 'rsa' },
    load: fromPkcs12,
    expectedIdentity: {
      kind: 'person',
      nip: DEMO_NIP,
      givenName: 'Jan',
      surname: 'Kowalski',
      serialNumber: `TINPL-${DEMO_NIP}`,
      commonName: 'Jan Kowalski',
      countryName: 'PL',
    },
    signatureMethod: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  },
  {
    name: 'EC P-256 seal certificate (VATPL NIP) from PKCS#12',
    options: { subject: { kind: 'seal', organizationName: 'Kowalski sp. z o.o.', nip: DEMO_NIP }, keyType: 'ec' },
    load: fromPkcs12,
    expectedIdentity: {
      kind: 'seal',
      nip: DEMO_NIP,
      organizationName: 'Kowalski sp. z o.o.',
      organizationIdentifier: `VATPL-${DEMO_NIP}`,
      countryName: 'PL',
    },
    signatureMethod: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
  },
  {
    name: 'RSA seal certificate from PEM with an encrypted PKCS#8 key',
    options: { subject: { kind: 'seal', organizationName: 'AR sp. z o.o', nip: '5265877635', commonName: 'A R' }, keyType: 'rsa' },
    load: fromEncryptedPem,
    expectedIdentity: { kind: 'seal', nip: '5265877635', commonName: 'A R' },
    signatureMethod: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  },
  {
    name: 'EC P-256 person certificate (PNOPL PESEL) from PEM with an encrypted PKCS#8 key',
    options: { subject: { kind: 'person', givenName: 'Anna', surname: 'Nowak', pesel: '88102341294' }, keyType: 'ec' },
    load: fromEncryptedPem,
    expectedIdentity: { kind: 'person', pesel: '88102341294', serialNumber: 'PNOPL-88102341294', commonName: 'Anna Nowak' },
    signatureMethod: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
  },
];

describe.each(cases)('signAuthTokenRequest: $name', ({ options, load, expectedIdentity, signatureMethod }) => {
  let dir: TempDir;
  let certificate: TestCertificate;
  let keyMaterial: KeyMaterial;
  let signed: string;

  beforeAll(() => {
    dir = tempDir();
    certificate = generateTestCertificate({ ...options, pkcs12Password: PASSWORD });
    keyMaterial = load(certificate);
    signed = signAuthTokenRequest(authRequest(), keyMaterial);
  });
  afterAll(() => dir.remove());

  it('is verified by xmlsec1 with the KeyInfo certificate trusted', () => {
    const result = run('xmlsec1', [
      '--verify',
      '--trusted-pem',
      dir.file('cert.pem', certificate.certificatePem),
      '--id-attr:Id',
      'SignedProperties',
      dir.file('signed.xml', signed),
    ]);
    expect(result.output).toContain('SignedInfo References (ok/all): 2/2');
    expect(result.status).toBe(0);
  });

  it('is verified by xmlsec1 with only the public key of our certificate file (KeyInfo ignored), and fails with another key', () => {
    const args = (cert: string): string[] => [
      '--verify',
      '--pubkey-cert-pem',
      cert,
      '--enabled-key-data',
      'key-value,key-name',
      '--id-attr:Id',
      'SignedProperties',
      dir.file('signed.xml', signed),
    ];
    expect(run('xmlsec1', args(dir.file('cert.pem', certificate.certificatePem))).status).toBe(0);
    const stranger = generateTestCertificate({ ...options, pkcs12Password: PASSWORD });
    expect(run('xmlsec1', args(dir.file('stranger.pem', stranger.certificatePem))).status).not.toBe(0);
  });

  it('is accepted by the sandbox verifier, which extracts the request and the identity', async () => {
    const result = await verifyXadesAuthTokenRequest(signed);
    if (!result.ok) throw new Error(`rejected: ${result.code} ${result.details.join()}`);
    expect(result.request).toEqual(authRequest());
    expect(result.schemaVersion).toBe('2.0');
    expect(result.signatureForm).toBe('enveloped');
    expect(result.signatureMethod).toBe(signatureMethod);
    expect(result.identity).toMatchObject({ ...expectedIdentity, fingerprintSha256: certificate.fingerprintSha256 });
  });

  it('puts the signature last in the root, keeps the unsigned text byte for byte, and uses the injected clock for SigningTime', () => {
    const unsigned = buildAuthTokenRequestXml(authRequest());
    const clocked = signAuthTokenRequest(authRequest(), keyMaterial, { clock: { now: () => new Date('2026-02-03T04:05:06.789Z') } });
    const signatureStart = clocked.indexOf('<ds:Signature ');
    expect(clocked.slice(0, signatureStart) + clocked.slice(clocked.indexOf('</ds:Signature>') + '</ds:Signature>'.length)).toBe(unsigned);
    expect(clocked.endsWith('</ds:Signature></AuthTokenRequest>')).toBe(true);
    expect(clocked).toContain('<xades:SigningTime>2026-02-03T04:05:06Z</xades:SigningTime>');
  });

  it.each([
    ['a changed challenge', (xml: string) => xml.replace(CHALLENGE, OTHER_CHALLENGE)],
    ['a changed SigningTime', (xml: string) => xml.replace(/<xades:SigningTime>\d{4}/, '<xades:SigningTime>1999')],
    ['a changed context NIP', (xml: string) => xml.replace(`<Nip>${DEMO_NIP}</Nip>`, '<Nip>5265877635</Nip>')],
    ['whitespace added inside the signed document', (xml: string) => xml.replace('<SubjectIdentifierType>', ' <SubjectIdentifierType>')],
  ])('is rejected with 9105 after %s, by us and by xmlsec1', async (_what, tamper) => {
    const tampered = tamper(signed);
    expect(tampered).not.toBe(signed);
    const result = await verifyXadesAuthTokenRequest(tampered);
    expect(result).toMatchObject({ ok: false, code: 9105, description: 'Nieprawidłowy podpis.' });
    expect(!result.ok && result.details).toEqual([
      'Podpis zweryfikowany negatywnie.',
      expect.stringMatching(/digest of Reference #\d .* does not match/),
    ]);
    const xmlsec = run('xmlsec1', [
      '--verify',
      '--trusted-pem',
      dir.file('cert.pem', certificate.certificatePem),
      '--id-attr:Id',
      'SignedProperties',
      dir.file('tampered.xml', tampered),
    ]);
    expect(xmlsec.status).not.toBe(0);
  });

  it('is rejected with 9105 when KeyInfo carries another certificate (swapped certificate)', async () => {
    const stranger = generateTestCertificate({ ...options, pkcs12Password: PASSWORD });
    const strangerBase64 = stranger.certificatePem.replace(/-----[A-Z ]+-----|\s/g, '');
    const swapped = signed.replace(
      /<ds:X509Certificate>[^<]+<\/ds:X509Certificate>/,
      `<ds:X509Certificate>${strangerBase64}</ds:X509Certificate>`,
    );
    const result = await verifyXadesAuthTokenRequest(swapped);
    expect(result).toMatchObject({ ok: false, code: 9105 });
    expect(!result.ok && result.details.join(' ')).toMatch(/SignatureValue does not verify/);
  });
});

describe('the unsigned AuthTokenRequest against the official XSD', () => {
  const specDir = findSpecFolder();
  const policy = {
    allowedIps: { ip4Addresses: ['192.168.0.1', '10.0.0.255'], ip4Ranges: ['222.111.0.1-222.111.0.255'], ip4Masks: ['192.168.1.0/24'] },
  };
  const requests = [
    authRequest(),
    authRequest({ contextIdentifier: { type: 'InternalId', value: '5265877635-12345' }, subjectIdentifierType: 'certificateFingerprint' }),
    authRequest({ contextIdentifier: { type: 'NipVatUe', value: '5265877635-ATU12345678' }, authorizationPolicy: policy }),
    authRequest({ contextIdentifier: { type: 'PeppolId', value: 'PPL123456' }, authorizationPolicy: { allowedIps: {} } }),
  ];

  it('finds the spec folder (the XSD checks below need it)', () => {
    expect(specDir).toBeDefined();
  });

  it.each(requests.map((r) => [r.contextIdentifier.type, r] as const))(
    '%s request validates with xmllint-wasm (2.0 and 2.1 namespaces)',
    async (_type, request) => {
      expect(await validateAuthTokenRequestXsd(buildAuthTokenRequestXml(request), specDir)).toEqual([]);
      expect(await validateAuthTokenRequestXsd(buildAuthTokenRequestXml(request, { schemaVersion: '2.1' }), specDir)).toEqual([]);
    },
  );

  const xmllintSchema = (xsdText: string, xml: string): ReturnType<typeof run> => {
    const dir = tempDir();
    try {
      return run('xmllint', ['--noout', '--schema', dir.file('auth.xsd', xsdText), dir.file('request.xml', xml)]);
    } finally {
      dir.remove();
    }
  };
  const officialXsd = (): string => fs.readFileSync(path.join(specDir!, 'ksef-docs', AUTH_TOKEN_XSD_PATH), 'utf8');

  it.each(requests.slice(0, 2).map((r) => [r.contextIdentifier.type, r] as const))(
    '%s request (namespace 2.1) validates with `xmllint --schema` and the XSD as published',
    (_type, request) => {
      const result = xmllintSchema(officialXsd(), buildAuthTokenRequestXml(request, { schemaVersion: '2.1' }));
      expect(result.output).toContain('validates');
      expect(result.status).toBe(0);
    },
  );

  it.each(requests.map((r) => [r.contextIdentifier.type, r] as const))(
    '%s request (namespace 2.1) validates with `xmllint --schema` and the ^/$-stripped XSD',
    (_type, request) => {
      const result = xmllintSchema(withoutLiteralAnchors(officialXsd()), buildAuthTokenRequestXml(request, { schemaVersion: '2.1' }));
      expect(result.output).toContain('validates');
      expect(result.status).toBe(0);
    },
  );

  it('the XSD as published rejects the documented PeppolId/NipVatUe forms in libxml2 (literal ^ and $), hence the in-memory fix', () => {
    const result = xmllintSchema(officialXsd(), buildAuthTokenRequestXml(requests[3], { schemaVersion: '2.1' }));
    expect(result.output).toMatch(/PeppolId.*not accepted by the pattern '\^P/);
  });

  it('reports a schema violation (sanity check that the validator can fail)', async () => {
    const broken = buildAuthTokenRequestXml(authRequest()).replace('<SubjectIdentifierType>', '<Extra/><SubjectIdentifierType>');
    const errors = await validateAuthTokenRequestXsd(broken, specDir);
    expect(errors?.join('\n')).toMatch(/Extra/);
  });
});

describe('an EC P-384 key (certificate made by openssl)', () => {
  it('signs with ecdsa-sha384; xmlsec1 and the sandbox verifier accept it', async () => {
    const dir = tempDir();
    try {
      const keyFile = dir.file('p384.key', '');
      const certFile = dir.file('p384.pem', '');
      const subject = `/organizationIdentifier=VATPL-${DEMO_NIP}/O=Firma/CN=Firma/C=PL`;
      const made = run('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-384',
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
      const keyMaterial = loadKeyMaterial({ certificatePem: fs.readFileSync(certFile), privateKeyPem: fs.readFileSync(keyFile) });
      const signed = signAuthTokenRequest(authRequest(), keyMaterial);
      expect(
        run('xmlsec1', ['--verify', '--trusted-pem', certFile, '--id-attr:Id', 'SignedProperties', dir.file('signed.xml', signed)]).status,
      ).toBe(0);
      const result = await verifyXadesAuthTokenRequest(signed);
      expect(result).toMatchObject({
        ok: true,
        signatureMethod: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384',
        identity: { kind: 'seal', nip: DEMO_NIP },
      });
    } finally {
      dir.remove();
    }
  });
});

describe('signXadesEnveloped input checks', () => {
  let keyMaterial: KeyMaterial;
  beforeAll(() => {
    keyMaterial = fromPkcs12(
      generateTestCertificate({
        subject: { kind: 'person', givenName: 'A', surname: 'R', nip: DEMO_NIP },
        keyType: 'ec',
        pkcs12Password: PASSWORD,
      }),
    );
  });

  it('refuses to sign a document that is already signed', () => {
    const signed = signAuthTokenRequest(authRequest(), keyMaterial);
    expect(() => signXadesEnveloped(signed, keyMaterial)).toThrow(/already signed/);
  });

  it('refuses XML that is not well-formed, naming the field', () => {
    expect(() => signXadesEnveloped('<AuthTokenRequest>', keyMaterial)).toThrow(KsefInputError);
  });
});
