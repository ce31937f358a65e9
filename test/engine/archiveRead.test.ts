import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import archiver from 'archiver';
import { readArchive, ArchiveFormatError, type ArchiveFormat } from '../../shared/protocol/archive/read';

/** Archives written with archiver (what the sandbox writes with), read back with the protocol layer's reader. */
let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'archive-read-test-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function writeArchive(format: ArchiveFormat, files: [string, Buffer | string][]): Promise<string> {
  const file = join(directory, `a-${Math.random().toString(36).slice(2)}.${format === 'Zip' ? 'zip' : 'tar.gz'}`);
  const archive = format === 'Zip' ? archiver('zip') : archiver('tar', { gzip: true });
  const done = new Promise<void>((resolve, reject) => {
    const out = createWriteStream(file);
    out.on('close', () => resolve());
    out.on('error', reject);
    archive.on('error', reject);
    archive.pipe(out);
  });
  for (const [name, content] of files) archive.append(content, { name });
  await archive.finalize();
  await done;
  return file;
}

async function readAll(source: string | Buffer | Buffer[], format: ArchiveFormat, first?: string): Promise<[string, string][]> {
  const read: [string, string][] = [];
  for await (const entry of readArchive(source, format, { first })) read.push([entry.name, (await entry.read(1 << 20)).toString('utf8')]);
  return read;
}

it('reads stored (uncompressed) ZIP entries as well as deflated ones', async () => {
  const file = join(directory, 'stored.zip');
  const archive = archiver('zip', { store: true });
  const done = new Promise<void>((resolve, reject) => {
    const out = createWriteStream(file);
    out.on('close', () => resolve());
    archive.on('error', reject);
    archive.pipe(out);
  });
  archive.append('<a/>', { name: 'a.xml' });
  archive.append('{"invoices":[]}', { name: '_metadata.json' });
  await archive.finalize();
  await done;
  expect(await readAll(file, 'Zip', '_metadata.json')).toEqual([
    ['_metadata.json', '{"invoices":[]}'],
    ['a.xml', '<a/>'],
  ]);
});

describe.each<ArchiveFormat>(['Zip', 'TarGz'])('readArchive (%s)', (format) => {
  const files: [string, string][] = [
    ['a.xml', '<a/>'],
    ['b.xml', '<b/>'],
    ['_metadata.json', '{"invoices":[]}'],
    ['c.xml', '<c/>'],
  ];

  it('gives every file in archive order, with its size', async () => {
    const file = await writeArchive(format, files);
    expect(await readAll(file, format)).toEqual(files);
    const sizes: number[] = [];
    for await (const entry of readArchive(file, format)) sizes.push(entry.size);
    expect(sizes).toEqual(files.map(([, content]) => content.length));
  });

  it('gives the `first` file first wherever it lies, then the others in order, each once', async () => {
    const file = await writeArchive(format, files);
    expect(await readAll(file, format, '_metadata.json')).toEqual([files[2], files[0], files[1], files[3]]);
    const metadataFirst = await writeArchive(format, [files[2], files[0], files[1]]);
    expect(await readAll(metadataFirst, format, '_metadata.json')).toEqual([files[2], files[0], files[1]]);
  });

  it('reads bytes in memory as well as a file', async () => {
    const file = await writeArchive(format, files);
    expect(await readAll(await readFile(file), format, '_metadata.json')).toEqual([files[2], files[0], files[1], files[3]]);
  });

  it('reads bytes in consecutive chunks, whatever their boundaries cut', async () => {
    const file = await writeArchive(format, files);
    const bytes = await readFile(file);
    for (const size of [1, 7, 100]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
      expect(await readAll(chunks, format, '_metadata.json')).toEqual([files[2], files[0], files[1], files[3]]);
    }
  });

  it('reads names that are not ASCII', async () => {
    const named: [string, string][] = [['faktura-źdźbło.xml', '<ż/>']];
    expect(await readAll(await writeArchive(format, named), format)).toEqual(named);
  });

  it('skips what the consumer does not read, and stops when the consumer stops', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const file = await writeArchive(format, [
      ['big.bin', big],
      ['small.txt', 'small'],
      ['other.txt', 'other'],
    ]);
    const names: string[] = [];
    for await (const entry of readArchive(file, format)) {
      names.push(entry.name);
      if (entry.name === 'small.txt') {
        expect((await entry.read(10)).toString()).toBe('small');
        break;
      }
    }
    expect(names).toEqual(['big.bin', 'small.txt']);
  });

  it('refuses an entry larger than the caller allows', async () => {
    const file = await writeArchive(format, [['big.bin', Buffer.alloc(5000)]]);
    const entries = readArchive(file, format);
    const { value } = await entries.next();
    await expect(value!.read(4999)).rejects.toThrow(ArchiveFormatError);
    await entries.return(undefined);
  });

  it('fails with ArchiveFormatError on bytes that are not such an archive', async () => {
    const file = join(directory, `garbage-${format}`);
    await writeFile(file, Buffer.from('this is not an archive at all, not even close'.repeat(20)));
    await expect(readAll(file, format)).rejects.toThrow(ArchiveFormatError);
  });
});
