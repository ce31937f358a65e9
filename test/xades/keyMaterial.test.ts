/** Loading signing keys and certificates: PKCS#12 and PEM inputs (ours and OpenSSL's), and every bad-input error. */
import { createPrivateKey } from 'node:crypto';
import * as fs from 'node:fs';
import { KsefInputError } from '../../shared/http/errors';
import {
  KeyMaterialError,
  loadKeyMaterial,
  type KeyMaterialProblem,
  type KeyMaterialSource,
  type LoadKeyMaterialOptions,
} from '../../shared/protocol/x509/keyMaterial';
import { generateTestCertificate, type TestCertificate } from '../../shared/protocol/x509/testCertificates';
import { DEMO_NIP, run, tempDir, type TempDir } from './fixtures';
import { expectNoPemSecret } from '../support/secrets';

const NON_ASCII_PASSWORD = 'Zażółć gęślą jaźń';
const ASCII_PASSWORD = 's3cret-P12';
const DAY_MS = 24 * 3600 * 1000;

let dir: TempDir;
let rsa: TestCertificate;
let ec: TestCertificate;

beforeAll(() => {
  dir = tempDir();
  rsa = generateTestCertificate({
    subject: { kind: 'person', givenName: 'Jan', surname: 'Kowalski', nip: DEMO_NIP },
    pkcs12Password: ASCII_PASSWORD,
  });
  ec = generateTestCertificate({
    subject: { kind: 'seal', organizationName: 'Firma', nip: DEMO_NIP },
    keyType: 'ec',
    pkcs12Password: ASCII_PASSWORD,
  });
});
afterAll(() => dir.remove());

function expectProblem(
  source: KeyMaterialSource,
  problem: KeyMaterialProblem,
  field: string,
  options: LoadKeyMaterialOptions = {},
): KeyMaterialError {
  let caught: unknown;
  try {
    loadKeyMaterial(source, options);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(KeyMaterialError);
  expect(caught).toBeInstanceOf(KsefInputError);
  const error = caught as KeyMaterialError;
  expect({ problem: error.problem, field: error.field }).toEqual({ problem, field });
  const everything = `${error.message} ${JSON.stringify(error)} ${String(error.stack)}`;
  for (const secret of [NON_ASCII_PASSWORD, ASCII_PASSWORD, 'pem-passphrase', 'wrong-passphrase', 'wrong password'])
    expect(everything).not.toContain(secret);
  for (const key of [rsa.privateKeyPem, ec.privateKeyPem]) expectNoPemSecret(everything, key);
  return error;
}

describe('loading', () => {
  it('reads our PKCS#12 (Buffer and Base64 text) for RSA and EC keys', () => {
    for (const certificate of [rsa, ec]) {
      const fromBuffer = loadKeyMaterial({ pkcs12: certificate.pkcs12, password: ASCII_PASSWORD });
      const fromBase64 = loadKeyMaterial({ pkcs12: certificate.pkcs12.toString('base64'), password: ASCII_PASSWORD });
      expect(fromBuffer.certificate.fingerprintSha256).toBe(certificate.fingerprintSha256);
      expect(fromBase64.certificate.fingerprintSha256).toBe(certificate.fingerprintSha256);
      expect(fromBuffer.privateKey.export({ format: 'pem', type: 'pkcs8' })).toBe(certificate.privateKeyPem);
    }
  });

  it('reads a PKCS#12 protected by a non-ASCII password (ours, and one exported by openssl)', () => {
    const certificate = generateTestCertificate({
      subject: { kind: 'seal', organizationName: 'Firma', nip: DEMO_NIP },
      keyType: 'ec',
      pkcs12Password: NON_ASCII_PASSWORD,
    });
    expect(loadKeyMaterial({ pkcs12: certificate.pkcs12, password: NON_ASCII_PASSWORD }).certificate.fingerprintSha256).toBe(
      certificate.fingerprintSha256,
    );
    const out = dir.file('non-ascii.p12', '');
    const exported = run('openssl', [
      'pkcs12',
      '-export',
      '-passout',
      `pass:${NON_ASCII_PASSWORD}`,
      '-out',
      out,
      '-inkey',
      dir.file('k.pem', certificate.privateKeyPem),
      '-in',
      dir.file('c.pem', certificate.certificatePem),
    ]);
    expect(exported.status).toBe(0);
    expect(loadKeyMaterial({ pkcs12: fs.readFileSync(out), password: NON_ASCII_PASSWORD }).certificate.fingerprintSha256).toBe(
      certificate.fingerprintSha256,
    );
    expectProblem({ pkcs12: certificate.pkcs12, password: 'Zazolc gesla jazn' }, 'wrong-password', 'credentials.password');
  });

  it.each([
    ['OpenSSL 3 defaults (AES-256, SHA-256 MAC)', [] as string[]],
    ['legacy 3DES key and certificate bags, SHA-1 MAC', ['-certpbe', 'PBE-SHA1-3DES', '-keypbe', 'PBE-SHA1-3DES', '-macalg', 'sha1']],
  ])('reads a PKCS#12 exported by openssl with %s, keeping the certificate bytes', (_name, flags) => {
    for (const certificate of [rsa, ec]) {
      const out = dir.file('exported.p12', '');
      const result = run('openssl', [
        'pkcs12',
        '-export',
        ...flags,
        '-passout',
        `pass:${ASCII_PASSWORD}`,
        '-out',
        out,
        '-inkey',
        dir.file('key.pem', certificate.privateKeyPem),
        '-in',
        dir.file('cert.pem', certificate.certificatePem),
      ]);
      expect(result.status).toBe(0);
      const loaded = loadKeyMaterial({ pkcs12: fs.readFileSync(out), password: ASCII_PASSWORD });
      expect(loaded.certificate.fingerprintSha256).toBe(certificate.fingerprintSha256);
    }
  });

  it('reads PEM with unencrypted, encrypted PKCS#8 and legacy encrypted (Proc-Type) keys, picking the certificate of the key from a chain', () => {
    const key = createPrivateKey(rsa.privateKeyPem);
    const encryptedPkcs8 = key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'pem-passphrase' });
    const legacyEncrypted = key.export({ format: 'pem', type: 'pkcs1', cipher: 'aes-256-cbc', passphrase: 'pem-passphrase' });
    expect(legacyEncrypted).toContain('Proc-Type: 4,ENCRYPTED');
    const chain = ec.certificatePem + rsa.certificatePem;
    for (const [privateKeyPem, passphrase] of [
      [rsa.privateKeyPem, undefined],
      [encryptedPkcs8, 'pem-passphrase'],
      [legacyEncrypted, 'pem-passphrase'],
    ] as const) {
      const loaded = loadKeyMaterial({ certificatePem: chain, privateKeyPem, passphrase });
      expect(loaded.certificate.fingerprintSha256).toBe(rsa.fingerprintSha256);
      expect(loaded.certificate.keyBits).toBe(2048);
    }
  });
});

describe('errors before anything is sent', () => {
  it('wrong PKCS#12 password', () => {
    expectProblem({ pkcs12: rsa.pkcs12, password: 'wrong password' }, 'wrong-password', 'credentials.password');
  });

  it('wrong or missing PEM passphrase', () => {
    const encrypted = createPrivateKey(ec.privateKeyPem).export({
      format: 'pem',
      type: 'pkcs8',
      cipher: 'aes-256-cbc',
      passphrase: 'pem-passphrase',
    });
    expectProblem(
      { certificatePem: ec.certificatePem, privateKeyPem: encrypted, passphrase: 'wrong-passphrase' },
      'wrong-password',
      'credentials.passphrase',
    );
    expectProblem({ certificatePem: ec.certificatePem, privateKeyPem: encrypted }, 'missing-password', 'credentials.passphrase');
  });

  it('expired and not-yet-valid certificates (injected clock), naming the date', () => {
    const source = { pkcs12: rsa.pkcs12, password: ASCII_PASSWORD };
    const expired = expectProblem(source, 'expired', 'credentials.pkcs12', { clock: { now: () => new Date(Date.now() + 800 * DAY_MS) } });
    expect(expired.message).toMatch(/expired on \d{4}-\d\d-\d\d/);
    expectProblem(source, 'not-yet-valid', 'credentials.pkcs12', { clock: { now: () => new Date(Date.now() - DAY_MS) } });
  });

  it('a key that does not belong to the certificate', () => {
    expectProblem({ certificatePem: rsa.certificatePem, privateKeyPem: ec.privateKeyPem }, 'key-mismatch', 'credentials.certificatePem');
    const otherRsa = generateTestCertificate({
      subject: { kind: 'seal', organizationName: 'X', nip: DEMO_NIP },
      pkcs12Password: ASCII_PASSWORD,
    });
    expectProblem(
      { certificatePem: rsa.certificatePem, privateKeyPem: otherRsa.privateKeyPem },
      'key-mismatch',
      'credentials.certificatePem',
      { field: 'credentials' },
    );
  });

  it('an RSA key under 2048 bits, and curves KSeF does not accept', () => {
    const weak = makeOpenSslCertificate(['-newkey', 'rsa:1024']);
    expect(expectProblem(weak, 'weak-key', 'credentials.privateKeyPem').message).toMatch(/1024 bits.*at least 2048/);
    expectProblem(
      makeOpenSslCertificate(['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1']),
      'unsupported-key',
      'credentials.privateKeyPem',
    );
    expectProblem(makeOpenSslCertificate(['-newkey', 'ed25519']), 'unsupported-key', 'credentials.privateKeyPem');
  });

  it('unreadable inputs', () => {
    expectProblem({ pkcs12: Buffer.from('not a pkcs12 file'), password: ASCII_PASSWORD }, 'unreadable', 'credentials.pkcs12');
    expectProblem({ certificatePem: 'nothing here', privateKeyPem: rsa.privateKeyPem }, 'unreadable', 'credentials.certificatePem');
    expectProblem({ certificatePem: rsa.certificatePem, privateKeyPem: 'nothing here' }, 'unreadable', 'credentials.privateKeyPem');
  });

  it('uses the caller-chosen field prefix', () => {
    expectProblem({ pkcs12: rsa.pkcs12, password: 'wrong password' }, 'wrong-password', 'node.credentials.password', {
      field: 'node.credentials',
    });
  });
});

function makeOpenSslCertificate(keyArgs: string[]): KeyMaterialSource {
  const keyFile = dir.file('generated.key', '');
  const certFile = dir.file('generated.pem', '');
  const result = run('openssl', [
    'req',
    '-x509',
    ...keyArgs,
    '-nodes',
    '-subj',
    '/CN=Test/C=PL',
    '-days',
    '2',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  expect(result.status).toBe(0);
  return { certificatePem: fs.readFileSync(certFile), privateKeyPem: fs.readFileSync(keyFile) };
}
