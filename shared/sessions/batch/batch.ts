/** Batch sessions (sesja-wsadowa.md, CIRFMF/ksef-docs). Being written (issue 10). */
import type { BatchSendOptions, BatchSendResult, InvoiceInput } from '../types';
import type { ExportDeps } from '../../invoices/exports';

/** What a batch send needs: the export's dependencies (api, public keys, clock, sleep, logger, state store, scope, seal key). */
export type BatchSessionDeps = ExportDeps;

export async function sendInvoicesInBatch(
  deps: BatchSessionDeps,
  inputs: InvoiceInput[],
  options: BatchSendOptions = {},
): Promise<Omit<BatchSendResult, 'environment'>> {
  void [deps, inputs, options];
  throw new Error('sendInvoicesInBatch: being written (issue 10)');
}
