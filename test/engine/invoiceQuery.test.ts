/**
 * `client.invoices.query` (shared/invoices/query.ts) against the sandbox's `POST /invoices/query/metadata`: every
 * filter reaches KSeF and shapes its answer, pages follow `hasMore`, the record cap (`isTruncated`, lowered here)
 * is passed without a duplicate or a gap, a range over 100 days is read as adjacent windows, Desc order, and bad
 * filters are refused before any request.
 */
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { KsefError, KsefInputError, type InvoiceMetadata, type InvoiceQueryFilters, type KsefClient } from '../../shared';
import { collect } from './support/collect';
import { clientOf, startRecordedSandbox, type RecordedSandbox } from './support/sandbox';

const QUERY = 'POST /invoices/query/metadata';
/** The metadata group is 20 requests an hour in production; the tests make more. */
const ROOMY = { perSecond: 100, perMinute: 1000, perHour: 10000 };
const OTHER_BUYER_NIP = '5265877635';

/** Sends `invoices` from the demo context and waits until KSeF has put every one in permanent storage. */
async function sendStored(sandbox: RecordedSandbox, client: KsefClient, invoices: string[]): Promise<string[]> {
  const sent = await client.sessions.online.send(invoices, { fetchUpo: false });
  const numbers = sent.invoices.map((invoice) => invoice.ksefNumber!);
  expect(sent.invoices.filter((invoice) => !invoice.ksefNumber)).toEqual([]);
  while (!numbers.every((n) => sandbox.state.invoicesByKsefNumber.get(n)?.invoice.permanentStorageDate)) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return numbers;
}

/** The bodies and page parameters of the metadata queries the sandbox answered. */
function queriesSeen(sandbox: RecordedSandbox): { body: InvoiceQueryFilters & Record<string, unknown>; query: URLSearchParams }[] {
  return sandbox.exchanges
    .filter((e) => e.operation === QUERY)
    .map((e) => ({ body: JSON.parse(e.requestBody.toString('utf8')), query: new URL(e.url, 'http://x').searchParams }));
}

const numbersOf = (invoices: InvoiceMetadata[]) => invoices.map((i) => i.ksefNumber);

describe('invoice metadata query: filters', () => {
  let sandbox: RecordedSandbox;
  let client: KsefClient;
  let all: InvoiceMetadata[];
  const from = new Date(Date.now() - 60_000);
  const range = (): InvoiceQueryFilters['dateRange'] => ({ dateType: 'Invoicing', from });

  beforeAll(async () => {
    sandbox = await startRecordedSandbox({ rateLimits: { invoiceMetadata: ROOMY } });
    client = clientOf(sandbox);
    const lastMonth = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
    const numbers = await sendStored(sandbox, client, [
      buildDemoInvoice({ invoiceNumber: 'FV/Q/1', lines: 1 }),
      buildDemoInvoice({ invoiceNumber: 'FV/Q/2', lines: 3 }),
      buildDemoInvoice({ invoiceNumber: 'FV/Q/3', lines: 5, buyerNip: OTHER_BUYER_NIP }),
      // Issued a month before it was sent: KSeF counts it as offline invoicing.
      buildDemoInvoice({ invoiceNumber: 'FV/Q/4', issueDate: lastMonth }),
      buildDemoInvoice({ invoiceNumber: 'FV/Q/5' }),
    ]);
    // KSeF takes invoices with attachments only in batch sessions, which the sandbox does not have yet: one is marked so.
    sandbox.state.invoicesByKsefNumber.get(numbers[4])!.summary.hasAttachment = true;
    all = await collect(client.invoices.query({ subjectType: 'Subject1', dateRange: range() }));
    expect(all.map((i) => i.invoiceNumber).sort()).toEqual(['FV/Q/1', 'FV/Q/2', 'FV/Q/3', 'FV/Q/4', 'FV/Q/5']);
  });
  afterAll(async () => {
    await client.close();
    await sandbox.close();
  });

  const only = (keep: (invoice: InvoiceMetadata) => boolean) => numbersOf(all.filter(keep)).sort();
  const byInvoiceNumber = (n: string) => all.find((i) => i.invoiceNumber === n)!;

  it.each<[string, () => Partial<InvoiceQueryFilters>, (invoice: InvoiceMetadata) => boolean]>([
    ['ksefNumber', () => ({ ksefNumber: byInvoiceNumber('FV/Q/2').ksefNumber }), (i) => i.invoiceNumber === 'FV/Q/2'],
    ['invoiceNumber', () => ({ invoiceNumber: 'FV/Q/3' }), (i) => i.invoiceNumber === 'FV/Q/3'],
    [
      'amount',
      () => ({ amount: { type: 'Brutto', from: byInvoiceNumber('FV/Q/1').grossAmount, to: byInvoiceNumber('FV/Q/2').grossAmount } }),
      (i) => i.grossAmount >= byInvoiceNumber('FV/Q/1').grossAmount && i.grossAmount <= byInvoiceNumber('FV/Q/2').grossAmount,
    ],
    [
      'amount (Vat)',
      () => ({ amount: { type: 'Vat', from: byInvoiceNumber('FV/Q/3').vatAmount } }),
      (i) => i.vatAmount >= byInvoiceNumber('FV/Q/3').vatAmount,
    ],
    ['sellerNip', () => ({ sellerNip: OTHER_BUYER_NIP }), () => false],
    ['buyerIdentifier', () => ({ buyerIdentifier: { type: 'Nip', value: OTHER_BUYER_NIP } }), (i) => i.invoiceNumber === 'FV/Q/3'],
    ['buyerIdentifier (type only)', () => ({ buyerIdentifier: { type: 'VatUe' } }), () => false],
    ['currencyCodes', () => ({ currencyCodes: ['eur', 'usd'] }), () => false],
    ['invoicingMode', () => ({ invoicingMode: 'Offline' }), (i) => i.invoiceNumber === 'FV/Q/4'],
    ['isSelfInvoicing', () => ({ isSelfInvoicing: true }), () => false],
    ['formType', () => ({ formType: 'PEF' }), () => false],
    ['invoiceTypes', () => ({ invoiceTypes: ['Kor', 'Zal'] }), () => false],
    ['hasAttachment', () => ({ hasAttachment: true }), (i) => i.invoiceNumber === 'FV/Q/5'],
  ])('%s reaches KSeF, which answers only the matching invoices', async (name, extra, matches) => {
    const filters = { subjectType: 'Subject1' as const, dateRange: range(), ...extra() };
    const before = queriesSeen(sandbox).length;

    const found = await collect(client.invoices.query(filters));

    const expected = only(matches);
    expect(numbersOf(found).sort()).toEqual(expected);
    expect(expected.length).toBeLessThan(all.length);
    const [sent] = queriesSeen(sandbox).slice(before);
    const field = name.split(' ')[0] as keyof InvoiceQueryFilters;
    expect(sent.body[field]).toEqual(field === 'currencyCodes' ? ['EUR', 'USD'] : filters[field]);
  });

  it('sends the subject type, the date range and its restriction to the high water mark', async () => {
    const issuedFrom = `${new Date(Date.now() - 40 * 86_400_000).toISOString().slice(0, 10)}T00:00:00+01:00`;
    const to = new Date(Date.now() + 60_000).toISOString();
    const before = queriesSeen(sandbox).length;
    const asBuyer = await collect(
      client.invoices.query({ subjectType: 'Subject2', dateRange: { dateType: 'Issue', from: issuedFrom, to } }),
    );
    expect(asBuyer).toEqual([]);
    await collect(
      client.invoices.query({
        subjectType: 'Subject1',
        dateRange: { dateType: 'PermanentStorage', from, restrictToPermanentStorageHwmDate: true },
      }),
    );
    expect(
      queriesSeen(sandbox)
        .slice(before)
        .map((q) => q.body),
    ).toEqual([
      { subjectType: 'Subject2', dateRange: { dateType: 'Issue', from: issuedFrom, to } },
      {
        subjectType: 'Subject1',
        dateRange: { dateType: 'PermanentStorage', from: from.toISOString(), restrictToPermanentStorageHwmDate: true },
      },
    ]);
  });

  it('refuses a bad filter or option with its field before any request, not even authenticating', async () => {
    const fresh = clientOf(sandbox);
    const before = sandbox.exchanges.length;
    try {
      const wrongNip = await collect(fresh.invoices.query({ subjectType: 'Subject1', dateRange: range(), sellerNip: '1234563219' })).catch(
        (e: unknown) => e,
      );
      expect(wrongNip).toBeInstanceOf(KsefInputError);
      expect(wrongNip).toMatchObject({ field: 'filters.sellerNip' });
      const wrongPageSize = await collect(fresh.invoices.query({ subjectType: 'Subject1', dateRange: range() }, { pageSize: 5 })).catch(
        (e: unknown) => e,
      );
      expect(wrongPageSize).toMatchObject({ name: 'KsefInputError', field: 'options.pageSize' });
      const wrongOrder = await collect(
        fresh.invoices.query({ subjectType: 'Subject1', dateRange: range() }, { sortOrder: 'desc' as 'Desc' }),
      ).catch((e: unknown) => e);
      expect(wrongOrder).toMatchObject({ name: 'KsefInputError', field: 'options.sortOrder' });
      expect(sandbox.exchanges.length).toBe(before);
    } finally {
      await fresh.close();
    }
  });
});

describe('invoice metadata query: pages, the record cap and windows', () => {
  let sandbox: RecordedSandbox;
  let client: KsefClient;
  let sent: string[];
  const RECORD_LIMIT = 15;

  beforeAll(async () => {
    sandbox = await startRecordedSandbox({ rateLimits: { invoiceMetadata: ROOMY }, queryRecordLimit: RECORD_LIMIT });
    client = clientOf(sandbox);
    sent = [];
    for (let batch = 0; batch < 3; batch++) {
      const invoices = Array.from({ length: 8 }, (_, i) => buildDemoInvoice({ invoiceNumber: `FV/P/${batch * 8 + i + 1}`, lines: 1 }));
      sent.push(...(await sendStored(sandbox, client, invoices)));
    }
  });
  afterAll(async () => {
    await client.close();
    await sandbox.close();
  });
  beforeEach(() => {
    sandbox.exchanges.length = 0;
  });

  const filters = (): InvoiceQueryFilters => ({
    subjectType: 'Subject1',
    dateRange: { dateType: 'PermanentStorage', from: new Date(Date.now() - 3_600_000) },
  });
  const storedOrder = (direction: 1 | -1) =>
    [...sent].sort((a, b) => {
      const date = (n: string) => sandbox.state.invoicesByKsefNumber.get(n)!.invoice.permanentStorageDate!.getTime();
      return direction * (date(a) - date(b) || (a < b ? -1 : 1));
    });

  it('pages while hasMore, and past the cap moves the range start to the last record, from offset 0, without a duplicate or a gap', async () => {
    const found = await collect(client.invoices.query(filters(), { pageSize: 10 }));

    expect(numbersOf(found)).toEqual(storedOrder(1));
    const fifteenth = found[RECORD_LIMIT - 1];
    // The narrowed query starts at the 15th record's date, which it includes (with any record of the same instant).
    const fromFifteenth = found.filter((i) => Date.parse(i.permanentStorageDate) >= Date.parse(fifteenth.permanentStorageDate)).length;
    const queries = queriesSeen(sandbox);
    expect(queries.map((q) => [q.query.get('pageOffset'), q.query.get('pageSize'), q.query.get('sortOrder')])).toEqual([
      ['0', '10', 'Asc'],
      ['1', '10', 'Asc'],
      // The second page reached the cap of 15 records (isTruncated): a narrower query from its last record, from offset 0.
      ...Array.from({ length: Math.ceil(fromFifteenth / 10) }, (_, page) => [String(page), '10', 'Asc']),
    ]);
    expect(queries[2].body.dateRange.from).toBe(fifteenth.permanentStorageDate);
    expect(queries[0].body.dateRange.from).not.toBe(fifteenth.permanentStorageDate);
  });

  it('reads newest first with sortOrder Desc, moving the range end at the cap', async () => {
    const found = await collect(client.invoices.query(filters(), { sortOrder: 'Desc', pageSize: 10 }));

    expect(numbersOf(found)).toEqual(storedOrder(-1));
    const queries = queriesSeen(sandbox);
    expect(queries.every((q) => q.query.get('sortOrder') === 'Desc')).toBe(true);
    expect(queries.slice(0, 3).map((q) => q.query.get('pageOffset'))).toEqual(['0', '1', '0']);
    expect(queries[2].body.dateRange.to).toBe(found[RECORD_LIMIT - 1].permanentStorageDate);
    expect(queries[2].body.dateRange.from).toBe(queries[0].body.dateRange.from);
  });

  it('reads a stream page by page as it is consumed', async () => {
    const iterator = client.invoices.query(filters(), { pageSize: 10 })[Symbol.asyncIterator]();
    for (let i = 0; i < 10; i++) await iterator.next();
    expect(queriesSeen(sandbox)).toHaveLength(1);
    await iterator.return?.();
  });

  it('ends with an error, not a loop, when more records than the cap share one date', async () => {
    // Every stored invoice gets the same permanent-storage date: no move of the range start gets past them.
    const sameDate = new Date(Date.now() - 60_000);
    const saved = sent.map((n) => sandbox.state.invoicesByKsefNumber.get(n)!.invoice.permanentStorageDate);
    for (const n of sent) sandbox.state.invoicesByKsefNumber.get(n)!.invoice.permanentStorageDate = sameDate;
    try {
      const failure = await collect(client.invoices.query(filters(), { pageSize: 10 })).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(KsefError);
      expect((failure as Error).message).toMatch(/share their PermanentStorage date .*narrow the filters/);
    } finally {
      sent.forEach((n, i) => (sandbox.state.invoicesByKsefNumber.get(n)!.invoice.permanentStorageDate = saved[i]));
    }
  });
});

describe('invoice metadata query: a range longer than 100 days', () => {
  let sandbox: RecordedSandbox;
  let client: KsefClient;
  const DAY = 86_400_000;
  /** UTC midnight 330 days ago: the invoices are issued after it, none in the future. */
  const start = Math.floor(Date.now() / DAY) * DAY - 330 * DAY;
  const isoDay = (offsetDays: number) => new Date(start + offsetDays * DAY).toISOString();
  // Day 200 is where the second window ends and the third begins.
  const issueDays = [14, 68, 121, 200, 272, 308];
  let sentByIssueDate: string[];

  beforeAll(async () => {
    sandbox = await startRecordedSandbox({ rateLimits: { invoiceMetadata: ROOMY } });
    client = clientOf(sandbox);
    sentByIssueDate = await sendStored(
      sandbox,
      client,
      issueDays.map((day, i) => buildDemoInvoice({ invoiceNumber: `FV/W/${i + 1}`, issueDate: isoDay(day).slice(0, 10) })),
    );
  });
  afterAll(async () => {
    await client.close();
    await sandbox.close();
  });
  beforeEach(() => {
    sandbox.exchanges.length = 0;
  });

  it.each(['Asc', 'Desc'] as const)('is read as adjacent windows of at most 100 days, each accepted by KSeF (%s)', async (sortOrder) => {
    const filters: InvoiceQueryFilters = {
      subjectType: 'Subject1',
      dateRange: { dateType: 'Issue', from: new Date(start), to: isoDay(329) },
    };
    const found = await collect(client.invoices.query(filters, { sortOrder }));

    expect(numbersOf(found)).toEqual(sortOrder === 'Asc' ? sentByIssueDate : [...sentByIssueDate].reverse());
    const windows = queriesSeen(sandbox).map((q) => [q.body.dateRange.from, q.body.dateRange.to]);
    expect(sortOrder === 'Asc' ? windows : [...windows].reverse()).toEqual([
      [isoDay(0), isoDay(100)],
      [isoDay(100), isoDay(200)],
      [isoDay(200), isoDay(300)],
      [isoDay(300), isoDay(329)],
    ]);
    // The invoice issued on day 200 lies in two windows: KSeF gives it in both, the stream once.
    expect(found.filter((i) => i.issueDate === isoDay(200).slice(0, 10))).toHaveLength(1);
    expect(sandbox.exchanges.filter((e) => e.operation === QUERY).every((e) => e.status === 200)).toBe(true);
  });
});

describe('invoice metadata query: received invoices over many windows and caps', () => {
  let sandbox: RecordedSandbox;
  let client: KsefClient;
  let received: string[];
  const DAY = 86_400_000;
  const now = Date.now();

  beforeAll(async () => {
    sandbox = await startRecordedSandbox({ rateLimits: { invoiceMetadata: ROOMY }, queryRecordLimit: 40 });
    client = clientOf(sandbox);
    // Other sellers' invoices to the demo context, stored over 250 days: about 48 in each 100-day window, over the cap of 40.
    received = sandbox.seedReceived(120, { from: new Date(now - 250 * DAY), to: new Date(now - DAY) });
  });
  afterAll(async () => {
    await client.close();
    await sandbox.close();
  });
  beforeEach(() => {
    sandbox.exchanges.length = 0;
  });

  it.each(['Asc', 'Desc'] as const)('gives every invoice to the buyer (Subject2) once, in order (%s)', async (sortOrder) => {
    const found = await collect(
      client.invoices.query(
        { subjectType: 'Subject2', dateRange: { dateType: 'PermanentStorage', from: new Date(now - 260 * DAY), to: new Date(now) } },
        { sortOrder, pageSize: 10 },
      ),
    );

    expect(numbersOf(found)).toEqual(sortOrder === 'Asc' ? received : [...received].reverse());
    const queries = queriesSeen(sandbox);
    // Three windows (the last 59 days long), the first two (43 and 48 invoices) each narrowed once past the cap of 40.
    expect(queries.filter((q) => q.query.get('pageOffset') === '0')).toHaveLength(5);
    const sentRanges = queries.map((q) => Date.parse(String(q.body.dateRange.to)) - Date.parse(String(q.body.dateRange.from)));
    expect(Math.max(...sentRanges)).toBeLessThanOrEqual(100 * DAY);
  });

  it('gives nothing to the seller role (Subject1): the demo context did not issue them', async () => {
    const found = await collect(
      client.invoices.query({ subjectType: 'Subject1', dateRange: { dateType: 'PermanentStorage', from: new Date(now - 90 * DAY) } }),
    );
    expect(found).toEqual([]);
  });
});
