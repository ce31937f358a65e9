/**
 * Hand checks of request bodies. With the spec folder present ajv has already validated the request against
 * open-api.json; these keep the handlers safe (and the messages specific) when it is absent, so the limits a
 * handler relies on are repeated here from the spec.
 */
import type { SandboxRequest } from './route';
import { inputValidationError } from './errors';

export type JsonRecord = Record<string, unknown>;

export interface StringRules {
  minLength?: number;
  maxLength?: number;
  pattern?: RegExp;
}

export function requireObject(value: unknown, field: string): JsonRecord {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw inputValidationError([`'${field}' must be a JSON object.`]);
  return value as JsonRecord;
}

export function requireString(body: JsonRecord, key: string, field = key, rules: StringRules = {}): string {
  return checkString(body[key], field, rules);
}

/** `value` as a non-empty string within `rules`. */
export function checkString(value: unknown, field: string, rules: StringRules = {}): string {
  if (typeof value !== 'string' || value === '') throw inputValidationError([`'${field}' must not be empty.`]);
  const { minLength = 1, maxLength = Infinity, pattern } = rules;
  if (value.length < minLength || value.length > maxLength) {
    throw inputValidationError([
      `'${field}' must be ${maxLength === Infinity ? `at least ${minLength}` : `${minLength} to ${maxLength}`} characters long.`,
    ]);
  }
  if (pattern && !pattern.test(value)) throw inputValidationError([`'${field}' must match pattern "${pattern.source}".`]);
  return value;
}

export function requireOneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (!allowed.includes(value as T)) throw inputValidationError([`'${field}' must be one of: ${allowed.join(', ')}.`]);
  return value as T;
}

export function requireArray(body: JsonRecord, key: string, limits: { minItems?: number; maxItems?: number } = {}, field = key): unknown[] {
  const value = body[key];
  const { minItems = 0, maxItems = Infinity } = limits;
  if (!Array.isArray(value) || value.length < minItems || value.length > maxItems) {
    const count = maxItems === Infinity ? (minItems > 0 ? ` of at least ${minItems} items` : '') : ` of ${minItems} to ${maxItems} items`;
    throw inputValidationError([`'${field}' must be an array${count}.`]);
  }
  return value;
}

export function requireInteger(body: JsonRecord, key: string, field = key, minimum = 0): number {
  const value = body[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum) {
    throw inputValidationError([`'${field}' must be an integer not less than ${minimum}.`]);
  }
  return value;
}

/** An integer query parameter within its range, or `fallback` when absent. */
export function queryInteger(req: SandboxRequest, name: string, fallback: number, minimum: number, maximum = Infinity): number {
  const raw = req.query.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value) || value < minimum || value > maximum) {
    throw inputValidationError([
      `'${name}' must be an integer ${maximum === Infinity ? `not less than ${minimum}` : `from ${minimum} to ${maximum}`}.`,
    ]);
  }
  return value;
}

/**
 * Standard Base64 with its padding. Checked as one character class plus the length, not as groups of four:
 * a regular expression of repeated groups backtracks through the stack and overflows it on fields of a few MB.
 */
export function isBase64(value: string): boolean {
  return value.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(value);
}

export function requireBase64(body: JsonRecord, key: string, field = key): Buffer {
  const value = requireString(body, key, field);
  if (!isBase64(value)) throw inputValidationError([`'${field}' must be Base64.`]);
  return Buffer.from(value, 'base64');
}

export function optionalBoolean(body: JsonRecord, key: string, field = key): boolean | undefined {
  const value = body[key];
  if (value == null) return undefined;
  if (typeof value !== 'boolean') throw inputValidationError([`'${field}' must be true or false.`]);
  return value;
}
