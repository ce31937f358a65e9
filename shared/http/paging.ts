import type { KsefRequest, RequestFunction } from './transport';

/**
 * Pages of a listing that continues with the `x-continuation-token` request header and `continuationToken`
 * in the body (sessions, session invoices, tokens, auth sessions — NOTES.md 4), as one stream of items.
 */
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
