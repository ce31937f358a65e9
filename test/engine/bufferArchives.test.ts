/**
 * The archive writers of batch packages: ZIP and tar.gz archives assembled from segments packed apart unpack with the
 * protocol layer's reader, and with the system's unzip, gzip and tar, to the entries written; so does a ZIP whose
 * entries pass 4 GB (ZIP64), written as a sparse file.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Readable } from 'node:stream';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { readArchive, type ArchiveFormat } from '../../shared/protocol/archive/read';
import {
  assembleArchive,
  crc32Combine,
  inBlocks,
  SegmentPacker,
  type ArchiveSegment,
  type BufferEntry,
} from '../../shared/protocol/archive/bufferArchives';

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

/** The archive's entries, their contents as text (jest compares long strings far faster than long Buffers). */
async function unpacked(archive: Buffer, format: ArchiveFormat): Promise<{ name: string; content: string }[]> {
  const files: { name: string; content: string }[] = [];
  for await (const entry of readArchive(archive, format))
    files.push({ name: entry.name, content: (await entry.read(10_000_000)).toString('latin1') });
  return files;
}

/** The archive of `given` packed in segments of `perSegment` entries, an empty segment between two of them. */
async function archiveOf(format: ArchiveFormat, given: BufferEntry[], perSegment: number): Promise<Buffer> {
  const packer = new SegmentPacker(format);
  const segments: ArchiveSegment[] = [];
  given.forEach((entry, n) => {
    packer.add(entry);
    if ((n + 1) % perSegment === 0) segments.push(packer.take());
    if (n === 1) segments.push(packer.take(), packer.take());
  });
  segments.push(packer.take());
  packer.close();
  return collect(assembleArchive(format, segments));
}

describe.each(['Zip', 'TarGz'] as const)('%s archives assembled from segments', (format) => {
  it('unpack to the entries, however the entries were split into segments', async () => {
    const given = entries();
    const expected = given.map(({ name, content }) => ({ name, content: content.toString('latin1') }));
    for (const perSegment of [1, 3, given.length]) {
      const archive = await archiveOf(format, given, perSegment);
      expect(await unpacked(archive, format)).toEqual(expected);
      // Read by the system's own tools too: one gzip member (not several), a ZIP with every entry's CRC right.
      if (format === 'Zip') {
        const path = join(tmpdir(), `segments-${process.pid}.zip`);
        writeFileSync(path, archive);
        try {
          expect(execFileSync('unzip', ['-tq', path]).toString()).toContain('No errors detected');
        } finally {
          rmSync(path);
        }
      } else {
        expect(execFileSync('gzip', ['-t'], { input: archive }).length).toBe(0);
        expect(execFileSync('tar', ['-tz'], { input: archive }).toString().split('\n').filter(Boolean)).toEqual(given.map((e) => e.name));
      }
    }
  });
});

describe('ZIP64', () => {
  it('gives entries past 4 GB ZIP64 records that yauzl, unzip and Python read (a sparse file: the 4 GB are a hole)', async () => {
    const [first, second] = entries();
    const packer = new SegmentPacker('Zip');
    packer.add(first);
    const before = packer.take();
    packer.add(second);
    const after = packer.take();
    packer.close();
    // 4 GB of archive that are never written: only their length counts in the offsets.
    const gap = { bytes: { length: 2 ** 32 + 1000 } as unknown as Buffer, records: [], crc: 0, rawSize: 0 };
    const path = join(tmpdir(), `zip64-${process.pid}.zip`);
    const fd = openSync(path, 'w');
    try {
      let position = 0;
      for await (const chunk of assembleArchive('Zip', [before, gap, after])) {
        if (chunk !== gap.bytes) writeSync(fd, chunk, 0, chunk.length, position);
        position += chunk.length;
      }
    } finally {
      closeSync(fd);
    }
    try {
      const expected = [first, second].map(({ name, content }) => ({ name, content: content.toString('latin1') }));
      const read: { name: string; content: string }[] = [];
      for await (const entry of readArchive(path, 'Zip'))
        read.push({ name: entry.name, content: (await entry.read(10_000_000)).toString('latin1') });
      expect(read).toEqual(expected);
      expect(execFileSync('unzip', ['-tq', path]).toString()).toContain('No errors detected');
      const python =
        'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint([(i.filename, i.header_offset) for i in z.infolist()]); z.testzip()';
      const listed = execFileSync('python3', ['-c', python, path]).toString();
      expect(listed).toContain(`('${second.name}', ${2 ** 32 + 1000 + before.bytes.length})`);
    } finally {
      rmSync(path);
    }
  });
});

describe('crc32Combine', () => {
  it('gives the CRC-32 of two runs one after the other from theirs', () => {
    const bytes = randomBytes(70_000);
    for (const cut of [0, 1, 7, 512, 65_537, 70_000]) {
      const first = bytes.subarray(0, cut);
      const second = bytes.subarray(cut);
      expect(crc32Combine(crc32(first), crc32(second), second.length)).toBe(crc32(bytes));
    }
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
