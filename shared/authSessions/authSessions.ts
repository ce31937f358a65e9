/** The auth sessions chapter ("Aktywne sesje" of open-api.json, CIRFMF/ksef-api). */
import type { AuthSessionInfo, ListAuthSessionsOptions } from './types';
import { continuationTokenPaging } from '../http/paging';
import { endpoint, noResult, onlyPageSize, pagedEndpoint } from '../http/endpoints';
import { referenceNumberCheck } from '../util/input';

const AUTH_REFERENCE_EXAMPLE = '20251010-AU-19F5E39000-39B5B182BA-B8';

/** The simple endpoints of the chapter (see `shared/http/endpoints.ts`). */
export const authSessionEndpoints = {
  /** The context's authentication sessions, newest first, page by page. */
  list: pagedEndpoint<[options?: ListAuthSessionsOptions], AuthSessionInfo>({
    route: 'GET /auth/sessions',
    args: [{ in: 'query', check: onlyPageSize }],
    paging: continuationTokenPaging('items'),
    pageSize: { fallback: 100, min: 10, max: 100 },
  }),
  /** The refresh token of the caller's session stops working. */
  revokeCurrent: endpoint<[], void>({ route: 'DELETE /auth/sessions/current', args: [], idempotent: true, result: noResult }),
  revoke: endpoint<[referenceNumber: string], void>({
    route: 'DELETE /auth/sessions/{referenceNumber}',
    args: [{ in: 'path', name: 'referenceNumber', check: referenceNumberCheck(AUTH_REFERENCE_EXAMPLE) }],
    idempotent: true,
    result: noResult,
  }),
};
