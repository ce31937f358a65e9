/** One invoice's XML (GET /invoices/ksef/{ksefNumber}). Being written (issue 9). */
import type { Clock, Logger, Sleep } from '../protocol/types';
import type { RequestFunction } from '../http/transport';
import type { DownloadedInvoice, GetInvoiceOptions } from './types';

export interface DownloadDeps {
  api: RequestFunction;
  clock: Clock;
  sleep: Sleep;
  logger?: Logger;
}

export async function getInvoiceXml(deps: DownloadDeps, ksefNumber: string, options: GetInvoiceOptions = {}): Promise<DownloadedInvoice> {
  void [deps, ksefNumber, options];
  throw new Error('getInvoiceXml: being written (issue 9)');
}
