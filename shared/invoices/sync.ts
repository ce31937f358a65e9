/** Incremental sync (przyrostowe-pobieranie-faktur.md, hwm.md of CIRFMF/ksef-docs). Being written (issue 9). */
import type { ExportDeps } from './exports';
import type { SyncBatch, SyncOptions } from './types';

export async function syncInvoices(deps: ExportDeps, options: SyncOptions): Promise<SyncBatch> {
  void [deps, options];
  throw new Error('syncInvoices: being written (issue 9)');
}
