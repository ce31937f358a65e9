/** Online sessions, their invoices and UPO pages, and the duplicate index (sesja-interaktywna.md, CIRFMF/ksef-docs). */
import type { FormCode, InvoiceSchema } from '../../shared/protocol/model/formCodes';
import type { SymmetricKey } from '../../shared/protocol/crypto/aes';
import type { ContextIdentifier, StatusInfo as KsefStatusInfo } from '../../shared/protocol/types';
import type { StatusInfo } from '../catalogue';
import type { UpoAuthentication } from './upo';

export type InvoiceStatusInfo = KsefStatusInfo;

export interface SessionInvoice {
  ordinalNumber: number;
  referenceNumber: string;
  invoiceHash: string;
  invoiceSize: number;
  encryptedContent: Buffer;
  offlineMode: boolean;
  hashOfCorrectedInvoice?: string;
  invoicingDate: Date;
  status: InvoiceStatusInfo;
  invoiceNumber?: string;
  ksefNumber?: string;
  acquisitionDate?: Date;
  permanentStorageDate?: Date;
  invoicingMode?: 'Online' | 'Offline';
  /** Decrypted original, kept once accepted (GET /invoices/ksef). */
  xml?: Buffer;
  sellerNip?: string;
  issueDate?: string;
  upo?: string;
}

export interface UpoPage {
  referenceNumber: string;
  xml: string;
}

export interface OnlineSession {
  referenceNumber: string;
  schema: InvoiceSchema;
  formCode: FormCode;
  /** Undefined when `encryptedSymmetricKey` could not be decrypted (the session then ends in status 415). */
  symmetricKey?: SymmetricKey;
  contextIdentifier: ContextIdentifier;
  authReferenceNumber: string;
  /** How the session's UPOs name the authentication (KSeF token reference or signed-document hash). */
  upoAuthentication: UpoAuthentication;
  status: StatusInfo;
  dateCreated: Date;
  dateUpdated: Date;
  validUntil: Date;
  invoices: SessionInvoice[];
  upoPages: UpoPage[];
}

export interface DuplicateEntry {
  ksefNumber: string;
  sessionReferenceNumber: string;
}

/** The duplicate key of an invoice: seller NIP, invoice type and number (weryfikacja-faktury.md, CIRFMF/ksef-docs). */
export function duplicateKey(sellerNip: string, invoiceType: string, invoiceNumber: string): string {
  return `${sellerNip}|${invoiceType}|${invoiceNumber}`;
}
