/**
 * English meanings of KSeF's invoice processing status codes (open-api.json, `SessionInvoiceStatusResponse.status`;
 * NOTES.md 4.7). KSeF's own description stays Polish; hosts show this beside it for readers who do not read Polish.
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
