import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { readUpoDocuments } from '../../shared/protocol/xml/upo';
import type { KsefClient } from '../../shared';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import { startFaultProxy, type FaultProxy } from './support/faultProxy';

const INVOICE_SEND = /^\/sessions\/online\/[^/]+\/invoices$/;

describe('online session send against the sandbox', () => {
  let sandbox: RecordedSandbox;
  let client: KsefClient;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox();
    client = clientOf(sandbox);
  });
  afterEach(async () => {
    await client.close();
    await sandbox.close();
  });

  it('sends three invoices and returns their KSeF numbers, invoice UPOs and the session UPO', async () => {
    const invoices = ['FV/2026/ENG/1', 'FV/2026/ENG/2', 'FV/2026/ENG/3'].map((invoiceNumber) => buildDemoInvoice({ invoiceNumber }));

    const result = await client.sessions.online.send(invoices);

    expect(result.sessionReferenceNumber).toMatch(/^\d{8}-SO-/);
    expect(result.sessionStatus?.code).toBe(200);
    expect(result.invoices.map((r) => r.index)).toEqual([0, 1, 2]);
    for (const [i, invoice] of result.invoices.entries()) {
      expect(invoice).toMatchObject({ accepted: true, pending: false, invoiceNumber: `FV/2026/ENG/${i + 1}`, invoicingMode: 'Online' });
      expect(invoice.error).toBeUndefined();
      expect(invoice.invoiceHash).toBe(sha256Base64(Buffer.from(invoices[i], 'utf8')));
      expect(isValidKsefNumber(invoice.ksefNumber!)).toBe(true);
      expect(invoice.ksefNumber!.startsWith('1234563218-')).toBe(true);
      const [confirmed] = readUpoDocuments(invoice.upo!);
      expect(confirmed).toMatchObject({
        ksefNumber: invoice.ksefNumber,
        invoiceHash: invoice.invoiceHash,
        invoiceNumber: invoice.invoiceNumber,
      });
    }
    // UPO storage links are fetched without the access token.
    const storageDownloads = sandbox.exchanges.filter((e) => e.url.startsWith('/storage/'));
    expect(storageDownloads).toHaveLength(4);
    expect(storageDownloads.every((e) => e.requestHeaders.authorization === undefined)).toBe(true);
    expect(result.sessionUpo).toHaveLength(1);
    const sessionDocuments = readUpoDocuments(result.sessionUpo![0].upo).map((doc) => doc.ksefNumber);
    expect(sessionDocuments.sort()).toEqual(result.invoices.map((r) => r.ksefNumber).sort());
  });

  it('fails each bad invoice on its own, with its specific error, while the others are accepted', async () => {
    const first = await client.sessions.online.send([buildDemoInvoice({ invoiceNumber: 'FV/2026/DUP/1' })]);
    const original = first.invoices[0];
    expect(original.accepted).toBe(true);

    const good = buildDemoInvoice({ invoiceNumber: 'FV/2026/MIX/1' });
    const result = await client.sessions.online.send([
      good,
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(buildDemoInvoice({ invoiceNumber: 'FV/2026/MIX/BOM' }))]),
      'this is not an invoice',
      '',
      { xml: buildDemoInvoice({ invoiceNumber: 'FV/2026/MIX/SELLER', sellerNip: '5265877635' }) },
      // Same number as the invoice already in KSeF, different content: a real duplicate.
      buildDemoInvoice({ invoiceNumber: 'FV/2026/DUP/1', lines: 1 }),
      buildDemoInvoice({ invoiceNumber: 'FV/2026/MIX/2' }),
    ]);

    const byIndex = result.invoices;
    expect(byIndex.map((r) => r.accepted)).toEqual([true, false, false, false, false, false, true]);
    expect(byIndex[1].error).toMatchObject({ name: 'KsefInputError', field: 'invoices[1]' });
    expect(String(byIndex[1].error!.message)).toMatch(/BOM/);
    expect(byIndex[2].error).toMatchObject({ name: 'KsefInputError', field: 'invoices[2]' });
    expect(String(byIndex[2].error!.message)).toMatch(/invoices\[2\] cannot be sent/);
    expect(byIndex[3].error).toMatchObject({
      name: 'KsefInputError',
      field: 'invoices[3]',
      message: 'invoices[3] is empty: pass the invoice XML.',
    });
    // Only the valid ones reached KSeF.
    expect(sandbox.count('POST /sessions/online/{referenceNumber}/invoices')).toBe(1 + 4);

    expect(byIndex[4].error).toMatchObject({ name: 'KsefInvoiceRejectedError', statusCode: 410, field: 'invoices[4]' });
    expect(String(byIndex[4].error!.message)).toMatch(/^KSeF rejected invoices\[4\] \(410 /);
    expect(byIndex[4].status?.code).toBe(410);

    expect(byIndex[5].error).toMatchObject({
      name: 'KsefInvoiceRejectedError',
      statusCode: 440,
      extensions: { originalKsefNumber: original.ksefNumber, originalSessionReferenceNumber: first.sessionReferenceNumber },
    });
    expect(byIndex[5].resolvedFromDuplicate).toBeUndefined();
    expect(byIndex[5].ksefNumber).toBeUndefined();

    for (const i of [0, 6]) expect(isValidKsefNumber(byIndex[i].ksefNumber!)).toBe(true);
    expect(result.sessionStatus?.code).toBe(200);
  });

  it('returns right after sending when asked not to wait, leaving the invoices pending', async () => {
    const result = await client.sessions.online.send([buildDemoInvoice()], { waitForProcessingMs: 0, closeSession: false });
    expect(result.invoices[0]).toMatchObject({ accepted: false, pending: true });
    expect(result.invoices[0].referenceNumber).toMatch(/^\d{8}-EE-/);
    expect(result.sessionStatus).toBeUndefined();
    expect(sandbox.count('POST /sessions/online/{referenceNumber}/close')).toBe(0);
  });

  it('sends nothing and opens no session when every invoice fails the local checks', async () => {
    const result = await client.sessions.online.send(['<Faktura/>', Buffer.alloc(0)]);
    expect(result.sessionReferenceNumber).toBe('');
    expect(result.invoices.map((r) => r.error?.name)).toEqual(['KsefInputError', 'KsefInputError']);
    expect(String(result.invoices[0].error!.message)).toMatch(
      /^invoices\[0\] does not fit the session schema FA\(3\) \(options.schema\): The root element Faktura is in namespace \(none\)/,
    );
    expect(sandbox.count('POST /sessions/online')).toBe(0);
    expect(sandbox.count('POST /auth/challenge')).toBe(0);
  });

  it('passes offlineMode through and checks hashOfCorrectedInvoice before sending', async () => {
    const result = await client.sessions.online.send(
      [
        { xml: buildDemoInvoice({ invoiceNumber: 'FV/2026/OFF/1' }), offlineMode: true },
        buildDemoInvoice({ invoiceNumber: 'FV/2026/OFF/2' }),
        { xml: buildDemoInvoice({ invoiceNumber: 'FV/2026/OFF/3' }), offlineMode: false },
        { xml: buildDemoInvoice({ invoiceNumber: 'FV/2026/OFF/4' }), hashOfCorrectedInvoice: 'not-a-hash' },
      ],
      { offlineMode: true, fetchUpo: false },
    );

    expect(result.invoices.slice(0, 3).map((r) => r.invoicingMode)).toEqual(['Offline', 'Offline', 'Online']);
    const sentBodies = sandbox.exchanges
      .filter((e) => e.operation === 'POST /sessions/online/{referenceNumber}/invoices')
      .map((e) => JSON.parse(e.requestBody.toString('utf8')).offlineMode);
    expect(sentBodies.sort()).toEqual([false, true, true]);
    expect(result.invoices[3].error).toMatchObject({ name: 'KsefInputError', field: 'invoices[3].hashOfCorrectedInvoice' });
  });

  it('pages through the invoices of a session with an async iterator', async () => {
    const invoices = Array.from({ length: 12 }, (_, i) => buildDemoInvoice({ invoiceNumber: `FV/2026/PAGE/${i}`, lines: 1 }));
    const sent = await client.sessions.online.send(invoices, { fetchUpo: false });
    expect(sent.invoices.every((r) => r.accepted && r.upo === undefined)).toBe(true);

    const listed: string[] = [];
    for await (const invoice of client.sessions.invoices(sent.sessionReferenceNumber, { pageSize: 10 })) {
      listed.push(invoice.referenceNumber);
    }

    expect(listed.sort()).toEqual(sent.invoices.map((r) => r.referenceNumber!).sort());
    // The listing asked for here (the send read the statuses through the same endpoint, with pages of 1000).
    const listings = sandbox.exchanges.filter(
      (e) => e.operation === 'GET /sessions/{referenceNumber}/invoices' && /pageSize=10(&|$)/.test(e.url),
    );
    expect(listings).toHaveLength(2);
    expect(listings[1].requestHeaders['x-continuation-token']).toBeTruthy();
  });
});

describe('a send whose answer was lost', () => {
  let sandbox: RecordedSandbox;
  let proxy: FaultProxy;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox();
    proxy = await startFaultProxy(sandbox.baseUrl);
  });
  afterEach(async () => {
    await proxy.close();
    await sandbox.close();
  });

  it('is found in the session invoice list by its hash and gets its KSeF number, without a second copy', async () => {
    const client = clientOf(sandbox, { baseUrl: proxy.baseUrl });
    proxy.inject((r) => r.method === 'POST' && INVOICE_SEND.test(r.path), { kind: 'loseAnswer' });

    const result = await client.sessions.online.send([buildDemoInvoice({ invoiceNumber: 'FV/2026/LOST/1' })]);
    await client.close();

    expect(proxy.count('POST', INVOICE_SEND)).toBe(1);
    const [invoice] = result.invoices;
    expect(invoice).toMatchObject({ accepted: true, status: { code: 200 } });
    expect(invoice.resolvedFromDuplicate).toBeUndefined();
    expect(invoice.error).toBeUndefined();
    expect(isValidKsefNumber(invoice.ksefNumber!)).toBe(true);
    expect(readUpoDocuments(invoice.upo!)[0]).toMatchObject({ ksefNumber: invoice.ksefNumber, invoiceHash: invoice.invoiceHash });
    // The session holds exactly one accepted copy.
    expect(readUpoDocuments(result.sessionUpo![0].upo).map((d) => d.ksefNumber)).toEqual([invoice.ksefNumber]);
  });

  it('is found the same way when the answer came too late (request timeout)', async () => {
    const client = clientOf(sandbox, { baseUrl: proxy.baseUrl, requestTimeoutMs: 1_500 });
    proxy.inject((r) => r.method === 'POST' && INVOICE_SEND.test(r.path), { kind: 'delayAnswer', ms: 3_000 });

    const result = await client.sessions.online.send([buildDemoInvoice({ invoiceNumber: 'FV/2026/SLOW/1' })]);
    await client.close();

    expect(proxy.count('POST', INVOICE_SEND)).toBe(1);
    expect(result.invoices[0]).toMatchObject({ accepted: true, status: { code: 200 } });
    expect(isValidKsefNumber(result.invoices[0].ksefNumber!)).toBe(true);
  });

  it('still reports the session status and UPO when the answer to closing the session was lost', async () => {
    const client = clientOf(sandbox, { baseUrl: proxy.baseUrl });
    proxy.inject((r) => r.method === 'POST' && /^\/sessions\/online\/[^/]+\/close$/.test(r.path), { kind: 'loseAnswer' });

    const result = await client.sessions.online.send([buildDemoInvoice({ invoiceNumber: 'FV/2026/CLOSE/1' })]);
    await client.close();

    // The repeated close finds the session already closed (21180), which is what the first one achieved.
    expect(sandbox.exchanges.filter((e) => e.operation === 'POST /sessions/online/{referenceNumber}/close').map((e) => e.status)).toEqual([
      204, 400,
    ]);
    expect(result.sessionStatus?.code).toBe(200);
    expect(readUpoDocuments(result.sessionUpo![0].upo).map((d) => d.ksefNumber)).toEqual([result.invoices[0].ksefNumber]);
  });

  it('is resolved the same way when a later run sends the identical invoice again', async () => {
    const client = clientOf(sandbox, { baseUrl: proxy.baseUrl });
    const xml = buildDemoInvoice({ invoiceNumber: 'FV/2026/RERUN/1' });
    const first = await client.sessions.online.send([xml]);
    const again = await client.sessions.online.send([xml]);
    await client.close();

    expect(again.invoices[0]).toMatchObject({
      accepted: true,
      ksefNumber: first.invoices[0].ksefNumber,
      resolvedFromDuplicate: { originalSessionReferenceNumber: first.sessionReferenceNumber },
    });
  });
});

describe('a session KSeF makes temporarily unavailable (21184)', () => {
  let sandbox: RecordedSandbox;
  let client: KsefClient;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox();
    client = clientOf(sandbox);
  });
  afterEach(async () => {
    await client.close();
    await sandbox.close();
  });

  /** Service work in the sandbox: a send is answered 21184 when `unavailable(invoices the session holds, nth session sent to)`. */
  function serviceWork(unavailable: (held: number, nth: number) => boolean): void {
    const sessions: string[] = [];
    sandbox.state.sessionsUnderMaintenance.has = (referenceNumber: string) => {
      if (!sessions.includes(referenceNumber)) sessions.push(referenceNumber);
      return unavailable(sandbox.state.onlineSessions.get(referenceNumber)!.invoices.length, sessions.indexOf(referenceNumber));
    };
  }

  it('sends the invoices it did not take in a new session; each invoice says which session holds it', async () => {
    serviceWork((held, nth) => nth === 0 && held >= 2);
    const invoices = Array.from({ length: 6 }, (_, i) => buildDemoInvoice({ invoiceNumber: `FV/2026/MAINT/${i + 1}`, lines: 1 }));

    const result = await client.sessions.online.send(invoices);

    expect(sandbox.count('POST /sessions/online')).toBe(2);
    const refused = sandbox.exchanges.filter((e) => e.operation === 'POST /sessions/online/{referenceNumber}/invoices' && e.status === 400);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((e) => JSON.parse(e.responseBody.toString('utf8')).exception.exceptionDetailList[0].exceptionCode === 21184)).toBe(
      true,
    );
    expect(result.invoices.every((r) => r.accepted && isValidKsefNumber(r.ksefNumber!) && r.upo && !r.error)).toBe(true);
    const [first] = sandbox.exchanges
      .filter((e) => e.operation === 'POST /sessions/online')
      .map((e) => JSON.parse(e.responseBody.toString('utf8')).referenceNumber);
    const inFirst = result.invoices.filter((r) => r.sessionReferenceNumber === first);
    expect(inFirst).toHaveLength(2);
    expect(result.sessionReferenceNumber).not.toBe(first);
    expect(result.invoices.filter((r) => r.sessionReferenceNumber === undefined)).toHaveLength(4);
    expect(sandbox.state.onlineSessions.get(result.sessionReferenceNumber)!.invoices).toHaveLength(4);
    expect(result.sessionStatus?.code).toBe(200);
    expect(sandbox.count('POST /sessions/online/{referenceNumber}/close')).toBe(2);
  });

  it('reports the invoices not sent when the new session is unavailable before taking any', async () => {
    serviceWork((held, nth) => nth > 0 || held >= 1);
    const invoices = Array.from({ length: 3 }, (_, i) => buildDemoInvoice({ invoiceNumber: `FV/2026/MAINT2/${i + 1}`, lines: 1 }));

    const result = await client.sessions.online.send(invoices, { fetchUpo: false });

    expect(sandbox.count('POST /sessions/online')).toBe(2);
    const accepted = result.invoices.filter((r) => r.accepted);
    const notSent = result.invoices.filter((r) => r.error);
    expect(accepted).toHaveLength(1);
    expect(accepted[0].sessionReferenceNumber).toBeUndefined();
    expect(notSent).toHaveLength(2);
    for (const invoice of notSent) {
      expect(invoice.referenceNumber).toBeUndefined();
      expect(String(invoice.error!.message)).toMatch(new RegExp(`^invoices\\[${invoice.index}\\] could not be sent: .*21184`));
    }
    // The empty replacement was closed at once; the result stays with the session that holds the accepted invoice.
    expect(sandbox.state.onlineSessions.get(result.sessionReferenceNumber)!.invoices).toHaveLength(1);
    expect(sandbox.count('POST /sessions/online/{referenceNumber}/close')).toBe(2);
  });
});
