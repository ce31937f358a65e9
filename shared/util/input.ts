/** Checks of caller input shared by the management operations (tokens, auth sessions, certificates). */
import { KsefInputError } from '../http/errors';
import { REFERENCE_NUMBER_PATTERN } from '../model/referenceNumber';

/** A caller's reference number, or a `KsefInputError` naming `field` with an example of the expected kind. */
export function requireReferenceNumber(value: unknown, field: string, example: string): string {
  if (typeof value !== 'string' || !REFERENCE_NUMBER_PATTERN.test(value)) {
    throw new KsefInputError(`${field} must be a KSeF reference number like ${example}; got ${JSON.stringify(value)}.`, { field });
  }
  return value;
}

/** A page size within KSeF's bounds for the listing, or a `KsefInputError`. */
export function checkPageSize(pageSize: unknown, fallback: number, min: number, max: number): number {
  const size = pageSize ?? fallback;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < min || size > max) {
    throw new KsefInputError(`options.pageSize must be a whole number from ${min} to ${max}.`, { field: 'options.pageSize' });
  }
  return size;
}
