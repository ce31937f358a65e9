import type { AuthSessionInfo, ListAuthSessionsOptions } from '../types';
import type { RequestFunction } from '../http/transport';
import { paginateWithContinuationToken } from '../http/paging';
import { checkPageSize, requireReferenceNumber } from '../util/input';

const AUTH_REFERENCE_EXAMPLE = '20251010-AU-19F5E39000-39B5B182BA-B8';

/** `GET /auth/sessions` (NOTES.md 4.5): the context's authentication sessions, newest first, page by page. */
export function listAuthSessions(api: RequestFunction, options: ListAuthSessionsOptions = {}): AsyncGenerator<AuthSessionInfo> {
  const pageSize = checkPageSize(options.pageSize, 100, 10, 100);
  return paginateWithContinuationToken<{ continuationToken?: string | null; items?: AuthSessionInfo[] }, AuthSessionInfo>(
    api,
    { method: 'GET', path: '/auth/sessions', query: { pageSize } },
    (page) => page.items,
  );
}

/** `DELETE /auth/sessions/current`: the refresh token of the caller's session stops working. */
export async function revokeCurrentAuthSession(api: RequestFunction): Promise<void> {
  await api({ method: 'DELETE', path: '/auth/sessions/current', idempotent: true });
}

/** `DELETE /auth/sessions/{ref}`. */
export async function revokeAuthSession(api: RequestFunction, referenceNumber: string): Promise<void> {
  const reference = requireReferenceNumber(referenceNumber, 'referenceNumber', AUTH_REFERENCE_EXAMPLE);
  await api({ method: 'DELETE', path: `/auth/sessions/${reference}`, idempotent: true });

}
