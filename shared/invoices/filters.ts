/**
 * The invoice filters of the metadata query and the exports (`InvoiceQueryFilters` of open-api.json 2.8.1,
 * CIRFMF/ksef-api): every field checked before any request, so a mistake comes back as a `KsefInputError` naming the
 * field and the fix instead of a 21405 from KSeF (or, worse, a filter KSeF ignores), then written as KSeF's JSON body.
 * A range longer than KSeF accepts is cut into adjacent windows here too, for the query and the exports alike.
 */
import type { Clock } from '../protocol/types';
import { KsefInputError } from '../http/errors';
import { isValidNip } from '../protocol/model/nip';
import { isValidKsefNumber } from '../protocol/model/ksefNumber';
import { describeRejectedValue } from '../util/input';
import {
  BUYER_IDENTIFIER_TYPES,
  INVOICE_AMOUNT_TYPES,
  INVOICE_DATE_TYPES,
  INVOICE_FORM_TYPES,
  INVOICE_KINDS,
  INVOICE_SUBJECT_TYPES,
  INVOICING_MODES,
  MAX_INVOICE_QUERY_RANGE_DAYS,
} from '../protocol/model/invoiceMetadata';

export { MAX_INVOICE_QUERY_RANGE_DAYS };
import type { InvoiceDateType, InvoiceQueryFilters, InvoiceSubjectType } from './types';

/** The longest `dateRange` KSeF accepts: 100 days, UTC (open-api.json 2.8.1 `InvoiceQueryFilters.dateRange`; 3 months before). */
const MAX_RANGE_MS = MAX_INVOICE_QUERY_RANGE_DAYS * 86_400_000;
/**
 * An open range (no `to`, KSeF's "now") is sent as it is only when it stays this far inside the limit: KSeF's now is
 * read later than ours, by as long as the request takes to get there.
 */
const OPEN_RANGE_MARGIN_MS = 60_000;

const FILTER_FIELDS = [
  'subjectType',
  'dateRange',
  'ksefNumber',
  'invoiceNumber',
  'amount',
  'sellerNip',
  'buyerIdentifier',
  'currencyCodes',
  'invoicingMode',
  'isSelfInvoicing',
  'formType',
  'invoiceTypes',
  'hasAttachment',
];
const DATE_RANGE_FIELDS = ['dateType', 'from', 'to', 'restrictToPermanentStorageHwmDate'];

/** An instant of a date range: `text` is what KSeF is sent (the caller's own text, so its precision is kept), `time` orders it. */
export interface QueryInstant {
  time: number;
  text: string;
}

/** One request's part of a date range; without `to`, KSeF takes its current time. */
export interface QueryWindow {
  from: QueryInstant;
  to?: QueryInstant;
}

/** Filters that passed `checkInvoiceQueryFilters`: the date range apart (it gets cut into windows), the rest as KSeF's body has it. */
export interface CheckedInvoiceQueryFilters {
  subjectType: InvoiceSubjectType;
  dateType: InvoiceDateType;
  from: QueryInstant;
  to?: QueryInstant;
  restrictToPermanentStorageHwmDate?: boolean;
  /** Every other filter, checked and normalised (upper-case KSeF number and currencies), in KSeF's JSON form. */
  others: Record<string, unknown>;
}

/**
 * Checks every field of `filters` (the argument named `field` in errors) and returns them ready to send; throws
 * `KsefInputError` with `field` = the path of the first wrong field, e.g. `filters.dateRange.from`.
 */
export function checkInvoiceQueryFilters(filters: InvoiceQueryFilters, clock: Clock, field = 'filters'): CheckedInvoiceQueryFilters {
  const record = requireObject(
    filters,
    field,
    `{ subjectType: 'Subject2', dateRange: { dateType: 'PermanentStorage', from: '2026-01-01T00:00:00Z' } }`,
  );
  rejectUnknownFields(record, FILTER_FIELDS, field);
  const subjectType = requireOneOf(record.subjectType, INVOICE_SUBJECT_TYPES, `${field}.subjectType`);

  const rangeField = `${field}.dateRange`;
  const range = requireObject(record.dateRange, rangeField, `{ dateType: 'PermanentStorage', from: '2026-01-01T00:00:00Z' }`);
  rejectUnknownFields(range, DATE_RANGE_FIELDS, rangeField);
  const dateType = requireOneOf(range.dateType, INVOICE_DATE_TYPES, `${rangeField}.dateType`);
  const from = requireInstant(range.from, `${rangeField}.from`);
  const to = isAbsent(range.to) ? undefined : requireInstant(range.to, `${rangeField}.to`);
  if (from.time >= (to?.time ?? clock.now().getTime())) {
    throw new KsefInputError(
      `${rangeField}.from (${from.text}) must be earlier than ${to ? `${rangeField}.to (${to.text})` : `now (${clock.now().toISOString()}), as ${rangeField}.to is not given`}: swap them or correct the date.`,
      { field: `${rangeField}.from` },
    );
  }
  const restrict = optionalBoolean(range.restrictToPermanentStorageHwmDate, `${rangeField}.restrictToPermanentStorageHwmDate`);
  if (restrict !== undefined && dateType !== 'PermanentStorage') {
    throw new KsefInputError(
      `${rangeField}.restrictToPermanentStorageHwmDate applies only to dateType 'PermanentStorage' (it is '${dateType}'): leave it out or use the PermanentStorage date.`,
      { field: `${rangeField}.restrictToPermanentStorageHwmDate` },
    );
  }

  const others: Record<string, unknown> = {};
  if (!isAbsent(record.ksefNumber)) others.ksefNumber = requireKsefNumber(record.ksefNumber, `${field}.ksefNumber`);
  if (!isAbsent(record.invoiceNumber)) others.invoiceNumber = checkInvoiceNumber(record.invoiceNumber, `${field}.invoiceNumber`);
  if (!isAbsent(record.amount)) others.amount = checkAmount(record.amount, `${field}.amount`);
  if (!isAbsent(record.sellerNip)) others.sellerNip = requireNip(record.sellerNip, `${field}.sellerNip`);
  if (!isAbsent(record.buyerIdentifier)) others.buyerIdentifier = checkBuyerIdentifier(record.buyerIdentifier, `${field}.buyerIdentifier`);
  const currencyCodes = optionalList(record.currencyCodes, `${field}.currencyCodes`, checkCurrencyCode);
  if (currencyCodes) others.currencyCodes = currencyCodes;
  if (!isAbsent(record.invoicingMode)) others.invoicingMode = requireOneOf(record.invoicingMode, INVOICING_MODES, `${field}.invoicingMode`);
  const isSelfInvoicing = optionalBoolean(record.isSelfInvoicing, `${field}.isSelfInvoicing`);
  if (isSelfInvoicing !== undefined) others.isSelfInvoicing = isSelfInvoicing;
  if (!isAbsent(record.formType)) others.formType = requireOneOf(record.formType, INVOICE_FORM_TYPES, `${field}.formType`);
  const invoiceTypes = optionalList(record.invoiceTypes, `${field}.invoiceTypes`, (value, itemField) =>
    requireOneOf(value, INVOICE_KINDS, itemField),
  );
  if (invoiceTypes) others.invoiceTypes = invoiceTypes;
  const hasAttachment = optionalBoolean(record.hasAttachment, `${field}.hasAttachment`);
  if (hasAttachment !== undefined) others.hasAttachment = hasAttachment;

  return {
    subjectType,
    dateType,
    from,
    ...(to && { to }),
    ...(restrict !== undefined && { restrictToPermanentStorageHwmDate: restrict }),
    others,
  };
}

/** KSeF's `InvoiceQueryFilters` body for `window` (default: the checked range as given). */
export function invoiceQueryFiltersBody(
  checked: CheckedInvoiceQueryFilters,
  window: QueryWindow = { from: checked.from, to: checked.to },
): Record<string, unknown> {
  return {
    subjectType: checked.subjectType,
    dateRange: {
      dateType: checked.dateType,
      from: window.from.text,
      ...(window.to && { to: window.to.text }),
      ...(checked.restrictToPermanentStorageHwmDate !== undefined && {
        restrictToPermanentStorageHwmDate: checked.restrictToPermanentStorageHwmDate,
      }),
    },
    ...checked.others,
  };
}

/**
 * The checked range as adjacent windows KSeF accepts (each at most `MAX_INVOICE_QUERY_RANGE_DAYS`), in `sortOrder`:
 * one window, as given, when the range fits. Adjacent windows share their boundary instant, so a caller reading
 * several drops an invoice met twice (by KSeF number). An open range too long for one window ends at `clock`'s now.
 */
export function invoiceQueryWindows(checked: CheckedInvoiceQueryFilters, clock: Clock, sortOrder: 'Asc' | 'Desc' = 'Asc'): QueryWindow[] {
  const now = clock.now().getTime();
  const fitsOpen = !checked.to && now - checked.from.time <= MAX_RANGE_MS - OPEN_RANGE_MARGIN_MS;
  if (fitsOpen || (checked.to && checked.to.time - checked.from.time <= MAX_RANGE_MS)) return [{ from: checked.from, to: checked.to }];
  const end = checked.to ?? instantOf(new Date(now));
  const windows: QueryWindow[] = [];
  for (let from = checked.from; from.time < end.time;) {
    const to = end.time - from.time <= MAX_RANGE_MS ? end : instantOf(new Date(from.time + MAX_RANGE_MS));
    windows.push({ from, to });
    from = to;
  }
  return sortOrder === 'Asc' ? windows : windows.reverse();
}

/** A Date as a window bound. */
export function instantOf(date: Date): QueryInstant {
  return { time: date.getTime(), text: date.toISOString() };
}

/** A KSeF number (check digits included), upper-case; `KsefInputError` naming `field` otherwise. */
export function requireKsefNumber(value: unknown, field: string): string {
  const text = typeof value === 'string' ? value.trim().toUpperCase() : '';
  if (!isValidKsefNumber(text)) {
    throw new KsefInputError(
      `${field} must be a KSeF number like 5265877635-20250826-0100001AF629-AF (seller NIP, date, 12 hex digits, check digits); ${describeGiven(value)}.`,
      { field },
    );
  }
  return text;
}

/**
 * A date-time of the filters: an ISO 8601 string with `Z` or an offset (`2026-01-03T13:45:00+01:00`, what KSeF 2.8.1
 * accepts; a time without offset would be read by KSeF as it pleases), or a valid Date.
 */
function requireInstant(value: unknown, field: string): QueryInstant {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new KsefInputError(`${field} is an invalid Date: give a real date.`, { field });
    return instantOf(value);
  }
  const text = typeof value === 'string' ? value.trim() : '';
  const time = parseIsoDateTime(text);
  if (time === undefined) {
    throw new KsefInputError(
      `${field} must be an ISO 8601 date-time with a UTC offset, e.g. 2026-01-03T13:45:00Z or 2026-01-03T14:45:00+01:00 (or a Date); ${describeGiven(value)}.`,
      { field },
    );
  }
  return { time, text };
}

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):?(\d{2}))$/i;

/** Milliseconds of an ISO 8601 date-time with offset, or undefined; a day past the month's end is refused, not rolled over. */
function parseIsoDateTime(text: string): number | undefined {
  const match = ISO_DATE_TIME.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = match.slice(1).map((part) => Number(part ?? 0));
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const valid =
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHours <= 14 &&
    offsetMinutes <= 59;
  const time = Date.parse(text);
  return valid && !Number.isNaN(time) ? time : undefined;
}

function checkInvoiceNumber(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 256) {
    throw new KsefInputError(
      `${field} must be the invoice's own number (P_2) exactly as issued, 1 to 256 characters; ${
        typeof value === 'string' ? `it has ${value.length}` : describeGiven(value)
      }.`,
      { field },
    );
  }
  return value;
}

function checkAmount(value: unknown, field: string): Record<string, unknown> {
  const amount = requireObject(value, field, `{ type: 'Brutto', from: 100, to: 1000 }`);
  rejectUnknownFields(amount, ['type', 'from', 'to'], field);
  const type = requireOneOf(amount.type, INVOICE_AMOUNT_TYPES, `${field}.type`);
  const bound = (name: 'from' | 'to'): number | undefined => {
    const given = amount[name];
    if (isAbsent(given)) return undefined;
    if (typeof given !== 'number' || !Number.isFinite(given)) {
      throw new KsefInputError(
        `${field}.${name} must be a number (an amount, e.g. 1230.50; negative for corrections); ${describeGiven(given)}.`,
        {
          field: `${field}.${name}`,
        },
      );
    }
    return given;
  };
  const from = bound('from');
  const to = bound('to');
  if (from !== undefined && to !== undefined && from > to) {
    throw new KsefInputError(`${field}.from (${from}) is greater than ${field}.to (${to}): swap them.`, { field: `${field}.from` });
  }
  return { type, ...(from !== undefined && { from }), ...(to !== undefined && { to }) };
}

/** open-api.json's `Nip`: ten digits, the first three a tax office code (not 0, not two zeros after it). */
const NIP_PATTERN = /^[1-9]((\d[1-9])|([1-9]\d))\d{7}$/;

/**
 * A NIP with a correct check digit: one failing it belongs to no taxpayer, so the filter is a typing mistake that
 * would match nothing in production. (KSeF's test environments also take invoices naming such NIPs; a filter for
 * those is refused here.)
 */
function requireNip(value: unknown, field: string): string {
  const text = typeof value === 'string' ? value.trim().replace(/-/g, '') : '';
  if (!NIP_PATTERN.test(text)) {
    throw new KsefInputError(
      `${field} must be a NIP of ten digits (dashes allowed) that starts with a tax office code, e.g. 1234563218; ${describeGiven(value)}.`,
      { field },
    );
  }
  if (!isValidNip(text)) {
    throw new KsefInputError(`${field} ${text} fails the NIP check digit (its last digit): check the number for a typing mistake.`, {
      field,
    });
  }
  return text;
}

function checkBuyerIdentifier(value: unknown, field: string): Record<string, unknown> {
  const identifier = requireObject(value, field, `{ type: 'Nip', value: '1234563218' }`);
  rejectUnknownFields(identifier, ['type', 'value'], field);
  const type = requireOneOf(identifier.type, BUYER_IDENTIFIER_TYPES, `${field}.type`);
  if (isAbsent(identifier.value)) return { type };
  if (type === 'None') {
    throw new KsefInputError(`${field}.value must be left out with type 'None' (invoices whose buyer has no identifier).`, {
      field: `${field}.value`,
    });
  }
  if (type === 'Nip') return { type, value: requireNip(identifier.value, `${field}.value`) };
  if (typeof identifier.value !== 'string' || identifier.value.trim() === '' || identifier.value.length > 50) {
    throw new KsefInputError(
      `${field}.value must be the buyer's ${type === 'VatUe' ? 'EU VAT number (e.g. DE123456789)' : 'identifier'}, 1 to 50 characters; ${describeGiven(identifier.value)}.`,
      {
        field: `${field}.value`,
      },
    );
  }
  return { type, value: identifier.value.trim() };
}

function checkCurrencyCode(value: unknown, field: string): string {
  const text = typeof value === 'string' ? value.trim().toUpperCase() : '';
  if (!/^[A-Z]{3}$/.test(text)) {
    throw new KsefInputError(`${field} must be an ISO 4217 currency code of three letters, e.g. PLN or EUR; ${describeGiven(value)}.`, {
      field,
    });
  }
  return text;
}

/** A list filter: absent or empty means no filter; each item checked with its index in `field`. */
function optionalList<T>(value: unknown, field: string, checkItem: (item: unknown, itemField: string) => T): T[] | undefined {
  if (isAbsent(value)) return undefined;
  if (!Array.isArray(value)) throw new KsefInputError(`${field} must be a list (an array); ${describeGiven(value)}.`, { field });
  return value.length === 0 ? undefined : value.map((item, i) => checkItem(item, `${field}[${i}]`));
}

function optionalBoolean(value: unknown, field: string): boolean | undefined {
  if (isAbsent(value)) return undefined;
  if (typeof value !== 'boolean') throw new KsefInputError(`${field} must be true or false; ${describeGiven(value)}.`, { field });
  return value;
}

function requireOneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new KsefInputError(`${field} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}; ${describeGiven(value)}.`, { field });
  }
  return value as T;
}

function requireObject(value: unknown, field: string, example: string): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new KsefInputError(`${field} must be an object like ${example}; ${describeGiven(value)}.`, { field });
  }
  return value as Record<string, unknown>;
}

/** A misspelt filter (e.g. `sellerNIP`) would be dropped by KSeF and the query silently widened: refused here. */
function rejectUnknownFields(record: Record<string, unknown>, known: readonly string[], field: string): void {
  const unknown = Object.keys(record).find((key) => !known.includes(key) && record[key] !== undefined);
  if (unknown !== undefined) {
    throw new KsefInputError(`${field}.${unknown} is not a filter KSeF knows; the fields are ${known.join(', ')}.`, {
      field: `${field}.${unknown}`,
    });
  }
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null;
}

/** What was given: a short text or a number as it is (filters are not secrets), anything else described without its value. */
function describeGiven(value: unknown): string {
  const shown = (typeof value === 'string' && value !== '' && value.length <= 40 && !value.includes('|')) || typeof value === 'number';
  return shown ? `got ${JSON.stringify(value)}` : describeRejectedValue(value);
}
