/**
 * Writing KSeF's package archives: export packages (the sandbox builds them), ZIP or TarGz, with `archiver` (batch
 * packages of thousands of small invoices have a leaner writer of their own: bufferArchives.ts). Entries go in one at
 * a time and the archive comes out as a stream, so memory holds one entry and archiver's buffers (a few MB), whatever
 * the number of entries or the archive's size.
 */
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import archiver from 'archiver';
import type { ArchiveFormat } from './read';

export type { ArchiveFormat } from './read';

/** A file to put into an archive. */
export interface ArchiveInput {
  /** The path inside the archive, e.g. `5265877635-20250826-0100001AF629-AF.xml`. */
  name: string;
  /** The content; a string is written as UTF-8. */
  content: Buffer | string | Readable;
  /**
   * The byte size of a stream `content`. A tar header carries the size before the body, so a TarGz entry without
   * it is collected in memory first; with it, the stream goes straight through. ZIP needs no size.
   */
  size?: number;
  /** The file's modification time (default: when the archive is written). */
  date?: Date;
}

export interface WriteArchiveOptions {
  /** zlib compression level, 0 (none) to 9 (default `ARCHIVE_COMPRESSION_LEVEL`). */
  level?: number;
}

/** zlib's own default level: the usual balance of speed and size. */
export const ARCHIVE_COMPRESSION_LEVEL = 6;

/** Regular files readable by everyone, as unpacked invoices should be. */
const FILE_MODE = 0o644;

/**
 * The archive of `entries` in `format`, as a stream. Entries are taken from the iterable only as the archive's
 * reader makes room for them (one entry is compressed at a time), so a slow reader holds back the source. A failing
 * iterable or stream entry fails the returned stream; destroying the returned stream stops taking entries.
 */
export function writeArchive(
  format: ArchiveFormat,
  entries: Iterable<ArchiveInput> | AsyncIterable<ArchiveInput>,
  options: WriteArchiveOptions = {},
): Readable {
  const level = options.level ?? ARCHIVE_COMPRESSION_LEVEL;
  const archive = format === 'Zip' ? archiver('zip', { zlib: { level } }) : archiver('tar', { gzip: true, gzipOptions: { level } });
  void feed(archive, entries).catch((error: unknown) => archive.destroy(error as Error));
  return archive;
}

async function feed(archive: archiver.Archiver, entries: Iterable<ArchiveInput> | AsyncIterable<ArchiveInput>): Promise<void> {
  // A reader that destroys the archive stops the feeding: the wait for the current entry ends with it.
  const closed = new AbortController();
  archive.once('close', () => closed.abort());
  for await (const entry of entries) {
    if (closed.signal.aborted) return;
    // Listening before appending: a buffer entry may be processed before append returns to us.
    const processed = once(archive, 'entry', { signal: closed.signal });
    archive.append(entry.content, {
      name: entry.name,
      date: entry.date ?? new Date(),
      mode: FILE_MODE,
      // archiver reads only `size` of these stats (tar streams a body of known size); its types want fs.Stats.
      ...(entry.size !== undefined && { stats: { size: entry.size } as never }),
    });
    // An entry counts as processed once the format has taken all of it, which waits for the reader when its buffers
    // are full; `once` rejects when the archive fails.
    await processed;
  }
  // Failures reach the reader as the stream's 'error'; the promise only says when the last byte was read.
  if (!closed.signal.aborted) archive.finalize().catch(() => undefined);
}
