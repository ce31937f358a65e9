import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { readUpoDocuments } from '../../shared/protocol/xml/upo';
import { newSymmetricKey } from '../../shared/protocol/crypto/aes';
import { buildBatchPackage } from '../../shared/sessions/batch/package';
import { MemoryStateStore, type BatchProgress, type BatchSendResult, type KsefClient } from '../../shared';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import { startFaultProxy, type FaultProxy } from './support/faultProxy';

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
        partSizeBytes: await partSizeForThreeParts(invoices, compressionType),
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
      // Progress: packing, each part, processing, done.
      expect(progress[0]).toMatchObject({ phase: 'packing', session: 1, sessions: 1, invoices: 30 });
      expect(progress.filter((p) => p.phase === 'uploading').map((p) => p.partsUploaded)).toEqual([0, 1, 2, 3]);
      expect(progress[progress.length - 1]).toMatchObject({ phase: 'done', partsUploaded: 3, parts: 3, invoicesProcessed: 30 });
    },
  );
});

/** A part size that splits the package of `invoices` into three parts: measured on a package built the same way. */
async function partSizeForThreeParts(invoices: string[], compressionType: 'Zip' | 'TarGz'): Promise<number> {
  const pkg = await buildBatchPackage(
    invoices.map((input, index) => ({ index, input })),
    { key: newSymmetricKey(), compressionType },
  );
  await pkg.dispose();
  return Math.ceil(pkg.fileSize / 3);
}

export { startFaultProxy, type FaultProxy };
