import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { DEFAULT_AUTO_BATCH_THRESHOLD, MemoryStateStore, type KsefClient } from '../../shared';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';

const invoicesNumbered = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => buildDemoInvoice({ invoiceNumber: `${prefix}/${i + 1}` }));

describe('client.sessions.send: online, batch or auto', () => {
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

  it('sends online by default and in batch sessions when asked', async () => {
    const online = await client.sessions.send(invoicesNumbered('FV/MODE/ONLINE', 2));
    expect(online.mode).toBe('online');
    expect(sandbox.count('POST /sessions/online')).toBe(1);

    const batch = await client.sessions.send(invoicesNumbered('FV/MODE/BATCH', 2), { mode: 'batch' });
    expect(batch.mode).toBe('batch');
    expect(batch.invoices.every((r) => r.accepted && isValidKsefNumber(r.ksefNumber!))).toBe(true);
    expect(sandbox.count('POST /sessions/batch')).toBe(1);
    expect(sandbox.count('POST /sessions/online')).toBe(1);
  });

  it(`auto sends below the threshold (default ${DEFAULT_AUTO_BATCH_THRESHOLD}) online and from it on in a batch session`, async () => {
    expect(DEFAULT_AUTO_BATCH_THRESHOLD).toBe(20);
    const few = await client.sessions.send(invoicesNumbered('FV/AUTO/FEW', 3), { mode: 'auto' });
    expect(few.mode).toBe('online');

    const atThreshold = await client.sessions.send(invoicesNumbered('FV/AUTO/MANY', DEFAULT_AUTO_BATCH_THRESHOLD), { mode: 'auto' });
    expect(atThreshold.mode).toBe('batch');
    expect(atThreshold.invoices).toHaveLength(DEFAULT_AUTO_BATCH_THRESHOLD);
    expect(atThreshold.invoices.every((r) => r.accepted)).toBe(true);

    const lowered = await client.sessions.send(invoicesNumbered('FV/AUTO/LOWERED', 3), { mode: 'auto', autoBatchThreshold: 3 });
    expect(lowered.mode).toBe('batch');
    expect(sandbox.count('POST /sessions/online')).toBe(1);
    expect(sandbox.count('POST /sessions/batch')).toBe(2);
  });

  it('refuses an unknown mode or threshold before anything is sent', async () => {
    await expect(client.sessions.send(invoicesNumbered('FV/MODE/BAD', 1), { mode: 'bulk' as never })).rejects.toMatchObject({
      name: 'KsefInputError',
      field: 'options.mode',
    });
    await expect(client.sessions.send(invoicesNumbered('FV/MODE/BAD', 1), { mode: 'auto', autoBatchThreshold: 0 })).rejects.toMatchObject({
      name: 'KsefInputError',
      field: 'options.autoBatchThreshold',
    });
    expect(sandbox.exchanges.filter((e) => e.method === 'POST' && e.operation?.startsWith('POST /sessions'))).toEqual([]);
  });

  it('reads stream inputs for an online send; one too large fails on its own without being read to its end', async () => {
    const [first, second] = invoicesNumbered('FV/MODE/STREAM', 2);
    let pulled = 0;
    const endless = new Readable({
      read() {
        pulled += 64 * 1024;
        this.push(Buffer.alloc(64 * 1024, 0x78));
      },
    });

    const result = await client.sessions.send([{ open: () => Readable.from([Buffer.from(first)]) }, { open: () => endless }, second]);

    expect(result.mode).toBe('online');
    expect(result.invoices.map((r) => r.accepted)).toEqual([true, false, true]);
    expect(result.invoices[1].error).toMatchObject({ name: 'KsefInputError', field: 'invoices[1]' });
    expect(String(result.invoices[1].error!.message)).toMatch(/bytes/);
    expect(pulled).toBeLessThan(4 * 1024 * 1024);
    expect(endless.destroyed).toBe(true);
  });

  it('reads file inputs for an online send; a path naming no file fails on its own, naming the field and the path', async () => {
    const [first, second] = invoicesNumbered('FV/MODE/FILE', 2);
    const folder = await mkdtemp(join(tmpdir(), 'send-mode-files-'));
    try {
      const path = join(folder, 'first.xml');
      // CRLF line ends: what KSeF gets (and hashes) must be the file's bytes as they are.
      const bytes = Buffer.from(first.replace(/\n/g, '\r\n'), 'utf8');
      await writeFile(path, bytes);
      const missing = join(folder, 'missing.xml');

      const result = await client.sessions.send([{ path }, { path: missing }, second]);

      expect(result.mode).toBe('online');
      expect(result.invoices.map((r) => r.accepted)).toEqual([true, false, true]);
      expect(isValidKsefNumber(result.invoices[0].ksefNumber!)).toBe(true);
      expect(result.invoices[0].invoiceNumber).toBe('FV/MODE/FILE/1');
      expect(result.invoices[0].invoiceHash).toBe(createHash('sha256').update(bytes).digest('base64'));
      expect(result.invoices[1].error).toMatchObject({
        name: 'KsefInputError',
        field: 'invoices[1].path',
        message: `invoices[1].path names no file with the invoice XML: ${missing} (ENOENT).`,
      });
      expect(result.invoices[1].ksefNumber).toBeUndefined();
      expect(isValidKsefNumber(result.invoices[2].ksefNumber!)).toBe(true);
      // One session, to which only the two invoices that could be read went.
      expect(sandbox.count('POST /sessions/online')).toBe(1);
      expect(sandbox.count('POST /sessions/online/{referenceNumber}/invoices')).toBe(2);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
