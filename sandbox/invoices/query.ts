/**
 * The invoice metadata query (`POST /invoices/query/metadata`, open-api.json 2.8.1, CIRFMF/ksef-api;
 * pobieranie-faktur/pobieranie-faktur.md and hwm.md, CIRFMF/ksef-docs): the filters, whose invoices a context
 * sees in each subject role, the order, the technical record limit and the permanent-storage high water mark.
 * Exports select their invoices with the same functions.
 */
import type { ContextIdentifier } from '../../shared/protocol/types';
import { sameContext } from '../auth/records';
import type { SandboxContext } from '../context';
import { DAY_MS, formatDateTime } from '../dates';
import { inputValidationError, ksefException } from '../http/errors';
import { requireObject, requireOneOf, type JsonRecord } from '../http/input';
import {
  BUYER_IDENTIFIER_TYPES,
  INVOICE_AMOUNT_TYPES,
  INVOICE_DATE_TYPES,
  INVOICE_FORM_TYPES,
  INVOICE_KINDS,
  INVOICE_SUBJECT_TYPES,
  INVOICING_MODES,
  MAX_INVOICE_QUERY_RANGE_DAYS,
  type BuyerIdentifierType,
  type InvoiceDateType,
  type InvoiceKind,
  type InvoiceMetadata,
  type InvoiceSubjectType,
} from '../../shared/protocol/model/invoiceMetadata';
import { invoiceMetadataOf, type StoredInvoice } from './metadata';

export type { StoredInvoice } from './metadata';

export type SortOrder = 'Asc' | 'Desc';

/** `InvoiceQueryFilters` of open-api.json, checked and with its dates parsed. */
export interface SandboxInvoiceFilters {
  subjectType: InvoiceSubjectType;
  dateRange: {
    dateType: InvoiceDateType;
    from: Date;
    /** Absent: now, when the query runs. */
    to?: Date;
    restrictToPermanentStorageHwmDate: boolean;
  };
  ksefNumber?: string;
  invoiceNumber?: string;
  amount?: { type: 'Brutto' | 'Netto' | 'Vat'; from?: number; to?: number };
  sellerNip?: string;
  buyerIdentifier?: { type: BuyerIdentifierType; value?: string };
  currencyCodes?: string[];
  invoicingMode?: 'Online' | 'Offline';
  isSelfInvoicing?: boolean;
  formType?: 'FA' | 'PEF' | 'FA_RR';
  invoiceTypes?: InvoiceKind[];
  hasAttachment?: boolean;
}

/**
 * How far the permanent-storage high water mark lags behind now by default. KSeF does not publish its lag (hwm.md
 * only says invoices newer than the mark may still appear); a couple of seconds keeps the mark's behaviour visible
 * without slowing down flows that wait for it.
 */
export const DEFAULT_HWM_DELAY_MS = 2_000;

/** ISO 8601 date-time with `Z` or an explicit offset, the forms open-api.json 2.8.1 documents for `dateRange`. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;
const NIP = /^[1-9]((\d[1-9])|([1-9]\d))\d{7}$/;
const KSEF_NUMBER =
  /^([1-9](\d[1-9]|[1-9]\d)\d{7})-(20[2-9][0-9]|2[1-9]\d{2}|[3-9]\d{3})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])-([0-9A-F]{6})-?([0-9A-F]{6})-([0-9A-F]{2})$/;

/**
 * The filters of a query or export request body, checked (21405 naming the field otherwise). `fieldPrefix` names
 * where they sit in the request, e.g. `filters.` in an export request. With the spec folder present ajv has already
 * checked the schema; the range rules (from ≤ to, at most 100 days) are KSeF's own and checked here in any case.
 */
export function readInvoiceQueryFilters(body: unknown, fieldPrefix = ''): SandboxInvoiceFilters {
  const field = (name: string) => `${fieldPrefix}${name}`;
  const json = requireObject(body, fieldPrefix.replace(/\.$/, '') || '(body)');
  const range = requireObject(json.dateRange, field('dateRange'));
  const dateType = requireOneOf(range.dateType, INVOICE_DATE_TYPES, field('dateRange.dateType'));
  const from = requireDateTime(range.from, field('dateRange.from'));
  const to = range.to == null ? undefined : requireDateTime(range.to, field('dateRange.to'));
  if (to && to.getTime() < from.getTime())
    throw inputValidationError([`'${field('dateRange.to')}' must not be earlier than 'dateRange.from'.`]);
  const filters: SandboxInvoiceFilters = {
    subjectType: requireOneOf(json.subjectType, INVOICE_SUBJECT_TYPES, field('subjectType')),
    dateRange: {
      dateType,
      from,
      ...(to && { to }),
      restrictToPermanentStorageHwmDate: optional(range, 'restrictToPermanentStorageHwmDate', field, isBoolean, 'true or false') ?? false,
    },
  };
  const ksefNumber = optional(json, 'ksefNumber', field, (v): v is string => typeof v === 'string' && KSEF_NUMBER.test(v), 'a KSeF number');
  if (ksefNumber !== undefined) filters.ksefNumber = ksefNumber;
  const invoiceNumber = optional(
    json,
    'invoiceNumber',
    field,
    (v): v is string => typeof v === 'string' && v.length <= 256,
    'a string of at most 256 characters',
  );
  if (invoiceNumber !== undefined) filters.invoiceNumber = invoiceNumber;
  if (json.amount != null) filters.amount = readAmount(requireObject(json.amount, field('amount')), field);
  const sellerNip = optional(json, 'sellerNip', field, (v): v is string => typeof v === 'string' && NIP.test(v), 'a NIP of 10 digits');
  if (sellerNip !== undefined) filters.sellerNip = sellerNip;
  if (json.buyerIdentifier != null) {
    const buyer = requireObject(json.buyerIdentifier, field('buyerIdentifier'));
    const value = optional(
      buyer,
      'value',
      (name) => field(`buyerIdentifier.${name}`),
      (v): v is string => typeof v === 'string' && v.length <= 50,
      'a string of at most 50 characters',
    );
    filters.buyerIdentifier = {
      type: requireOneOf(buyer.type, BUYER_IDENTIFIER_TYPES, field('buyerIdentifier.type')),
      ...(value !== undefined && { value }),
    };
  }
  const currencyCodes = optional(
    json,
    'currencyCodes',
    field,
    (v): v is string[] => Array.isArray(v) && v.every((c) => typeof c === 'string' && /^[A-Z]{3}$/.test(c)),
    'a list of ISO 4217 currency codes',
  );
  if (currencyCodes !== undefined) filters.currencyCodes = currencyCodes;
  if (json.invoicingMode != null) filters.invoicingMode = requireOneOf(json.invoicingMode, INVOICING_MODES, field('invoicingMode'));
  const isSelfInvoicing = optional(json, 'isSelfInvoicing', field, isBoolean, 'true or false');
  if (isSelfInvoicing !== undefined) filters.isSelfInvoicing = isSelfInvoicing;
  if (json.formType != null) filters.formType = requireOneOf(json.formType, INVOICE_FORM_TYPES, field('formType'));
  const invoiceTypes = optional(
    json,
    'invoiceTypes',
    field,
    (v): v is InvoiceKind[] => Array.isArray(v) && v.every((k) => INVOICE_KINDS.includes(k as InvoiceKind)),
    `a list of: ${INVOICE_KINDS.join(', ')}`,
  );
  if (invoiceTypes !== undefined) filters.invoiceTypes = invoiceTypes;
  const hasAttachment = optional(json, 'hasAttachment', field, isBoolean, 'true or false');
  if (hasAttachment !== undefined) filters.hasAttachment = hasAttachment;
  return filters;
}

/**
 * The moment up to which the set of permanently stored invoices is complete (hwm.md): now less the sandbox's lag.
 * An invoice is stored at the moment it is (never with an earlier date), so nothing can appear at or below it.
 */
export function permanentStorageHwmDate(ctx: SandboxContext): Date {
  return new Date(ctx.clock.now().getTime() - ctx.hwmDelayMs);
}

/**
 * Every permanently stored invoice `context` sees under `filters`, sorted by the filter's date type (ties by KSeF
 * number). The range is inclusive at both ends; with `restrictToPermanentStorageHwmDate` it ends at the high water
 * mark, and a range starting after the mark is refused (21183). Issue dates are whole days: the range's UTC days.
 */
export function selectInvoices(
  ctx: SandboxContext,
  context: ContextIdentifier,
  filters: SandboxInvoiceFilters,
  sortOrder: SortOrder,
): StoredInvoice[] {
  const range = effectiveRange(ctx, filters);
  const dateOf = DATE_OF[filters.dateRange.dateType];
  const [from, to] =
    filters.dateRange.dateType === 'Issue'
      ? [utcDayStart(range.from), utcDayStart(range.to) + DAY_MS - 1]
      : [range.from.getTime(), range.to.getTime()];
  const inRole = SUBJECT_MATCHERS[filters.subjectType];
  const matches: { stored: StoredInvoice; date: number }[] = [];
  for (const stored of ctx.state.invoicesByKsefNumber.values()) {
    if (!stored.invoice.permanentStorageDate) continue;
    const date = dateOf(stored);
    if (date < from || date > to) continue;
    if (!inRole(stored, context) || !matchesFilters(stored, filters)) continue;
    matches.push({ stored, date });
  }
  const direction = sortOrder === 'Asc' ? 1 : -1;
  matches.sort((a, b) => direction * (a.date - b.date || (a.stored.invoice.ksefNumber! < b.stored.invoice.ksefNumber! ? -1 : 1)));
  return matches.map((m) => m.stored);
}

/**
 * The range a query covers: `to` defaults to now, and with the restrict flag (PermanentStorage only) it ends at
 * the high water mark. Also answers the `permanentStorageHwmDate` KSeF reports for PermanentStorage queries: the
 * mark, or the range's end when that is earlier ("for older periods it matches the query's conditions").
 */
export function effectiveRange(
  ctx: SandboxContext,
  filters: SandboxInvoiceFilters,
): { from: Date; to: Date; permanentStorageHwmDate?: Date } {
  const { dateType, from, to = ctx.clock.now(), restrictToPermanentStorageHwmDate } = filters.dateRange;
  if (to.getTime() - from.getTime() > MAX_INVOICE_QUERY_RANGE_DAYS * DAY_MS) {
    throw inputValidationError([`The dateRange may span at most ${MAX_INVOICE_QUERY_RANGE_DAYS} days (UTC).`]);
  }
  if (dateType !== 'PermanentStorage') return { from, to };
  const hwm = permanentStorageHwmDate(ctx);
  if (restrictToPermanentStorageHwmDate && from.getTime() > hwm.getTime()) {
    throw ksefException(
      21183,
      `Parametr dateRange.from (${formatDateTime(from)}) jest późniejszy niż PermanentStorageHwmDate (${formatDateTime(hwm)}) przy włączonym restrictToPermanentStorageHwmDate.`,
    );
  }
  const reported = new Date(Math.min(to.getTime(), hwm.getTime()));
  return { from, to: restrictToPermanentStorageHwmDate ? reported : to, permanentStorageHwmDate: reported };
}

export interface MetadataPage {
  hasMore: boolean;
  isTruncated: boolean;
  permanentStorageHwmDate?: string;
  invoices: InvoiceMetadata[];
}

/**
 * One page of the query's answer. Only the first `queryRecordLimit` matches can be paged through; `isTruncated` is
 * set on the page that reaches that limit while more matches exist, which is when the docs' algorithm narrows the
 * range instead of paging on (`hasMore` and `isTruncated` both true: start again from the last record's date).
 */
export function queryMetadataPage(
  ctx: SandboxContext,
  context: ContextIdentifier,
  filters: SandboxInvoiceFilters,
  paging: { sortOrder: SortOrder; pageOffset: number; pageSize: number },
): MetadataPage {
  const { permanentStorageHwmDate: hwm } = effectiveRange(ctx, filters);
  const matches = selectInvoices(ctx, context, filters, paging.sortOrder);
  const start = paging.pageOffset * paging.pageSize;
  const end = Math.min(start + paging.pageSize, ctx.queryRecordLimit);
  return {
    hasMore: end < matches.length,
    isTruncated: matches.length > ctx.queryRecordLimit && end >= ctx.queryRecordLimit,
    ...(hwm && { permanentStorageHwmDate: formatDateTime(hwm) }),
    invoices: matches.slice(start, Math.max(start, end)).map(invoiceMetadataOf),
  };
}

const DATE_OF: Record<InvoiceDateType, (stored: StoredInvoice) => number> = {
  Issue: (stored) => Date.parse(`${stored.invoice.issueDate!}T00:00:00Z`),
  Invoicing: (stored) => stored.invoice.invoicingDate.getTime(),
  PermanentStorage: (stored) => stored.invoice.permanentStorageDate!.getTime(),
};

/**
 * Whose invoices each subject type lists, as KSeF resolves them from the invoice's parties: Subject1 the seller
 * (Podmiot1, or the context that sent it), Subject2 the buyer (Podmiot2), Subject3 a Podmiot3 party, SubjectAuthorized
 * the PodmiotUpowazniony. Parties are named by NIP (Podmiot3 also by internal identifier, for InternalId contexts).
 */
const SUBJECT_MATCHERS: Record<InvoiceSubjectType, (stored: StoredInvoice, context: ContextIdentifier) => boolean> = {
  Subject1: (stored, context) =>
    (context.type === 'Nip' && stored.invoice.sellerNip === context.value) || sameContext(stored.session.contextIdentifier, context),
  Subject2: ({ summary }, context) =>
    context.type === 'Nip' && summary.buyer.identifier.type === 'Nip' && summary.buyer.identifier.value === context.value,
  Subject3: ({ summary }, context) =>
    summary.thirdSubjects.some(
      (party) =>
        (party.identifier.type === 'Nip' || party.identifier.type === 'InternalId') &&
        party.identifier.type === context.type &&
        party.identifier.value === context.value,
    ),
  SubjectAuthorized: ({ summary }, context) => context.type === 'Nip' && summary.authorizedSubject?.nip === context.value,
};

/** Whether `context` may see the invoice in any role (downloading it by KSeF number needs no more). */
export function isVisibleTo(stored: StoredInvoice, context: ContextIdentifier): boolean {
  return INVOICE_SUBJECT_TYPES.some((subjectType) => SUBJECT_MATCHERS[subjectType](stored, context));
}

function matchesFilters(stored: StoredInvoice, filters: SandboxInvoiceFilters): boolean {
  const { invoice, summary } = stored;
  if (filters.ksefNumber !== undefined && invoice.ksefNumber !== filters.ksefNumber) return false;
  if (filters.invoiceNumber !== undefined && invoice.invoiceNumber !== filters.invoiceNumber) return false;
  if (filters.sellerNip !== undefined && invoice.sellerNip !== filters.sellerNip) return false;
  if (filters.amount) {
    const { type, from, to } = filters.amount;
    const amount = type === 'Brutto' ? summary.grossAmount : type === 'Netto' ? summary.netAmount : summary.vatAmount;
    if ((from !== undefined && amount < from) || (to !== undefined && amount > to)) return false;
  }
  if (filters.buyerIdentifier) {
    const { type, value } = filters.buyerIdentifier;
    if (summary.buyer.identifier.type !== type) return false;
    if (value !== undefined && summary.buyer.identifier.value !== value) return false;
  }
  if (filters.currencyCodes && filters.currencyCodes.length > 0 && !filters.currencyCodes.includes(summary.currency)) return false;
  if (filters.invoicingMode !== undefined && invoice.invoicingMode !== filters.invoicingMode) return false;
  if (filters.isSelfInvoicing !== undefined && summary.isSelfInvoicing !== filters.isSelfInvoicing) return false;
  if (filters.formType !== undefined && summary.formCode.value !== filters.formType) return false;
  if (filters.invoiceTypes && filters.invoiceTypes.length > 0 && !filters.invoiceTypes.includes(summary.invoiceType)) return false;
  if (filters.hasAttachment !== undefined && summary.hasAttachment !== filters.hasAttachment) return false;
  return true;
}

function readAmount(amount: JsonRecord, field: (name: string) => string): NonNullable<SandboxInvoiceFilters['amount']> {
  const type = requireOneOf(amount.type, INVOICE_AMOUNT_TYPES, field('amount.type'));
  const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  const from = optional(amount, 'from', (name) => field(`amount.${name}`), isNumber, 'a number');
  const to = optional(amount, 'to', (name) => field(`amount.${name}`), isNumber, 'a number');
  if (from !== undefined && to !== undefined && to < from)
    throw inputValidationError([`'${field('amount.to')}' must not be less than 'amount.from'.`]);
  return { type, ...(from !== undefined && { from }), ...(to !== undefined && { to }) };
}

/** An optional (nullable) property: undefined when absent or null, 21405 when present but not `what`. */
function optional<T>(
  json: JsonRecord,
  key: string,
  field: (name: string) => string,
  check: (value: unknown) => value is T,
  what: string,
): T | undefined {
  const value = json[key];
  if (value == null) return undefined;
  if (!check(value)) throw inputValidationError([`'${field(key)}' must be ${what}.`]);
  return value;
}

function isBoolean(value: unknown): value is boolean {
  return typeof value === 'boolean';
}

function requireDateTime(value: unknown, field: string): Date {
  const parsed = typeof value === 'string' && DATE_TIME.test(value) ? new Date(value) : undefined;
  if (!parsed || Number.isNaN(parsed.getTime())) {
    throw inputValidationError([`'${field}' must be an ISO 8601 date-time with Z or an offset, e.g. 2026-01-03T13:45:00+00:00.`]);
  }
  return parsed;
}

function utcDayStart(date: Date): number {
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
}
