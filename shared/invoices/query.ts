/** The metadata query (POST /invoices/query/metadata, pobieranie-faktur.md of CIRFMF/ksef-docs). Being written (issue 9). */
import type { Clock } from '../protocol/types';
import type { RequestFunction } from '../http/transport';
import type { InvoiceMetadata, InvoiceQueryFilters, QueryInvoicesOptions } from './types';

export interface QueryDeps {
  api: RequestFunction;
  clock: Clock;
}

export function queryInvoiceMetadata(
  deps: QueryDeps,
  filters: InvoiceQueryFilters,
  options: QueryInvoicesOptions = {},
): AsyncIterable<InvoiceMetadata> {
  void [deps, filters, options];
  throw new Error('queryInvoiceMetadata: being written (issue 9)');
}
