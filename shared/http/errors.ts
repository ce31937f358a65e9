/**
 * One family of typed errors for everything the engine reports: these are KSeF's HTTP answers and transport
 * failures; the root `KsefError` and `KsefInputError` are the protocol layer's (its pure functions throw them).
 */

import { KsefError, type KsefErrorOptions } from '../protocol/errors';

export { KsefError, KsefInputError, type KsefErrorOptions, type KsefExceptionDetail } from '../protocol/errors';

/** KSeF answered 400: the request broke a rule (the exception codes say which). */
export class KsefValidationError extends KsefError {}

/** 401, or an authentication that ended in a failure status (e.g. 450 bad token, 460 certificate). */
export class KsefAuthError extends KsefError {}

/** 403: authenticated, but not allowed (`reasonCode` says why). */
export class KsefForbiddenError extends KsefError {}

/** 404 or a KSeF "not found" exception code. */
export class KsefNotFoundError extends KsefError {}

/** 410: the operation expired and is no longer available. */
export class KsefGoneError extends KsefError {}

/** 429 whose Retry-After was longer than the client may wait; retry at `retryAt`. */
export class KsefRateLimitError extends KsefError {
  readonly retryAt: Date;
  constructor(message: string, retryAt: Date, options: KsefErrorOptions = {}) {
    super(message, options);
    this.retryAt = retryAt;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), retryAt: this.retryAt.toISOString() };
  }
}

/** 5xx from KSeF. */
export class KsefServerError extends KsefError {}

/** No answer in time, or the connection failed. */
export class KsefNetworkError extends KsefError {}

/** An asynchronous operation (authentication, session, invoice) did not finish within the allowed time. */
export class KsefTimeoutError extends KsefError {}

/** An invoice KSeF processed and rejected: `statusCode` is its final processing status (e.g. 430, 440, 450). */
export class KsefInvoiceRejectedError extends KsefError {
  readonly statusCode: number;
  readonly statusDescription: string;
  readonly details: string[];
  readonly extensions?: Record<string, string | null>;
  constructor(
    message: string,
    status: { code: number; description: string; details?: string[]; extensions?: Record<string, string | null> },
    options: KsefErrorOptions = {},
  ) {
    super(message, options);
    this.statusCode = status.code;
    this.statusDescription = status.description;
    this.details = status.details ?? [];
    this.extensions = status.extensions ?? undefined;
  }
  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      statusCode: this.statusCode,
      statusDescription: this.statusDescription,
      details: this.details,
      ...(this.extensions && { extensions: this.extensions }),
    };
  }
}

/** An export KSeF still prepares after the wait allowed. It is kept (reference and sealed key): the next call resumes it. */
export class KsefExportPendingError extends KsefError {
  readonly referenceNumber: string;
  /** When asking again is worthwhile. */
  readonly retryAt: Date;
  constructor(message: string, referenceNumber: string, retryAt: Date, options: KsefErrorOptions = {}) {
    super(message, options);
    this.referenceNumber = referenceNumber;
    this.retryAt = retryAt;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), referenceNumber: this.referenceNumber, retryAt: this.retryAt.toISOString() };
  }
}

/**
 * KSeF refused a new export because the context already runs its maximum of concurrent exports (21182).
 * `runningExports` are this client's own exports still in progress (the others belong to other integrations).
 */
export class KsefTooManyExportsError extends KsefError {
  readonly runningExports: { referenceNumber: string; startedAt: string }[];
  readonly retryAt: Date;
  constructor(
    message: string,
    runningExports: { referenceNumber: string; startedAt: string }[],
    retryAt: Date,
    options: KsefErrorOptions = {},
  ) {
    super(message, options);
    this.runningExports = runningExports;
    this.retryAt = retryAt;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), runningExports: this.runningExports, retryAt: this.retryAt.toISOString() };
  }
}

/** An export KSeF ended without a package: expired (210) or failed (415, 420, 500, 550); the message says what next. */
export class KsefExportFailedError extends KsefError {
  readonly referenceNumber: string;
  readonly statusCode: number;
  readonly statusDescription: string;
  constructor(message: string, referenceNumber: string, status: { code: number; description: string }, options: KsefErrorOptions = {}) {
    super(message, options);
    this.referenceNumber = referenceNumber;
    this.statusCode = status.code;
    this.statusDescription = status.description;
  }
  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      referenceNumber: this.referenceNumber,
      statusCode: this.statusCode,
      statusDescription: this.statusDescription,
    };
  }
}

/**
 * A batch session that ended without KSeF numbers for its invoices: KSeF gave it a failure status (405 parts, 415
 * key, 420 too many invoices, 430 archive, 435 decryption, 440 cancelled, 500), refused its close, or its upload
 * window passed. Every invoice of the session carries it; `statusCode` is KSeF's session status, when there is one.
 */
export class KsefBatchSessionFailedError extends KsefError {
  readonly referenceNumber: string;
  readonly statusCode?: number;
  readonly statusDescription?: string;
  readonly details: string[];
  constructor(
    message: string,
    referenceNumber: string,
    status?: { code: number; description: string; details?: string[] },
    options: KsefErrorOptions = {},
  ) {
    super(message, options);
    this.referenceNumber = referenceNumber;
    this.statusCode = status?.code;
    this.statusDescription = status?.description;
    this.details = status?.details ?? [];
  }
  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      referenceNumber: this.referenceNumber,
      ...(this.statusCode !== undefined && { statusCode: this.statusCode, statusDescription: this.statusDescription }),
      ...(this.details.length > 0 && { details: this.details }),
    };
  }
}
