/**
 * The state port: where what must outlive one execution is kept (batch-session resume, export/sync checkpoints),
 * beside the token store. The engine asks it for JSON values by key; the host decides where they live: this
 * process's memory, files, n8n workflow static data or Node-RED node context.
 *
 * Stores keep what they are given as it is, in clear. Callers never hand them secrets: key material (a batch
 * session's AES key) is sealed by the caller first, and tokens belong in the token store.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface StateStore {
  /** A copy of the value under `key`, or undefined. */
  get<T extends JsonValue = JsonValue>(key: string): Promise<T | undefined>;
  /** Replaces the value under `key` with a copy of `value`. */
  set(key: string, value: JsonValue): Promise<void>;
  /** Removes `key`; nothing happens when it is absent. */
  delete(key: string): Promise<void>;
}

/**
 * `value` as JSON text; a value JSON cannot carry (undefined, a function, a bigint, NaN, a cycle) is refused
 * rather than silently changed, so what is read back is what was written.
 */
export function toJsonText(key: string, value: JsonValue): string {
  const problem = notJson(value, new Set());
  if (problem) throw new TypeError(`State "${key}" must be a JSON value: ${problem}.`);
  return JSON.stringify(value);
}

/** A deep copy of `value` through JSON, refused as by `toJsonText`: for stores that keep objects (host adapters). */
export function copyJsonValue<T extends JsonValue>(key: string, value: T): T {
  return JSON.parse(toJsonText(key, value)) as T;
}

function notJson(value: unknown, path: Set<unknown>): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${value} is not a JSON number`;
    case 'object': {
      if (value === null) return undefined;
      if (path.has(value)) return 'it contains a cycle';
      const isArray = Array.isArray(value);
      if (!isArray && Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
        return `${value.constructor?.name ?? 'an object'} is not a plain object`;
      }
      path.add(value);
      for (const item of isArray ? value : Object.values(value)) {
        const problem = notJson(item, path);
        if (problem) return problem;
      }
      path.delete(value);
      return undefined;
    }
    default:
      return `${typeof value} is not JSON`;
  }
}

/** Keeps state in this process's memory, as JSON text, so no caller shares an object with the store. */
export class MemoryStateStore implements StateStore {
  private readonly values = new Map<string, string>();

  async get<T extends JsonValue = JsonValue>(key: string): Promise<T | undefined> {
    const text = this.values.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  async set(key: string, value: JsonValue): Promise<void> {
    this.values.set(key, toJsonText(key, value));
  }

  async delete(key: string): Promise<void> {
    this.values.delete(key);
  }
}
