/** Checks of caller input shared by the management operations (tokens, auth sessions, certificates). */
import { KsefInputError } from '../http/errors';
import { REFERENCE_NUMBER_PATTERN } from '../protocol/model/referenceNumber';

/** A caller's reference number, or a `KsefInputError` naming `field` with an example of the expected kind. */
export function requireReferenceNumber(value: unknown, field: string, example: string): string {
  if (typeof value !== 'string' || !REFERENCE_NUMBER_PATTERN.test(value)) {
    throw new KsefInputError(`${field} must be a KSeF reference number like ${example}; ${describeRejectedValue(value)}.`, { field });
  }
  return value;
}

/** `requireReferenceNumber` as an endpoint table's check (`shared/http/endpoints.ts`). */
export const referenceNumberCheck =
  (example: string) =>
  (value: unknown, field: string): string =>
    requireReferenceNumber(value, field, example);

/**
 * What was given instead of an identifier, without the value itself: a secret pasted into the wrong field (most
 * likely a KSeF token, `<reference number>|nip-...|<secret>`) must not reach a message, a log or a workflow output.
 */
export function describeRejectedValue(value: unknown): string {
  if (value === undefined) return 'nothing was given';
  if (typeof value !== 'string') {
    const kind =
      value === null ? 'null' : Array.isArray(value) ? 'an array' : `${/^[aeiou]/.test(typeof value) ? 'an' : 'a'} ${typeof value}`;
    return `got ${kind}`;
  }
  if (value === '') return 'the value given is empty';
  if (value.includes('|')) {
    return `the value given (${value.length} characters) looks like a KSeF token secret: give only its reference number, the part before the first "|"`;
  }
  return `the value given (${value.length} characters) is not one`;
}

/** A page size within KSeF's bounds for the listing, or a `KsefInputError`. */
export function checkPageSize(pageSize: unknown, fallback: number, min: number, max: number): number {
  const size = pageSize ?? fallback;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < min || size > max) {
    throw new KsefInputError(`options.pageSize must be a whole number from ${min} to ${max}.`, { field: 'options.pageSize' });
  }
  return size;
}
