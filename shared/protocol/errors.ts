/**
 * The root of the error family. The protocol layer's pure functions (XML, X.509, AuthTokenRequest) report bad input
 * with `KsefInputError` naming the field; the engine's errors for KSeF's HTTP answers extend `KsefError` in
 * `shared/http/errors.ts`. Messages name the field and the fix and never carry secrets; `toJSON()` is what adapters
 * put into outputs.
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
