import { X509Certificate } from 'node:crypto';
import { KsefAuthError, KsefForbiddenError, KsefInputError, KsefError, type KsefCertificateInfo, type KsefClient } from '../../shared';
import { collect } from './support/collect';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import { certificateClient, exchangeCount, pkcs12Credentials, sealOf } from './support/certificates';
import { RecordingLogger } from './support/time';

const PASSWORD = 'My-New-Certificate-Pa55';

describe('KSeF certificates', () => {
  let sandbox: RecordedSandbox;
  let owner: KsefClient;
  let logger: RecordingLogger;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox();
    logger = new RecordingLogger();
    owner = certificateClient(sandbox, pkcs12Credentials(sandbox, sealOf(sandbox.contextIdentifier.value, 'ec')), { logger });
  });
  afterEach(async () => {
    await owner.close();
    await sandbox.close();
  });

  it('enrolls for an authentication certificate whose PKCS#12 then authenticates by XAdES', async () => {
    const data = await owner.certificates.enrollmentData();
    expect(data).toMatchObject({ commonName: expect.any(String), countryName: 'PL', organizationIdentifier: expect.stringContaining(sandbox.contextIdentifier.value) });
    const limits = await owner.certificates.limits();
    expect(limits.canRequest).toBe(true);

    const enrolled = await owner.certificates.enroll({ certificateName: 'Integracja ERP łódź', certificateType: 'Authentication', pkcs12Password: PASSWORD });
    expect(enrolled).toMatchObject({
      serialNumber: expect.stringMatching(/^[0-9A-F]{16}$/),
      certificateName: 'Integracja ERP łódź',
      certificateType: 'Authentication',
      referenceNumber: expect.stringMatching(/^\d{8}-[A-Z]{2}-/),
    });
    const x509 = new X509Certificate(enrolled.certificatePem);
    expect(x509.subject).toContain(`CN=${data.commonName}`);
    expect(x509.publicKey.asymmetricKeyType).toBe('ec');
    expect(Date.parse(enrolled.validTo)).toBeGreaterThan(Date.now());
    expect(logger.text()).not.toContain(PASSWORD);
    expect(logger.text()).not.toContain(enrolled.privateKeyPem.split('\n')[1]);
    expect(await owner.certificates.limits()).toMatchObject({ certificate: { remaining: limits.certificate.remaining - 1 } });

    const withKsefCertificate = certificateClient(sandbox, {
      method: 'certificate',
      contextIdentifier: sandbox.contextIdentifier,
      certificate: { pkcs12: enrolled.pkcs12, password: PASSWORD },
    });
    const auth = await withKsefCertificate.authenticate();
    await withKsefCertificate.close();
    expect(auth.referenceNumber).toMatch(/^\d{8}-AU-/);

    await owner.certificates.revoke(enrolled.serialNumber, 'KeyCompromise');
    const afterRevocation = certificateClient(sandbox, {
      method: 'certificate',
      contextIdentifier: sandbox.contextIdentifier,
      certificate: { pkcs12: enrolled.pkcs12.toString('base64'), password: PASSWORD },
    });
    const failure = await afterRevocation.authenticate().catch((error: unknown) => error);
    await afterRevocation.close();
    expect(failure).toBeInstanceOf(KsefAuthError);
    expect(failure).toMatchObject({ field: 'credentials.certificate', message: expect.stringMatching(/\(460 .*Certyfikat odwołany/) });
  });

  it('enrolls with an RSA key, then queries, retrieves and revokes the certificate', async () => {
    const enrolled = await owner.certificates.enroll({ certificateName: 'Offline RSA', certificateType: 'Offline', keyType: 'RSA', pkcs12Password: PASSWORD });
    expect(new X509Certificate(enrolled.certificatePem).publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);

    const offline = await collect(owner.certificates.query({ type: 'Offline', pageSize: 10 }));
    expect(offline.map((c: KsefCertificateInfo) => c.certificateSerialNumber)).toEqual([enrolled.serialNumber]);
    expect(offline[0]).toMatchObject({ name: 'Offline RSA', status: 'Active', type: 'Offline' });

    const [retrieved] = await owner.certificates.retrieve([enrolled.serialNumber]);
    expect(retrieved).toEqual({
      certificateSerialNumber: enrolled.serialNumber,
      certificateName: 'Offline RSA',
      certificateType: 'Offline',
      certificatePem: enrolled.certificatePem,
    });

    await owner.certificates.revoke(enrolled.serialNumber, 'Superseded');
    const [revoked] = await collect(owner.certificates.query({ certificateSerialNumber: enrolled.serialNumber }));
    expect(revoked.status).toBe('Revoked');
    const again = await owner.certificates.revoke(enrolled.serialNumber).catch((error: unknown) => error);
    expect(again).toBeInstanceOf(KsefError);
    expect((again as KsefError).hasCode(25009)).toBe(true);
  });

  it('queries page by page while KSeF reports more', async () => {
    await sandbox.close();
    sandbox = await startRecordedSandbox({ rateLimits: { other: { perSecond: 100, perMinute: 1000, perHour: 10000 } } });
    await owner.close();
    owner = certificateClient(sandbox, pkcs12Credentials(sandbox, sealOf(sandbox.contextIdentifier.value, 'ec')));
    const serials: string[] = [];
    for (let i = 1; i <= 11; i++) {
      serials.push((await owner.certificates.enroll({ certificateName: `Cert ${i} of 11`, certificateType: 'Offline', pkcs12Password: PASSWORD })).serialNumber);
    }
    const listed = await collect(owner.certificates.query({ name: 'of 11', pageSize: 10 }));
    expect(listed.map((c) => c.certificateSerialNumber).sort()).toEqual(serials.sort());
    const pages = sandbox.exchanges.filter((e) => e.operation === 'POST /certificates/query').map((e) => new URL(e.url, 'http://x').searchParams.get('pageOffset'));
    expect(pages).toEqual(['0', '1']);
  });

  it('explains that certificates need certificate authentication when the client used a KSeF token', async () => {
    const byToken = clientOf(sandbox);
    const failure = await byToken.certificates.enrollmentData().catch((error: unknown) => error);
    await byToken.close();
    expect(failure).toBeInstanceOf(KsefForbiddenError);
    expect(failure).toMatchObject({ field: 'credentials.method', message: expect.stringMatching(/only after authenticating with a certificate/) });
    expect((failure as KsefError).hasCode(25001)).toBe(true);
  });

  it('refuses bad input before sending anything', async () => {
    const cases: [() => Promise<unknown>, string][] = [
      [() => owner.certificates.enroll({ certificateName: 'abc', certificateType: 'Authentication', pkcs12Password: PASSWORD }), 'options.certificateName'],
      [() => owner.certificates.enroll({ certificateName: 'Name <script>', certificateType: 'Authentication', pkcs12Password: PASSWORD }), 'options.certificateName'],
      [() => owner.certificates.enroll({ certificateName: 'Valid name', certificateType: 'Signing' as never, pkcs12Password: PASSWORD }), 'options.certificateType'],
      [() => owner.certificates.enroll({ certificateName: 'Valid name', certificateType: 'Offline', keyType: 'DSA' as never, pkcs12Password: PASSWORD }), 'options.keyType'],
      [() => owner.certificates.enroll({ certificateName: 'Valid name', certificateType: 'Offline', pkcs12Password: '' }), 'options.pkcs12Password'],
      [() => owner.certificates.enroll({ certificateName: 'Valid name', certificateType: 'Offline', pkcs12Password: PASSWORD, validFrom: 'tomorrow' }), 'options.validFrom'],
      [() => owner.certificates.retrieve([]), 'serialNumbers'],
      [() => owner.certificates.retrieve(['0321c82da41b4362']), 'serialNumbers[0]'],
      [() => owner.certificates.revoke('123'), 'serialNumber'],
      [() => owner.certificates.revoke('0321C82DA41B4362', 'Lost' as never), 'reason'],
      [() => collect(owner.certificates.query({ pageSize: 100 })), 'options.pageSize'],
      [() => collect(owner.certificates.query({ status: 'Valid' as never })), 'options.status'],
    ];
    for (const [call, field] of cases) {
      const failure = await call().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(KsefInputError);
      expect((failure as KsefInputError).field).toBe(field);
      expect((failure as KsefInputError).message).not.toContain(PASSWORD);
    }
    expect(exchangeCount(sandbox)).toBe(0);
  });
});
