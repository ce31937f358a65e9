import type { Logger } from '../protocol/types';
import type { GetInvoiceStatusOptions, InvoiceStatusResult, SessionInvoiceStatus } from './types';
import type { RequestFunction } from '../http/transport';
import { KsefInputError, KsefNotFoundError } from '../http/errors';
import { isValidKsefNumber } from '../protocol/model/ksefNumber';
import { requireReferenceNumber } from '../util/input';
import { listSessionInvoices } from './invoices';
import { errorJson } from './errorJson';

const SUCCESS = 200;

export interface InvoiceStatusDeps {
  /** Authenticated requests. */
  api: RequestFunction;
  logger?: Logger;
}

/**
 * The status (and, once accepted, the UPO) of one invoice sent earlier, e.g. one a send left pending: by its
 * reference number (`GET /sessions/{ref}/invoices/{invoiceRef}`) or, as KSeF has no status read by KSeF number,
 * by finding its KSeF number among the session's invoices. The UPO comes from the storage URL of the status,
 * else from `GET /sessions/{ref}/invoices/ksef/{ksefNumber}/upo`; a UPO that cannot be read is logged and left out.
 */
export async function getInvoiceStatus(
  deps: InvoiceStatusDeps,
  options: GetInvoiceStatusOptions,
): Promise<Omit<InvoiceStatusResult, 'environment'>> {
  const example = '20250625-SO-2C3E6C8000-B675CF5D68-07';
  const sessionReferenceNumber = requireReferenceNumber(options?.sessionReferenceNumber, 'sessionReferenceNumber', example);
  const { invoiceReferenceNumber, ksefNumber } = options;
  if ((invoiceReferenceNumber === undefined) === (ksefNumber === undefined)) {
    throw new KsefInputError('Give either invoiceReferenceNumber or ksefNumber of the invoice (one of them, not both).', {
      field: 'invoiceReferenceNumber',
    });
  }
  const status =
    invoiceReferenceNumber !== undefined
      ? await readByReferenceNumber(deps.api, sessionReferenceNumber, invoiceReferenceNumber)
      : await findByKsefNumber(deps.api, sessionReferenceNumber, ksefNumber);
  const { upoDownloadUrl, upoDownloadUrlExpirationDate, ...fields } = status;
  const accepted = status.status.code === SUCCESS && !!status.ksefNumber;
  const result: Omit<InvoiceStatusResult, 'environment'> = {
    sessionReferenceNumber,
    accepted,
    pending: status.status.code < SUCCESS,
    ...fields,
  };
  if (accepted && options.fetchUpo !== false) {
    const upo = await downloadUpo(deps, [
      ...(upoDownloadUrl ? [upoDownloadUrl] : []),
      `/sessions/${sessionReferenceNumber}/invoices/ksef/${status.ksefNumber}/upo`,
    ]);
    if (upo) result.upo = upo;
  }
  return result;
}

async function readByReferenceNumber(
  api: RequestFunction,
  sessionReferenceNumber: string,
  invoiceReferenceNumber: string,
): Promise<SessionInvoiceStatus> {
  requireReferenceNumber(invoiceReferenceNumber, 'invoiceReferenceNumber', '20250625-EE-319D7EE000-B67F415CDC-2C');
  return (
    await api<SessionInvoiceStatus>({ method: 'GET', path: `/sessions/${sessionReferenceNumber}/invoices/${invoiceReferenceNumber}` })
  ).data;
}

async function findByKsefNumber(api: RequestFunction, sessionReferenceNumber: string, ksefNumber: unknown): Promise<SessionInvoiceStatus> {
  if (typeof ksefNumber !== 'string' || !isValidKsefNumber(ksefNumber.trim())) {
    throw new KsefInputError(
      'ksefNumber must be a KSeF number like 5265877635-20250826-0100001AF629-AF (seller NIP, date, 12 hex digits, check digits).',
      {
        field: 'ksefNumber',
      },
    );
  }
  const wanted = ksefNumber.trim().toUpperCase();
  for await (const invoice of listSessionInvoices(api, sessionReferenceNumber, { pageSize: 1000 })) {
    if (invoice.ksefNumber?.toUpperCase() === wanted) return invoice;
  }
  throw new KsefNotFoundError(`Session ${sessionReferenceNumber} has no invoice with KSeF number ${wanted}.`, { field: 'ksefNumber' });
}

async function downloadUpo({ api, logger }: InvoiceStatusDeps, paths: string[]): Promise<string | undefined> {
  for (const path of paths) {
    try {
      return (await api<string>({ method: 'GET', path, responseType: 'text' })).data;
    } catch (error) {
      logger?.warn('Could not download a UPO', { reason: errorJson(error).message });
    }
  }
  return undefined;
}
