import { copyJsonValue, type JsonValue, type StateStore } from '../../shared';

/** The callback form of Node-RED's context API (`node.context()`), which every context store supports. */
export interface NodeContext {
  get(key: string, store: string | undefined, callback: (error: Error | null | undefined, value?: unknown) => void): void;
  set(key: string, value: unknown, store: string | undefined, callback: (error?: Error | null) => void): void;
}

/**
 * The state port over a Node-RED node's context, in its default store or in the store named `store` (a
 * `contextStorage` entry of settings.js; only a persistent one, such as `localfilesystem`, keeps state across
 * restarts). Context stores keep values in clear (the file store in plain JSON files): callers seal key material
 * before they store it.
 */
export class NodeContextStore implements StateStore {
  constructor(
    private readonly context: NodeContext,
    private readonly store?: string,
  ) {}

  get<T extends JsonValue = JsonValue>(key: string): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      this.context.get(contextKey(key), this.store, (error, value) => {
        if (error) return reject(error);
        // The memory store hands out the object it holds: a copy keeps callers from changing the stored state.
        resolve(value === undefined ? undefined : copyJsonValue(key, value as T));
      });
    });
  }

  async set(key: string, value: JsonValue): Promise<void> {
    const copy = copyJsonValue(key, value);
    return new Promise((resolve, reject) =>
      this.context.set(contextKey(key), copy, this.store, (error) => (error ? reject(error) : resolve())),
    );
  }

  /** Setting undefined is how Node-RED's context API removes a key. */
  delete(key: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.context.set(contextKey(key), undefined, this.store, (error) => (error ? reject(error) : resolve())),
    );
  }
}

/**
 * Node-RED reads a context key as a property path (`a.b`, `a[0]`, `#:(store)::a`, `$parent.a`): every character
 * other than a letter or digit is written as `_<hex>_`, so any key names exactly one top-level property.
 */
function contextKey(key: string): string {
  return `ksef_${key.replace(/[^A-Za-z0-9]/gu, (c) => `_${c.codePointAt(0)!.toString(16)}_`)}`;
}
