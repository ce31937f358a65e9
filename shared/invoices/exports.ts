/** Exports (POST /invoices/exports, GET /invoices/exports/{ref}). Being written (issue 9). */
import type { Clock, Logger, Sleep } from '../protocol/types';
import type { RequestFunction } from '../http/transport';
import type { PublicKeys } from '../security/publicKeys';
import type { StateStore } from '../state/stateStore';
import type { ExportOptions, InvoiceExport, InvoiceQueryFilters } from './types';

export interface ExportDeps {
  api: RequestFunction;
  publicKeys: PublicKeys;
  clock: Clock;
  sleep: Sleep;
  logger?: Logger;
  stateStore: StateStore;
  /** Names this client's context in state keys (e.g. `Nip:1234567890@<baseUrl>`). */
  scope: string;
}

export async function exportInvoices(deps: ExportDeps, filters: InvoiceQueryFilters, options: ExportOptions = {}): Promise<InvoiceExport> {
  void [deps, filters, options];
  throw new Error('exportInvoices: being written (issue 9)');
}
