import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { KsefAuthError, KsefError, KsefInputError, type KsefClient, type KsefTokenInfo } from '../../shared';
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
import type { Fault, FaultProxy } from './support/faultProxy';
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
    // The field is named as a person knows it; the engine's name is only in `field`.
    expect(error.message).toMatch(/refused authentication .*\(450 .*Check the KSeF token and the context identifier\./);
    expect(error.message).not.toContain('credentials.');
    expect(`${error.message} ${JSON.stringify(error.toJSON())} ${tokenLogger.text()}`).not.toContain(generated.token);
  });

  it('lists tokens with filters, following continuation tokens across pages', async () => {
    const references: string[] = [];
    for (let i = 1; i <= 12; i++) {
      const { referenceNumber } = await owner.tokens.generate({
        permissions: ['InvoiceRead'],
        description: `Reporting token ${i}`,
        waitUntilActive: false,
      });
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

    const byAuthor = await collect(
      owner.tokens.list({ authorIdentifier: sandbox.contextIdentifier.value, authorIdentifierType: 'Nip', status: 'Active' }),
    );
    expect(byAuthor.length).toBeGreaterThanOrEqual(12);
    expect(byAuthor.every((t) => t.status === 'Active')).toBe(true);
  });

  it('hands the token back as Pending rather than losing its secret when activation takes longer than allowed', async () => {
    await owner.close();
    await sandbox.close();
    sandbox = await startRecordedSandbox({ processingDelayMs: 1500, rateLimits: { other: GENEROUS_LIMIT } });
    owner = certificateClient(sandbox, pkcs12Credentials(sandbox, sealOf(sandbox.contextIdentifier.value, 'ec')), { logger });

    const generated = await owner.tokens.generate({
      permissions: ['InvoiceRead'],
      description: 'Slow activation',
      activationTimeoutMs: 300,
    });
    expect(generated).toMatchObject({ status: 'Pending', token: expect.stringContaining(generated.referenceNumber) });
    expect(sandbox.count('GET /tokens/{referenceNumber}')).toBeGreaterThanOrEqual(1);
    expect(logger.entries).toContainEqual(expect.objectContaining({ level: 'warn', message: expect.stringMatching(/not active yet/) }));
    expect(logger.text()).not.toContain(generated.token);
  });

  it('never repeats a token secret pasted where a reference number belongs, and says which part to give', async () => {
    const { referenceNumber, token } = await owner.tokens.generate({
      permissions: ['InvoiceRead'],
      description: 'Pasted by mistake',
      waitUntilActive: false,
    });
    const before = exchangeCount(sandbox);
    const calls: [string, () => Promise<unknown>][] = [
      ['tokens.get', () => owner.tokens.get(token)],
      ['tokens.revoke', () => owner.tokens.revoke(token)],
      ['authSessions.revoke', () => owner.authSessions.revoke(token)],
    ];
    for (const [name, call] of calls) {
      const failure = await call().catch((error: unknown) => error);
      expect({ name, failure }).toEqual({ name, failure: expect.any(KsefInputError) });
      const error = failure as KsefInputError;
      expect(error.field).toBe('referenceNumber');
      expect(error.message).toMatch(
        new RegExp(
          `^referenceNumber must be a KSeF reference number like \\S+; the value given \\(${token.length} characters\\) looks like a KSeF token secret: give only its reference number, the part before the first "\\|"\\.$`,
        ),
      );
      const reported = `${error.message} ${JSON.stringify(error.toJSON())} ${String(error.stack)}`;
      for (const part of token.split('|')) expect(reported).not.toContain(part);
      // The reference number is no secret and is logged on generation; the rest of the token never is.
      for (const part of token.split('|').slice(1)) expect(logger.text()).not.toContain(part);
    }
    expect(exchangeCount(sandbox)).toBe(before);
    expect((await owner.tokens.get(referenceNumber)).referenceNumber).toBe(referenceNumber);
  });

  it('refuses bad input before sending anything', async () => {
    const before = exchangeCount(sandbox);
    const cases: [() => Promise<unknown>, string][] = [
      [() => owner.tokens.generate({ permissions: [], description: 'No permissions' }), 'options.permissions'],
      [
        () => owner.tokens.generate({ permissions: ['InvoiceRead', 'Everything' as never], description: 'Bad permission' }),
        'options.permissions[1]',
      ],
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

describe('a generated token whose activation could not be followed', () => {
  let sandbox: RecordedSandbox;
  let proxy: FaultProxy;
  let owner: KsefClient;
  let logger: RecordingLogger;
  /** Faults injected while this is set apply; afterwards KSeF answers normally again. */
  let broken: boolean;

  let setup: OwnerBehindFaultProxy;

  beforeEach(async () => {
    setup = await startOwnerBehindFaultProxy({ rateLimits: { other: GENEROUS_LIMIT } });
    ({ sandbox, proxy, owner, logger } = setup);
    broken = false;
  });
  afterEach(() => setup.close());

  const TOKEN_STATUS = /^\/tokens\/\d{8}-EC-/;
  const unauthorized = { title: 'Unauthorized', status: 401, detail: 'Wymagane jest uwierzytelnienie.' };
  const cases: [string, Fault, RegExp][] = [
    ['the network keeps losing the answers', { kind: 'loseAnswer' }, /^Could not reach KSeF for GET \/tokens\//],
    ['KSeF keeps failing with 503', { kind: 'respond', status: 503 }, /GET \/tokens\/.*503/],
    ['KSeF asks to wait longer than allowed (429)', { kind: 'respond', status: 429, headers: { 'retry-after': '3600' } }, /429/],
    [
      'KSeF refuses the access token even after a renewal (401)',
      { kind: 'respond', status: 401, body: unauthorized },
      /^KSeF refused the access token on GET \/tokens\//,
    ],
  ];

  it.each(cases)('hands the token back as Pending with its working secret when %s', async (_when, fault, reason) => {
    proxy.inject((request) => broken && request.method === 'GET' && TOKEN_STATUS.test(request.path), fault, 1000);
    broken = true;
    const generated = await owner.tokens.generate({ permissions: ['InvoiceWrite'], description: 'Status unreadable' });
    broken = false;

    expect(generated).toEqual({
      referenceNumber: expect.stringMatching(/^\d{8}-EC-/),
      token: expect.stringContaining(generated.referenceNumber),
      status: 'Pending',
    });
    expect(proxy.count('GET', TOKEN_STATUS)).toBeGreaterThanOrEqual(1);
    const warning = logger.entries.find((e) => e.level === 'warn' && /not active yet/.test(e.message));
    expect(warning?.data).toEqual({ referenceNumber: generated.referenceNumber, reason: expect.stringMatching(reason) });
    expect(logger.text()).not.toContain(generated.token);

    // Nothing was lost: the token becomes Active and its secret authenticates. Read straight from the sandbox: after a
    // 429 the owner's client holds back its whole limit group until Retry-After, as KSeF would refuse it until then.
    const direct = certificateClient(sandbox, pkcs12Credentials(sandbox, sealOf(sandbox.contextIdentifier.value, 'ec')));
    let status = (await direct.tokens.get(generated.referenceNumber)).status;
    for (let i = 0; status === 'Pending' && i < 40; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await direct.tokens.get(generated.referenceNumber)).status;
    }
    await direct.close();
    expect(status).toBe('Active');
    const erp = clientOf(sandbox, {
      credentials: { method: 'ksefToken', contextIdentifier: sandbox.contextIdentifier, ksefToken: generated.token },
    });
    const auth = await erp.authenticate();
    await erp.close();
    expect(auth.referenceNumber).toMatch(/^\d{8}-AU-/);
  });

  it('fails naming the token when KSeF reports that its activation failed', async () => {
    proxy.inject((request) => request.method === 'GET' && TOKEN_STATUS.test(request.path), {
      kind: 'rewriteJson',
      change: (body) => ({ ...body, status: 'Failed', statusDetails: ['Aktywacja tokena nie powiodła się.'] }),
    });

    const failure = await owner.tokens
      .generate({ permissions: ['InvoiceRead'], description: 'Activation fails' })
      .catch((error: unknown) => error);

    const referenceNumber = JSON.parse(
      sandbox.exchanges.find((e) => e.operation === 'POST /tokens')!.responseBody.toString('utf8'),
    ).referenceNumber;
    expect(failure).toBeInstanceOf(KsefError);
    expect((failure as KsefError).message).toBe(
      `KSeF could not activate token ${referenceNumber}: Aktywacja tokena nie powiodła się.. Generate a new token; this one cannot be used.`,
    );
  });
});
