import type { ListSessionInvoicesOptions, SessionInvoiceStatus } from '../types';
import { KsefInputError } from '../http/errors';
import type { RequestFunction } from '../http/transport';
import { paginateWithContinuationToken } from '../http/paging';
import { REFERENCE_NUMBER_PATTERN } from '../model/referenceNumber';

/** Every invoice of a session (`GET /sessions/{ref}/invoices[/failed]`), fetched page by page as it is consumed. */
export function listSessionInvoices(
  api: RequestFunction,
  sessionReferenceNumber: string,
  options: ListSessionInvoicesOptions = {},
): AsyncGenerator<SessionInvoiceStatus> {
  if (typeof sessionReferenceNumber !== 'string' || !REFERENCE_NUMBER_PATTERN.test(sessionReferenceNumber)) {
    throw new KsefInputError(
      `sessionReferenceNumber must be a KSeF session reference number like 20250625-SO-2C3E6C8000-B675CF5D68-07; got ${JSON.stringify(sessionReferenceNumber)}.`,
      { field: 'sessionReferenceNumber' },
    );
  }
  const pageSize = options.pageSize ?? 100;
  if (!Number.isInteger(pageSize) || pageSize < 10 || pageSize > 1000) {
    throw new KsefInputError('options.pageSize must be a whole number from 10 to 1000.', { field: 'options.pageSize' });
  }
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
