/**
 * The metadata query: `POST /invoices/query/metadata` (open-api.json 2.8.1, CIRFMF/ksef-api;
 * pobieranie-faktur/pobieranie-faktur.md, CIRFMF/ksef-docs), as one stream of `InvoiceMetadata` however many
 * requests it takes:
 * - filters checked before the first request (`shared/invoices/filters.ts`);
 * - pages of `pageSize` (10-250) by `pageOffset` while KSeF says `hasMore` (`shared/http/paging.ts`);
 * - KSeF's cap of 10,000 records per query (`isTruncated`) passed as open-api.json says: the range's start (`Asc`)
 *   or end (`Desc`) moves to the last record's date of the filter's date type, the offset starts at 0 again and the
 *   records KSeF gives a second time are dropped by KSeF number;
 * - a range longer than KSeF's 100 days read as adjacent windows, in the sort order.
 *
 * The requests belong to KSeF's `invoiceMetadata` rate-limit group: in production only 20 an hour (8 a second, 16 a
 * minute). The transport paces them, so a long listing waits for its next request rather than earning a 429; for
 * thousands of invoices an export (`client.invoices.export`) is the better tool.
 */
import type { Clock } from '../protocol/types';
import type { KsefRequest, RequestFunction } from '../http/transport';
import { KsefError, KsefInputError } from '../http/errors';
import { paginateWithOffset } from '../http/paging';
import { checkPageSize } from '../util/input';
import {
  checkInvoiceQueryFilters,
  invoiceQueryFiltersBody,
  invoiceQueryWindows,
  type CheckedInvoiceQueryFilters,
  type QueryInstant,
  type QueryWindow,
} from './filters';
import type { InvoiceDateType, InvoiceMetadata, InvoiceQueryFilters, QueryInvoicesOptions } from './types';

export interface QueryDeps {
  api: RequestFunction;
  clock: Clock;
}

type SortOrder = NonNullable<QueryInvoicesOptions['sortOrder']>;

/** `QueryInvoicesMetadataResponse` of open-api.json. */
interface MetadataPage {
  hasMore: boolean;
  isTruncated: boolean;
  permanentStorageHwmDate?: string | null;
  invoices: InvoiceMetadata[];
}

/** The record field each date type filters and sorts by. */
const SORT_DATE: Record<InvoiceDateType, 'issueDate' | 'invoicingDate' | 'permanentStorageDate'> = {
  Issue: 'issueDate',
  Invoicing: 'invoicingDate',
  PermanentStorage: 'permanentStorageDate',
};
const DAY_MS = 86_400_000;

/**
 * Every invoice matching `filters`, each once, in `sortOrder` of the filter's date type; pages are fetched as the
 * stream is consumed. Bad filters or options fail with `KsefInputError` before any request.
 */
export async function* queryInvoiceMetadata(
  deps: QueryDeps,
  filters: InvoiceQueryFilters,
  options: QueryInvoicesOptions = {},
): AsyncGenerator<InvoiceMetadata> {
  const checked = checkInvoiceQueryFilters(filters, deps.clock);
  const sortOrder = checkSortOrder(options.sortOrder);
  const pageSize = checkPageSize(options.pageSize, 250, 10, 250);
  const seen = new SeenInvoices(checked.dateType, sortOrder);
  const requestFor = (window: QueryWindow): KsefRequest => ({
    method: 'POST',
    path: '/invoices/query/metadata',
    query: { sortOrder, pageSize },
    json: invoiceQueryFiltersBody(checked, window),
    // A query only reads: repeating it after a lost answer is harmless.
    idempotent: true,
  });

  for (const window of invoiceQueryWindows(checked, deps.clock, sortOrder)) {
    let current = window;
    seen.forgetBeyondReach(current);
    const narrow = (page: MetadataPage): KsefRequest => {
      current = narrowedWindow(current, page, checked, sortOrder);
      seen.forgetBeyondReach(current);
      return requestFor(current);
    };
    for await (const invoice of paginateWithOffset<MetadataPage, InvoiceMetadata>(
      deps.api,
      requestFor(window),
      (page) => page.invoices,
      narrow,
    )) {
      if (seen.isNew(invoice)) yield invoice;
    }
  }
}

function checkSortOrder(sortOrder: unknown): SortOrder {
  if (sortOrder === undefined) return 'Asc';
  if (sortOrder !== 'Asc' && sortOrder !== 'Desc') {
    throw new KsefInputError(`options.sortOrder must be 'Asc' (oldest first, the default) or 'Desc' (newest first).`, {
      field: 'options.sortOrder',
    });
  }
  return sortOrder;
}

/**
 * The window after a truncated page: its start (`Asc`) or end (`Desc`) at the last record's date. A window that
 * would not move (more than KSeF's cap of records share one date) cannot be read further by any query with these
 * filters: that ends the stream with an error rather than a loop.
 */
function narrowedWindow(window: QueryWindow, page: MetadataPage, checked: CheckedInvoiceQueryFilters, sortOrder: SortOrder): QueryWindow {
  const last = page.invoices.at(-1);
  const bound = last && boundAt(last[SORT_DATE[checked.dateType]], checked.dateType, sortOrder);
  const moved = bound && (sortOrder === 'Asc' ? bound.time > window.from.time : !window.to || bound.time < window.to.time);
  if (!moved) {
    throw new KsefError(
      `KSeF capped the results of the invoice query (isTruncated) at records that all share their ${checked.dateType} date${
        last ? ` ${last[SORT_DATE[checked.dateType]]}` : ''
      }, so moving the date range cannot reach the rest: narrow the filters (e.g. sellerNip, invoiceTypes, amount) or use an export.`,
    );
  }
  return sortOrder === 'Asc' ? { from: bound, to: window.to } : { from: window.from, to: bound };
}

/**
 * The range bound at a record's date. KSeF's dates are sent as KSeF wrote them (its precision kept). An issue date is
 * a calendar day without a zone, so the bound takes the whole day wherever it is (+14:00 to -12:00): what KSeF then
 * gives twice is dropped, what it would leave out is never risked.
 */
function boundAt(date: string | undefined, dateType: InvoiceDateType, sortOrder: SortOrder): QueryInstant | undefined {
  if (typeof date !== 'string') return undefined;
  const text = dateType !== 'Issue' ? date : sortOrder === 'Asc' ? `${date}T00:00:00+14:00` : `${date}T23:59:59.999-12:00`;
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : { time, text };
}

/**
 * KSeF numbers already yielded, with their sort dates. A moved range can only bring back records near its new bound
 * (a day's slack covers issue dates), so older ones are forgotten and memory stays bounded by the records of about a day.
 */
class SeenInvoices {
  private readonly dates = new Map<string, number>();

  constructor(
    private readonly dateType: InvoiceDateType,
    private readonly sortOrder: SortOrder,
  ) {}

  isNew(invoice: InvoiceMetadata): boolean {
    if (this.dates.has(invoice.ksefNumber)) return false;
    this.dates.set(invoice.ksefNumber, Date.parse(invoice[SORT_DATE[this.dateType]]));
    return true;
  }

  forgetBeyondReach(window: QueryWindow): void {
    for (const [ksefNumber, time] of this.dates) {
      const beyond =
        this.sortOrder === 'Asc' ? time < window.from.time - DAY_MS : window.to !== undefined && time > window.to.time + DAY_MS;
      if (beyond) this.dates.delete(ksefNumber);
    }
  }
}
