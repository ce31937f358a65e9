import { MemoryStateStore, type KsefClient, type SyncBatch, type SyncCheckpoint, type SyncOptions } from '../../shared';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';
import { ManualClock } from './support/time';
import { certificateClient, pkcs12Credentials, sealOf } from './support/certificates';

const DAY = 86_400_000;
const ROOMY_EXPORT_LIMITS = { invoiceExport: { perSecond: 100, perMinute: 1000, perHour: 1000 } };
/** The sandbox's high-water mark lags this little, so invoices added in a test are complete soon after. */
const HWM_DELAY_MS = 100;

const waitPastHwm = () => new Promise((resolve) => setTimeout(resolve, HWM_DELAY_MS * 3));

describe('client.invoices.sync', () => {
  let sandbox: RecordedSandbox;
  let client: KsefClient;

  async function start(options: Parameters<typeof startRecordedSandbox>[0] = {}): Promise<void> {
    sandbox = await startRecordedSandbox({ hwmDelayMs: HWM_DELAY_MS, rateLimits: ROOMY_EXPORT_LIMITS, ...options });
    client = clientOf(sandbox, { stateStore: new MemoryStateStore() });
  }

  afterEach(async () => {
    await client?.close();
    await sandbox?.close();
  });

  const daysAgo = (days: number) => new Date(sandbox.clock.now().getTime() - days * DAY);

  /** Runs until nothing more is waiting, as a host's scheduled runs would, storing each checkpoint after taking its batch. */
  async function runUntilDone(options: SyncOptions): Promise<{ numbers: string[]; batches: SyncBatch[]; checkpoint: SyncCheckpoint }> {
    const numbers: string[] = [];
    const batches: SyncBatch[] = [];
    let checkpoint = options.checkpoint ?? null;
    for (let run = 0; run < 20; run++) {
      const batch = await client.invoices.sync({ ...options, checkpoint });
      batches.push(batch);
      numbers.push(...batch.invoices.map((i) => i.ksefNumber));
      checkpoint = batch.checkpoint;
      if (!batch.more) break;
    }
    return { numbers, batches, checkpoint: checkpoint! };
  }

  it('delivers each received invoice exactly once across runs while new ones arrive, one checkpoint per subject type', async () => {
    await start();
    const first = sandbox.seedReceived(5, { from: daysAgo(10), to: daysAgo(1) });
    const run1 = await runUntilDone({ subjectType: 'Subject2', startFrom: daysAgo(20) });
    expect(run1.numbers).toEqual(first);
    expect(run1.checkpoint).toMatchObject({ version: 1, subjectType: 'Subject2', pending: null });
    for (const invoice of run1.batches[0].invoices) expect(invoice.xml!.toString()).toContain('<Faktura');

    const arrived = sandbox.seedReceived(3);
    await waitPastHwm();
    const run2 = await runUntilDone({ subjectType: 'Subject2', checkpoint: run1.checkpoint });
    expect(run2.numbers).toEqual(arrived);

    await waitPastHwm();
    const run3 = await runUntilDone({ subjectType: 'Subject2', checkpoint: run2.checkpoint });
    expect(run3.numbers).toEqual([]);
    // The window moved on to the high-water mark each time: never back.
    expect(Date.parse(run3.checkpoint.from)).toBeGreaterThanOrEqual(Date.parse(run2.checkpoint.from));
    expect(Date.parse(run2.checkpoint.from)).toBeGreaterThan(Date.parse(run1.checkpoint.from));

    await expect(client.invoices.sync({ subjectType: 'Subject1', checkpoint: run3.checkpoint })).rejects.toMatchObject({
      field: 'options.checkpoint.subjectType',
    });
    // Every export asked for KSeF's complete data only, by PermanentStorage date.
    const requests = sandbox.exchanges.filter((e) => e.operation === 'POST /invoices/exports');
    expect(requests.length).toBeGreaterThanOrEqual(3);
    for (const request of requests) {
      expect((JSON.parse(request.requestBody.toString()) as { filters: { dateRange: unknown } }).filters.dateRange).toMatchObject({
        dateType: 'PermanentStorage',
        restrictToPermanentStorageHwmDate: true,
      });
    }
  });

  it('a first run from now only sets the starting point', async () => {
    await start({ seedReceived: 4 });
    const batch = await client.invoices.sync({ subjectType: 'Subject2' });
    expect(batch.invoices).toEqual([]);
    expect(sandbox.count('POST /invoices/exports')).toBe(0);
    const arrived = sandbox.seedReceived(2);
    await waitPastHwm();
    expect((await runUntilDone({ subjectType: 'Subject2', checkpoint: batch.checkpoint })).numbers).toEqual(arrived);
  });

  it('a first run from now starts no export even when the clock moves between its readings', async () => {
    await start({ seedReceived: 4 });
    // Every reading a millisecond later, as on a busy machine: "now" as the start must still be this run's now.
    let readings = 0;
    await client.close();
    client = clientOf(sandbox, { stateStore: new MemoryStateStore(), clock: { now: () => new Date(Date.now() + readings++) } });
    const batch = await client.invoices.sync({ subjectType: 'Subject2' });
    expect(batch).toMatchObject({ invoices: [], more: false });
    expect(sandbox.count('POST /invoices/exports')).toBe(0);
  });

  it('goes on from lastPermanentStorageDate when a package is truncated, with `more`, without repeating an invoice', async () => {
    await start({ exportMaxInvoices: 4 });
    const seeded = sandbox.seedReceived(10, { from: daysAgo(10), to: daysAgo(1) });
    const { numbers, batches } = await runUntilDone({ subjectType: 'Subject2', startFrom: daysAgo(20), compressionType: 'TarGz' });
    expect(numbers).toEqual(seeded);
    expect(batches.slice(0, -1).every((b) => b.more)).toBe(true);
    expect(batches.at(-1)!.more).toBe(false);
    expect(batches[0].invoices).toHaveLength(4);
  });

  it('moves through a checkpoint further back than one export reaches in windows of 100 days', async () => {
    await start();
    const seeded = sandbox.seedReceived(3, { from: daysAgo(10), to: daysAgo(1) });
    const { numbers, batches } = await runUntilDone({ subjectType: 'Subject2', startFrom: daysAgo(150) });
    expect(numbers).toEqual(seeded);
    expect(batches[0]).toMatchObject({ invoices: [], more: true });
    expect(Date.parse(batches[0].checkpoint.from) - Date.parse(daysAgo(150).toISOString())).toBeLessThanOrEqual(100 * DAY);
  });

  it('re-delivers the same invoices when the checkpoint was not stored (a crash between delivery and checkpoint)', async () => {
    await start();
    const seeded = sandbox.seedReceived(4, { from: daysAgo(10), to: daysAgo(1) });
    const first = await client.invoices.sync({ subjectType: 'Subject2', startFrom: daysAgo(20) });
    // The host crashed before storing first.checkpoint: the next run gets the old (here: no) checkpoint again.
    const again = await client.invoices.sync({ subjectType: 'Subject2', startFrom: daysAgo(20) });
    expect(first.invoices.map((i) => i.ksefNumber)).toEqual(seeded);
    expect(again.invoices.map((i) => i.ksefNumber)).toEqual(seeded);
    const later = await client.invoices.sync({ subjectType: 'Subject2', checkpoint: first.checkpoint });
    expect(later.invoices).toEqual([]);
  });

  it('without XML, a metadata-only export', async () => {
    await start();
    const seeded = sandbox.seedReceived(3, { from: daysAgo(10), to: daysAgo(1) });
    const batch = await client.invoices.sync({ subjectType: 'Subject2', startFrom: daysAgo(20), includeXml: false });
    expect(batch.invoices.map((i) => i.ksefNumber)).toEqual(seeded);
    expect(batch.invoices.every((i) => i.xml === undefined)).toBe(true);
    expect(
      (
        JSON.parse(sandbox.exchanges.find((e) => e.operation === 'POST /invoices/exports')!.requestBody.toString()) as {
          onlyMetadata: boolean;
        }
      ).onlyMetadata,
    ).toBe(true);
  });

  it('keeps a slow export in the checkpoint (key sealed) and the next run resumes it', async () => {
    await start();
    const seeded = sandbox.seedReceived(3, { from: daysAgo(10), to: daysAgo(1) });
    sandbox.holdExports(true);
    const waiting = await client.invoices.sync({ subjectType: 'Subject2', startFrom: daysAgo(20), maxWaitMs: 200 });
    expect(waiting).toMatchObject({ invoices: [], more: false });
    expect(waiting.nextFetchReason).toMatch(/still preparing/);
    const pending = waiting.checkpoint.pending!;
    expect(pending.referenceNumber).toMatch(/-EH-/);
    const { key } = sandbox.state.invoiceExports.byReference.get(pending.referenceNumber)!.symmetricKey!;
    expect(JSON.stringify(waiting.checkpoint)).not.toContain(key.toString('base64'));

    sandbox.holdExports(false);
    // Another client (a restarted host) with the same credential and only the checkpoint.
    await client.close();
    client = clientOf(sandbox, { stateStore: new MemoryStateStore() });
    const resumed = await client.invoices.sync({ subjectType: 'Subject2', checkpoint: waiting.checkpoint });
    expect(resumed.invoices.map((i) => i.ksefNumber)).toEqual(seeded);
    expect(resumed.checkpoint.pending).toBeNull();
    expect(sandbox.count('POST /invoices/exports')).toBe(1);
  });

  it('with certificate credentials, seals the pending export with the private key and only that certificate resumes it', async () => {
    await start();
    const seeded = sandbox.seedReceived(2, { from: daysAgo(10), to: daysAgo(1) });
    const seal = sealOf(sandbox.contextIdentifier.value, 'ec');
    const certified = () => certificateClient(sandbox, pkcs12Credentials(sandbox, seal), { stateStore: new MemoryStateStore() });
    await client.close();
    client = certified();
    sandbox.holdExports(true);
    const waiting = await client.invoices.sync({ subjectType: 'Subject2', startFrom: daysAgo(20), maxWaitMs: 0 });
    const pending = waiting.checkpoint.pending!;
    sandbox.holdExports(false);

    // Another credential of the same context cannot open the sealed key: it starts its own export.
    const tokenClient = clientOf(sandbox, { stateStore: new MemoryStateStore() });
    try {
      const other = await tokenClient.invoices.sync({ subjectType: 'Subject2', checkpoint: waiting.checkpoint });
      expect(other.invoices.map((i) => i.ksefNumber)).toEqual(seeded);
    } finally {
      await tokenClient.close();
    }
    expect(sandbox.count('POST /invoices/exports')).toBe(2);

    await client.close();
    client = certified();
    const resumed = await client.invoices.sync({ subjectType: 'Subject2', checkpoint: waiting.checkpoint });
    expect(resumed.invoices.map((i) => i.ksefNumber)).toEqual(seeded);
    expect(sandbox.count('POST /invoices/exports')).toBe(2);
    expect(sandbox.state.invoiceExports.byReference.get(pending.referenceNumber)!.status.code).toBe(200);
  });

  it('waits, without failing, while the context runs as many exports as KSeF allows (21182)', async () => {
    await start();
    sandbox.seedReceived(2, { from: daysAgo(10), to: daysAgo(1) });
    sandbox.holdExports(true);
    const other = clientOf(sandbox, { stateStore: new MemoryStateStore() });
    try {
      for (let i = 0; i < 10; i++) {
        await other.invoices
          .export({ subjectType: 'Subject1', dateRange: { dateType: 'Issue', from: daysAgo(30 - i).toISOString() } }, { maxWaitMs: 0 })
          .catch(() => undefined);
      }
    } finally {
      await other.close();
    }
    const startFrom = daysAgo(20);
    const batch = await client.invoices.sync({ subjectType: 'Subject2', startFrom });
    expect(batch).toMatchObject({ invoices: [], more: false, checkpoint: { pending: null, from: startFrom.toISOString() } });
    expect(batch.nextFetchReason).toContain('21182');
    expect(Date.parse(batch.nextFetchAt!)).toBeGreaterThan(Date.now());
  });

  /**
   * A sandbox allowing `perHour` exports an hour, two invoices received, and a client on a manual clock;
   * `restartHost` replaces the client with a new one without state store, as a restarted host has only the checkpoint.
   */
  async function startOnManualClock(perHour: number): Promise<{ clock: ManualClock; restartHost: () => Promise<void> }> {
    const clock = new ManualClock();
    await start({ clock, rateLimits: { invoiceExport: { perSecond: 10, perMinute: 20, perHour } } });
    const newClient = async () => {
      await client.close();
      client = clientOf(sandbox, { clock, sleep: clock.sleep, stateStore: new MemoryStateStore() });
    };
    await newClient();
    sandbox.seedReceived(2, { from: daysAgo(10), to: daysAgo(1) });
    return { clock, restartHost: newClient };
  }

  it("stays within KSeF's exports an hour by itself, across restarts: the next fetch time instead of a 429", async () => {
    const { clock, restartHost } = await startOnManualClock(2);
    const run1 = await client.invoices.sync({ subjectType: 'Subject2', startFrom: daysAgo(20) });
    const firstStart = Date.parse(run1.checkpoint.exportStarts[0]);
    clock.advance(60_000);
    const run2 = await client.invoices.sync({ subjectType: 'Subject2', checkpoint: run1.checkpoint });
    expect(sandbox.count('POST /invoices/exports')).toBe(2);

    await restartHost();
    clock.advance(60_000);
    const run3 = await client.invoices.sync({ subjectType: 'Subject2', checkpoint: run2.checkpoint });
    expect(run3.invoices).toEqual([]);
    expect(run3.nextFetchReason).toMatch(/2 exports an hour/);
    expect(Date.parse(run3.nextFetchAt!)).toBeGreaterThanOrEqual(firstStart + 3_600_000);
    expect(Date.parse(run3.nextFetchAt!)).toBeLessThan(firstStart + 3_600_000 + 5_000);
    expect(run3.checkpoint.from).toBe(run2.checkpoint.from);
    expect(sandbox.count('POST /invoices/exports')).toBe(2);
    expect(sandbox.exchanges.filter((e) => e.status === 429)).toEqual([]);

    clock.advance(Date.parse(run3.nextFetchAt!) - clock.now().getTime());
    const arrived = sandbox.seedReceived(1, { from: new Date(clock.now().getTime() - 1000), to: new Date(clock.now().getTime() - 1000) });
    await waitPastHwm();
    const run4 = await client.invoices.sync({ subjectType: 'Subject2', checkpoint: run3.checkpoint });
    expect(run4.nextFetchAt).toBeUndefined();
    expect(run4.invoices.map((i) => i.ksefNumber)).toEqual(arrived);
    expect(sandbox.exchanges.filter((e) => e.status === 429)).toEqual([]);
  });

  it("counts a start sent again after KSeF's key rotation (21470) in the checkpoint: a restarted host keeps the hourly limit", async () => {
    const { clock, restartHost } = await startOnManualClock(3);
    const run1 = await client.invoices.sync({ subjectType: 'Subject2', startFrom: daysAgo(20) });
    const [{ requestBody }] = sandbox.exchanges.filter((e) => e.operation === 'POST /invoices/exports');
    await sandbox.rotatePublicKey('SymmetricKeyEncryption');
    sandbox.withdrawPublicKey(JSON.parse(requestBody.toString('utf8')).encryption.publicKeyId);
    clock.advance(60_000);

    const run2 = await client.invoices.sync({ subjectType: 'Subject2', checkpoint: run1.checkpoint });
    expect(sandbox.exchanges.filter((e) => e.operation === 'POST /invoices/exports').map((e) => e.status)).toEqual([201, 400, 201]);
    expect(run2.checkpoint.exportStarts).toHaveLength(3);

    await restartHost();
    clock.advance(60_000);
    const run3 = await client.invoices.sync({ subjectType: 'Subject2', checkpoint: run2.checkpoint });
    expect(run3.nextFetchReason).toMatch(/3 exports an hour/);
    expect(sandbox.count('POST /invoices/exports')).toBe(3);
    expect(sandbox.exchanges.filter((e) => e.status === 429)).toEqual([]);
  });
});
