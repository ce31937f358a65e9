/**
 * Hand checks of request bodies. With the spec folder present ajv has already validated the request against
 * open-api.json; these keep the handlers safe (and the messages specific) when it is absent.
 */
import { inputValidationError } from '../errors';

export type JsonRecord = Record<string, unknown>;

export function requireObject(value: unknown, field: string): JsonRecord {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw inputValidationError([`'${field}' must be a JSON object.`]);
  return value as JsonRecord;
}

export function requireString(body: JsonRecord, key: string, field = key): string {
  const value = body[key];
  if (typeof value !== 'string' || value === '') throw inputValidationError([`'${field}' must not be empty.`]);
  return value;
}

export function requireInteger(body: JsonRecord, key: string, field = key, minimum = 0): number {
  const value = body[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum) {
    throw inputValidationError([`'${field}' must be an integer not less than ${minimum}.`]);
  }
  return value;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function requireBase64(body: JsonRecord, key: string, field = key): Buffer {
  const value = requireString(body, key, field);
  if (!BASE64.test(value)) throw inputValidationError([`'${field}' must be Base64.`]);
  return Buffer.from(value, 'base64');
}

export function optionalBoolean(body: JsonRecord, key: string, field = key): boolean | undefined {
  const value = body[key];
  if (value == null) return undefined;
  if (typeof value !== 'boolean') throw inputValidationError([`'${field}' must be true or false.`]);
  return value;
}
