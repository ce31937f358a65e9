import { readFileSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { batchPartBlobPath } from '../../sandbox/storage/store';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { readUpoDocuments } from '../../shared/protocol/xml/upo';
import { newSymmetricKey } from '../../shared/protocol/crypto/aes';
import { buildBatchPackage } from '../../shared/sessions/batch/package';
import { MemoryStateStore, type BatchProgress, type BatchSendResult, type KsefClient } from '../../shared';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import { startFaultProxy, type FaultProxy } from './support/faultProxy';
import { ManualClock, RecordingLogger } from './support/time';

const invoicesNumbered = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => buildDemoInvoice({ invoiceNumber: `${prefix}/${i + 1}`, lines: 1 + (i % 4) }));

/** Every invoice accepted, with its own KSeF number, file name, ordinal number and hash. */
function expectAllAccepted(result: BatchSendResult, invoices: string[]): void {
  expect(result.invoices.map((r) => r.index)).toEqual(invoices.map((_, i) => i));
  for (const [i, invoice] of result.invoices.entries()) {
    expect(invoice.error).toBeUndefined();
    expect(invoice).toMatchObject({ accepted: true, pending: false, fileName: `invoice-${i + 1}.xml` });
    expect(invoice.invoiceHash).toBe(sha256Base64(Buffer.from(invoices[i], 'utf8')));
    expect(isValidKsefNumber(invoice.ksefNumber!)).toBe(true);
    expect(invoice.ordinalNumber).toBeGreaterThanOrEqual(1);
  }
  expect(new Set(result.invoices.map((r) => r.ksefNumber)).size).toBe(invoices.length);
}

describe('batch session send against the sandbox', () => {
  let sandbox: RecordedSandbox;
  let client: KsefClient;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox();
    client = clientOf(sandbox, { stateStore: new MemoryStateStore() });
  });
  afterEach(async () => {
    await client.close();
    await sandbox.close();
  });

  it.each(['Zip', 'TarGz'] as const)(
    'sends 30 invoices as a %s package in 3 parts: KSeF numbers, ordinals, session UPO, progress',
    async (compressionType) => {
      const invoices = invoicesNumbered(`FV/BATCH/${compressionType}`, 30);
      const progress: BatchProgress[] = [];
      const result = await client.sessions.batch.send(invoices, {
        compressionType,
        partSizeBytes: await partSizeFor(invoices, compressionType, 3),
        onProgress: (p) => progress.push(p),
      });

      expectAllAccepted(result, invoices);
      expect(result).toMatchObject({ environment: 'custom', mode: 'batch' });
      expect(result.sessions).toHaveLength(1);
      const [session] = result.sessions;
      expect(session).toMatchObject({ invoiceCount: 30, partCount: 3, status: { code: 200 } });
      expect(session.sessionReferenceNumber).toMatch(/^\d{8}-SB-/);
      expect(result.invoices.every((r) => r.sessionReferenceNumber === session.sessionReferenceNumber)).toBe(true);
      expect(result.invoices.map((r) => r.ordinalNumber).sort((a, b) => a! - b!)).toEqual(invoices.map((_, i) => i + 1));
      // The session UPO confirms exactly these invoices.
      const confirmed = session.sessionUpo!.flatMap((page) => readUpoDocuments(page.upo));
      expect(confirmed.map((doc) => doc.ksefNumber).sort()).toEqual(result.invoices.map((r) => r.ksefNumber).sort());
      // Parts went to the storage URLs without the access token, one PUT each.
      const puts = sandbox.exchanges.filter((e) => e.method === 'PUT');
      expect(puts).toHaveLength(3);
      expect(puts.every((e) => e.requestHeaders.authorization === undefined)).toBe(true);
      expect(sandbox.count('POST /sessions/batch/{referenceNumber}/close')).toBe(1);
      // Progress: packing, the package built (its parts known before the session opens), each part, processing, done.
      expect(progress[0]).toMatchObject({ phase: 'packing', session: 1, sessions: 1, invoices: 30, parts: 0 });
      expect(progress[1]).toMatchObject({ phase: 'packing', invoices: 30, parts: 3, partsUploaded: 0 });
      expect(progress.filter((p) => p.phase === 'uploading').map((p) => p.partsUploaded)).toEqual([0, 1, 2, 3]);
      expect(progress[progress.length - 1]).toMatchObject({ phase: 'done', partsUploaded: 3, parts: 3, invoicesProcessed: 30 });
    },
  );

  it('fails each bad invoice on its own (locally or by KSeF) while the others are accepted', async () => {
    const [original] = (await client.sessions.batch.send([buildDemoInvoice({ invoiceNumber: 'FV/BMIX/DUP' })])).invoices;
    expect(original.accepted).toBe(true);

    const good = buildDemoInvoice({ invoiceNumber: 'FV/BMIX/1' });
    const result = await client.sessions.batch.send([
      good,
      'this is not an invoice',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(buildDemoInvoice({ invoiceNumber: 'FV/BMIX/BOM' }))]),
      // Another seller's invoice: the demo context may not issue it (KSeF's verdict, not a local check).
      { xml: buildDemoInvoice({ invoiceNumber: 'FV/BMIX/SELLER', sellerNip: '5265877635' }), fileName: 'other-seller.xml' },
      // Same number as the invoice already in KSeF, other content: a real duplicate.
      buildDemoInvoice({ invoiceNumber: 'FV/BMIX/DUP', lines: 2 }),
      // The very same document again: resolved to the original's KSeF number, not a second invoice.
      buildDemoInvoice({ invoiceNumber: 'FV/BMIX/DUP' }),
      buildDemoInvoice({ invoiceNumber: 'FV/BMIX/2' }),
    ]);

    const byIndex = result.invoices;
    expect(byIndex.map((r) => r.accepted)).toEqual([true, false, false, false, false, true, true]);
    expect(byIndex[1]).toMatchObject({ fileName: 'invoice-2.xml', error: { name: 'KsefInputError', field: 'invoices[1]' } });
    expect(byIndex[1].ordinalNumber).toBeUndefined();
    expect(String(byIndex[2].error!.message)).toMatch(/BOM/);
    expect(byIndex[3]).toMatchObject({ fileName: 'other-seller.xml', error: { name: 'KsefInvoiceRejectedError', field: 'invoices[3]' } });
    expect(byIndex[3].sessionReferenceNumber).toBe(result.sessions[0].sessionReferenceNumber);
    expect(byIndex[4].error).toMatchObject({ name: 'KsefInvoiceRejectedError', statusCode: 440 });
    expect(byIndex[5]).toMatchObject({
      ksefNumber: original.ksefNumber,
      resolvedFromDuplicate: { originalSessionReferenceNumber: original.sessionReferenceNumber },
    });
    expect(isValidKsefNumber(byIndex[6].ksefNumber!)).toBe(true);
    // Only the five that passed the local checks were in the package.
    expect(result.sessions).toMatchObject([{ invoiceCount: 5, status: { code: 200 } }]);
  });

  it('the same invoices sent again come back with their KSeF numbers, resolved through the UPO of the first session', async () => {
    const invoices = invoicesNumbered('FV/AGAIN', 6);
    const first = await client.sessions.batch.send(invoices);
    expectAllAccepted(first, invoices);

    const again = await client.sessions.batch.send(invoices);

    expect(again.invoices.map((r) => r.ksefNumber)).toEqual(first.invoices.map((r) => r.ksefNumber));
    for (const invoice of again.invoices) {
      expect(invoice).toMatchObject({
        accepted: true,
        status: { code: 440 },
        resolvedFromDuplicate: { originalSessionReferenceNumber: first.sessions[0].sessionReferenceNumber },
      });
    }
    // One read of the original session and its UPO, not a request or two per invoice.
    expect(sandbox.count('GET /sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo')).toBe(0);
    expect(sandbox.count('GET /invoices/ksef/{ksefNumber}')).toBe(0);
  });

  it('splits more invoices than maxInvoicesPerSession across sessions, in input order, stream inputs among them', async () => {
    const invoices = invoicesNumbered('FV/SPLIT', 23);
    const inputs = invoices.map((xml, i) =>
      i % 3 === 0 ? { open: () => Readable.from([Buffer.from(xml)]), size: Buffer.byteLength(xml) } : xml,
    );
    const sessionsSeen = new Set<number>();

    const result = await client.sessions.batch.send(inputs, {
      maxInvoicesPerSession: 10,
      onProgress: (p) => sessionsSeen.add(p.session * 100 + p.sessions),
    });

    expectAllAccepted(result, invoices);
    expect(result.sessions.map((s) => s.invoiceCount)).toEqual([10, 10, 3]);
    expect(new Set(result.sessions.map((s) => s.sessionReferenceNumber)).size).toBe(3);
    expect([...sessionsSeen]).toEqual([103, 203, 303]);
    for (const [i, invoice] of result.invoices.entries()) {
      expect(invoice.sessionReferenceNumber).toBe(result.sessions[Math.floor(i / 10)].sessionReferenceNumber);
    }
    expect(sandbox.count('POST /sessions/batch')).toBe(3);
  });

  it('a session KSeF fails as a whole (a part not as declared) fails every invoice of it with the session status', async () => {
    const invoices = invoicesNumbered('FV/CORRUPT', 6);

    const result = await client.sessions.batch.send(invoices, {
      onProgress: (p) => {
        if (p.phase !== 'uploading' || p.partsUploaded !== p.parts) return;
        // The storage host's copy changes after the upload, as a damaged blob would.
        const [session] = [...sandbox.state.batchSessions.values()];
        const { file } = sandbox.storage.uploaded(batchPartBlobPath(session.referenceNumber, 1))!;
        const bytes = readFileSync(file);
        bytes[100] ^= 0xff;
        writeFileSync(file, bytes);
      },
    });

    const [session] = result.sessions;
    expect(session.status?.code).toBe(405);
    for (const [i, invoice] of result.invoices.entries()) {
      expect(invoice).toMatchObject({ accepted: false, pending: false, sessionReferenceNumber: session.sessionReferenceNumber });
      expect(invoice.error).toMatchObject({
        name: 'KsefBatchSessionFailedError',
        field: `invoices[${i}]`,
        statusCode: 405,
        referenceNumber: session.sessionReferenceNumber,
      });
      expect(String(invoice.error!.message)).toMatch(/ended with status 405 \(The package parts failed verification/);
    }
  });

  it('every invoice KSeF rejects (status 445): each has its own rejection', async () => {
    const invoices = [1, 2].map((n) => buildDemoInvoice({ invoiceNumber: `FV/ALLBAD/${n}`, sellerNip: '5265877635' }));

    const result = await client.sessions.batch.send(invoices);

    expect(result.sessions[0].status?.code).toBe(445);
    expect(result.invoices.map((r) => r.error?.name)).toEqual(['KsefInvoiceRejectedError', 'KsefInvoiceRejectedError']);
    expect(result.invoices.map((r) => r.ordinalNumber).sort()).toEqual([1, 2]);
  });

  it('says clearly when the upload window ended before every part was uploaded; the session is not closed', async () => {
    const clock = new ManualClock();
    const logger = new RecordingLogger();
    const late = clientOf(sandbox, { clock, sleep: clock.sleep, logger, stateStore: new MemoryStateStore() });
    const invoices = invoicesNumbered('FV/WINDOW', 20);
    try {
      const result = await late.sessions.batch.send(invoices, {
        partSizeBytes: await partSizeFor(invoices, 'Zip', 2),
        uploadConcurrency: 1,
        onProgress: (p) => {
          // Two parts have 2 x 20 minutes; the second would start 41 minutes after the open.
          if (p.phase === 'uploading' && p.partsUploaded === 1) clock.advance(41 * 60_000);
        },
      });

      const [session] = result.sessions;
      expect(session).toMatchObject({ partCount: 2, invoiceCount: 20 });
      for (const invoice of result.invoices) {
        expect(invoice).toMatchObject({
          accepted: false,
          error: { name: 'KsefBatchSessionFailedError', referenceNumber: session.sessionReferenceNumber },
        });
        expect(String(invoice.error!.message)).toMatch(
          /could not take part 2: its upload window \(2 part\(s\) x 20 minutes\) ended at .+ with 1 of 2 parts uploaded, and KSeF cancels such a session \(status 440\)/,
        );
      }
      expect(sandbox.exchanges.filter((e) => e.method === 'PUT')).toHaveLength(1);
      expect(sandbox.count('POST /sessions/batch/{referenceNumber}/close')).toBe(0);
      expect(logger.text()).not.toMatch(/sig=/);
    } finally {
      await late.close();
    }
  });

  it('refuses a package over KSeF limits before anything is sent', async () => {
    await expect(client.sessions.batch.send(invoicesNumbered('FV/LIMIT', 5), { partSizeBytes: 40 })).rejects.toMatchObject({
      name: 'KsefInputError',
      field: 'options.partSizeBytes',
    });
    await expect(client.sessions.batch.send(invoicesNumbered('FV/LIMIT', 1), { maxInvoicesPerSession: 10_001 })).rejects.toMatchObject({
      name: 'KsefInputError',
      field: 'options.maxInvoicesPerSession',
    });
    await expect(client.sessions.batch.send(invoicesNumbered('FV/LIMIT', 1), { schema: 'PEF(3)' })).rejects.toMatchObject({
      field: 'options.schema',
    });
    // The second session's package needs more than 50 parts where the first needs 50: the first is not sent either.
    const small = invoicesNumbered('FV/LIMIT/SMALL', 5).map((xml) => xml);
    const large = Array.from({ length: 5 }, (_, i) => buildDemoInvoice({ invoiceNumber: `FV/LIMIT/LARGE/${i}`, lines: 100 }));
    const firstPackage = await buildBatchPackage(
      small.map((input, index) => ({ index, input })),
      { key: newSymmetricKey() },
    );
    await firstPackage.dispose();
    await expect(
      client.sessions.batch.send([...small, ...large], { maxInvoicesPerSession: 5, partSizeBytes: Math.ceil(firstPackage.fileSize / 50) }),
    ).rejects.toMatchObject({
      name: 'KsefInputError',
      field: 'options.partSizeBytes',
      message: expect.stringMatching(/more than KSeF's 50 parts/),
    });
    expect(sandbox.count('POST /sessions/batch')).toBe(0);
  });
});

describe('faults on the way: part uploads and the close', () => {
  let sandbox: RecordedSandbox;
  let proxy: FaultProxy;
  let client: KsefClient;
  const CLOSE = /^\/sessions\/batch\/[^/]+\/close$/;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox();
    proxy = await startFaultProxy(sandbox.baseUrl);
    client = clientOf(sandbox, { baseUrl: proxy.baseUrl });
  });
  afterEach(async () => {
    await client.close();
    await proxy.close();
    await sandbox.close();
  });

  it('a part upload answered 500 is sent again, and one the storage host took but answered 502 counts as done on its 409', async () => {
    const invoices = invoicesNumbered('FV/PARTFAULTS', 20);
    const proxyOrigin = new URL(proxy.baseUrl).origin;
    // The parts go through the proxy too, so their answers can fail.
    proxy.inject((r) => r.method === 'POST' && r.path === '/sessions/batch', {
      kind: 'rewriteJson',
      change: (body: { partUploadRequests: { url: string }[] }) => ({
        ...body,
        partUploadRequests: body.partUploadRequests.map((request) => ({
          ...request,
          url: proxyOrigin + new URL(request.url).pathname + new URL(request.url).search,
        })),
      }),
    });
    proxy.inject((r) => r.method === 'PUT' && r.path.endsWith('/batch-parts/1'), { kind: 'respond', status: 500, body: 'InternalError' });
    proxy.inject((r) => r.method === 'PUT' && r.path.endsWith('/batch-parts/2'), {
      kind: 'replaceAnswer',
      status: 502,
      body: 'Bad Gateway',
    });

    const result = await client.sessions.batch.send(invoices, {
      partSizeBytes: await partSizeFor(invoices, 'Zip', 2),
      uploadConcurrency: 1,
    });

    expectAllAccepted(result, invoices);
    expect(proxy.count('PUT', /\/batch-parts\//)).toBe(4);
    expect(sandbox.exchanges.filter((e) => e.method === 'PUT').map((e) => e.status)).toEqual([201, 201, 409]);
  });

  it('a close KSeF took but answered 502 is not sent again: the status says it is processing, and the results come', async () => {
    const invoices = invoicesNumbered('FV/CLOSE502', 4);
    proxy.inject((r) => r.method === 'POST' && CLOSE.test(r.path), {
      kind: 'replaceAnswer',
      status: 502,
      body: '<html>Bad Gateway</html>',
    });

    const result = await client.sessions.batch.send(invoices);

    expectAllAccepted(result, invoices);
    expect(proxy.count('POST', CLOSE)).toBe(1);
    expect(sandbox.count('POST /sessions/batch/{referenceNumber}/close')).toBe(1);
  });

  it('a close lost before KSeF saw it is sent again once the status still reads open', async () => {
    const invoices = invoicesNumbered('FV/CLOSELOST', 2);
    proxy.inject((r) => r.method === 'POST' && CLOSE.test(r.path), { kind: 'respond', status: 503, body: 'Service Unavailable' });

    const result = await client.sessions.batch.send(invoices);

    expectAllAccepted(result, invoices);
    expect(proxy.count('POST', CLOSE)).toBe(2);
    expect(sandbox.count('POST /sessions/batch/{referenceNumber}/close')).toBe(1);
  });
});

/** A part size that splits the package of `invoices` into `parts` parts: measured on a package built the same way. */
async function partSizeFor(invoices: string[], compressionType: 'Zip' | 'TarGz', parts: number): Promise<number> {
  const pkg = await buildBatchPackage(
    invoices.map((input, index) => ({ index, input })),
    { key: newSymmetricKey(), compressionType },
  );
  await pkg.dispose();
  return Math.ceil(pkg.fileSize / parts);
}
