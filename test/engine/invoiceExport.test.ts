import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  KsefExportFailedError,
  KsefExportPendingError,
  KsefInputError,
  KsefIntegrityError,
  KsefRateLimitError,
  KsefTooManyExportsError,
  MemoryStateStore,
  type ExportedInvoice,
  type InvoiceExport,
  type InvoiceQueryFilters,
  type JsonValue,
  type KsefClient,
} from '../../shared';
import { SealKey } from '../../shared/state/seal';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import { RecordingLogger } from './support/time';

const DAY = 86_400_000;
/** Enough exports an hour for a suite that starts many (KSeF's own 20 are kept by the sync tests). */
const ROOMY_EXPORT_LIMITS = { invoiceExport: { perSecond: 100, perMinute: 1000, perHour: 1000 } };

/** A state store whose every value the test can read. */
class OpenStateStore extends MemoryStateStore {
  readonly written = new Map<string, JsonValue>();
  override async set(key: string, value: JsonValue): Promise<void> {
    this.written.set(key, value);
    await super.set(key, value);
  }
  override async delete(key: string): Promise<void> {
    this.written.delete(key);
    await super.delete(key);
  }
}

function receivedSince(from: Date, extra: Partial<InvoiceQueryFilters> = {}): InvoiceQueryFilters {
  return { subjectType: 'Subject2', dateRange: { dateType: 'PermanentStorage', from: from.toISOString() }, ...extra };
}

async function all(exported: InvoiceExport): Promise<ExportedInvoice[]> {
  const invoices: ExportedInvoice[] = [];
  for await (const invoice of exported.invoices()) invoices.push(invoice);
  return invoices;
}

async function exportTempDirs(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => name.startsWith('ksef-export-'));
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64');

describe('client.invoices.export', () => {
  let sandbox: RecordedSandbox;
  let client: KsefClient;
  let stateStore: OpenStateStore;
  let logger: RecordingLogger;
  let seeded: string[];
  let since: Date;

  beforeEach(async () => {
    sandbox = await startRecordedSandbox({ exportPartSize: 4096, rateLimits: ROOMY_EXPORT_LIMITS });
    since = new Date(sandbox.clock.now().getTime() - 20 * DAY);
    seeded = sandbox.seedReceived(12, { from: new Date(since.getTime() + DAY), to: new Date(sandbox.clock.now().getTime() - DAY) });
    stateStore = new OpenStateStore();
    logger = new RecordingLogger();
    client = clientOf(sandbox, { stateStore, logger });
  });

  afterEach(async () => {
    await client.close();
    await sandbox.close();
  });

  it.each([
    ['Zip', 'in memory', undefined],
    ['Zip', 'through a temporary file', 0],
    ['TarGz', 'in memory', undefined],
    ['TarGz', 'through a temporary file', 0],
  ] as const)(
    'downloads, checks, decrypts and unpacks a %s package of several parts %s',
    async (compressionType, _how, maxInMemoryBytes) => {
      const tempBefore = await exportTempDirs();
      const exported = await client.invoices.export(receivedSince(since), { compressionType, maxInMemoryBytes });
      expect(exported.package).toMatchObject({ invoiceCount: 12, isTruncated: false, compressionType });
      expect(exported.package.partCount).toBeGreaterThan(1);
      const invoices: ExportedInvoice[] = [];
      const tempWhileRead = new Set<string>();
      for await (const invoice of exported.invoices()) {
        invoices.push(invoice);
        for (const name of await exportTempDirs()) if (!tempBefore.includes(name)) tempWhileRead.add(name);
      }
      // A package within maxInMemoryBytes (default 8 MB) never touches the disk; a larger one goes through one file.
      expect(tempWhileRead.size).toBe(maxInMemoryBytes === 0 ? 1 : 0);
      expect(invoices.map((i) => i.ksefNumber)).toEqual(seeded);
      for (const invoice of invoices) {
        expect(invoice.metadata.ksefNumber).toBe(invoice.ksefNumber);
        expect(invoice.xml!.toString('utf8')).toContain('<Faktura');
        expect(sha256(invoice.xml!)).toBe(invoice.metadata.invoiceHash);
      }
      // The decrypted package lived in a temporary file only while it was read; nothing is kept once delivered.
      expect(await exportTempDirs()).toEqual(tempBefore);
      expect([...stateStore.written.keys()].filter((key) => key.startsWith('ksef-flow/export/'))).toEqual([]);
      expect(() => exported.invoices()).toThrow(/already read/);
    },
  );

  it('removes the temporary package when the consumer stops early', async () => {
    const tempBefore = await exportTempDirs();
    const exported = await client.invoices.export(receivedSince(since), { maxInMemoryBytes: 1024 });
    for await (const invoice of exported.invoices()) {
      expect(invoice.xml).toBeDefined();
      const [directory] = (await exportTempDirs()).filter((name) => !tempBefore.includes(name));
      // The decrypted package is readable by this user only.
      expect((await stat(join(tmpdir(), directory))).mode & 0o777).toBe(0o700);
      const [file] = await readdir(join(tmpdir(), directory));
      expect((await stat(join(tmpdir(), directory, file))).mode & 0o777).toBe(0o600);
      break;
    }
    expect(await exportTempDirs()).toEqual(tempBefore);
  });

  it('onlyMetadata gives every invoice metadata without XML', async () => {
    const invoices = await all(await client.invoices.export(receivedSince(since), { onlyMetadata: true, compressionType: 'TarGz' }));
    expect(invoices.map((i) => i.ksefNumber)).toEqual(seeded);
    expect(invoices.every((i) => i.xml === undefined && i.metadata.buyer.identifier.value === sandbox.contextIdentifier.value)).toBe(true);
  });

  it('refuses a range longer than one export may cover, before any request', async () => {
    const filters: InvoiceQueryFilters = {
      subjectType: 'Subject2',
      dateRange: { dateType: 'PermanentStorage', from: '2026-01-01T00:00:00Z', to: '2026-05-01T00:00:00Z' },
    };
    await expect(client.invoices.export(filters)).rejects.toMatchObject({ name: KsefInputError.name, field: 'filters.dateRange' });
    expect(sandbox.count('POST /invoices/exports')).toBe(0);
  });

  it('keeps an export still at status 100 (its key sealed) and resumes it on the next call instead of starting another', async () => {
    sandbox.holdExports(true);
    const error = await client.invoices.export(receivedSince(since), { maxWaitMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KsefExportPendingError);
    const { referenceNumber, retryAt } = error as KsefExportPendingError;
    expect(retryAt.getTime()).toBeGreaterThan(Date.now());
    expect((error as Error).message).toContain(referenceNumber);

    const kept = [...stateStore.written.entries()].find(([key]) => key.startsWith('ksef-flow/export/'));
    expect(kept?.[1]).toMatchObject({ referenceNumber });
    const { key, iv } = sandbox.state.invoiceExports.byReference.get(referenceNumber)!.symmetricKey!;
    const everything = JSON.stringify([...stateStore.written.values()]);
    for (const encoding of ['base64', 'hex', 'base64url'] as const) {
      expect(everything).not.toContain(key.toString(encoding));
      expect(everything).not.toContain(Buffer.concat([key, iv]).toString(encoding));
    }

    sandbox.holdExports(false);
    // A new client (a new run) with the same state store and credential resumes it.
    const nextRun = clientOf(sandbox, { stateStore });
    try {
      const resumed = await nextRun.invoices.export(receivedSince(since));
      expect(resumed.referenceNumber).toBe(referenceNumber);
      expect((await all(resumed)).map((i) => i.ksefNumber)).toEqual(seeded);
    } finally {
      await nextRun.close();
    }
    expect(sandbox.count('POST /invoices/exports')).toBe(1);
    expect([...stateStore.written.keys()].filter((k) => k.startsWith('ksef-flow/export/'))).toEqual([]);
  });

  it('on 21182 names which of its own exports still run and when to retry', async () => {
    sandbox.holdExports(true);
    const ours: string[] = [];
    for (let i = 0; i < 3; i++) {
      const error = await client.invoices.export(receivedSince(new Date(since.getTime() + i * 1000)), { maxWaitMs: 0 }).catch((e) => e);
      ours.push((error as KsefExportPendingError).referenceNumber);
    }
    const other = clientOf(sandbox, { stateStore: new MemoryStateStore() });
    try {
      for (let i = 3; i < 10; i++)
        await other.invoices.export(receivedSince(new Date(since.getTime() + i * 1000)), { maxWaitMs: 0 }).catch(() => undefined);
    } finally {
      await other.close();
    }
    const error = await client.invoices.export(receivedSince(new Date(since.getTime() + 60_000)), { maxWaitMs: 0 }).catch((e) => e);
    expect(error).toBeInstanceOf(KsefTooManyExportsError);
    const refused = error as KsefTooManyExportsError;
    expect(refused.code).toBe(21182);
    expect(refused.runningExports.map((e) => e.referenceNumber).sort()).toEqual([...ours].sort());
    for (const reference of ours) expect(refused.message).toContain(reference);
    expect(refused.retryAt.getTime()).toBeGreaterThan(Date.now());
    expect(refused.message).toContain(refused.retryAt.toISOString());
  });

  it.each([
    ['in memory', undefined],
    ['through a temporary file', 0],
  ] as const)('downloads a part whose hash does not match once more and delivers the intact bytes (%s)', async (_how, maxInMemoryBytes) => {
    const exported = await client.invoices.export(receivedSince(since), { maxInMemoryBytes });
    const part = sandbox.state.invoiceExports.byReference.get(exported.referenceNumber)!.package!.parts[1];
    sandbox.storage.corruptNextDownload(part.blobPath);
    expect((await all(exported)).map((i) => i.ksefNumber)).toEqual(seeded);
    expect(logger.entries.filter((e) => e.message.includes('integrity'))).toHaveLength(1);
  });

  it('fails naming the part when it is corrupt twice, and delivers nothing of the package', async () => {
    const exported = await client.invoices.export(receivedSince(since));
    const part = sandbox.state.invoiceExports.byReference.get(exported.referenceNumber)!.package!.parts[1];
    sandbox.storage.corruptNextDownload(part.blobPath, 2);
    const delivered: ExportedInvoice[] = [];
    const error = await (async () => {
      for await (const invoice of exported.invoices()) delivered.push(invoice);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KsefIntegrityError);
    expect((error as Error).message).toContain(`Part 2 (${part.partName})`);
    expect(delivered).toEqual([]);
    // Still pending: the next export with the same filters downloads the same package again, intact now.
    const again = await client.invoices.export(receivedSince(since));
    expect(again.referenceNumber).toBe(exported.referenceNumber);
    expect((await all(again)).map((i) => i.ksefNumber)).toEqual(seeded);
  });

  it('asks KSeF for fresh part links when those it gave have expired before the consumer read the package', async () => {
    // Link expiries are whole seconds (`se`): a link valid 1.5 s has expired 2.6 s later, a fresh one lasts > 0.5 s.
    sandbox.state.invoiceExports.limits.partLinkValidityMs = 1500;
    const exported = await client.invoices.export(receivedSince(since));
    await new Promise((resolve) => setTimeout(resolve, 2600));
    expect((await all(exported)).map((i) => i.ksefNumber)).toEqual(seeded);
    expect(logger.entries.filter((e) => e.message.includes('part link expired'))).toHaveLength(1);
    expect(sandbox.count('GET /invoices/exports/{referenceNumber}')).toBeGreaterThanOrEqual(2);
  });

  it('starts a new export when the pending one was sealed with another credential', async () => {
    sandbox.holdExports(true);
    const pending = (await client.invoices.export(receivedSince(since), { maxWaitMs: 0 }).catch((e) => e)) as KsefExportPendingError;
    sandbox.holdExports(false);
    const kept = [...stateStore.written.entries()].find(([key]) => key.startsWith('ksef-flow/export/'))!;
    const foreign = {
      ...(kept[1] as Record<string, JsonValue>),
      sealedKey: new SealKey(Buffer.from('another credential')).seal(Buffer.alloc(48), `export key ${pending.referenceNumber}`),
    };
    await stateStore.set(kept[0], foreign);
    const fresh = await client.invoices.export(receivedSince(since));
    expect(fresh.referenceNumber).not.toBe(pending.referenceNumber);
    expect((await all(fresh)).map((i) => i.ksefNumber)).toEqual(seeded);
    expect(logger.entries.some((e) => e.level === 'warn' && e.message.includes('another credential'))).toBe(true);
  });

  /** A sandbox with other options, two invoices received, and a client of it with the suite's state store. */
  async function restart(options: Parameters<typeof startRecordedSandbox>[0]): Promise<void> {
    await client.close();
    await sandbox.close();
    sandbox = await startRecordedSandbox(options);
    sandbox.seedReceived(2, { from: new Date(since.getTime() + DAY), to: new Date(sandbox.clock.now().getTime() - DAY) });
    client = clientOf(sandbox, { stateStore });
  }

  it('an expired export gives status 210 with its meaning and next step, and is started afresh by the next call', async () => {
    await restart({ exportPackageValidityMs: 1, rateLimits: ROOMY_EXPORT_LIMITS });
    sandbox.holdExports(true);
    const pending = (await client.invoices.export(receivedSince(since), { maxWaitMs: 0 }).catch((e) => e)) as KsefExportPendingError;
    sandbox.holdExports(false);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const error = await client.invoices.export(receivedSince(since)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KsefExportFailedError);
    expect(error).toMatchObject({ referenceNumber: pending.referenceNumber, statusCode: 210 });
    expect((error as Error).message).toMatch(/expired.*export again/i);
    expect(sandbox.count('POST /invoices/exports')).toBe(1);

    const again = await client.invoices.export(receivedSince(since)).catch((e: unknown) => e);
    expect(sandbox.count('POST /invoices/exports')).toBe(2);
    expect((again as { referenceNumber: string }).referenceNumber).not.toBe(pending.referenceNumber);
  });

  it('an export KSeF cancels (550) gives its meaning and the next step, and its state is removed', async () => {
    sandbox.state.invoiceExports.failNextWith = 550;
    const error = await client.invoices.export(receivedSince(since)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KsefExportFailedError);
    expect(error).toMatchObject({ statusCode: 550 });
    expect((error as Error).message).toMatch(/Cancelled by KSeF.*Export again/);
    expect([...stateStore.written.keys()].filter((k) => k.startsWith('ksef-flow/export/'))).toEqual([]);
    expect((await all(await client.invoices.export(receivedSince(since)))).map((i) => i.ksefNumber)).toEqual(seeded);
  });

  it("does not start an export beyond KSeF's exports an hour: a rate-limit error saying when, and nothing sent", async () => {
    await restart({ rateLimits: { invoiceExport: { perSecond: 10, perMinute: 20, perHour: 1 } } });
    await all(await client.invoices.export(receivedSince(since)));
    const error = await client.invoices.export(receivedSince(new Date(since.getTime() + 1000))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KsefRateLimitError);
    expect((error as Error).message).toContain('1 exports an hour');
    expect((error as KsefRateLimitError).retryAt.getTime()).toBeGreaterThan(Date.now() + 3_500_000);
    expect(sandbox.count('POST /invoices/exports')).toBe(1);
    expect(sandbox.exchanges.filter((e) => e.status === 429)).toEqual([]);
  });

  it("counts a start sent again after KSeF's key rotation (21470) as KSeF does: the hourly limit is kept without asking it", async () => {
    await restart({ rateLimits: { invoiceExport: { perSecond: 10, perMinute: 20, perHour: 3 } } });
    await all(await client.invoices.export(receivedSince(since)));
    const [{ requestBody }] = sandbox.exchanges.filter((e) => e.operation === 'POST /invoices/exports');
    await sandbox.rotatePublicKey('SymmetricKeyEncryption');
    sandbox.withdrawPublicKey(JSON.parse(requestBody.toString('utf8')).encryption.publicKeyId);

    await all(await client.invoices.export(receivedSince(new Date(since.getTime() + 1000))));
    expect(sandbox.exchanges.filter((e) => e.operation === 'POST /invoices/exports').map((e) => e.status)).toEqual([201, 400, 201]);
    const error = await client.invoices.export(receivedSince(new Date(since.getTime() + 2000))).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(KsefRateLimitError);
    expect((error as Error).message).toContain('KSeF allows 3 exports an hour in this context and this client has started that many');
    expect(sandbox.count('POST /invoices/exports')).toBe(3);
  });

  it('an export starting after the high-water mark ends in 420, explained', async () => {
    const justNow = new Date(sandbox.clock.now().getTime() - 500);
    const error = await client.invoices
      .export({
        subjectType: 'Subject2',
        dateRange: { dateType: 'PermanentStorage', from: justNow.toISOString(), restrictToPermanentStorageHwmDate: true },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KsefExportFailedError);
    expect(error).toMatchObject({ statusCode: 420 });
    expect((error as Error).message).toContain('high-water mark');
  });
});

describe('SealKey', () => {
  it('opens what it sealed for the same purpose only, and only with the same credential secret', () => {
    const secret = Buffer.from('20260101-EC-0000000000-0000000000-00|nip-1234563218|secret');
    const sealed = new SealKey(secret).seal(Buffer.from('key material'), 'export key A');
    expect(sealed).not.toContain(Buffer.from('key material').toString('base64'));
    expect(new SealKey(secret).open(sealed, 'export key A').toString()).toBe('key material');
    expect(() => new SealKey(secret).open(sealed, 'export key B')).toThrow(/does not open/);
    expect(() => new SealKey(Buffer.from('another token')).open(sealed, 'export key A')).toThrow(/does not open/);
  });
});
