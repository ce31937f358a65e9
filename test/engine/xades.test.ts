import { X509Certificate } from 'node:crypto';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import {
  KeyMaterialError,
  KsefAuthError,
  KsefInputError,
  MemoryTokenStore,
  TEST_CERTIFICATE_WARNING,
  createKsefClient,
  type AuthTokens,
  type CertificateCredentials,
} from '../../shared';
import { DEFAULT_SANDBOX_NIP, embeddedSandbox, ensureEmbeddedSandbox } from '../../sandbox';
import { startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import {
  PEM_PASSPHRASE,
  PKCS12_PASSWORD,
  anonymousCertificate,
  certificateClient,
  encryptedKeyPem,
  exchangeCount,
  personOf,
  pkcs12Credentials,
  sealOf,
  weakRsaSeal,
} from './support/certificates';
import { startFaultProxy } from './support/faultProxy';
import { ManualClock, RecordingLogger } from './support/time';
import { pemSecretParts } from '../support/secrets';

class RecordingStore extends MemoryTokenStore {
  readonly keys: string[] = [];
  override set(key: string, tokens: AuthTokens): void {
    this.keys.push(key);
    super.set(key, tokens);
  }
}

const TEN_ADDRESSES = Array.from({ length: 10 }, (_, i) => `192.0.2.${i + 1}`);

function signedRequestBodies(sandbox: RecordedSandbox): string[] {
  return sandbox.exchanges.filter((e) => e.operation === 'POST /auth/xades-signature').map((e) => e.requestBody.toString('utf8'));
}

describe('certificate (XAdES) authentication', () => {
  let sandbox: RecordedSandbox;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox();
  });
  afterEach(() => sandbox.close());

  it('authenticates with a self-signed RSA seal from PKCS#12 and sends an invoice with the tokens', async () => {
    const seal = sealOf(sandbox.contextIdentifier.value, 'rsa');
    expect(seal.warning).toBe(TEST_CERTIFICATE_WARNING);
    const store = new RecordingStore();
    const logger = new RecordingLogger();
    const client = certificateClient(sandbox, pkcs12Credentials(sandbox, seal), { tokenStore: store, logger });

    const result = await client.authenticate();
    const sent = await client.sessions.online.send([buildDemoInvoice()], { fetchUpo: false });
    await client.close();

    expect(result).toMatchObject({ referenceNumber: expect.stringMatching(/^\d{8}-AU-/), contextIdentifier: sandbox.contextIdentifier });
    expect(sent.invoices[0]).toMatchObject({ accepted: true, ksefNumber: expect.any(String) });
    const [body] = signedRequestBodies(sandbox);
    expect(body).toContain('<AuthTokenRequest xmlns="http://ksef.mf.gov.pl/auth/token/2.0">');
    expect(body).toContain('<SubjectIdentifierType>certificateSubject</SubjectIdentifierType>');
    expect(body).toMatch(/<ds:Signature [^>]*>[\s\S]*<\/ds:Signature>\s*<\/AuthTokenRequest>\s*$/);
    const request = sandbox.exchanges.find((e) => e.operation === 'POST /auth/xades-signature')!;
    expect(request.requestHeaders['content-type']).toBe('application/xml');

    // The cache key names the certificate by its fingerprint, never by a secret.
    expect(store.keys).toHaveLength(1);
    expect(store.keys[0]).toContain(seal.fingerprintSha256);
    const tokens = store.get(store.keys[0])!;
    const secrets = [PKCS12_PASSWORD, ...pemSecretParts(seal.privateKeyPem), tokens.accessToken.token, tokens.refreshToken.token];
    for (const secret of secrets) {
      expect(store.keys[0]).not.toContain(secret);
      expect(logger.text()).not.toContain(secret);
      expect(JSON.stringify(result)).not.toContain(secret);
    }
  });

  it('authenticates with a person certificate in PEM with an encrypted EC key, using AuthTokenRequest 2.1', async () => {
    const person = personOf(sandbox.contextIdentifier.value, 'ec');
    const client = certificateClient(sandbox, {
      method: 'certificate',
      contextIdentifier: sandbox.contextIdentifier,
      certificate: { certificatePem: person.certificatePem, privateKeyPem: encryptedKeyPem(person), passphrase: PEM_PASSPHRASE },
      authTokenRequestSchema: '2.1',
    });
    const result = await client.authenticate();
    await client.close();

    expect(result.referenceNumber).toMatch(/^\d{8}-AU-/);
    const [body] = signedRequestBodies(sandbox);
    expect(body).toContain('xmlns="http://ksef.mf.gov.pl/auth/token/2.1"');
    expect(body).toContain('Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"');
  });

  it('puts the authorization policy into the signed request, seeded with the client IP KSeF reported', async () => {
    const seal = sealOf(sandbox.contextIdentifier.value, 'ec');
    const client = certificateClient(
      sandbox,
      pkcs12Credentials(sandbox, seal, {
        authorizationPolicy: {
          allowedIps: { ip4Masks: ['10.0.0.0/8'], ip4Ranges: ['192.168.0.1-192.168.0.20'] },
          allowChallengeClientIp: true,
        },
      }),
    );
    await client.authenticate();
    const sent = await client.sessions.online.send([buildDemoInvoice()], { fetchUpo: false });
    await client.close();

    const challenge = JSON.parse(sandbox.exchanges.find((e) => e.operation === 'POST /auth/challenge')!.responseBody.toString('utf8'));
    const [body] = signedRequestBodies(sandbox);
    expect(body).toContain(`<Ip4Address>${challenge.clientIp}</Ip4Address>`);
    expect(body).toContain('<Ip4Range>192.168.0.1-192.168.0.20</Ip4Range>');
    expect(body).toContain('<Ip4Mask>10.0.0.0/8</Ip4Mask>');
    expect(sent.invoices[0].accepted).toBe(true);
  });

  it('takes ten IP addresses when the challenge client IP is not to be added', async () => {
    const client = certificateClient(
      sandbox,
      pkcs12Credentials(sandbox, sealOf(sandbox.contextIdentifier.value, 'ec'), {
        authorizationPolicy: { allowedIps: { ip4Addresses: TEN_ADDRESSES } },
      }),
    );
    await client.authenticate();
    await client.close();

    const [body] = signedRequestBodies(sandbox);
    expect(body.match(/<Ip4Address>/g)).toHaveLength(10);
  });

  it('refuses to seed the policy with a client IP that is not IPv4, naming the option, and signs nothing', async () => {
    const proxy = await startFaultProxy(sandbox.baseUrl);
    proxy.inject((request) => request.path === '/auth/challenge', {
      kind: 'rewriteJson',
      change: (challenge) => ({ ...challenge, clientIp: '::1' }),
    });
    const client = certificateClient(
      sandbox,
      pkcs12Credentials(sandbox, sealOf(sandbox.contextIdentifier.value, 'ec'), { authorizationPolicy: { allowChallengeClientIp: true } }),
      {
        baseUrl: proxy.baseUrl,
      },
    );

    const failure = await client.authenticate().catch((error: unknown) => error);
    await client.close();
    await proxy.close();

    expect(failure).toBeInstanceOf(KsefInputError);
    expect(failure).toMatchObject({
      field: 'credentials.authorizationPolicy.allowChallengeClientIp',
      message: expect.stringMatching(
        /^Allowing the current IP \(allowChallengeClientIp\) is on, but KSeF saw this client at ::1, which is not an IPv4 address; .*turn allowing the current IP off and list the allowed IP addresses/,
      ),
    });
    expect(sandbox.count('POST /auth/challenge')).toBe(1);
    expect(sandbox.count('POST /auth/xades-signature')).toBe(0);
  });

  it('reports a certificate that carries no rights in the context as a KsefAuthError about the certificate', async () => {
    const stranger = sealOf('5265877635', 'rsa');
    const client = certificateClient(sandbox, pkcs12Credentials(sandbox, stranger));
    const failure = await client.authenticate().catch((error: unknown) => error);
    await client.close();

    expect(failure).toBeInstanceOf(KsefAuthError);
    expect((failure as KsefAuthError).field).toBe('credentials.certificate');
    expect((failure as KsefAuthError).message).toMatch(/refused authentication \d{8}-AU-/);
  });

  it('authenticates a certificate without NIP or PESEL by its fingerprint, once the fingerprint holds permissions', async () => {
    const robot = anonymousCertificate();
    const bySubject = certificateClient(sandbox, {
      method: 'certificate',
      contextIdentifier: sandbox.contextIdentifier,
      certificate: robot,
    });
    const refused = await bySubject.authenticate().catch((error: unknown) => error);
    await bySubject.close();
    expect(refused).toBeInstanceOf(KsefAuthError);
    expect(refused).toMatchObject({
      field: 'credentials.subjectIdentifierType',
      message: expect.stringMatching(
        /^The certificate names no NIP or PESEL KSeF can read: set the subject identifier type to 'certificateFingerprint'/,
      ),
    });
    expect((refused as KsefAuthError).message).not.toContain('credentials.');
    expect((refused as KsefAuthError).hasCode(21406)).toBe(true);

    const fingerprint = new X509Certificate(robot.certificatePem).fingerprint256.replace(/:/g, '');
    sandbox.state.grantPermissions(sandbox.contextIdentifier, { type: 'Fingerprint', value: fingerprint }, ['InvoiceWrite']);
    const byFingerprint = certificateClient(sandbox, {
      method: 'certificate',
      contextIdentifier: sandbox.contextIdentifier,
      certificate: robot,
      subjectIdentifierType: 'certificateFingerprint',
    });
    const sent = await byFingerprint.sessions.online.send([buildDemoInvoice()], { fetchUpo: false });
    await byFingerprint.close();
    expect(sent.invoices[0].accepted).toBe(true);
    expect(signedRequestBodies(sandbox).at(-1)).toContain('<SubjectIdentifierType>certificateFingerprint</SubjectIdentifierType>');
  });

  describe('refuses bad credentials with a clear error before any request', () => {
    const nip = '1234563218';
    const seal = sealOf(nip, 'rsa');
    const other = sealOf(nip, 'ec');
    const expired = sealOf(nip, 'rsa', { now: () => new Date(Date.now() - 400 * 24 * 3600_000) }, 30);
    const weak = weakRsaSeal(nip);
    const cases: {
      name: string;
      certificate: CertificateCredentials['certificate'];
      extra?: Partial<CertificateCredentials>;
      field: string;
      problem?: string;
      message: RegExp;
    }[] = [
      {
        name: 'a wrong PKCS#12 password',
        certificate: { pkcs12: seal.pkcs12, password: 'not-the-password' },
        field: 'credentials.certificate.password',
        problem: 'wrong-password',
        message: /password does not open the PKCS#12/,
      },
      {
        name: 'a PKCS#12 without a password',
        certificate: { pkcs12: seal.pkcs12.toString('base64') },
        field: 'credentials.certificate.password',
        problem: 'missing-password',
        message: /password is required/,
      },
      {
        name: 'a wrong PEM passphrase',
        certificate: { certificatePem: seal.certificatePem, privateKeyPem: encryptedKeyPem(seal), passphrase: 'wrong-passphrase' },
        field: 'credentials.certificate.passphrase',
        problem: 'wrong-password',
        message: /passphrase does not decrypt/,
      },
      {
        name: 'an expired certificate',
        certificate: { pkcs12: expired.pkcs12, password: PKCS12_PASSWORD },
        field: 'credentials.certificate.pkcs12',
        problem: 'expired',
        message: /expired on .*renew it/,
      },
      {
        name: 'a key that does not belong to the certificate',
        certificate: { certificatePem: seal.certificatePem, privateKeyPem: other.privateKeyPem },
        field: 'credentials.certificate.certificatePem',
        problem: 'key-mismatch',
        message: /private key does not belong to the certificate/,
      },
      {
        name: 'an RSA key under 2048 bits',
        certificate: weak,
        field: 'credentials.certificate.privateKeyPem',
        problem: 'weak-key',
        message: /1024 bits; KSeF requires at least 2048/,
      },
      {
        name: 'both PKCS#12 and PEM',
        certificate: {
          pkcs12: seal.pkcs12,
          password: PKCS12_PASSWORD,
          certificatePem: seal.certificatePem,
          privateKeyPem: seal.privateKeyPem,
        },
        field: 'credentials.certificate',
        message: /^The certificate needs either a PKCS#12 file .* or the certificate and private key in PEM .*not both/,
      },
      {
        name: 'an unknown subject identifier type',
        certificate: { pkcs12: seal.pkcs12, password: PKCS12_PASSWORD },
        extra: { subjectIdentifierType: 'nip' as never },
        field: 'credentials.subjectIdentifierType',
        message: /certificateSubject or certificateFingerprint/,
      },
      {
        name: 'an IP mask with a bad prefix',
        certificate: { pkcs12: seal.pkcs12, password: PKCS12_PASSWORD },
        extra: { authorizationPolicy: { allowedIps: { ip4Masks: ['10.0.0.0/33'] } } },
        field: 'credentials.authorizationPolicy.allowedIps.ip4Masks[0]',
        message: /prefix length 0-32/,
      },
      {
        name: 'ten IP addresses with no room left for the challenge client IP',
        certificate: { pkcs12: seal.pkcs12, password: PKCS12_PASSWORD },
        extra: { authorizationPolicy: { allowedIps: { ip4Addresses: TEN_ADDRESSES }, allowChallengeClientIp: true } },
        field: 'credentials.authorizationPolicy.allowedIps.ip4Addresses',
        message:
          /^Allowed IP addresses \(IPv4 addresses\) may hold at most 9 entries when the current IP is also allowed, which adds the client IP KSeF reports with the challenge \(has 10\)\.$/,
      },
      {
        name: 'allowChallengeClientIp that is not a boolean',
        certificate: { pkcs12: seal.pkcs12, password: PKCS12_PASSWORD },
        extra: { authorizationPolicy: { allowChallengeClientIp: 'yes' as never } },
        field: 'credentials.authorizationPolicy.allowChallengeClientIp',
        message: /must be true or false/,
      },
    ];

    it.each(cases)('$name', ({ certificate, extra, field, problem, message }) => {
      const create = () =>
        createKsefClient({
          environment: 'custom',
          baseUrl: sandbox.baseUrl,
          credentials: { method: 'certificate', contextIdentifier: sandbox.contextIdentifier, certificate, ...extra },
        });
      let failure: unknown;
      try {
        create();
      } catch (error) {
        failure = error;
      }
      expect(failure).toBeInstanceOf(KsefInputError);
      const error = failure as KsefInputError;
      expect(error.field).toBe(field);
      expect(error.message).toMatch(message);
      if (problem) expect(error).toMatchObject({ problem });
      const reported = `${error.message} ${JSON.stringify(error.toJSON())}`;
      for (const secret of [
        PKCS12_PASSWORD,
        PEM_PASSPHRASE,
        'not-the-password',
        'wrong-passphrase',
        ...pemSecretParts(seal.privateKeyPem),
      ]) {
        expect(reported).not.toContain(secret);
      }
      expect(exchangeCount(sandbox)).toBe(0);
    });
  });

  it('notices a certificate that expired while the client was alive, before signing', async () => {
    const clock = new ManualClock();
    const seal = sealOf(sandbox.contextIdentifier.value, 'ec', clock, 1);
    const client = certificateClient(sandbox, pkcs12Credentials(sandbox, seal), { clock, sleep: clock.sleep });
    clock.advance(2 * 24 * 3600_000);
    const failure = await client.authenticate().catch((error: unknown) => error);
    await client.close();

    expect(failure).toBeInstanceOf(KeyMaterialError);
    expect(failure).toMatchObject({ problem: 'expired', field: 'credentials.certificate' });
    expect(exchangeCount(sandbox)).toBe(0);
  });

  it('authenticates on the embedded sandbox with only a certificate: the demo context is filled in', async () => {
    const seal = sealOf(DEFAULT_SANDBOX_NIP, 'ec');
    const client = createKsefClient({
      environment: embeddedSandbox(),
      credentials: { method: 'certificate', certificate: { pkcs12: seal.pkcs12.toString('base64'), password: PKCS12_PASSWORD } },
      tokenStore: new MemoryTokenStore(),
    });
    try {
      const result = await client.authenticate();
      expect(result.contextIdentifier).toEqual({ type: 'Nip', value: DEFAULT_SANDBOX_NIP });
    } finally {
      await client.close();
      await (await ensureEmbeddedSandbox()).close();
    }
  });
});
