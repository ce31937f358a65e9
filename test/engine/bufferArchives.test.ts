/**
 * The archive writers of batch packages: a ZIP, and a tar given to gzip in blocks or piece by piece, unpack with the
 * protocol layer's reader to the entries written.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { readArchive, type ArchiveFormat } from '../../shared/protocol/archive/read';
import { inBlocks, writeTarGzOfBuffers, writeZipOfBuffers, type BufferEntry } from '../../shared/protocol/archive/bufferArchives';

const date = new Date(Date.UTC(2026, 0, 1));

function entries(): BufferEntry[] {
  // Invoices of a few kB, and one large entry that barely compresses.
  const small = Array.from({ length: 5 }, (_, n) => ({
    name: `invoice-${n + 1}.xml`,
    content: Buffer.from(buildDemoInvoice({ invoiceNumber: `FV/2026/BA/${n}`, lines: 1 + n * 10 }), 'utf8'),
    date,
  }));
  return [
    ...small.slice(0, 2),
    { name: 'large.xml', content: Buffer.from(randomBytes(300_000).toString('base64')), date },
    ...small.slice(2),
  ];
}

async function collect(chunks: AsyncIterable<unknown> | Readable): Promise<Buffer> {
  const all: Buffer[] = [];
  for await (const chunk of chunks) all.push(chunk as Buffer);
  return Buffer.concat(all);
}

async function unpacked(archive: Buffer, format: ArchiveFormat): Promise<{ name: string; content: Buffer }[]> {
  const files: { name: string; content: Buffer }[] = [];
  for await (const entry of readArchive(archive, format)) files.push({ name: entry.name, content: await entry.read(10_000_000) });
  return files;
}

describe('writeZipOfBuffers', () => {
  it('gives a ZIP of the entries', async () => {
    const given = entries();
    const zip = await collect(writeZipOfBuffers(given));
    expect(await unpacked(zip, 'Zip')).toEqual(given.map(({ name, content }) => ({ name, content })));
  });
});

describe('writeTarGzOfBuffers', () => {
  it('gives a tar.gz of the entries whether the tar goes to gzip in blocks or piece by piece', async () => {
    const given = entries();
    const inDefaultBlocks = await collect(writeTarGzOfBuffers(given));
    const pieceByPiece = await collect(writeTarGzOfBuffers(given, { blockBytes: 1 }));
    const expected = given.map(({ name, content }) => ({ name, content }));
    expect(await unpacked(inDefaultBlocks, 'TarGz')).toEqual(expected);
    expect(await unpacked(pieceByPiece, 'TarGz')).toEqual(expected);
  });
});

describe('inBlocks', () => {
  it('gathers chunks into blocks of at least the size, the last shorter, the same bytes', async () => {
    const chunks = [3, 4, 10, 1, 1, 2].map((length, n) => Buffer.alloc(length, n + 1));
    const blocks = await collect(
      (async function* () {
        for await (const block of inBlocks(chunks, 5)) yield Buffer.from(`${block.length},`);
      })(),
    );
    expect(blocks.toString()).toBe('7,10,4,');
    expect(await collect(inBlocks(chunks, 5))).toEqual(Buffer.concat(chunks));
  });
});
