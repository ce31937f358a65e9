/**
 * The protocol layer's archive writer (export packages in the sandbox, batch packages in the engine): what it writes
 * is read back with yauzl and tar-stream directly, entries are taken only as the reader makes room, and failures
 * reach the reader.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import * as yauzl from 'yauzl';
import { writeArchive, type ArchiveFormat, type ArchiveInput } from '../../shared/protocol/archive/write';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function unpack(archive: Buffer, format: ArchiveFormat): Promise<{ name: string; content: Buffer; mode?: number; date?: Date }[]> {
  const files: { name: string; content: Buffer; mode?: number; date?: Date }[] = [];
  if (format === 'Zip') {
    const zip = await yauzl.fromBufferPromise(archive, { lazyEntries: true });
    for await (const entry of zip.eachEntry()) {
      files.push({ name: entry.fileName, content: await collect(await zip.openReadStreamPromise(entry)), date: entry.getLastModDate() });
    }
    return files;
  }
  const extract = tar.extract();
  Readable.from([archive])
    .pipe(createGunzip())
    .pipe(extract as unknown as NodeJS.WritableStream);
  for await (const entry of extract) {
    files.push({
      name: entry.header.name,
      content: await collect(entry as unknown as Readable),
      mode: entry.header.mode,
      date: entry.header.mtime,
    });
  }
  return files;
}

describe.each<ArchiveFormat>(['Zip', 'TarGz'])('writeArchive (%s)', (format) => {
  it('writes buffers, strings and streams (with and without a size) in order, as the reader reads them', async () => {
    const big = randomBytes(300_000);
    const date = new Date('2026-01-02T03:04:06Z');
    const entries: ArchiveInput[] = [
      { name: '_metadata.json', content: '{"invoices":[]}', date },
      { name: 'a.xml', content: Buffer.from('<a>zażółć</a>', 'utf8'), date },
      { name: 'big.bin', content: Readable.from([big.subarray(0, 100_000), big.subarray(100_000)]), size: big.length, date },
      { name: 'unsized.xml', content: Readable.from([Buffer.from('<b/>')]), date },
    ];
    const files = await unpack(await collect(writeArchive(format, entries)), format);
    expect(files.map((f) => f.name)).toEqual(['_metadata.json', 'a.xml', 'big.bin', 'unsized.xml']);
    expect(files[0].content.toString('utf8')).toBe('{"invoices":[]}');
    expect(files[1].content.toString('utf8')).toBe('<a>zażółć</a>');
    expect(files[2].content.equals(big)).toBe(true);
    expect(files[3].content.toString('utf8')).toBe('<b/>');
    for (const file of files) expect(file.date?.getTime()).toBe(date.getTime());
    if (format === 'TarGz') for (const file of files) expect(file.mode).toBe(0o644);
  });

  it('takes entries from the source only as the reader makes room for them: memory stays bounded', async () => {
    const count = 300;
    let taken = 0;
    function* source(): Generator<ArchiveInput> {
      for (let i = 0; i < count; i++) {
        taken++;
        // Incompressible, so what is taken stays in the archive's buffers (archiver holds up to about 4 MB).
        yield { name: `${i}.bin`, content: randomBytes(32 * 1024) };
      }
    }
    const archive = writeArchive(format, source());
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(taken).toBeLessThan(200);
    const files = await unpack(await collect(archive), format);
    expect(files).toHaveLength(count);
    expect(taken).toBe(count);
  });

  it('fails the stream when the source fails, and stops taking entries when the reader destroys it', async () => {
    async function* failing(): AsyncGenerator<ArchiveInput> {
      yield { name: 'a.xml', content: '<a/>' };
      throw new Error('the source broke');
    }
    await expect(collect(writeArchive(format, failing()))).rejects.toThrow('the source broke');

    let finished = false;
    let taken = 0;
    function* endless(): Generator<ArchiveInput> {
      try {
        for (;;) {
          taken++;
          yield { name: `${taken}.bin`, content: randomBytes(64 * 1024) };
        }
      } finally {
        finished = true;
      }
    }
    const archive = writeArchive(format, endless());
    for await (const chunk of archive) if ((chunk as Buffer).length > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(finished).toBe(true);
    const takenWhenStopped = taken;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(taken).toBe(takenWhenStopped);
  });
});
