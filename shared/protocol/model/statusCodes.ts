/**
 * English meanings of KSeF's invoice processing status codes (open-api.json, `SessionInvoiceStatusResponse.status`,
 * CIRFMF/ksef-api). KSeF's own description stays Polish; hosts show this beside it for readers who do not read Polish.
 */
const INVOICE_STATUS_MEANINGS: Record<number, string> = {
  100: 'Accepted for processing',
  150: 'Processing',
  200: 'Success: the KSeF number is assigned',
  405: 'Processing cancelled because the session failed',
  410: 'Not permitted: the authenticated subject may not send invoices of this seller',
  415: 'Invoices with attachments are not enabled for this seller',
  430: 'The invoice file failed verification (XML, schema, encoding or size)',
  435: 'The invoice file could not be decrypted',
  440: 'Duplicate: an invoice with this seller, type and number is already in KSeF',
  450: 'The invoice failed the semantic (business rule) checks',
  500: 'Unknown error',
  550: 'Cancelled by KSeF for internal reasons; send it again',
};

/** The English meaning of an invoice processing status code; undefined for a code KSeF does not document. */
export function invoiceStatusMeaning(code: number): string | undefined {
  return INVOICE_STATUS_MEANINGS[code];
}

/** Authentication status codes (open-api.json, `AuthenticationOperationStatusResponse.status`; uwierzytelnianie.md, CIRFMF/ksef-docs). */
const AUTHENTICATION_STATUS_MEANINGS: Record<number, string> = {
  100: 'Authentication in progress',
  200: 'Authenticated',
  415: 'Failed: the subject has no permissions in this context',
  425: 'Revoked: the session and its refresh tokens were revoked',
  450: 'Failed: the KSeF token was not accepted (wrong, badly encrypted or encoded, not for this context, expired, revoked or inactive token, or a bad challenge)',
  460: 'Failed: the certificate was not accepted (expired, revoked, suspended, untrusted or incorrect)',
  470: 'Failed: the credentials belong to a deceased person',
  480: 'Blocked: suspected security incident; contact the Ministry of Finance',
  500: 'Unknown error',
  550: 'Cancelled by KSeF for internal reasons; try again',
};

/** The English meaning of an authentication status code; undefined for a code KSeF does not document. */
export function authenticationStatusMeaning(code: number): string | undefined {
  return AUTHENTICATION_STATUS_MEANINGS[code];
}

/** Certificate enrollment status codes (open-api.json, `CertificateEnrollmentStatusResponse.status`; certyfikaty-KSeF.md, CIRFMF/ksef-docs). */
const ENROLLMENT_STATUS_MEANINGS: Record<number, string> = {
  100: 'Request accepted, being processed',
  200: 'Certificate issued',
  400: 'Request rejected',
  500: 'Unknown error',
  550: 'Cancelled by KSeF for internal reasons; try again',
};

/** The English meaning of a certificate enrollment status code; undefined for a code KSeF does not document. */
export function enrollmentStatusMeaning(code: number): string | undefined {
  return ENROLLMENT_STATUS_MEANINGS[code];
}

/** Export status codes (open-api.json, `InvoiceExportStatusResponse.status`; pobieranie-faktur.md, CIRFMF/ksef-docs). */
const EXPORT_STATUS_MEANINGS: Record<number, string> = {
  100: 'Export in progress',
  200: 'Export completed: the package is ready to download',
  210: 'The export expired and its package can no longer be downloaded',
  415: 'KSeF could not decrypt the symmetric key given with the export',
  420: 'The date range goes beyond the data available (its start is after the permanent-storage high-water mark)',
  500: 'Unknown error',
  550: 'Cancelled by KSeF for internal reasons',
};

/** The English meaning of an export status code; undefined for a code KSeF does not document. */
export function exportStatusMeaning(code: number): string | undefined {
  return EXPORT_STATUS_MEANINGS[code];
}

/** Batch session status codes (open-api.json, `SessionStatusResponse.status`; sesja-wsadowa.md and its state diagram, CIRFMF/ksef-docs). */
const BATCH_SESSION_STATUS_MEANINGS: Record<number, string> = {
  100: 'Batch session open: parts may be uploaded',
  150: 'Processing the package',
  200: 'Processed: at least one invoice has a KSeF number',
  405: 'The package parts failed verification (a missing part, or a size or hash other than declared)',
  415: 'KSeF could not decrypt the symmetric key given with the session',
  420: 'The package holds more invoices than a session may',
  430: 'The package could not be decompressed (a corrupt ZIP or tar.gz)',
  435: 'The package parts could not be decrypted',
  440: 'Cancelled: the upload window passed, or the package held no invoices',
  445: 'Verification failed: no invoice of the package is valid',
  500: 'Unknown error',
};

/** The English meaning of a batch session status code; undefined for a code KSeF does not document. */
export function batchSessionStatusMeaning(code: number): string | undefined {
  return BATCH_SESSION_STATUS_MEANINGS[code];
}
