/**
 * KSeF's two ways of paging a listing (open-api.json, CIRFMF/ksef-api), each as one stream of items fetched page by
 * page as it is consumed:
 * - continuation token: the answer's `continuationToken` goes back in the `x-continuation-token` request header
 *   (`GET /tokens`, `GET /auth/sessions`, `GET /sessions`, a session's invoices);
 * - offset: `pageOffset` (0, 1, ...) and `pageSize` in the query until the answer's `hasMore` is false
 *   (`POST /certificates/query`, `POST /invoices/query/metadata`, the permission queries). An answer with
 *   `isTruncated` has reached KSeF's cap on one query's results (10,000 for invoice metadata): no offset reaches
 *   further, the query itself must be narrowed.
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
 * Pages `pageOffset` = 0, 1, ... (query, beside the caller's `pageSize`) while a page says `hasMore`. When the last
 * page says `isTruncated`, the stream ends with an error after its items: results beyond KSeF's cap exist but no
 * offset reaches them, and a caller must not take the stream for all of them.
 */
export async function* paginateWithOffset<TPage extends OffsetPage, TItem>(
  request: RequestFunction,
  first: KsefRequest,
  itemsOf: (page: TPage) => TItem[] | undefined,
): AsyncGenerator<TItem> {
  for (let pageOffset = 0; ; pageOffset++) {
    const { data } = await request<TPage>({ ...first, query: { ...first.query, pageOffset } });
    yield* itemsOf(data) ?? [];
    if (data.hasMore) continue;
    if (data.isTruncated) {
      throw new KsefError(
        `KSeF stopped the results of ${first.method} ${first.path} at its cap after page ${pageOffset} (isTruncated): narrow the query (e.g. its date range) to read the rest.`,
      );
    }
    return;
  }
}
