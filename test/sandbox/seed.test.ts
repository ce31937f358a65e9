/**
 * Received invoices preloaded into the sandbox (`seedReceived` option, `ksef-sandbox --seed-received N`,
 * `handle.seedReceived`): valid FA(3) invoices from several sellers to the demo context, spread over the past
 * days, which the metadata query and `GET /invoices/ksef/{ksefNumber}` see like any accepted invoice.
 */
import { sha256Base64 } from '../../shared/protocol/crypto/hashes';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { findSpecFolder } from '../../shared/protocol/spec/specFolder';
import { readInvoiceFacts } from '../../shared/protocol/xml/invoiceFacts';
import { createXsdValidator } from '../../shared/protocol/xml/xsd';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { parseCliArgs, USAGE } from '../../sandbox/cli';
import { DAY_MS } from '../../sandbox/dates';
import { summarizeInvoice } from '../../sandbox/invoices/metadata';
import { RECEIVED_INVOICE_SELLERS } from '../../sandbox/samples/receivedInvoices';
import { ContractRecorder } from '../support/contract';
import { KsefHttp, RELAXED_RATE_LIMITS } from '../support/ksefHttp';

const specDir = findSpecFolder();
if (!specDir)
  throw new Error('These tests validate seeded invoices against the official XSD: set KSEF_SPEC_DIR to the folder containing ksef-docs/.');
const xsd = createXsdValidator(specDir);

const UNLIMITED = { perSecond: 1e6, perMinute: 1e6, perHour: 1e6 };
const SEEDED = 300;
const recorder = new ContractRecorder();
let sandbox: SandboxHandle;
let http: KsefHttp;
let accessToken: string;
let startedAt: Date;

beforeAll(async () => {
  startedAt = new Date();
  sandbox = await startSandbox({
    seedReceived: SEEDED,
    hwmDelayMs: 0,
    rateLimits: { ...RELAXED_RATE_LIMITS, invoiceMetadata: UNLIMITED },
    onExchange: recorder.record,
  });
  http = new KsefHttp(sandbox.baseUrl);
  ({ accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier));
});

afterAll(async () => {
  await sandbox.close();
});

function seeded() {
  return [...sandbox.state.invoicesByKsefNumber.values()];
}

/** Every page of a Subject2 query over `[from, to]` by permanent-storage date. */
async function receivedBetween(from: Date, to?: Date): Promise<any[]> {
  const invoices: any[] = [];
  for (let pageOffset = 0; ; pageOffset++) {
    const answer = await http.request('POST', `/invoices/query/metadata?pageOffset=${pageOffset}&pageSize=250`, {
      bearer: accessToken,
      body: {
        subjectType: 'Subject2',
        dateRange: { dateType: 'PermanentStorage', from: from.toISOString(), ...(to && { to: to.toISOString() }) },
      },
    });
    expect(answer.status).toBe(200);
    invoices.push(...answer.json.invoices);
    if (!answer.json.hasMore) return invoices;
  }
}

describe('seeded received invoices', () => {
  it('are stored with valid KSeF numbers, dated over the 30 days before the start, invoicing < acquisition < permanent storage', () => {
    const stored = seeded();
    expect(stored).toHaveLength(SEEDED);
    for (const { invoice, summary } of stored) {
      expect(isValidKsefNumber(invoice.ksefNumber!)).toBe(true);
      expect(invoice.ksefNumber!.startsWith(`${invoice.sellerNip}-`)).toBe(true);
      expect(summary.buyer.identifier).toEqual({ type: 'Nip', value: sandbox.contextIdentifier.value });
      expect(invoice.invoicingDate.getTime()).toBeLessThan(invoice.acquisitionDate!.getTime());
      expect(invoice.acquisitionDate!.getTime()).toBeLessThan(invoice.permanentStorageDate!.getTime());
      expect(invoice.permanentStorageDate!.getTime()).toBeGreaterThan(startedAt.getTime() - 30 * DAY_MS);
      expect(invoice.permanentStorageDate!.getTime()).toBeLessThanOrEqual(Date.now());
      expect(invoice.invoiceHash).toBe(sha256Base64(invoice.xml!));
    }
  });

  it('come from several sellers with checksum-valid NIPs, mostly in PLN, some in EUR, with corrections of earlier invoices', () => {
    const stored = seeded();
    const sellers = new Set(stored.map((s) => s.invoice.sellerNip));
    expect(sellers.size).toBeGreaterThanOrEqual(5);
    for (const nip of sellers) expect(hasValidNipChecksum(nip!)).toBe(true);
    const currencies = stored.map((s) => s.summary.currency);
    expect(currencies.filter((c) => c === 'PLN').length).toBeGreaterThan(SEEDED * 0.7);
    expect(currencies).toContain('EUR');
    const corrections = stored.filter((s) => s.summary.invoiceType === 'Kor');
    expect(corrections.length).toBeGreaterThan(0);
    for (const correction of corrections) {
      const correctedKsefNumber = /<NrKSeFFaKorygowanej>([^<]+)</.exec(correction.invoice.xml!.toString())![1];
      const original = sandbox.state.invoicesByKsefNumber.get(correctedKsefNumber)!;
      expect(original.invoice.sellerNip).toBe(correction.invoice.sellerNip);
      expect(original.invoice.permanentStorageDate!.getTime()).toBeLessThan(correction.invoice.permanentStorageDate!.getTime());
      expect(correction.summary.netAmount).toBeLessThan(0);
    }
    expect(RECEIVED_INVOICE_SELLERS.every((seller) => hasValidNipChecksum(seller.nip))).toBe(true);
  });

  it('are valid FA(3) invoices (a sample against the official XSD)', async () => {
    const stored = seeded();
    const sample = [
      ...stored.filter((s) => s.summary.currency === 'EUR').slice(0, 5),
      ...stored.filter((s) => s.summary.invoiceType === 'Kor').slice(0, 5),
      ...stored.slice(0, 20),
    ];
    for (const { invoice } of sample) {
      expect({ ksefNumber: invoice.ksefNumber, errors: await xsd.validateInvoice(invoice.xml!, 'FA(3)') }).toEqual({
        ksefNumber: invoice.ksefNumber,
        errors: [],
      });
    }
  });

  it('carry the metadata their XML says (the summary stored at seeding = the one read from the XML at acceptance)', () => {
    for (const { invoice, summary, session } of seeded().slice(0, 60)) {
      expect(summarizeInvoice(invoice.xml!, readInvoiceFacts(invoice.xml!), session.formCode)).toEqual(summary);
    }
  });

  it('are found by a sync from some days back as Subject2 and by none from now; each downloads as the demo context', async () => {
    const all = await receivedBetween(new Date(startedAt.getTime() - 31 * DAY_MS));
    expect(all).toHaveLength(SEEDED);
    expect(all.map((i) => i.permanentStorageDate)).toEqual([...all.map((i) => i.permanentStorageDate)].sort());
    expect(await receivedBetween(new Date())).toEqual([]);

    const lastWeek = await receivedBetween(new Date(startedAt.getTime() - 7 * DAY_MS));
    expect(lastWeek.length).toBeGreaterThan(SEEDED * 0.15);
    expect(lastWeek.length).toBeLessThan(SEEDED * 0.35);

    const one = all[Math.floor(SEEDED / 2)];
    const download = await http.request('GET', `/invoices/ksef/${one.ksefNumber}`, { bearer: accessToken });
    expect(download.status).toBe(200);
    expect(sha256Base64(Buffer.from(download.text))).toBe(one.invoiceHash);
    expect(recorder.violations()).toEqual([]);
  });

  it('can arrive at run time: handle.seedReceived adds invoices stored now, which a sync from before finds', async () => {
    const before = new Date();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const added = sandbox.seedReceived(3);
    expect(added).toHaveLength(3);
    const found = await receivedBetween(before);
    expect(found.map((i) => i.ksefNumber)).toEqual(added);
    expect(recorder.violations()).toEqual([]);
  });

  it('seeds 10,000 invoices in a few seconds', async () => {
    const big = await startSandbox({ keepProcessAlive: false });
    try {
      // CPU time rather than wall time: the test machine may be busy with other suites.
      const started = process.cpuUsage();
      const numbers = big.seedReceived(10_000, { from: new Date(Date.now() - 20 * DAY_MS) });
      const { user, system } = process.cpuUsage(started);
      expect(new Set(numbers).size).toBe(10_000);
      expect((user + system) / 1000).toBeLessThan(4_000);
    } finally {
      await big.close();
    }
  });

  it('are in the duplicate index: their sellers cannot send the same numbers again', () => {
    const { invoice } = seeded()[0];
    const kind = readInvoiceFacts(invoice.xml!).invoiceType!;
    expect(sandbox.state.duplicateIndex.get(`${invoice.sellerNip}|${kind}|${invoice.invoiceNumber}`)?.ksefNumber).toBe(invoice.ksefNumber);
  });

  it('ksef-sandbox --seed-received N', () => {
    expect(parseCliArgs(['--seed-received', '250'])).toEqual({ seedReceived: 250 });
    expect(() => parseCliArgs(['--seed-received', '-1'])).toThrow('--seed-received must be a non-negative integer, got "-1".');
    expect(USAGE).toContain('--seed-received N');
  });
});

/** NIP check digit: weights 6 5 7 2 3 4 5 6 7, sum modulo 11. */
function hasValidNipChecksum(nip: string): boolean {
  const weights = [6, 5, 7, 2, 3, 4, 5, 6, 7];
  const sum = weights.reduce((total, weight, i) => total + weight * Number(nip[i]), 0);
  return /^\d{10}$/.test(nip) && sum % 11 === Number(nip[9]);
}
