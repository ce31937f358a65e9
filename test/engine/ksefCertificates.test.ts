import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  KeyMaterialError,
  KsefAuthError,
  KsefForbiddenError,
  KsefInputError,
  KsefError,
  KsefTimeoutError,
  type CertificateEnrollmentResult,
  type EnrollCertificateOptions,
  type EnrolledCertificate,
  type KsefCertificateInfo,
  type KsefClient,
  type PendingCertificateEnrollment,
} from '../../shared';
import { loadKeyMaterial } from '../../shared/protocol/x509/keyMaterial';
import { SUBJECT_OIDS } from '../../shared/protocol/x509/x509';
import { readCertificationRequest } from '../../sandbox/certificates/ca';
import { collect } from './support/collect';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import {
  certificateClient,
  exchangeCount,
  pkcs12Credentials,
  sealOf,
  startOwnerBehindFaultProxy,
  type OwnerBehindFaultProxy,
} from './support/certificates';
import type { FaultProxy, Fault, ProxiedRequest } from './support/faultProxy';
import { RecordingLogger } from './support/time';
import { expectNoPemSecret } from '../support/secrets';

const PASSWORD = 'My-New-Certificate-Pa55';
const WRONG_PASSWORD = 'Not-The-Pa55word';
/** What a user may paste where a reference number belongs. */
const TOKEN_SECRET = `20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-1234563218|${'0123456789abcdef'.repeat(4)}`;
const ENROLLMENT_STATUS = /^\/certificates\/enrollments\/\d{8}-/;

function issued(result: CertificateEnrollmentResult): EnrolledCertificate {
  if (result.status !== 'Issued') throw new Error(`expected an issued certificate, got a ${result.status} enrollment: ${result.reason}`);
  return result;
}

function pending(result: CertificateEnrollmentResult): PendingCertificateEnrollment {
  if (result.status !== 'Pending') throw new Error(`expected a pending enrollment, got certificate ${result.serialNumber}`);
  return result;
}

async function enrollIssued(client: KsefClient, options: EnrollCertificateOptions): Promise<EnrolledCertificate> {
  return issued(await client.certificates.enroll(options));
}

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
    expect(data).toMatchObject({
      commonName: expect.any(String),
      countryName: 'PL',
      organizationIdentifier: expect.stringContaining(sandbox.contextIdentifier.value),
    });
    const limits = await owner.certificates.limits();
    expect(limits.canRequest).toBe(true);

    const enrolled = await enrollIssued(owner, {
      certificateName: 'Integracja ERP łódź',
      certificateType: 'Authentication',
      pkcs12Password: PASSWORD,
    });
    expect(enrolled).toMatchObject({
      status: 'Issued',
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
    expectNoPemSecret(logger.text(), enrolled.privateKeyPem);
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
    const enrolled = await enrollIssued(owner, {
      certificateName: 'Offline RSA',
      certificateType: 'Offline',
      keyType: 'RSA',
      pkcs12Password: PASSWORD,
    });
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
      serials.push(
        (await enrollIssued(owner, { certificateName: `Cert ${i} of 11`, certificateType: 'Offline', pkcs12Password: PASSWORD }))
          .serialNumber,
      );
    }
    const listed = await collect(owner.certificates.query({ name: 'of 11', pageSize: 10 }));
    expect(listed.map((c) => c.certificateSerialNumber).sort()).toEqual(serials.sort());
    const pages = sandbox.exchanges
      .filter((e) => e.operation === 'POST /certificates/query')
      .map((e) => new URL(e.url, 'http://x').searchParams.get('pageOffset'));
    expect(pages).toEqual(['0', '1']);
  });

  it('explains that certificates need certificate authentication when the client used a KSeF token', async () => {
    const byToken = clientOf(sandbox);
    const failure = await byToken.certificates.enrollmentData().catch((error: unknown) => error);
    await byToken.close();
    expect(failure).toBeInstanceOf(KsefForbiddenError);
    expect(failure).toMatchObject({
      field: 'credentials.method',
      message: expect.stringMatching(/only after authenticating with a certificate/),
    });
    expect((failure as KsefError).hasCode(25001)).toBe(true);
  });

  it('refuses bad input before sending anything', async () => {
    const completion = {
      referenceNumber: '20251010-EH-1B6C9EB000-4B15D3AEB9-89',
      encryptedPrivateKeyPem: generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
        .privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: PASSWORD })
        .toString(),
      pkcs12Password: PASSWORD,
    };
    const cases: [() => Promise<unknown>, string][] = [
      [
        () => owner.certificates.enroll({ certificateName: 'abc', certificateType: 'Authentication', pkcs12Password: PASSWORD }),
        'options.certificateName',
      ],
      [
        () => owner.certificates.enroll({ certificateName: 'Name <script>', certificateType: 'Authentication', pkcs12Password: PASSWORD }),
        'options.certificateName',
      ],
      [
        () => owner.certificates.enroll({ certificateName: 'Valid name', certificateType: 'Signing' as never, pkcs12Password: PASSWORD }),
        'options.certificateType',
      ],
      [
        () =>
          owner.certificates.enroll({
            certificateName: 'Valid name',
            certificateType: 'Offline',
            keyType: 'DSA' as never,
            pkcs12Password: PASSWORD,
          }),
        'options.keyType',
      ],
      [
        () => owner.certificates.enroll({ certificateName: 'Valid name', certificateType: 'Offline', pkcs12Password: '' }),
        'options.pkcs12Password',
      ],
      [
        () =>
          owner.certificates.enroll({
            certificateName: 'Valid name',
            certificateType: 'Offline',
            pkcs12Password: PASSWORD,
            validFrom: 'tomorrow',
          }),
        'options.validFrom',
      ],
      [() => owner.certificates.retrieve([]), 'serialNumbers'],
      [() => owner.certificates.retrieve(['0321c82da41b4362']), 'serialNumbers[0]'],
      [() => owner.certificates.revoke('123'), 'serialNumber'],
      [() => owner.certificates.revoke('0321C82DA41B4362', 'Lost' as never), 'reason'],
      [() => collect(owner.certificates.query({ pageSize: 100 })), 'options.pageSize'],
      [() => collect(owner.certificates.query({ status: 'Valid' as never })), 'options.status'],
      [() => owner.certificates.enrollmentStatus('EH-20251010'), 'referenceNumber'],
      [() => owner.certificates.completeEnrollment(undefined as never), 'options'],
      [() => owner.certificates.completeEnrollment({ ...completion, referenceNumber: TOKEN_SECRET }), 'options.referenceNumber'],
      [() => owner.certificates.completeEnrollment({ ...completion, pkcs12Password: '' }), 'options.pkcs12Password'],
      [() => owner.certificates.completeEnrollment({ ...completion, pkcs12Password: WRONG_PASSWORD }), 'options.pkcs12Password'],
      [
        () => owner.certificates.completeEnrollment({ ...completion, encryptedPrivateKeyPem: 'MIGHAgEAMBMGByqGSM49' }),
        'options.encryptedPrivateKeyPem',
      ],
      [() => owner.certificates.completeEnrollment({ ...completion, waitForCertificateMs: 0 }), 'options.waitForCertificateMs'],
      [() => owner.certificates.createRequest({ privateKeyPassword: '' }), 'options.privateKeyPassword'],
      [() => owner.certificates.createRequest({ privateKeyPassword: PASSWORD, keyType: 'DSA' as never }), 'options.keyType'],
      [
        () => owner.certificates.createRequest({ privateKeyPassword: PASSWORD, enrollmentData: { commonName: 'Demo' } as never }),
        'options.enrollmentData',
      ],
    ];
    for (const [call, field] of cases) {
      const failure = await call().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(KsefInputError);
      expect((failure as KsefInputError).field).toBe(field);
      const reported = `${(failure as KsefInputError).message} ${JSON.stringify((failure as KsefInputError).toJSON())}`;
      for (const secret of [PASSWORD, WRONG_PASSWORD, TOKEN_SECRET]) expect(reported).not.toContain(secret);
      expectNoPemSecret(reported, completion.encryptedPrivateKeyPem);
    }
    const wrongPassword = await owner.certificates
      .completeEnrollment({ ...completion, pkcs12Password: WRONG_PASSWORD })
      .catch((error: unknown) => error);
    expect(wrongPassword).toBeInstanceOf(KeyMaterialError);
    expect(wrongPassword).toMatchObject({
      problem: 'wrong-password',
      message: expect.stringMatching(/^The PKCS#12 password does not decrypt the encrypted private key \(PEM\)/),
    });
    expect(exchangeCount(sandbox)).toBe(0);
  });

  it('creates a key pair and a certificate request for the enrollment data, reading the data from KSeF only when not given', async () => {
    const data = await owner.certificates.enrollmentData();
    const before = exchangeCount(sandbox);
    const request = await owner.certificates.createRequest({ enrollmentData: data, keyType: 'RSA', privateKeyPassword: PASSWORD });
    expect(exchangeCount(sandbox)).toBe(before);

    // The sandbox CA's reader checks the structure, the key and the signature.
    const csr = readCertificationRequest(Buffer.from(request.csrBase64, 'base64'));
    expect(request.csrPem.replace(/-----[A-Z ]+-----|\s+/g, '')).toBe(request.csrBase64);
    expect(request.csrPem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
    const attribute = (oid: string) => csr.subject.find((a) => a.oid === oid)?.value;
    expect(attribute(SUBJECT_OIDS.commonName)).toBe(data.commonName);
    expect(attribute(SUBJECT_OIDS.organizationIdentifier)).toBe(data.organizationIdentifier);
    expect(() => createPrivateKey(request.encryptedPrivateKeyPem)).toThrow();
    const key = createPrivateKey({ key: request.encryptedPrivateKeyPem, passphrase: PASSWORD });
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(createPublicKey(key).export({ format: 'der', type: 'spki' })).toEqual(csr.spkiDer);

    const fromKsef = await owner.certificates.createRequest({ privateKeyPassword: PASSWORD });
    expect(sandbox.count('GET /certificates/enrollments/data')).toBe(2);
    expect(fromKsef.keyType).toBe('EC');
    expect(readCertificationRequest(Buffer.from(fromKsef.csrBase64, 'base64')).subject).toEqual(csr.subject);
    expectNoPemSecret(logger.text(), request.encryptedPrivateKeyPem);
  });
});

describe('an enrollment whose certificate could not be fetched', () => {
  let sandbox: RecordedSandbox;
  let proxy: FaultProxy;
  let owner: KsefClient;
  let logger: RecordingLogger;
  /** Faults injected with `whileBroken` apply only while this is set. */
  let broken: boolean;

  let setup: OwnerBehindFaultProxy;

  async function start(processingDelayMs?: number): Promise<void> {
    setup = await startOwnerBehindFaultProxy(processingDelayMs === undefined ? {} : { processingDelayMs });
    ({ sandbox, proxy, owner, logger } = setup);
    broken = false;
  }
  afterEach(() => setup.close());

  function whileBroken(matches: (request: ProxiedRequest) => boolean, fault: Fault): void {
    proxy.inject((request) => broken && matches(request), fault, 1000);
  }

  function submittedReference(): string {
    const submitted = sandbox.exchanges.filter((e) => e.operation === 'POST /certificates/enrollments');
    expect(submitted).toHaveLength(1);
    return JSON.parse(submitted[0].responseBody.toString('utf8')).referenceNumber;
  }

  const statusRead = (request: ProxiedRequest) => request.method === 'GET' && ENROLLMENT_STATUS.test(request.path);
  const stillInProgress: Fault = {
    kind: 'rewriteJson',
    change: ({ certificateSerialNumber, ...body }) => ({ ...body, status: { code: 100, description: 'Wniosek przyjęty do realizacji' } }),
  };
  const cases: [string, (request: ProxiedRequest) => boolean, Fault, number, RegExp][] = [
    [
      'KSeF has not decided within the time allowed',
      statusRead,
      stillInProgress,
      400,
      /^KSeF did not issue the certificate of enrollment \S+ within 400 ms/,
    ],
    [
      'reading its status keeps failing with 503',
      statusRead,
      { kind: 'respond', status: 503 },
      5_000,
      /GET \/certificates\/enrollments\/.*503/,
    ],
    [
      'the answer to its retrieval is lost',
      (request) => request.method === 'POST' && request.path === '/certificates/retrieve',
      { kind: 'loseAnswer' },
      5_000,
      /Could not reach KSeF for POST \/certificates\/retrieve/,
    ],
  ];

  it.each(cases)(
    'is handed back as Pending with its key encrypted by the password when %s, and completed later',
    async (_when, matches, fault, waitForCertificateMs, reason) => {
      await start();
      whileBroken(matches, fault);
      broken = true;
      const result = pending(
        await owner.certificates.enroll({
          certificateName: 'Pending seal',
          certificateType: 'Authentication',
          pkcs12Password: PASSWORD,
          waitForCertificateMs,
        }),
      );
      broken = false;

      expect(result).toEqual({
        status: 'Pending',
        referenceNumber: submittedReference(),
        certificateName: 'Pending seal',
        certificateType: 'Authentication',
        encryptedPrivateKeyPem: expect.stringMatching(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/),
        reason: expect.stringMatching(reason),
      });
      expect(() => createPrivateKey(result.encryptedPrivateKeyPem)).toThrow();
      const key = createPrivateKey({ key: result.encryptedPrivateKeyPem, passphrase: PASSWORD });
      expect(logger.entries).toContainEqual(
        expect.objectContaining({ level: 'warn', data: { referenceNumber: result.referenceNumber, reason: result.reason } }),
      );
      expect(logger.text()).not.toContain(PASSWORD);
      expectNoPemSecret(logger.text(), result.encryptedPrivateKeyPem);
      expectNoPemSecret(`${logger.text()} ${JSON.stringify(result)}`, key.export({ format: 'pem', type: 'pkcs8' }).toString());

      const status = await owner.certificates.enrollmentStatus(result.referenceNumber);
      expect(status).toEqual({
        referenceNumber: result.referenceNumber,
        requestDate: expect.any(String),
        status: expect.objectContaining({ code: 200 }),
        certificateSerialNumber: expect.stringMatching(/^[0-9A-F]{16}$/),
      });

      const completed = await owner.certificates.completeEnrollment({
        referenceNumber: result.referenceNumber,
        encryptedPrivateKeyPem: result.encryptedPrivateKeyPem,
        pkcs12Password: PASSWORD,
      });
      expect(completed).toMatchObject({
        status: 'Issued',
        referenceNumber: result.referenceNumber,
        serialNumber: status.certificateSerialNumber,
        certificateName: 'Pending seal',
        certificateType: 'Authentication',
      });
      const opened = loadKeyMaterial({ pkcs12: completed.pkcs12, password: PASSWORD });
      expect(opened.certificate.fingerprintSha256).toBe(completed.fingerprintSha256);
      expect(opened.privateKey.export({ format: 'der', type: 'pkcs8' })).toEqual(key.export({ format: 'der', type: 'pkcs8' }));
      expectNoPemSecret(logger.text(), completed.privateKeyPem);

      const withKsefCertificate = certificateClient(sandbox, {
        method: 'certificate',
        contextIdentifier: sandbox.contextIdentifier,
        certificate: { pkcs12: completed.pkcs12, password: PASSWORD },
      });
      const auth = await withKsefCertificate.authenticate();
      await withKsefCertificate.close();
      expect(auth.referenceNumber).toMatch(/^\d{8}-AU-/);
    },
  );

  it('still fails when completing it times out again, naming the enrollment and the option to raise', async () => {
    await start();
    whileBroken(statusRead, stillInProgress);
    broken = true;
    const result = pending(
      await owner.certificates.enroll({
        certificateName: 'Slow seal',
        certificateType: 'Offline',
        pkcs12Password: PASSWORD,
        waitForCertificateMs: 300,
      }),
    );

    const failure = await owner.certificates
      .completeEnrollment({
        referenceNumber: result.referenceNumber,
        encryptedPrivateKeyPem: result.encryptedPrivateKeyPem,
        pkcs12Password: PASSWORD,
        waitForCertificateMs: 300,
      })
      .catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(KsefTimeoutError);
    expect(failure).toMatchObject({
      field: 'options.waitForCertificateMs',
      message: expect.stringContaining(`enrollment ${result.referenceNumber} within 300 ms`),
    });
  });

  it('refuses to complete an enrollment with a key that is not its own, naming the key field', async () => {
    await start();
    whileBroken(statusRead, stillInProgress);
    broken = true;
    const result = pending(
      await owner.certificates.enroll({
        certificateName: 'Own key seal',
        certificateType: 'Authentication',
        pkcs12Password: PASSWORD,
        waitForCertificateMs: 300,
      }),
    );
    broken = false;
    const otherKey = (await owner.certificates.createRequest({ privateKeyPassword: PASSWORD })).encryptedPrivateKeyPem;

    const failure = await owner.certificates
      .completeEnrollment({ referenceNumber: result.referenceNumber, encryptedPrivateKeyPem: otherKey, pkcs12Password: PASSWORD })
      .catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(KsefInputError);
    expect(failure).toMatchObject({
      field: 'options.encryptedPrivateKeyPem',
      message: expect.stringMatching(
        new RegExp(`^options.encryptedPrivateKeyPem is not the key of enrollment ${result.referenceNumber} \\(certificate [0-9A-F]{16}\\)`),
      ),
    });
    expectNoPemSecret(`${(failure as Error).message} ${JSON.stringify((failure as KsefInputError).toJSON())}`, otherKey);
    const completed = await owner.certificates.completeEnrollment({
      referenceNumber: result.referenceNumber,
      encryptedPrivateKeyPem: result.encryptedPrivateKeyPem,
      pkcs12Password: PASSWORD,
    });
    expect(completed.status).toBe('Issued');
  });

  it("fails naming the enrollment and KSeF's reason when KSeF rejects it, and so does completing it", async () => {
    // KSeF checks the certificate limit again when it processes the request; one issued meanwhile takes the last place.
    await start(300);
    proxy.inject((request) => request.method === 'POST' && request.path === '/certificates/enrollments', {
      kind: 'rewriteJson',
      change: (body) => {
        sandbox.state.certificateLimits.Nip = { maxEnrollments: 300, maxCertificates: 0 };
        return body;
      },
    });

    const failure = await owner.certificates
      .enroll({ certificateName: 'Rejected seal', certificateType: 'Authentication', pkcs12Password: PASSWORD })
      .catch((error: unknown) => error);

    const referenceNumber = submittedReference();
    expect(failure).toBeInstanceOf(KsefError);
    expect((failure as KsefError).message).toBe(
      `KSeF rejected certificate enrollment ${referenceNumber} (400 Wniosek odrzucony): Osiągnięto dopuszczalny limit posiadanych certyfikatów.`,
    );
    expect((failure as KsefError).hasCode(400)).toBe(true);
    expect(await owner.certificates.enrollmentStatus(referenceNumber)).toMatchObject({ referenceNumber, status: { code: 400 } });
    expect(await owner.certificates.enrollmentStatus(referenceNumber)).not.toHaveProperty('certificateSerialNumber');

    const anyKey = (await owner.certificates.createRequest({ privateKeyPassword: PASSWORD })).encryptedPrivateKeyPem;
    const again = await owner.certificates
      .completeEnrollment({ referenceNumber, encryptedPrivateKeyPem: anyKey, pkcs12Password: PASSWORD })
      .catch((error: unknown) => error);
    expect(again).toBeInstanceOf(KsefError);
    expect((again as KsefError).message).toBe((failure as KsefError).message);
  });
});
