/**
 * `POST /invoices/query/metadata` over HTTP (open-api.json 2.8.1, CIRFMF/ksef-api; pobieranie-faktur.md and hwm.md,
 * CIRFMF/ksef-docs): every filter, both orders by each date type, paging limits, the technical record limit with
 * `isTruncated`, the permanent-storage high water mark and 21183, input errors, whose invoices each subject type
 * lists, and permissions. Every answer is checked against the contract.
 */
import { PUBLISHED_RATE_LIMITS } from '../../shared/protocol/model/rateLimits';
import type { KsefTokenPermission } from '../../shared/protocol/types';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { DAY_MS, MINUTE_MS, formatDateTime } from '../../sandbox/dates';
import type { StoredInvoice } from '../../sandbox/invoices/metadata';
import { buildReceivedInvoiceXml, RECEIVED_INVOICE_SELLERS, type ReceivedInvoiceSpec } from '../../sandbox/samples/receivedInvoices';
import { ContractRecorder } from '../support/contract';
import { KsefHttp, ManualClock, exceptionOf, sendInvoiceBody } from '../support/ksefHttp';

const UNLIMITED = Object.fromEntries(
  Object.keys(PUBLISHED_RATE_LIMITS).map((group) => [group, { perSecond: 1e6, perMinute: 1e6, perHour: 1e6 }]),
);
const HWM_DELAY_MS = MINUTE_MS;
const SEEDED = 400;
/** Checksum-valid NIPs of a factor (Podmiot3), a tax representative (PodmiotUpowazniony) and a bystander. */
const THIRD_PARTY_NIP = '7010002139';
const AUTHORIZED_NIP = '5213000009';
const STRANGER_NIP = '9521000007';
const RATE_LIMITED_NIP = '5270001118';

const recorder = new ContractRecorder();
const clock = new ManualClock(new Date('2026-03-10T12:00:00Z'));
let sandbox: SandboxHandle;
let http: KsefHttp;
let accessToken: string;
const tokens = new Map<string, string>();

beforeAll(async () => {
  sandbox = await startSandbox({
    clock,
    processingDelayMs: 5,
    hwmDelayMs: HWM_DELAY_MS,
    rateLimits: UNLIMITED,
    onExchange: recorder.record,
  });
  sandbox.seedReceived(SEEDED, {
    from: new Date(clock.now().getTime() - 60 * DAY_MS),
    to: new Date(clock.now().getTime() - DAY_MS),
    random: seededRandom(9),
  });
  http = new KsefHttp(sandbox.baseUrl);
  ({ accessToken } = await http.authenticate(sandbox.ksefToken, sandbox.contextIdentifier));
});

afterAll(async () => {
  await sandbox.close();
});

afterEach(() => {
  expect(recorder.violations()).toEqual([]);
});

const demoNip = () => sandbox.contextIdentifier.value;
const iso = (date: Date | number) => formatDateTime(new Date(date));
const daysAgo = (days: number) => iso(clock.now().getTime() - days * DAY_MS);

/** An access token of the NIP context `nip`, whose owner holds `permissions`. */
async function accessTokenOf(nip: string, permissions: KsefTokenPermission[] = ['InvoiceRead', 'InvoiceWrite']): Promise<string> {
  const key = `${nip}|${permissions.join()}`;
  if (!tokens.has(key)) {
    const token = sandbox.state.issueKsefToken({
      contextIdentifier: { type: 'Nip', value: nip },
      authorIdentifier: { type: 'Nip', value: nip },
      description: 'test',
      permissions,
      now: clock.now(),
    });
    tokens.set(key, (await http.authenticate(token.secret, { type: 'Nip', value: nip })).accessToken);
  }
  return tokens.get(key)!;
}

function query(body: unknown, params = '', bearer = accessToken) {
  return http.request('POST', `/invoices/query/metadata${params}`, { bearer, body });
}

/** All pages of a query. */
async function queryAll(filters: Record<string, unknown>, sortOrder = 'Asc', bearer = accessToken): Promise<any[]> {
  const invoices: any[] = [];
  for (let pageOffset = 0; ; pageOffset++) {
    const answer = await query(filters, `?sortOrder=${sortOrder}&pageOffset=${pageOffset}&pageSize=250`, bearer);
    expect(answer.status).toBe(200);
    invoices.push(...answer.json.invoices);
    if (!answer.json.hasMore) return invoices;
  }
}

function received(extra: Record<string, unknown> = {}, dateRange: Record<string, unknown> = {}) {
  return { subjectType: 'Subject2', dateRange: { dateType: 'PermanentStorage', from: daysAgo(70), ...dateRange }, ...extra };
}

/** The stored invoices received by the demo context that `keep` selects, as the query orders them. */
function expectedReceived(
  keep: (stored: StoredInvoice) => boolean = () => true,
  date = (s: StoredInvoice) => s.invoice.permanentStorageDate!.getTime(),
): string[] {
  return [...sandbox.state.invoicesByKsefNumber.values()]
    .filter((s) => s.summary.buyer.identifier.value === demoNip() && keep(s))
    .sort((a, b) => date(a) - date(b) || (a.invoice.ksefNumber! < b.invoice.ksefNumber! ? -1 : 1))
    .map((s) => s.invoice.ksefNumber!);
}

const numbers = (invoices: any[]) => invoices.map((i) => i.ksefNumber);

describe('subject types and orders', () => {
  it('Subject2 lists the invoices whose buyer is the context, ascending or descending by permanent-storage date', async () => {
    const ascending = await queryAll(received());
    expect(numbers(ascending)).toEqual(expectedReceived());
    expect(ascending).toHaveLength(SEEDED);
    expect(numbers(await queryAll(received(), 'Desc'))).toEqual(expectedReceived().reverse());
    expect(ascending[0]).toMatchObject({
      buyer: { identifier: { type: 'Nip', value: demoNip() }, name: 'Demo Sp. z o.o.' },
      formCode: { value: 'FA' },
    });
  });

  it('orders by the invoicing date or the issue date when the range is of that type; issue dates compare as UTC days', async () => {
    const byInvoicing = await queryAll(received({}, { dateType: 'Invoicing', from: daysAgo(70) }), 'Desc');
    expect(numbers(byInvoicing)).toEqual(expectedReceived(undefined, (s) => s.invoice.invoicingDate.getTime()).reverse());

    const from = '2026-02-01T23:30:00+00:00';
    const to = '2026-02-10T00:10:00+00:00';
    const byIssue = await queryAll(received({}, { dateType: 'Issue', from, to }));
    const issuedInRange = (s: StoredInvoice) => s.invoice.issueDate! >= '2026-02-01' && s.invoice.issueDate! <= '2026-02-10';
    expect(byIssue.length).toBeGreaterThan(0);
    expect(byIssue.map((i) => i.issueDate)).toEqual(byIssue.map((i) => i.issueDate).sort());
    expect(new Set(numbers(byIssue))).toEqual(new Set(expectedReceived(issuedInRange)));
    expect(byIssue.every((i) => i.permanentStorageHwmDate === undefined)).toBe(true);
  });

  it('Subject1 lists what the context sold: a seller sees its invoices to the demo context, the demo context none of them', async () => {
    const seller = RECEIVED_INVOICE_SELLERS[0].nip;
    const asSeller = await queryAll(
      { subjectType: 'Subject1', dateRange: { dateType: 'PermanentStorage', from: daysAgo(70) } },
      'Asc',
      await accessTokenOf(seller),
    );
    expect(numbers(asSeller)).toEqual(expectedReceived((s) => s.invoice.sellerNip === seller));
    expect(asSeller.length).toBeGreaterThan(0);
    const ownSales = await queryAll({ subjectType: 'Subject1', dateRange: { dateType: 'PermanentStorage', from: daysAgo(70) } });
    expect(ownSales.filter((i) => i.seller.nip !== demoNip())).toEqual([]);
  });
});

describe('filters', () => {
  let all: any[];
  beforeAll(async () => {
    all = await queryAll(received());
  });
  const stored = (ksefNumber: string) => sandbox.state.invoicesByKsefNumber.get(ksefNumber)!;

  it('ksefNumber and invoiceNumber: exact matches', async () => {
    const one = all[17];
    expect(numbers(await queryAll(received({ ksefNumber: one.ksefNumber })))).toEqual([one.ksefNumber]);
    expect(numbers(await queryAll(received({ invoiceNumber: one.invoiceNumber })))).toEqual([one.ksefNumber]);
    expect(await queryAll(received({ invoiceNumber: `${one.invoiceNumber}X` }))).toEqual([]);
  });

  it('amount: gross, net or VAT (in PLN) from/to, both ends inclusive', async () => {
    const gross = all[40].grossAmount;
    const exact = await queryAll(received({ amount: { type: 'Brutto', from: gross, to: gross } }));
    expect(numbers(exact)).toEqual(numbers(all.filter((i) => i.grossAmount === gross)));
    expect(numbers(await queryAll(received({ amount: { type: 'Netto', from: 1000 } })))).toEqual(
      numbers(all.filter((i) => i.netAmount >= 1000)),
    );
    const vat = await queryAll(received({ amount: { type: 'Vat', to: 0 } }));
    expect(vat.length).toBeGreaterThan(0);
    expect(numbers(vat)).toEqual(numbers(all.filter((i) => i.vatAmount <= 0)));
  });

  it('sellerNip, buyerIdentifier, currencyCodes, invoicingMode, invoiceTypes', async () => {
    const seller = RECEIVED_INVOICE_SELLERS[3].nip;
    expect(numbers(await queryAll(received({ sellerNip: seller })))).toEqual(numbers(all.filter((i) => i.seller.nip === seller)));
    expect(await queryAll(received({ buyerIdentifier: { type: 'Nip', value: demoNip() } }))).toHaveLength(SEEDED);
    expect(await queryAll(received({ buyerIdentifier: { type: 'Nip', value: STRANGER_NIP } }))).toEqual([]);
    expect(await queryAll(received({ buyerIdentifier: { type: 'VatUe' } }))).toEqual([]);

    const euro = await queryAll(received({ currencyCodes: ['EUR'] }));
    expect(euro.length).toBeGreaterThan(0);
    expect(numbers(euro)).toEqual(numbers(all.filter((i) => i.currency === 'EUR')));
    expect(await queryAll(received({ currencyCodes: ['EUR', 'PLN'] }))).toHaveLength(SEEDED);

    const offline = await queryAll(received({ invoicingMode: 'Offline' }));
    expect(offline.length).toBeGreaterThan(0);
    expect(numbers(offline)).toEqual(numbers(all.filter((i) => i.invoicingMode === 'Offline')));

    const corrections = await queryAll(received({ invoiceTypes: ['Kor', 'KorZal'] }));
    expect(corrections.length).toBeGreaterThan(0);
    expect(numbers(corrections)).toEqual(numbers(all.filter((i) => i.invoiceType === 'Kor')));
    expect(corrections.every((i) => stored(i.ksefNumber).summary.invoiceType === 'Kor')).toBe(true);
  });

  it('isSelfInvoicing, formType, hasAttachment', async () => {
    expect(await queryAll(received({ isSelfInvoicing: true }))).toEqual([]);
    expect(await queryAll(received({ isSelfInvoicing: false }))).toHaveLength(SEEDED);
    expect(await queryAll(received({ formType: 'FA' }))).toHaveLength(SEEDED);
    expect(await queryAll(received({ formType: 'PEF' }))).toEqual([]);
    expect(await queryAll(received({ hasAttachment: true }))).toEqual([]);
    expect(await queryAll(received({ hasAttachment: false, formType: 'FA', currencyCodes: ['PLN'] }))).toHaveLength(
      all.filter((i) => i.currency === 'PLN').length,
    );
  });
});

describe('paging and the record limit', () => {
  it('pages by pageOffset × pageSize (10 to 250) with hasMore', async () => {
    const first = await query(received(), '?pageSize=10');
    const third = await query(received(), '?pageSize=10&pageOffset=2');
    expect(first.json).toMatchObject({ hasMore: true, isTruncated: false });
    expect(numbers(first.json.invoices)).toEqual(expectedReceived().slice(0, 10));
    expect(numbers(third.json.invoices)).toEqual(expectedReceived().slice(20, 30));
    const last = await query(received(), `?pageSize=250&pageOffset=1`);
    expect(last.json).toMatchObject({ hasMore: false, isTruncated: false });
    expect(last.json.invoices).toHaveLength(SEEDED - 250);
    const defaultPage = await query(received());
    expect(defaultPage.json.invoices).toHaveLength(10);

    for (const params of ['?pageSize=9', '?pageSize=251', '?pageOffset=-1', '?sortOrder=Up']) {
      const refused = await query(received(), params);
      expect({ params, status: refused.status, code: exceptionOf(refused).exceptionCode }).toEqual({ params, status: 400, code: 21405 });
    }
  });

  it('stops at the record limit with isTruncated on the page that reaches it; the rest is read by narrowing the range', async () => {
    const small = await startSandbox({
      clock,
      processingDelayMs: 5,
      hwmDelayMs: 0,
      queryRecordLimit: 25,
      rateLimits: UNLIMITED,
      onExchange: recorder.record,
    });
    try {
      const seeded = small.seedReceived(60, { from: new Date(clock.now().getTime() - 5 * DAY_MS), random: seededRandom(3) });
      const smallHttp = new KsefHttp(small.baseUrl);
      const { accessToken: token } = await smallHttp.authenticate(small.ksefToken, small.contextIdentifier);
      const ask = (from: string, pageOffset: number) =>
        smallHttp.request('POST', `/invoices/query/metadata?pageSize=10&pageOffset=${pageOffset}`, {
          bearer: token,
          body: received({}, { from }),
        });
      const from = daysAgo(6);
      const pages = [await ask(from, 0), await ask(from, 1), await ask(from, 2)];
      expect(pages.map((p) => [p.json.invoices.length, p.json.hasMore, p.json.isTruncated])).toEqual([
        [10, true, false],
        [10, true, false],
        [5, true, true],
      ]);
      const firstWindow = pages.flatMap((p) => numbers(p.json.invoices));
      expect(firstWindow).toEqual(seeded.slice(0, 25));

      // As the docs say: start again from the last record's date, with pageOffset 0; the boundary record comes again.
      const lastDate = pages[2].json.invoices.at(-1).permanentStorageDate;
      const next = await ask(lastDate, 0);
      expect(numbers(next.json.invoices)).toEqual(seeded.slice(24, 34));
      expect(next.json.isTruncated).toBe(false);
      expect(recorder.violations()).toEqual([]);
    } finally {
      await small.close();
    }
  });
});

describe('10,000 stored invoices and more', () => {
  it("answers from the stored summaries at once, and caps at KSeF's 10,000 records", async () => {
    const big = await startSandbox({ clock, processingDelayMs: 5, rateLimits: UNLIMITED, onExchange: recorder.record });
    try {
      big.seedReceived(10_200, { from: new Date(clock.now().getTime() - 50 * DAY_MS), random: seededRandom(5) });
      const bigHttp = new KsefHttp(big.baseUrl);
      const { accessToken: token } = await bigHttp.authenticate(big.ksefToken, big.contextIdentifier);
      const ask = (pageOffset: number) =>
        bigHttp.request('POST', `/invoices/query/metadata?pageSize=250&pageOffset=${pageOffset}`, {
          bearer: token,
          body: received({}, { from: daysAgo(51) }),
        });
      const started = process.cpuUsage();
      const first = await ask(0);
      const { user, system } = process.cpuUsage(started);
      expect(first.json).toMatchObject({ hasMore: true, isTruncated: false });
      // Sandbox and client share this process: the whole exchange, selection of 10,200 invoices included.
      expect((user + system) / 1000).toBeLessThan(500);
      const lastWithin = await ask(39);
      expect(lastWithin.json).toMatchObject({ hasMore: true, isTruncated: true });
      expect(lastWithin.json.invoices).toHaveLength(250);
      expect((await ask(40)).json).toMatchObject({ invoices: [], hasMore: true, isTruncated: true });
    } finally {
      await big.close();
    }
  });
});

describe('permanent-storage high water mark', () => {
  let fresh: string[];
  beforeAll(() => {
    fresh = sandbox.seedReceived(2);
  });

  it('lags now by the configured delay; restricting to it leaves out what was stored since, a plain query does not', async () => {
    const now = clock.now().getTime();
    const lastHour = iso(now - 60 * MINUTE_MS);
    const plain = await query(received({}, { from: lastHour }), '?pageSize=250');
    expect(plain.json.permanentStorageHwmDate).toBe(iso(now - HWM_DELAY_MS));
    expect(numbers(plain.json.invoices)).toEqual(fresh);
    const restricted = await query(received({}, { from: lastHour, restrictToPermanentStorageHwmDate: true }), '?pageSize=250');
    expect(restricted.json).toMatchObject({ invoices: [], hasMore: false, permanentStorageHwmDate: iso(now - HWM_DELAY_MS) });

    clock.advance(HWM_DELAY_MS);
    const later = await query(received({}, { from: lastHour, restrictToPermanentStorageHwmDate: true }), '?pageSize=250');
    expect(numbers(later.json.invoices)).toEqual(fresh);
    expect(later.json.permanentStorageHwmDate).toBe(iso(now));
  });

  it('is the range end for older periods, and absent for other date types', async () => {
    const to = daysAgo(10);
    const old = await query(received({}, { from: daysAgo(20), to }));
    expect(old.json.permanentStorageHwmDate).toBe(to);
    const byInvoicing = await query(received({}, { dateType: 'Invoicing', from: daysAgo(20) }));
    expect(byInvoicing.json.permanentStorageHwmDate).toBeUndefined();
  });

  it('refuses a restricted range starting after the mark with 21183', async () => {
    const refused = await query(
      received({}, { from: iso(clock.now().getTime() - HWM_DELAY_MS / 2), restrictToPermanentStorageHwmDate: true }),
    );
    expect(refused.status).toBe(400);
    expect(exceptionOf(refused)).toMatchObject({
      exceptionCode: 21183,
      exceptionDescription: 'Zakres filtrowania wykracza poza dostępny zakres danych.',
    });
    const unrestricted = await query(received({}, { from: iso(clock.now().getTime() - HWM_DELAY_MS / 2) }));
    expect(unrestricted.status).toBe(200);
  });
});

describe('input errors (21405)', () => {
  // Without the spec folder nothing checks the body against open-api.json first: the sandbox's own checks answer.
  let withoutSpec: SandboxHandle;
  let withoutSpecToken: string;
  beforeAll(async () => {
    withoutSpec = await startSandbox({ clock, specDir: null, processingDelayMs: 5, rateLimits: UNLIMITED, onExchange: recorder.record });
    ({ accessToken: withoutSpecToken } = await new KsefHttp(withoutSpec.baseUrl).authenticate(
      withoutSpec.ksefToken,
      withoutSpec.contextIdentifier,
    ));
  });
  afterAll(async () => {
    await withoutSpec.close();
  });

  it.each([
    ['no subjectType', { dateRange: { dateType: 'Issue', from: '2026-03-01T00:00:00Z' } }],
    ['an unknown subjectType', { subjectType: 'Subject9', dateRange: { dateType: 'Issue', from: '2026-03-01T00:00:00Z' } }],
    ['no dateRange', { subjectType: 'Subject1' }],
    ['an unknown dateType', { subjectType: 'Subject1', dateRange: { dateType: 'Payment', from: '2026-03-01T00:00:00Z' } }],
    ['a date without an offset', { subjectType: 'Subject1', dateRange: { dateType: 'Issue', from: 'yesterday' } }],
    [
      'to before from',
      { subjectType: 'Subject1', dateRange: { dateType: 'Issue', from: '2026-03-01T00:00:00Z', to: '2026-02-01T00:00:00Z' } },
    ],
    [
      'a range over 100 days',
      { subjectType: 'Subject1', dateRange: { dateType: 'Issue', from: '2025-11-01T00:00:00Z', to: '2026-02-10T00:00:01Z' } },
    ],
    [
      'an open range starting over 100 days ago',
      { subjectType: 'Subject1', dateRange: { dateType: 'Invoicing', from: '2025-11-20T00:00:00Z' } },
    ],
    [
      'a bad sellerNip',
      { subjectType: 'Subject1', dateRange: { dateType: 'Issue', from: '2026-03-01T00:00:00Z' }, sellerNip: '0123456789' },
    ],
    [
      'a bad amount type',
      { subjectType: 'Subject1', dateRange: { dateType: 'Issue', from: '2026-03-01T00:00:00Z' }, amount: { type: 'Gross' } },
    ],
    [
      'an unknown invoice type',
      { subjectType: 'Subject1', dateRange: { dateType: 'Issue', from: '2026-03-01T00:00:00Z' }, invoiceTypes: ['Faktura'] },
    ],
    [
      'an amount range upside down',
      {
        subjectType: 'Subject1',
        dateRange: { dateType: 'Issue', from: '2026-03-01T00:00:00Z' },
        amount: { type: 'Netto', from: 5, to: 1 },
      },
    ],
    [
      'a currency code in lower case',
      { subjectType: 'Subject1', dateRange: { dateType: 'Issue', from: '2026-03-01T00:00:00Z' }, currencyCodes: ['pln'] },
    ],
    [
      'a non-boolean flag',
      { subjectType: 'Subject1', dateRange: { dateType: 'Issue', from: '2026-03-01T00:00:00Z' }, hasAttachment: 'yes' },
    ],
  ])('%s', async (_, body) => {
    const refused = await query(body);
    expect(refused.status).toBe(400);
    expect(exceptionOf(refused).exceptionCode).toBe(21405);
    const refusedWithoutSpec = await new KsefHttp(withoutSpec.baseUrl).request('POST', '/invoices/query/metadata', {
      bearer: withoutSpecToken,
      body,
    });
    expect(refusedWithoutSpec.status).toBe(400);
    expect(exceptionOf(refusedWithoutSpec)).toMatchObject({ exceptionCode: 21405, details: [expect.any(String)] });
  });

  it('accepts exactly 100 days', async () => {
    expect(
      (await query({ subjectType: 'Subject1', dateRange: { dateType: 'Issue', from: '2025-11-01T00:00:00Z', to: '2026-02-09T00:00:00Z' } }))
        .status,
    ).toBe(200);
  });
});

describe('Subject3 and SubjectAuthorized', () => {
  let ksefNumber: string;
  beforeAll(async () => {
    const spec: ReceivedInvoiceSpec = {
      seller: { nip: demoNip(), name: 'Demo Sp. z o.o.', street: 'ul. Przykładowa 1', city: '00-001 Warszawa' },
      buyer: RECEIVED_INVOICE_SELLERS[1],
      invoiceNumber: 'FV/2026/03/P3-1',
      issueDate: '2026-03-10',
      currency: 'PLN',
      lines: [{ name: 'Usługa doradcza', unit: 'godz.', quantity: 3, unitPrice: 20_000, vatRate: 23 }],
      thirdParties: [{ nip: THIRD_PARTY_NIP, name: 'Faktor Finanse S.A.', role: 1 }],
      authorized: {
        nip: AUTHORIZED_NIP,
        name: 'Przedstawiciel Podatkowy sp. z o.o.',
        street: 'ul. Celna 2',
        city: '00-950 Warszawa',
        role: 3,
      },
      paymentDays: 14,
    };
    const session = await http.openOnlineSession(accessToken);
    const sent = await http.sendInvoice(accessToken, session.referenceNumber, sendInvoiceBody(buildReceivedInvoiceXml(spec), session.key));
    const result = await http.invoiceResult(accessToken, session.referenceNumber, sent.json.referenceNumber);
    expect(result.status.code).toBe(200);
    ksefNumber = result.ksefNumber;
    await new Promise((resolve) => setTimeout(resolve, 50));
  });

  const today = () => ({ dateType: 'Invoicing', from: daysAgo(1) });

  it('resolve the Podmiot3 party and the authorized subject from the invoice; both may download it, others may not', async () => {
    const third = await accessTokenOf(THIRD_PARTY_NIP);
    const asThird = await queryAll({ subjectType: 'Subject3', dateRange: today() }, 'Asc', third);
    expect(numbers(asThird)).toEqual([ksefNumber]);
    expect(asThird[0]).toMatchObject({
      thirdSubjects: [{ identifier: { type: 'Nip', value: THIRD_PARTY_NIP }, name: 'Faktor Finanse S.A.', role: 1 }],
      authorizedSubject: { nip: AUTHORIZED_NIP, name: 'Przedstawiciel Podatkowy sp. z o.o.', role: 3 },
      netAmount: 600,
      vatAmount: 138,
      grossAmount: 738,
    });
    expect(await queryAll({ subjectType: 'Subject2', dateRange: today() }, 'Asc', third)).toEqual([]);
    expect((await http.request('GET', `/invoices/ksef/${ksefNumber}`, { bearer: third })).status).toBe(200);

    const authorized = await accessTokenOf(AUTHORIZED_NIP);
    expect(numbers(await queryAll({ subjectType: 'SubjectAuthorized', dateRange: today() }, 'Asc', authorized))).toEqual([ksefNumber]);
    expect(await queryAll({ subjectType: 'Subject3', dateRange: today() }, 'Asc', authorized)).toEqual([]);
    expect((await http.request('GET', `/invoices/ksef/${ksefNumber}`, { bearer: authorized })).status).toBe(200);

    const buyer = await accessTokenOf(RECEIVED_INVOICE_SELLERS[1].nip);
    expect(numbers(await queryAll({ subjectType: 'Subject2', dateRange: today() }, 'Asc', buyer))).toEqual([ksefNumber]);

    const stranger = await accessTokenOf(STRANGER_NIP);
    for (const subjectType of ['Subject1', 'Subject2', 'Subject3', 'SubjectAuthorized']) {
      expect(await queryAll({ subjectType, dateRange: today() }, 'Asc', stranger)).toEqual([]);
    }
    const refused = await http.request('GET', `/invoices/ksef/${ksefNumber}`, { bearer: stranger });
    expect(exceptionOf(refused).exceptionCode).toBe(21164);
  });
});

describe('authorization', () => {
  it('needs an access token (401) with InvoiceRead (403), and counts under the invoiceMetadata rate limit', async () => {
    expect((await query(received(), '', '')).status).toBe(401);
    const writer = await accessTokenOf(demoNip(), ['InvoiceWrite']);
    const forbidden = await query(received(), '', writer);
    expect(forbidden.status).toBe(403);
    expect(forbidden.json.security).toEqual({ requiredAnyOfPermissions: ['InvoiceRead'], presentPermissions: ['InvoiceWrite'] });

    // A context of its own: the frozen test clock keeps every earlier request of the demo context in the current second.
    const limited = { type: 'Nip' as const, value: RATE_LIMITED_NIP };
    sandbox.state.limits.setRateLimits(limited, { invoiceMetadata: { perSecond: 1, perMinute: 100, perHour: 100 } });
    const token = await accessTokenOf(RATE_LIMITED_NIP);
    expect((await query(received(), '', token)).status).toBe(200);
    const refused = await query(received(), '', token);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
  });
});

/** A reproducible random sequence (mulberry32), so that the seeded invoices are the same in every run. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
