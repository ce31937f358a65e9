import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { KsefAuthError, KsefInputError, type KsefClient, type KsefTokenInfo } from '../../shared';
import { collect } from './support/collect';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import { certificateClient, exchangeCount, pkcs12Credentials, sealOf } from './support/certificates';
import { RecordingLogger } from './support/time';

const GENEROUS_LIMIT = { perSecond: 100, perMinute: 1000, perHour: 10000 };

describe('KSeF tokens', () => {
  let sandbox: RecordedSandbox;
  let owner: KsefClient;
  let logger: RecordingLogger;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox({ rateLimits: { other: GENEROUS_LIMIT } });
    logger = new RecordingLogger();
    owner = certificateClient(sandbox, pkcs12Credentials(sandbox, sealOf(sandbox.contextIdentifier.value, 'ec')), { logger });
  });
  afterEach(async () => {
    await owner.close();
    await sandbox.close();
  });

  it('generates a token that a second client uses to send an invoice, until it is revoked', async () => {
    const generated = await owner.tokens.generate({ permissions: ['InvoiceWrite', 'InvoiceRead'], description: 'ERP integration token' });
    expect(generated).toMatchObject({ referenceNumber: expect.stringMatching(/^\d{8}-EC-/), status: 'Active', token: expect.any(String) });
    expect(logger.text()).not.toContain(generated.token);

    const tokenLogger = new RecordingLogger();
    const tokenCredentials = { method: 'ksefToken' as const, contextIdentifier: sandbox.contextIdentifier, ksefToken: generated.token };
    const erp = clientOf(sandbox, { credentials: tokenCredentials, logger: tokenLogger });
    const sent = await erp.sessions.online.send([buildDemoInvoice()], { fetchUpo: false });
    await erp.close();
    expect(sent.invoices[0]).toMatchObject({ accepted: true, ksefNumber: expect.any(String) });

    const info = await owner.tokens.get(generated.referenceNumber);
    expect(info).toMatchObject({
      referenceNumber: generated.referenceNumber,
      description: 'ERP integration token',
      requestedPermissions: expect.arrayContaining(['InvoiceWrite', 'InvoiceRead']),
      contextIdentifier: sandbox.contextIdentifier,
      status: 'Active',
    });
    expect(JSON.stringify(info)).not.toContain(generated.token);

    await owner.tokens.revoke(generated.referenceNumber);
    expect(['Revoking', 'Revoked']).toContain((await owner.tokens.get(generated.referenceNumber)).status);

    const afterRevocation = clientOf(sandbox, { credentials: tokenCredentials, logger: tokenLogger });
    const failure = await afterRevocation.authenticate().catch((error: unknown) => error);
    await afterRevocation.close();
    expect(failure).toBeInstanceOf(KsefAuthError);
    const error = failure as KsefAuthError;
    expect(error.field).toBe('credentials.ksefToken');
    expect(error.message).toMatch(/refused authentication .*\(450 .*Check credentials.ksefToken/);
    expect(`${error.message} ${JSON.stringify(error.toJSON())} ${tokenLogger.text()}`).not.toContain(generated.token);
  });

  it('lists tokens with filters, following continuation tokens across pages', async () => {
    const references: string[] = [];
    for (let i = 1; i <= 12; i++) {
      const { referenceNumber } = await owner.tokens.generate({ permissions: ['InvoiceRead'], description: `Reporting token ${i}`, waitUntilActive: false });
      references.push(referenceNumber);
    }
    await owner.tokens.generate({ permissions: ['InvoiceWrite'], description: 'Another purpose' });
    await owner.tokens.revoke(references[0]);

    const listed = await collect(owner.tokens.list({ description: 'reporting', pageSize: 10 }));
    expect(listed.map((t) => t.referenceNumber).sort()).toEqual([...references].sort());
    const listRequests = sandbox.exchanges.filter((e) => e.operation === 'GET /tokens');
    expect(listRequests).toHaveLength(2);
    expect(listRequests[1].requestHeaders['x-continuation-token']).toEqual(expect.any(String));

    const revoked = await collect(owner.tokens.list({ status: ['Revoking', 'Revoked'] }));
    expect(revoked.map((t: KsefTokenInfo) => t.referenceNumber)).toEqual([references[0]]);
    expect(sandbox.exchanges.at(-1)!.url).toMatch(/[?&]status=Revoking&status=Revoked(&|$)/);

    const byAuthor = await collect(owner.tokens.list({ authorIdentifier: sandbox.contextIdentifier.value, authorIdentifierType: 'Nip', status: 'Active' }));
    expect(byAuthor.length).toBeGreaterThanOrEqual(12);
    expect(byAuthor.every((t) => t.status === 'Active')).toBe(true);
  });

  it('hands the token back as Pending rather than losing its secret when activation takes longer than allowed', async () => {
    await owner.close();
    await sandbox.close();
    sandbox = await startRecordedSandbox({ processingDelayMs: 1500, rateLimits: { other: GENEROUS_LIMIT } });
    owner = certificateClient(sandbox, pkcs12Credentials(sandbox, sealOf(sandbox.contextIdentifier.value, 'ec')), { logger });

    const generated = await owner.tokens.generate({ permissions: ['InvoiceRead'], description: 'Slow activation', activationTimeoutMs: 300 });
    expect(generated).toMatchObject({ status: 'Pending', token: expect.stringContaining(generated.referenceNumber) });
    expect(sandbox.count('GET /tokens/{referenceNumber}')).toBeGreaterThanOrEqual(1);
    expect(logger.entries).toContainEqual(expect.objectContaining({ level: 'warn', message: expect.stringMatching(/not active yet/) }));
    expect(logger.text()).not.toContain(generated.token);
  });

  it('refuses bad input before sending anything', async () => {
    const before = exchangeCount(sandbox);
    const cases: [() => Promise<unknown>, string][] = [
      [() => owner.tokens.generate({ permissions: [], description: 'No permissions' }), 'options.permissions'],
      [() => owner.tokens.generate({ permissions: ['InvoiceRead', 'Everything' as never], description: 'Bad permission' }), 'options.permissions[1]'],
      [() => owner.tokens.generate({ permissions: ['InvoiceRead'], description: 'abc' }), 'options.description'],
      [() => collect(owner.tokens.list({ description: 'ab' })), 'options.description'],
      [() => collect(owner.tokens.list({ pageSize: 500 })), 'options.pageSize'],
      [() => collect(owner.tokens.list({ status: 'Gone' as never })), 'options.status'],
      [() => owner.tokens.get('not-a-reference'), 'referenceNumber'],
      [() => owner.tokens.revoke(''), 'referenceNumber'],
    ];
    for (const [call, field] of cases) {
      const failure = await call().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(KsefInputError);
      expect((failure as KsefInputError).field).toBe(field);
    }
    expect(exchangeCount(sandbox)).toBe(before);
  });
});
