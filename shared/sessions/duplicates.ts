import type { Logger, StatusInfo } from '../protocol/types';
import type { RequestFunction } from '../http/transport';
import { sha256Base64 } from '../protocol/crypto/hashes';
import { readUpoDocuments, upoMismatch, type UpoDocument } from '../protocol/xml/upo';
import { errorJson } from './errorJson';

export interface DuplicateResolution {
  ksefNumber: string;
  originalSessionReferenceNumber: string;
  /** The original's UPO, when that is what proved it the same document. */
  upo?: string;
  /** The original's acquisition date and invoicing mode, as its UPO gives them. */
  acquisitionDate?: string;
  invoicingMode?: UpoDocument['invoicingMode'];
}

/**
 * For a 440 duplicate (the status' `extensions` name the original): the original's KSeF number when the original
 * is the very same document (same invoiceHash), so a resent invoice is reported as already in KSeF rather than
 * rejected; undefined when it is another document with the same number, or when that cannot be told. Compared
 * through the original's UPO (`SkrotDokumentu`), else through the original invoice itself (`GET /invoices/ksef/{n}`).
 */
export async function resolveDuplicate(
  { api, logger }: { api: RequestFunction; logger?: Logger },
  status: StatusInfo,
  invoiceHash: string,
): Promise<DuplicateResolution | undefined> {
  const ksefNumber = status.extensions?.originalKsefNumber;
  const originalSessionReferenceNumber = status.extensions?.originalSessionReferenceNumber;
  if (!ksefNumber || !originalSessionReferenceNumber) return undefined;
  try {
    const upo = (
      await api<string>({
        method: 'GET',
        path: `/sessions/${originalSessionReferenceNumber}/invoices/ksef/${ksefNumber}/upo`,
        responseType: 'text',
      })
    ).data;
    // Only a real UPO of the original counts (never a page a storage front end served in its place).
    const original = upoMismatch(upo, { ksefNumber, invoiceHash })
      ? undefined
      : readUpoDocuments(upo).find((doc) => doc.ksefNumber === ksefNumber);
    if (original?.invoiceHash) {
      if (original.invoiceHash !== invoiceHash) return undefined;
      return {
        ksefNumber,
        originalSessionReferenceNumber,
        upo,
        acquisitionDate: original.acquisitionDate,
        invoicingMode: original.invoicingMode,
      };
    }
  } catch (error) {
    logger?.debug('The UPO of the original invoice is not available', { reason: errorJson(error).message });
  }
  try {
    const original = (await api<Buffer>({ method: 'GET', path: `/invoices/ksef/${ksefNumber}`, responseType: 'bytes' })).data;
    return sha256Base64(original) === invoiceHash ? { ksefNumber, originalSessionReferenceNumber } : undefined;
  } catch (error) {
    logger?.warn('Could not compare a duplicate with its original; reporting it as a duplicate', {
      reason: errorJson(error).message,
    });
    return undefined;
  }
}
