/** Public surface of the KSeF engine. */
export { createKsefClient } from './client';
export { clientOptionsFromSettings, type ConnectionHost, type ConnectionSettings } from './connection';
export type * from './types';
export {
  KsefError,
  KsefInputError,
  KsefValidationError,
  KsefAuthError,
  KsefForbiddenError,
  KsefNotFoundError,
  KsefGoneError,
  KsefRateLimitError,
  KsefServerError,
  KsefNetworkError,
  KsefTimeoutError,
  KsefInvoiceRejectedError,
  KsefExportPendingError,
  KsefTooManyExportsError,
  KsefExportFailedError,
  KsefBatchSessionFailedError,
  type KsefExceptionDetail,
} from './http/errors';
export { KsefIntegrityError } from './storage/storageClient';
export { DEFAULT_AUTO_BATCH_THRESHOLD } from './sessions/batch/batch';
export { chooseSendMode } from './sessions/sendMode';
export { MemoryTokenStore } from './auth/tokenStore';
export { MemoryStateStore, copyJsonValue, type StateStore, type JsonValue } from './state/stateStore';
export { FileStateStore } from './state/fileStateStore';
export { KeyMaterialError, type KeyMaterialProblem } from './protocol/x509/keyMaterial';
export {
  generateTestCertificate,
  TEST_CERTIFICATE_WARNING,
  type GeneratedTestCertificate,
  type TestCertificateOptions,
  type TestCertificateSubject,
} from './auth/xades/testCertificate';
export { KSEF_TOKEN_PERMISSIONS } from './protocol/model/identifiers';
export { ENVIRONMENT_BASE_URLS } from './environments/environments';
export { INVOICE_SCHEMAS, type InvoiceSchema } from './protocol/model/formCodes';
export { isValidKsefNumber } from './protocol/model/ksefNumber';
export {
  authenticationStatusMeaning,
  batchSessionStatusMeaning,
  enrollmentStatusMeaning,
  exportStatusMeaning,
  invoiceStatusMeaning,
} from './protocol/model/statusCodes';
export {
  readInvoiceJson,
  invoiceRow,
  invoiceLineRows,
  type InvoiceSpreadsheetRow,
  type InvoiceLineSpreadsheetRow,
} from './protocol/xml/invoiceJson';
