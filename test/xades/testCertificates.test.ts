/** Generated self-signed test certificates, read back by OpenSSL (independent of our code). */
import { X509Certificate } from 'node:crypto';
import { KsefInputError } from '../../shared/http/errors';
import {
  TEST_CERTIFICATE_WARNING,
  generateTestCertificate,
  type TestCertificateOptions,
} from '../../shared/protocol/x509/testCertificates';
import { DEMO_NIP, run, tempDir, type TempDir } from './fixtures';

const PASSWORD = 'test-p12-password';
let dir: TempDir;
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => dir.remove());

describe.each([
  [
    'RSA person with NIP',
    { subject: { kind: 'person', givenName: 'Jan', surname: 'Kowalski', nip: DEMO_NIP, commonName: 'M B' }, keyType: 'rsa' },
    'GN = Jan, SN = Kowalski, serialNumber = TINPL-1234563218, CN = M B, C = PL',
    'rsaEncryption',
  ],
  [
    'EC person with PESEL',
    { subject: { kind: 'person', givenName: 'Anna', surname: 'Nowak', pesel: '88102341294' }, keyType: 'ec' },
    'GN = Anna, SN = Nowak, serialNumber = PNOPL-88102341294, CN = Anna Nowak, C = PL',
    'id-ecPublicKey',
  ],
  [
    'EC seal',
    { subject: { kind: 'seal', organizationName: 'Kowalski sp. z o.o', nip: DEMO_NIP, commonName: 'Kowalski' }, keyType: 'ec' },
    'organizationIdentifier = VATPL-1234563218, O = Kowalski sp. z o.o, CN = Kowalski, C = PL',
    'id-ecPublicKey',
  ],
  [
    'RSA seal',
    { subject: { kind: 'seal', organizationName: 'AR sp. z o.o', nip: DEMO_NIP } },
    'organizationIdentifier = VATPL-1234563218, O = AR sp. z o.o, CN = AR sp. z o.o, C = PL',
    'rsaEncryption',
  ],
] as [string, Omit<TestCertificateOptions, 'pkcs12Password'>, string, string][])('%s', (_name, options, expectedSubject, keyAlgorithm) => {
  const now = new Date();
  const certificate = generateTestCertificate({ ...options, pkcs12Password: PASSWORD, clock: { now: () => now } });

  it('is a PKCS#12 that openssl opens with the chosen password (and not without it)', () => {
    const file = dir.file('cert.p12', certificate.pkcs12);
    const info = run('openssl', ['pkcs12', '-info', '-nokeys', '-passin', `pass:${PASSWORD}`, '-in', file]);
    expect(info.status).toBe(0);
    expect(info.output).toContain(`subject=${expectedSubject}`);
    expect(info.output).toContain('Shrouded Keybag');
    expect(run('openssl', ['pkcs12', '-info', '-nokeys', '-passin', 'pass:wrong', '-in', file]).status).not.toBe(0);
  });

  it('holds the returned private key in the PKCS#12', () => {
    const keys = run('openssl', [
      'pkcs12',
      '-nocerts',
      '-nodes',
      '-passin',
      `pass:${PASSWORD}`,
      '-in',
      dir.file('cert.p12', certificate.pkcs12),
    ]);
    const extracted = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(keys.output)?.[0];
    expect(extracted?.replace(/\s/g, '')).toBe(certificate.privateKeyPem.replace(/\s/g, ''));
  });

  it('is a self-signed X.509 v3 certificate with the subject of the official clients, valid from an hour ago', () => {
    const text = run('openssl', ['x509', '-noout', '-text', '-in', dir.file('cert.pem', certificate.certificatePem)]).output;
    expect(text).toContain(`Subject: ${expectedSubject}`);
    expect(text).toContain(`Issuer: ${expectedSubject}`);
    expect(text).toContain(keyAlgorithm);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Non Repudiation/);
    expect(
      run('openssl', [
        'verify',
        '-CAfile',
        dir.file('ca.pem', certificate.certificatePem),
        '-partial_chain',
        dir.file('cert.pem', certificate.certificatePem),
      ]).status,
    ).toBe(0);
    const x509 = new X509Certificate(certificate.certificatePem);
    expect(new Date(x509.validFrom).getTime()).toBe(Math.floor((now.getTime() - 61 * 60 * 1000) / 1000) * 1000);
    expect(x509.fingerprint256.replace(/:/g, '')).toBe(certificate.fingerprintSha256);
  });
});

describe('input checks', () => {
  const person = { kind: 'person' as const, givenName: 'Jan', surname: 'Kowalski' };
  it.each([
    ['both NIP and PESEL', { subject: { ...person, nip: DEMO_NIP, pesel: '88102341294' } }, 'subject.nip'],
    ['neither NIP nor PESEL', { subject: person }, 'subject.nip'],
    ['a NIP that is not 10 digits', { subject: { ...person, nip: '123' } }, 'subject.nip'],
    ['a PESEL that is not 11 digits', { subject: { ...person, pesel: '8810234129X' } }, 'subject.pesel'],
    ['a seal without organisation name', { subject: { kind: 'seal', organizationName: ' ', nip: DEMO_NIP } }, 'subject.organizationName'],
    ['an empty PKCS#12 password', { subject: { ...person, nip: DEMO_NIP }, pkcs12Password: '' }, 'pkcs12Password'],
    ['an unknown key type', { subject: { ...person, nip: DEMO_NIP }, keyType: 'dsa' }, 'keyType'],
  ])('rejects %s, naming the field', (_name, options, field) => {
    const call = (): unknown => generateTestCertificate({ pkcs12Password: PASSWORD, ...options } as TestCertificateOptions);
    expect(call).toThrow(KsefInputError);
    try {
      call();
    } catch (error) {
      expect((error as KsefInputError).field).toBe(field);
    }
  });

  it('exports a warning that such certificates work only on the sandbox and TEST', () => {
    expect(TEST_CERTIFICATE_WARNING).toMatch(/sandbox/);
    expect(TEST_CERTIFICATE_WARNING).toMatch(/TEST/);
  });
});
