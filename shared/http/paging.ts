/**
 * KSeF's two ways of paging a listing (open-api.json, CIRFMF/ksef-api), each as one stream of items fetched page by
 * page as it is consumed:
 * - continuation token: the answer's `continuationToken` goes back in the `x-continuation-token` request header
 *   (`GET /tokens`, `GET /auth/sessions`, `GET /sessions`, a session's invoices);
 * - offset: `pageOffset` (0, 1, ...) and `pageSize` in the query until the answer's `hasMore` is false
 *   (`POST /certificates/query`, `POST /invoices/query/metadata`, the permission queries). An answer with
 *   `isTruncated` has reached KSeF's cap on one query's results (10,000 for invoice metadata): no offset reaches
 *   further, the query itself must be narrowed, which a caller that knows how does with `narrowAfterTruncation`.
 */
import { KsefError } from './errors';
import type { KsefRequest, RequestFunction } from './transport';

/** How a paged endpoint continues, and where its items are in each page (`tokens`, `items`, `certificates`, ...). */
export type PageStrategy = ContinuationTokenPaging | OffsetPaging;

export interface ContinuationTokenPaging {
  kind: 'continuationToken';
  /** The page's field holding the items. */
  items: string;
}

export interface OffsetPaging {
  kind: 'offset';
  items: string;
}

export const continuationTokenPaging = (items: string): ContinuationTokenPaging => ({ kind: 'continuationToken', items });
export const offsetPaging = (items: string): OffsetPaging => ({ kind: 'offset', items });

/** The items of every page of `first`, paged by `strategy`. */
export function paginate<TItem>(request: RequestFunction, first: KsefRequest, strategy: PageStrategy): AsyncGenerator<TItem> {
  const itemsOf = (page: Record<string, unknown>) => page[strategy.items] as TItem[] | undefined;
  return strategy.kind === 'offset' ? paginateWithOffset(request, first, itemsOf) : paginateWithContinuationToken(request, first, itemsOf);
}

/** Pages that continue with the `x-continuation-token` request header, as long as a page carries `continuationToken`. */
export async function* paginateWithContinuationToken<TPage extends { continuationToken?: string | null }, TItem>(
  request: RequestFunction,
  first: KsefRequest,
  itemsOf: (page: TPage) => TItem[] | undefined,
): AsyncGenerator<TItem> {
  let continuationToken: string | undefined;
  do {
    const { data } = await request<TPage>({
      ...first,
      headers: { ...first.headers, ...(continuationToken && { 'x-continuation-token': continuationToken }) },
    });
    yield* itemsOf(data) ?? [];
    continuationToken = data.continuationToken ?? undefined;
  } while (continuationToken);
}

export interface OffsetPage {
  hasMore?: boolean;
  isTruncated?: boolean;
}

/**
 * Where an offset listing goes on after a page with `isTruncated`: the request of the narrowed query (e.g. its date
 * range moved to the last record's date, as `POST /invoices/query/metadata` documents), read from `pageOffset` 0 again.
 */
export type NarrowAfterTruncation<TPage> = (page: TPage, current: KsefRequest) => KsefRequest;

/**
 * Pages `pageOffset` = 0, 1, ... (query, beside the caller's `pageSize`) while a page says `hasMore`. A page that
 * says `isTruncated` is followed by the query `narrowAfterTruncation` gives, from offset 0 (its items may repeat
 * ones already yielded: the caller drops those). Without it, when the last page says `isTruncated` the stream ends
 * with an error after its items: results beyond KSeF's cap exist but no offset reaches them, and a caller must not
 * take the stream for all of them.
 */
export async function* paginateWithOffset<TPage extends OffsetPage, TItem>(
  request: RequestFunction,
  first: KsefRequest,
  itemsOf: (page: TPage) => TItem[] | undefined,
  narrowAfterTruncation?: NarrowAfterTruncation<TPage>,
): AsyncGenerator<TItem> {
  let current = first;
  let pageOffset = 0;
  for (;;) {
    const { data } = await request<TPage>({ ...current, query: { ...current.query, pageOffset } });
    yield* itemsOf(data) ?? [];
    if (data.isTruncated && narrowAfterTruncation) {
      current = narrowAfterTruncation(data, current);
      pageOffset = 0;
    } else if (data.hasMore) {
      pageOffset++;
    } else if (data.isTruncated) {
      throw new KsefError(
        `KSeF stopped the results of ${first.method} ${first.path} at its cap after page ${pageOffset} (isTruncated): narrow the query (e.g. its date range) to read the rest.`,
      );
    } else {
      return;
    }
  }
}
