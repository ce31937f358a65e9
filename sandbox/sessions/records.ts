/**
 * Online and batch sessions, their invoices and UPO pages, and the duplicate index (sesja-interaktywna.md,
 * sesja-wsadowa.md, CIRFMF/ksef-docs).
 */
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
  /** What an online session received, still encrypted; batch invoices arrive in the package instead. */
  encryptedContent?: Buffer;
  /** The invoice's file name in a batch package. */
  invoiceFileName?: string;
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

/** What online and batch sessions have in common; an online session is no more than this. */
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

/** One part of a batch package, as declared at open (`BatchFilePartInfo`). */
export interface BatchPartDeclaration {
  ordinalNumber: number;
  /** Size of the encrypted part. */
  fileSize: number;
  /** Base64 SHA-256 of the encrypted part. */
  fileHash: string;
}

/** A batch session (`POST /sessions/batch`): the declared package, its upload slots and whether it is offline. */
export interface BatchSession extends OnlineSession {
  batch: {
    compressionType: 'Zip' | 'TarGz';
    /** Size of the whole unencrypted package. */
    fileSize: number;
    /** Base64 SHA-256 of the whole unencrypted package. */
    fileHash: string;
    /** In ordinal order. */
    parts: BatchPartDeclaration[];
    offlineMode: boolean;
    /** When the part upload URLs expire: 20 minutes for each declared part after the open (sesja-wsadowa.md). */
    uploadDeadline: Date;
  };
}

export function isBatchSession(session: OnlineSession): session is BatchSession {
  return 'batch' in session;
}

export interface DuplicateEntry {
  ksefNumber: string;
  sessionReferenceNumber: string;
}

/** The duplicate key of an invoice: seller NIP, invoice type and number (weryfikacja-faktury.md, CIRFMF/ksef-docs). */
export function duplicateKey(sellerNip: string, invoiceType: string, invoiceNumber: string): string {
  return `${sellerNip}|${invoiceType}|${invoiceNumber}`;
}
