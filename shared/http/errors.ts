/**
 * One family of typed errors for everything the engine reports. Messages name the field and the fix and
 * never carry secrets; `toJSON()` is what adapters put into outputs.
 */

/** One entry of a KSeF error body: `exceptionDetailList[]` (classic) or `errors[]` (problem+json). */
export interface KsefExceptionDetail {
  code: number;
  description: string;
  details?: string[];
}

export interface KsefErrorOptions {
  status?: number;
  exceptions?: KsefExceptionDetail[];
  /** KSeF's own id of the failed request (`exception.referenceNumber` or problem+json `traceId`). */
  traceId?: string;
  /** problem+json 403 `reasonCode`. */
  reasonCode?: string;
  /** problem+json 403 `security`: e.g. the permissions required and present, or the refused client IP. */
  security?: Record<string, unknown>;
  /** The input field the error is about, e.g. `invoices[2].xml` or `credentials.ksefToken`. */
  field?: string;
  cause?: unknown;
}

export class KsefError extends Error {
  readonly status?: number;
  readonly exceptions: KsefExceptionDetail[];
  readonly traceId?: string;
  readonly reasonCode?: string;
  readonly security?: Record<string, unknown>;
  readonly field?: string;

  constructor(message: string, options: KsefErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = options.status;
    this.exceptions = options.exceptions ?? [];
    this.traceId = options.traceId;
    this.reasonCode = options.reasonCode;
    this.security = options.security;
    this.field = options.field;
  }

  /** The first KSeF exception code, e.g. 21405. */
  get code(): number | undefined {
    return this.exceptions[0]?.code;
  }

  hasCode(code: number): boolean {
    return this.exceptions.some((e) => e.code === code);
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      ...(this.status !== undefined && { status: this.status }),
      ...(this.code !== undefined && { code: this.code }),
      ...(this.exceptions.length > 0 && { exceptions: this.exceptions }),
      ...(this.reasonCode && { reasonCode: this.reasonCode }),
      ...(this.security && { security: this.security }),
      ...(this.field && { field: this.field }),
      ...(this.traceId && { traceId: this.traceId }),
    };
  }
}

/** Bad input caught before anything was sent: the message names the field and how to fix it. */
export class KsefInputError extends KsefError {}

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
