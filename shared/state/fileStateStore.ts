import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { KsefError } from '../http/errors';
import { toJsonText, type JsonValue, type StateStore } from './stateStore';

/**
 * Keeps state in a folder, one JSON file per key (so a checkpoint rewrites only itself), named by the key's
 * SHA-256 (any key is a valid file name) and holding `{ "key": ..., "value": ... }`.
 *
 * A write goes to a temporary file in the same folder, is flushed to disk, then renamed over the key's file:
 * a crash leaves either the old or the new value, never a torn one (a leftover `.tmp` file is ignored). Writes
 * to one key are queued within the process, so concurrent `set`s land in call order. The folder is not locked:
 * two processes sharing it should not write the same key.
 */
export class FileStateStore implements StateStore {
  private readonly queues = new Map<string, Promise<void>>();

  constructor(private readonly folder: string) {}

  async get<T extends JsonValue = JsonValue>(key: string): Promise<T | undefined> {
    // Waiting for queued writes gives read-your-writes order within the process.
    await this.queues.get(key);
    const file = this.fileOf(key);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      return (JSON.parse(text) as { value: T }).value;
    } catch {
      throw new KsefError(`The state file ${file} (key "${key}") is not valid JSON; delete it to start that state afresh.`);
    }
  }

  async set(key: string, value: JsonValue): Promise<void> {
    const text = toJsonText(key, value);
    return this.enqueue(key, async () => {
      await mkdir(this.folder, { recursive: true, mode: 0o700 });
      const file = this.fileOf(key);
      const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
      const handle = await open(temporary, 'w', 0o600);
      try {
        await handle.writeFile(`{"key":${JSON.stringify(key)},"value":${text}}\n`, 'utf8');
        await handle.sync();
      } catch (error) {
        await handle.close();
        await rm(temporary, { force: true });
        throw error;
      }
      await handle.close();
      await rename(temporary, file);
    });
  }

  delete(key: string): Promise<void> {
    return this.enqueue(key, () => rm(this.fileOf(key), { force: true }));
  }

  private fileOf(key: string): string {
    return join(this.folder, `${createHash('sha256').update(key, 'utf8').digest('hex')}.json`);
  }

  /** Runs `write` after the writes queued before it for `key`, whether they succeeded or not. */
  private enqueue(key: string, write: () => Promise<void>): Promise<void> {
    // The queue's tail never rejects, so one failed write does not stop the ones after it.
    const next = (this.queues.get(key) ?? Promise.resolve()).then(write);
    const settled = next.catch(() => undefined);
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return next;
  }
}
