import type { ListSessionInvoicesOptions, SessionInvoiceStatus } from './types';
import type { RequestFunction } from '../http/transport';
import { paginateWithContinuationToken } from '../http/paging';
import { checkPageSize, requireReferenceNumber } from '../util/input';

/** Every invoice of a session (`GET /sessions/{ref}/invoices[/failed]`), fetched page by page as it is consumed. */
export function listSessionInvoices(
  api: RequestFunction,
  sessionReferenceNumber: string,
  options: ListSessionInvoicesOptions = {},
): AsyncGenerator<SessionInvoiceStatus> {
  requireReferenceNumber(sessionReferenceNumber, 'sessionReferenceNumber', '20250625-SO-2C3E6C8000-B675CF5D68-07');
  const pageSize = checkPageSize(options.pageSize, 100, 10, 1000);
  return paginateWithContinuationToken<{ continuationToken?: string; invoices?: SessionInvoiceStatus[] }, SessionInvoiceStatus>(
    api,
    {
      method: 'GET',
      path: `/sessions/${sessionReferenceNumber}/invoices${options.failedOnly ? '/failed' : ''}`,
      query: { pageSize },
    },
    (page) => page.invoices,
  );
}
