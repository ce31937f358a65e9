/**
 * The invoice filters (shared/invoices/filters.ts): every field checked before any request, with the field's path
 * and the fix in the error, the JSON body KSeF gets, and a range longer than KSeF's 100 days cut into windows.
 */
import { KsefInputError, type InvoiceQueryFilters } from '../../shared';
import {
  MAX_INVOICE_QUERY_RANGE_DAYS,
  checkInvoiceQueryFilters,
  invoiceQueryFiltersBody,
  invoiceQueryWindows,
} from '../../shared/invoices/filters';

const NOW = new Date('2026-06-15T12:00:00Z');
const clock = { now: () => NOW };
const DAY = 86_400_000;

const base: InvoiceQueryFilters = {
  subjectType: 'Subject2',
  dateRange: { dateType: 'PermanentStorage', from: '2026-06-01T00:00:00Z', to: '2026-06-10T00:00:00+02:00' },
};

/** The `KsefInputError` that checking `filters` throws. */
function refusal(filters: unknown): KsefInputError {
  try {
    checkInvoiceQueryFilters(filters as InvoiceQueryFilters, clock);
  } catch (error) {
    expect(error).toBeInstanceOf(KsefInputError);
    return error as KsefInputError;
  }
  throw new Error('the filters were accepted');
}

describe('invoice query filters', () => {
  it('writes every filter into KSeF body, normalised (upper-case KSeF number and currencies, NIP without dashes)', () => {
    const checked = checkInvoiceQueryFilters(
      {
        subjectType: 'Subject1',
        dateRange: {
          dateType: 'PermanentStorage',
          from: new Date('2026-06-01T00:00:00Z'),
          to: '2026-06-10T00:00:00.1234567+02:00',
          restrictToPermanentStorageHwmDate: true,
        },
        ksefNumber: ' 5265877635-20250826-0100001af629-af ',
        invoiceNumber: 'FV/2026/06/1',
        amount: { type: 'Brutto', from: -100, to: 1230.5 },
        sellerNip: '123-456-32-18',
        buyerIdentifier: { type: 'VatUe', value: ' DE123456789 ' },
        currencyCodes: ['pln', 'EUR'],
        invoicingMode: 'Offline',
        isSelfInvoicing: false,
        formType: 'FA',
        invoiceTypes: ['Vat', 'Kor'],
        hasAttachment: true,
      },
      clock,
    );
    expect(invoiceQueryFiltersBody(checked)).toEqual({
      subjectType: 'Subject1',
      dateRange: {
        dateType: 'PermanentStorage',
        from: '2026-06-01T00:00:00.000Z',
        // The caller's text, so KSeF's own seven fraction digits are not cut to milliseconds.
        to: '2026-06-10T00:00:00.1234567+02:00',
        restrictToPermanentStorageHwmDate: true,
      },
      ksefNumber: '5265877635-20250826-0100001AF629-AF',
      invoiceNumber: 'FV/2026/06/1',
      amount: { type: 'Brutto', from: -100, to: 1230.5 },
      sellerNip: '1234563218',
      buyerIdentifier: { type: 'VatUe', value: 'DE123456789' },
      currencyCodes: ['PLN', 'EUR'],
      invoicingMode: 'Offline',
      isSelfInvoicing: false,
      formType: 'FA',
      invoiceTypes: ['Vat', 'Kor'],
      hasAttachment: true,
    });
  });

  it('leaves out what was not given (null and empty lists too) and sends no `to` when none was given', () => {
    const checked = checkInvoiceQueryFilters(
      {
        subjectType: 'Subject3',
        dateRange: { dateType: 'Issue', from: '2026-06-01T00:00:00+02:00', to: null },
        currencyCodes: [],
        sellerNip: null,
      } as unknown as InvoiceQueryFilters,
      clock,
    );
    expect(invoiceQueryFiltersBody(checked)).toEqual({
      subjectType: 'Subject3',
      dateRange: { dateType: 'Issue', from: '2026-06-01T00:00:00+02:00' },
    });
  });

  it.each([
    [
      'filters.subjectType',
      { ...base, subjectType: 'Buyer' },
      /one of 'Subject1', 'Subject2', 'Subject3', 'SubjectAuthorized'; got "Buyer"/,
    ],
    ['filters.dateRange', { ...base, dateRange: undefined }, /must be an object like/],
    [
      'filters.dateRange.dateType',
      { ...base, dateRange: { ...base.dateRange, dateType: 'Acquisition' } },
      /'Issue', 'Invoicing', 'PermanentStorage'/,
    ],
    [
      'filters.dateRange.from',
      { ...base, dateRange: { ...base.dateRange, from: '2026-06-01' } },
      /ISO 8601 date-time with a UTC offset.*got "2026-06-01"/,
    ],
    ['filters.dateRange.from', { ...base, dateRange: { ...base.dateRange, from: '2026-06-01T10:00:00' } }, /with a UTC offset/],
    ['filters.dateRange.from', { ...base, dateRange: { ...base.dateRange, from: '2026-02-30T10:00:00Z' } }, /ISO 8601/],
    ['filters.dateRange.to', { ...base, dateRange: { ...base.dateRange, to: new Date('nonsense') } }, /invalid Date/],
    [
      'filters.dateRange.from',
      { ...base, dateRange: { ...base.dateRange, from: '2026-06-11T00:00:00Z' } },
      /must be earlier than filters.dateRange.to.*swap them/,
    ],
    [
      'filters.dateRange.from',
      { ...base, dateRange: { dateType: 'Invoicing', from: '2026-07-01T00:00:00Z' } },
      /earlier than now \(2026-06-15T12:00:00.000Z\), as filters.dateRange.to is not given/,
    ],
    [
      'filters.dateRange.restrictToPermanentStorageHwmDate',
      { ...base, dateRange: { ...base.dateRange, dateType: 'Issue', restrictToPermanentStorageHwmDate: true } },
      /only to dateType 'PermanentStorage' \(it is 'Issue'\)/,
    ],
    [
      'filters.dateRange.restrictToPermanentStorageHwmDate',
      { ...base, dateRange: { ...base.dateRange, restrictToPermanentStorageHwmDate: 'yes' } },
      /true or false/,
    ],
    ['filters.dateRange.form', { ...base, dateRange: { ...base.dateRange, form: '2026-06-01T00:00:00Z' } }, /not a filter KSeF knows/],
    ['filters.ksefNumber', { ...base, ksefNumber: '5265877635-20250826-0100001AF629-AA' }, /KSeF number like .*check digits/],
    ['filters.invoiceNumber', { ...base, invoiceNumber: 'x'.repeat(257) }, /1 to 256 characters; it has 257/],
    ['filters.invoiceNumber', { ...base, invoiceNumber: '' }, /1 to 256 characters/],
    ['filters.amount.type', { ...base, amount: { type: 'Gross' } }, /'Brutto', 'Netto', 'Vat'/],
    ['filters.amount.from', { ...base, amount: { type: 'Netto', from: '100' } }, /must be a number/],
    ['filters.amount.from', { ...base, amount: { type: 'Vat', from: 200, to: 100 } }, /greater than filters.amount.to \(100\): swap them/],
    ['filters.sellerNip', { ...base, sellerNip: '123456321' }, /ten digits/],
    ['filters.sellerNip', { ...base, sellerNip: '1004563218' }, /ten digits .*starts with a tax office code/],
    ['filters.sellerNip', { ...base, sellerNip: '1234563219' }, /fails the NIP check digit/],
    ['filters.buyerIdentifier.type', { ...base, buyerIdentifier: { type: 'Pesel', value: '1' } }, /'Nip', 'VatUe', 'Other', 'None'/],
    ['filters.buyerIdentifier.value', { ...base, buyerIdentifier: { type: 'Nip', value: '9999999998' } }, /check digit/],
    ['filters.buyerIdentifier.value', { ...base, buyerIdentifier: { type: 'None', value: 'X' } }, /left out with type 'None'/],
    ['filters.buyerIdentifier.value', { ...base, buyerIdentifier: { type: 'Other', value: 'y'.repeat(51) } }, /1 to 50 characters/],
    ['filters.currencyCodes', { ...base, currencyCodes: 'PLN' }, /must be a list/],
    ['filters.currencyCodes[1]', { ...base, currencyCodes: ['PLN', 'ZLOTY'] }, /three letters, e.g. PLN or EUR; got "ZLOTY"/],
    ['filters.invoicingMode', { ...base, invoicingMode: 'online' }, /'Online', 'Offline'/],
    ['filters.isSelfInvoicing', { ...base, isSelfInvoicing: 'false' }, /true or false/],
    ['filters.formType', { ...base, formType: 'FA(3)' }, /'FA', 'PEF', 'FA_RR'/],
    ['filters.invoiceTypes[1]', { ...base, invoiceTypes: ['Vat', 'Korekta'] }, /'Vat', 'Zal'/],
    ['filters.hasAttachment', { ...base, hasAttachment: 1 }, /true or false; got 1/],
    [
      'filters.sellerNIP',
      { ...base, sellerNIP: '1234563218' },
      /not a filter KSeF knows; the fields are subjectType, dateRange, ksefNumber/,
    ],
    ['filters', null, /must be an object/],
  ])('refuses a wrong %s, saying what is wrong and how to fix it', (field, filters, message) => {
    const error = refusal(filters);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
    expect(error.message.startsWith(field)).toBe(true);
  });

  it('never echoes what looks like a KSeF token secret pasted into a filter', () => {
    const error = refusal({ ...base, ksefNumber: '20251010-EC-1234567890-ABCDEF1234-12|nip-1234563218|0123456789abcdef' });
    expect(error.message).not.toContain('0123456789abcdef');
    expect(error.message).toMatch(/looks like a KSeF token secret/);
  });
});

describe('invoice query windows', () => {
  it(`keeps a range of at most ${MAX_INVOICE_QUERY_RANGE_DAYS} days as one window, as given`, () => {
    const checked = checkInvoiceQueryFilters(
      { ...base, dateRange: { dateType: 'Invoicing', from: '2026-01-01T00:00:00Z', to: '2026-04-11T00:00:00Z' } },
      clock,
    );
    expect(invoiceQueryWindows(checked, clock).map((w) => [w.from.text, w.to?.text])).toEqual([
      ['2026-01-01T00:00:00Z', '2026-04-11T00:00:00Z'],
    ]);
    const open = checkInvoiceQueryFilters({ ...base, dateRange: { dateType: 'Invoicing', from: '2026-04-01T00:00:00Z' } }, clock);
    expect(invoiceQueryWindows(open, clock)).toEqual([{ from: open.from, to: undefined }]);
  });

  it('cuts a longer range into adjacent windows of 100 days, in the sort order, each within KSeF limit', () => {
    const checked = checkInvoiceQueryFilters(
      { ...base, dateRange: { dateType: 'Issue', from: '2025-06-01T00:00:00+02:00', to: '2026-01-01T00:00:00+01:00' } },
      clock,
    );
    const ascending = invoiceQueryWindows(checked, clock, 'Asc');
    expect(ascending.map((w) => [w.from.text, w.to?.text])).toEqual([
      ['2025-06-01T00:00:00+02:00', '2025-09-08T22:00:00.000Z'],
      ['2025-09-08T22:00:00.000Z', '2025-12-17T22:00:00.000Z'],
      ['2025-12-17T22:00:00.000Z', '2026-01-01T00:00:00+01:00'],
    ]);
    for (const window of ascending) expect(window.to!.time - window.from.time).toBeLessThanOrEqual(100 * DAY);
    expect(invoiceQueryWindows(checked, clock, 'Desc')).toEqual([...ascending].reverse());
  });

  it('ends an open range too long for one window at the clock now, explicitly', () => {
    const checked = checkInvoiceQueryFilters({ ...base, dateRange: { dateType: 'PermanentStorage', from: '2026-01-01T00:00:00Z' } }, clock);
    const windows = invoiceQueryWindows(checked, clock);
    expect(windows).toHaveLength(2);
    expect(windows[1].to?.text).toBe(NOW.toISOString());
    // Just inside 100 days but within a minute of it: KSeF reads its now later, so the end is fixed here too.
    const edge = checkInvoiceQueryFilters(
      { ...base, dateRange: { dateType: 'PermanentStorage', from: new Date(NOW.getTime() - 100 * DAY + 30_000) } },
      clock,
    );
    expect(invoiceQueryWindows(edge, clock)).toEqual([{ from: edge.from, to: { time: NOW.getTime(), text: NOW.toISOString() } }]);
  });
});
