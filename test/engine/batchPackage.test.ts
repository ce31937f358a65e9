/**
 * The batch package builder: what it declares (package and part sizes and hashes) is checked against its parts (kept
 * in memory or spooled) decrypted with node:crypto and unpacked with the protocol layer's archive reader; limits,
 * temporary files, stream inputs (read here) and file inputs (`{ path }`, read on the package workers).
 */
import { execFileSync } from 'node:child_process';
import { createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { KsefError, KsefInputError } from '../../shared/http/errors';
import { readArchive, type ArchiveFormat } from '../../shared/protocol/archive/read';
import type { SymmetricKey } from '../../shared/protocol/crypto/aes';
import {
  batchFileInfo,
  buildBatchPackage,
  MAX_PART_BYTES,
  INVOICES_PER_RUN,
  inputForWorker,
  RUNS_AT_ONCE,
  type BatchPackage,
  type BatchPackageSource,
  type BuildBatchPackageOptions,
} from '../../shared/sessions/batch/package';
import { FILE_READ_BYTES } from '../../shared/sessions/streamInput';
import type { InvoiceInput, InvoiceStreamInput } from '../../shared/sessions/types';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64');
const fixedKey: SymmetricKey = { key: Buffer.alloc(32, 7), iv: Buffer.alloc(16, 3) };

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function invoice(n: number, lines = 2): string {
  return buildDemoInvoice({ invoiceNumber: `FV/2026/BP/${n}`, lines });
}

function sourcesOf(inputs: InvoiceInput[]): BatchPackageSource[] {
  return inputs.map((input, index) => ({ index, input }));
}

/** A stream input over `xml` that counts how often it was opened. */
function streamInput(xml: string, withSize: boolean, fileName?: string): InvoiceStreamInput & { opened: number } {
  const bytes = Buffer.from(xml, 'utf8');
  const input = {
    opened: 0,
    open: () => {
      input.opened++;
      // Small chunks: the builder must put an invoice together from many.
      const chunks: Buffer[] = [];
      for (let offset = 0; offset < bytes.length; offset += 1000) chunks.push(bytes.subarray(offset, offset + 1000));
      return Readable.from(chunks);
    },
    ...(withSize && { size: bytes.length }),
    ...(fileName && { fileName }),
  };
  return input;
}

/** Every part decrypted on its own with the key and IV, concatenated: the unencrypted package. */
async function decryptedPackage(pkg: BatchPackage, key: SymmetricKey): Promise<Buffer> {
  const plain: Buffer[] = [];
  for (const part of pkg.parts) {
    const encrypted = await collect(pkg.openPart(part.ordinalNumber));
    expect(encrypted.length).toBe(part.fileSize);
    expect(sha256(encrypted)).toBe(part.fileHash);
    const decipher = createDecipheriv('aes-256-cbc', key.key, key.iv);
    const decrypted = Buffer.concat([decipher.update(encrypted), decipher.final()]);
    expect(decrypted.length).toBe(part.plainSize);
    // PKCS#7 always pads: a whole block more when the part is a multiple of 16 bytes.
    expect(part.fileSize).toBe((Math.floor(part.plainSize / 16) + 1) * 16);
    plain.push(decrypted);
  }
  const whole = Buffer.concat(plain);
  expect(whole.length).toBe(pkg.fileSize);
  expect(sha256(whole)).toBe(pkg.fileHash);
  return whole;
}

async function unpacked(archive: Buffer, format: ArchiveFormat): Promise<{ name: string; content: Buffer }[]> {
  const files: { name: string; content: Buffer }[] = [];
  for await (const entry of readArchive(archive, format)) files.push({ name: entry.name, content: await entry.read(10_000_000) });
  return files;
}

describe('buildBatchPackage', () => {
  let tempDir: string;
  const built: BatchPackage[] = [];
  // Folders of invoice files given as file inputs: apart from tempDir, whose contents some tests count.
  const fileDirs: string[] = [];

  /** `contents` written to files of a fresh folder of their own; their paths, in order. */
  async function invoiceFiles(contents: (string | Buffer)[]): Promise<string[]> {
    const folder = await mkdtemp(join(tmpdir(), 'batch-package-files-'));
    fileDirs.push(folder);
    const paths = contents.map((_, n) => join(folder, `source-${n + 1}.xml`));
    await Promise.all(paths.map((path, n) => writeFile(path, contents[n])));
    return paths;
  }

  async function buildPackage(inputs: InvoiceInput[], options: Partial<BuildBatchPackageOptions> = {}): Promise<BatchPackage> {
    const pkg = await buildBatchPackage(sourcesOf(inputs), { key: fixedKey, tempDir, ...options });
    built.push(pkg);
    return pkg;
  }

  const build = buildPackage;

  beforeEach(async () => {
    tempDir = await mkdtemp(join(tmpdir(), 'batch-package-test-'));
  });
  afterEach(async () => {
    for (const pkg of built.splice(0)) await pkg.dispose();
    await rm(tempDir, { recursive: true, force: true });
    for (const folder of fileDirs.splice(0)) await rm(folder, { recursive: true, force: true });
  });

  // Parts kept in memory (a small package, by default) or spooled (maxInMemoryBytes 0): the same package either way.
  describe.each<[ArchiveFormat, string, Partial<BuildBatchPackageOptions>]>([
    ['Zip', 'in memory', {}],
    ['Zip', 'spooled', { maxInMemoryBytes: 0 }],
    ['TarGz', 'in memory', {}],
    ['TarGz', 'spooled', { maxInMemoryBytes: 0 }],
  ])('%s, parts %s', (compressionType, kept, keptOptions) => {
    const build = (inputs: InvoiceInput[], options: Partial<BuildBatchPackageOptions> = {}) =>
      buildPackage(inputs, { ...keptOptions, ...options });

    it('keeps the parts where it says', async () => {
      await build([invoice(1), invoice(2)], { compressionType });
      expect(await readdir(tempDir)).toHaveLength(kept === 'spooled' ? 1 : 0);
    });

    it('packs buffers, strings and streams that unpack to exactly the inputs, with their names and hashes', async () => {
      const xmls = [1, 2, 3, 4, 5].map((n) => invoice(n));
      const inputs: InvoiceInput[] = [
        xmls[0],
        Buffer.from(xmls[1], 'utf8'),
        { xml: xmls[2], fileName: 'third.xml' },
        streamInput(xmls[3], true),
        streamInput(xmls[4], false, 'fifth.xml'),
      ];
      const pkg = await build(inputs, { compressionType });

      expect(pkg.compressionType).toBe(compressionType);
      expect(pkg.parts).toHaveLength(1);
      expect(pkg.rejected).toEqual([]);
      const names = ['invoice-1.xml', 'invoice-2.xml', 'third.xml', 'invoice-4.xml', 'fifth.xml'];
      expect(pkg.entries).toEqual(
        xmls.map((xml, index) => ({
          index,
          fileName: names[index],
          invoiceHash: sha256(Buffer.from(xml, 'utf8')),
          invoiceSize: Buffer.byteLength(xml),
          invoiceNumber: `FV/2026/BP/${index + 1}`,
          offlineMode: false,
        })),
      );
      const files = await unpacked(await decryptedPackage(pkg, fixedKey), compressionType);
      expect(files.map((file) => file.name)).toEqual(names);
      expect(files.map((file) => file.content.toString('utf8'))).toEqual(xmls);
      expect(batchFileInfo(pkg)).toEqual({
        fileSize: pkg.fileSize,
        fileHash: pkg.fileHash,
        compressionType,
        fileParts: [{ ordinalNumber: 1, fileSize: pkg.parts[0].fileSize, fileHash: pkg.parts[0].fileHash }],
      });
    });

    it("packs file inputs to exactly the files' bytes, with their names, hashes and options", async () => {
      // CRLF line ends: the package must hold the file as it is, not the text decoded again.
      const bytes = [
        Buffer.from(invoice(1).replace(/\n/g, '\r\n'), 'utf8'),
        Buffer.from(invoice(2), 'utf8'),
        Buffer.from(invoice(3).replace(/\n/g, '\r\n'), 'utf8'),
      ];
      expect(bytes[0].toString('utf8')).not.toBe(invoice(1));
      const paths = await invoiceFiles(bytes);
      const pkg = await build([{ path: paths[0] }, { path: paths[1], fileName: 'second.xml' }, { path: paths[2], offlineMode: true }], {
        compressionType,
      });

      expect(pkg.rejected).toEqual([]);
      const names = ['invoice-1.xml', 'second.xml', 'invoice-3.xml'];
      expect(pkg.entries).toEqual(
        bytes.map((content, index) => ({
          index,
          fileName: names[index],
          invoiceHash: sha256(content),
          invoiceSize: content.length,
          invoiceNumber: `FV/2026/BP/${index + 1}`,
          offlineMode: index === 2,
        })),
      );
      const files = await unpacked(await decryptedPackage(pkg, fixedKey), compressionType);
      expect(files.map((file) => file.name)).toEqual(names);
      files.forEach((file, n) => expect(file.content.equals(bytes[n])).toBe(true));
      // The same package as the same bytes given in memory.
      const inMemory = await build([bytes[0], { xml: bytes[1], fileName: 'second.xml' }, { xml: bytes[2], offlineMode: true }], {
        compressionType,
      });
      expect(pkg.fileHash).toBe(inMemory.fileHash);
    });

    it('keeps long UTF-8 file names whole (up to the 128 characters KSeF reports back)', async () => {
      const fileName = `${'faktura-żółć-'.repeat(9)}.xml`.slice(-128);
      expect(Buffer.byteLength(fileName)).toBeGreaterThan(100);
      const pkg = await build([{ xml: invoice(1), fileName }, invoice(2)], { compressionType });
      const files = await unpacked(await decryptedPackage(pkg, fixedKey), compressionType);
      expect(files.map((file) => file.name)).toEqual([fileName, 'invoice-2.xml']);
      expect(files[0].content.toString('utf8')).toBe(invoice(1));
    });

    it('splits at partSizeBytes; each part decrypts on its own and the parts make the package', async () => {
      const xmls = Array.from({ length: 12 }, (_, n) => invoice(n, 40));
      // Similar invoices compress well (tar.gz across them): small parts still make several.
      const partSizeBytes = 1000;
      const pkg = await build(xmls, { compressionType, partSizeBytes, key: { key: randomBytes(32), iv: randomBytes(16) } });
      expect(pkg.parts.length).toBeGreaterThan(2);
      expect(pkg.parts.map((part) => part.ordinalNumber)).toEqual(pkg.parts.map((_, i) => i + 1));
      for (const part of pkg.parts.slice(0, -1)) expect(part.plainSize).toBe(partSizeBytes);
      expect(pkg.parts[pkg.parts.length - 1].plainSize).toBeLessThanOrEqual(partSizeBytes);
      expect(pkg.parts.reduce((sum, part) => sum + part.plainSize, 0)).toBe(pkg.fileSize);
    });

    it('packs hundreds of invoices in many runs on the workers: every one in input order, refused ones left out, read by the system tools', async () => {
      const count = INVOICES_PER_RUN.TarGz * 2 + 37;
      const xmls = Array.from({ length: count }, (_, n) => (n % 50 === 7 ? `<Faktura>not closed ${n}` : invoice(n, 1 + (n % 3))));
      const paths = await invoiceFiles(xmls.filter((_, n) => n % 2 === 1));
      // Odd invoices from files (read on the workers), even ones from memory.
      const inputs = xmls.map((xml, n) => (n % 2 === 1 ? { path: paths[(n - 1) / 2] } : xml));
      const pkg = await build(inputs, { compressionType });
      const valid = xmls.map((xml, n) => ({ xml, n })).filter(({ n }) => n % 50 !== 7);
      expect(pkg.entries.map((entry) => entry.index)).toEqual(valid.map(({ n }) => n));
      expect(pkg.entries.map((entry) => entry.invoiceHash)).toEqual(valid.map(({ xml }) => sha256(Buffer.from(xml))));
      expect(pkg.rejected.map((rejection) => rejection.index)).toEqual(xmls.map((_, n) => n).filter((n) => n % 50 === 7));
      const archive = await decryptedPackage(pkg, fixedKey);
      const files = await unpacked(archive, compressionType);
      expect(files.map((file) => file.name)).toEqual(valid.map(({ n }) => `invoice-${n + 1}.xml`));
      expect(files.map((file) => file.content.toString('utf8'))).toEqual(valid.map(({ xml }) => xml));
      const path = join(tempDir, compressionType === 'Zip' ? 'package.zip' : 'package.tar.gz');
      await writeFile(path, archive);
      const listed = execFileSync(compressionType === 'Zip' ? 'unzip' : 'tar', compressionType === 'Zip' ? ['-Z1', path] : ['-tzf', path]);
      expect(listed.toString().split('\n').filter(Boolean)).toEqual(valid.map(({ n }) => `invoice-${n + 1}.xml`));
      if (compressionType === 'Zip') expect(execFileSync('unzip', ['-tq', path]).toString()).toContain('No errors detected');
      else execFileSync('gzip', ['-t', path]);
      await rm(path);
    });

    it('is deterministic: the same invoices and key give the same bytes, another key the same package', async () => {
      const xmls = Array.from({ length: 6 }, (_, n) => invoice(n, 30));
      const options = { compressionType, partSizeBytes: 4096 };
      const first = await build(xmls, options);
      const second = await build(
        xmls.map((xml) => streamInput(xml, false)),
        options,
      );
      expect(second.fileHash).toBe(first.fileHash);
      expect(second.parts).toEqual(first.parts);
      for (const part of first.parts) {
        expect(await collect(second.openPart(part.ordinalNumber))).toEqual(await collect(first.openPart(part.ordinalNumber)));
      }
      const otherKey = await build(xmls, { ...options, key: { key: randomBytes(32), iv: randomBytes(16) } });
      expect(otherKey.fileHash).toBe(first.fileHash);
      expect(otherKey.parts[0].fileHash).not.toBe(first.parts[0].fileHash);
    });
  });

  it.each<ArchiveFormat>(['Zip', 'TarGz'])(
    'spools once the package outgrows maxInMemoryBytes: the parts held so far and the rest go to files, the same bytes (%s)',
    async (compressionType) => {
      const xmls = Array.from({ length: 12 }, (_, n) => invoice(n, 40));
      const options = { compressionType, partSizeBytes: 500 };
      const inMemory = await build(xmls, options);
      expect(await readdir(tempDir)).toEqual([]);
      // Past 1,200 bytes in the third part (512 encrypted bytes a part): the two parts held are written out, the third
      // continues in its file, and so do the next ones.
      const spilled = await build(xmls, { ...options, maxInMemoryBytes: 1200 });
      expect(spilled.parts.length).toBeGreaterThan(3);
      const [directory] = await readdir(tempDir);
      expect((await readdir(join(tempDir, directory))).sort()).toEqual(
        spilled.parts.map((part) => `part-${part.ordinalNumber}.aes`).sort(),
      );
      expect(spilled.fileHash).toBe(inMemory.fileHash);
      expect(spilled.parts).toEqual(inMemory.parts);
      for (const part of inMemory.parts) {
        expect(await collect(spilled.openPart(part.ordinalNumber))).toEqual(await collect(inMemory.openPart(part.ordinalNumber)));
      }
      await decryptedPackage(spilled, fixedKey);
      await spilled.dispose();
      expect(await readdir(tempDir)).toEqual([]);
    },
  );

  it('packs stream inputs (read and checked on this thread) as the same XML given in memory (packed on the workers)', async () => {
    const xmls = Array.from({ length: 40 }, (_, n) => (n === 4 ? '<Faktura>not closed' : invoice(n)));
    const fromStreams = await build(xmls.map((xml, n) => streamInput(xml, n % 2 === 0)));
    const fromMemory = await build(xmls);
    expect(fromStreams.fileHash).toBe(fromMemory.fileHash);
    expect(fromStreams.entries).toEqual(fromMemory.entries);
    expect(fromStreams.rejected.map((rejection) => [rejection.index, rejection.problem.message])).toEqual(
      fromMemory.rejected.map((rejection) => [rejection.index, rejection.problem.message]),
    );
    expect(fromMemory.rejected.map((rejection) => rejection.index)).toEqual([4]);
  });

  it("fails in a failing source's turn, having opened only the runs in flight, not every source", async () => {
    const total = INVOICES_PER_RUN.Zip * (RUNS_AT_ONCE + 4);
    const given: InvoiceInput[] = Array.from({ length: total }, (_, n) => streamInput(invoice(n), true));
    given[5] = {
      open: () =>
        Readable.from(
          (async function* () {
            yield Buffer.from('<?xml');
            throw new Error('disk gone');
          })(),
        ),
    };
    const error = await build(given).catch((e: unknown) => e);
    expect((error as KsefError).message).toBe('invoices[5] could not be read: disk gone');
    const opened = given.filter((input) => (input as { opened?: number }).opened === 1).length;
    expect(opened).toBeGreaterThan(0);
    expect(opened).toBeLessThanOrEqual(INVOICES_PER_RUN.Zip * (RUNS_AT_ONCE + 2));
    expect(await readdir(tempDir)).toEqual([]);
  });

  it('reads a part again for a retried upload', async () => {
    const pkg = await build([invoice(1), invoice(2)], { partSizeBytes: 1024 });
    const once = await collect(pkg.openPart(2));
    expect(await collect(pkg.openPart(2))).toEqual(once);
    expect(() => pkg.openPart(pkg.parts.length + 1)).toThrow(KsefInputError);
  });

  it('leaves out invoices the local checks refuse, and keeps attachments (batch sessions take them)', async () => {
    const attachment =
      '<Zalacznik><BlokDanych><MetaDane><ZKlucz>Umowa</ZKlucz><ZWartosc>12/2026</ZWartosc></MetaDane></BlokDanych></Zalacznik>';
    const withAttachment = invoice(2).replace('</Faktura>', `${attachment}</Faktura>`);
    const pkg = await build([invoice(1), '<Faktura>not closed', withAttachment, '']);
    expect(pkg.entries.map((entry) => [entry.index, entry.fileName])).toEqual([
      [0, 'invoice-1.xml'],
      [2, 'invoice-3.xml'],
    ]);
    expect(pkg.rejected.map((rejection) => [rejection.index, rejection.fileName, rejection.problem.field])).toEqual([
      [1, 'invoice-2.xml', 'invoices[1]'],
      [3, 'invoice-4.xml', 'invoices[3]'],
    ]);
    expect(pkg.rejected[0].invoiceHash).toBe(sha256(Buffer.from('<Faktura>not closed')));
    const files = await unpacked(await decryptedPackage(pkg, fixedKey), 'Zip');
    expect(files.map((file) => file.content.toString('utf8'))).toEqual([invoice(1), withAttachment]);
  });

  it.each<ArchiveFormat>(['Zip', 'TarGz'])(
    'packs a large invoice (an attachment of 2 MB that barely compresses) whole (%s)',
    async (compressionType) => {
      const data = randomBytes(1_500_000).toString('base64');
      const attachment = `<Zalacznik><BlokDanych><MetaDane><ZKlucz>Skan</ZKlucz><ZWartosc>${data}</ZWartosc></MetaDane></BlokDanych></Zalacznik>`;
      const large = invoice(2).replace('</Faktura>', `${attachment}</Faktura>`);
      const pkg = await build([invoice(1), large, invoice(3)], { compressionType, partSizeBytes: 700_000 });
      expect(pkg.rejected).toEqual([]);
      expect(pkg.parts.length).toBeGreaterThanOrEqual(3);
      const files = await unpacked(await decryptedPackage(pkg, fixedKey), compressionType);
      expect(files.map((file) => file.content.toString('utf8'))).toEqual([invoice(1), large, invoice(3)]);
    },
  );

  it("refuses stream inputs beyond KSeF's per-invoice size, before reading when the size is known", async () => {
    const xml = invoice(1, 40);
    const limits = { maxBytes: 4000, maxBytesWithAttachment: 6000 };
    expect(Buffer.byteLength(xml)).toBeGreaterThan(6000);
    const declared = streamInput(xml, true);
    const undeclared = streamInput(xml, false);
    const wrongSize = { ...streamInput(invoice(2), false), size: 10 };
    // Within what a stream may bring (the larger, attachment limit), but over the plain limit.
    let lines = 1;
    while (Buffer.byteLength(invoice(3, lines)) <= 4000) lines++;
    expect(Buffer.byteLength(invoice(3, lines))).toBeLessThan(6000);
    const small = streamInput(invoice(3, lines), false);
    const notAStream = { open: () => Buffer.from(invoice(4)) as unknown as Readable };
    const pkg = await build([declared, undeclared, wrongSize, small, notAStream], { limits });
    expect(declared.opened).toBe(0);
    expect(undeclared.opened).toBe(1);
    expect(pkg.entries).toEqual([]);
    const messages = pkg.rejected.map((rejection) => rejection.problem.message);
    expect(messages[0]).toBe(
      `invoices[0] has ${Buffer.byteLength(xml)} bytes; KSeF takes at most 4000 bytes per invoice in a batch session (6000 with an attachment). Split it or reduce the attachment.`,
    );
    expect(messages[1]).toContain('invoices[1] has more than 6000 bytes');
    expect(pkg.rejected[2].problem.field).toBe('invoices[2].size');
    expect(messages[2]).toContain('its size says 10');
    // The XML check tells it is over the limit of an invoice without attachments.
    expect(messages[3]).toMatch(/at most 4000 bytes/);
    expect(pkg.rejected[4].problem.field).toBe('invoices[4].open');
    expect(messages[4]).toBe(
      'invoices[4].open() must return a readable stream of the invoice XML; it returned a Buffer (pass it as { xml } instead).',
    );
  });

  it("refuses file inputs naming no file, a directory or a file beyond KSeF's per-invoice size, each on its own", async () => {
    const limits = { maxBytes: 4000, maxBytesWithAttachment: 6000 };
    const large = invoice(3, 40);
    expect(Buffer.byteLength(large)).toBeGreaterThan(6000);
    const [first, big, last] = await invoiceFiles([invoice(1), large, invoice(5)]);
    const missing = join(dirname(first), 'no-such-invoice.xml');
    const directory = join(dirname(first), 'a-folder.xml');
    await mkdir(directory);
    const underAFile = join(first, 'invoice.xml');

    const pkg = await build(
      [{ path: first }, { path: missing }, { path: directory }, { path: big }, { path: underAFile }, { path: last, fileName: 'last.xml' }],
      { limits },
    );

    expect(pkg.entries.map((entry) => [entry.index, entry.fileName, entry.invoiceHash])).toEqual([
      [0, 'invoice-1.xml', sha256(Buffer.from(invoice(1)))],
      [5, 'last.xml', sha256(Buffer.from(invoice(5)))],
    ]);
    expect(pkg.rejected.map((rejection) => [rejection.index, rejection.fileName, rejection.problem.field])).toEqual([
      [1, 'invoice-2.xml', 'invoices[1].path'],
      [2, 'invoice-3.xml', 'invoices[2].path'],
      [3, 'invoice-4.xml', 'invoices[3]'],
      [4, 'invoice-5.xml', 'invoices[4].path'],
    ]);
    for (const rejection of pkg.rejected) expect(rejection.problem).toBeInstanceOf(KsefInputError);
    const messages = pkg.rejected.map((rejection) => rejection.problem.message);
    expect(messages[0]).toBe(`invoices[1].path names no file with the invoice XML: ${missing} (ENOENT).`);
    expect(messages[1]).toBe(`invoices[2].path must name a regular file with the invoice XML; ${directory} is not one.`);
    // Judged from the file's size, so the message gives it exactly.
    expect(messages[2]).toBe(
      `invoices[3] has ${Buffer.byteLength(large)} bytes; KSeF takes at most 4000 bytes per invoice in a batch session (6000 with an attachment). Split it or reduce the attachment.`,
    );
    expect(messages[3]).toBe(`invoices[4].path names no file with the invoice XML: ${underAFile} (ENOTDIR).`);
    const files = await unpacked(await decryptedPackage(pkg, fixedKey), 'Zip');
    expect(files.map((file) => file.content.toString('utf8'))).toEqual([invoice(1), invoice(5)]);
  });

  it('reads a file of any size whole: under, at and over one read of FILE_READ_BYTES, a device refused as no regular file', async () => {
    // Whitespace after the root element pads an invoice to an exact size and keeps it well-formed.
    const sized = (n: number, bytes: number) => {
      const xml = Buffer.from(invoice(n, 100), 'utf8');
      expect(xml.length).toBeLessThan(bytes);
      return Buffer.concat([xml, Buffer.alloc(bytes - xml.length, '\n')]);
    };
    const contents = [
      sized(1, FILE_READ_BYTES - 1),
      sized(2, FILE_READ_BYTES),
      sized(3, FILE_READ_BYTES + 1),
      sized(4, 3 * FILE_READ_BYTES + 17),
      sized(5, 3 * FILE_READ_BYTES),
    ];
    const paths = await invoiceFiles(contents);
    const limits = { maxBytes: 3 * FILE_READ_BYTES + 17, maxBytesWithAttachment: 3 * FILE_READ_BYTES + 17 };
    const pkg = await build([...paths.map((path) => ({ path })), { path: '/dev/zero' }], { limits });

    expect(pkg.entries.map((entry) => [entry.index, entry.invoiceSize, entry.invoiceHash])).toEqual(
      contents.map((content, index) => [index, content.length, sha256(content)]),
    );
    const files = await unpacked(await decryptedPackage(pkg, fixedKey), 'Zip');
    files.forEach((file, n) => expect(file.content.equals(contents[n])).toBe(true));
    expect(pkg.rejected.map((rejection) => [rejection.index, rejection.problem.field, rejection.problem.message])).toEqual([
      [5, 'invoices[5].path', 'invoices[5].path must name a regular file with the invoice XML; /dev/zero is not one.'],
    ]);

    // Over the limit: judged from the size, however much of the file one read took.
    const over = await build(
      paths.map((path) => ({ path })),
      { limits: { maxBytes: FILE_READ_BYTES, maxBytesWithAttachment: FILE_READ_BYTES } },
    );
    expect(over.entries.map((entry) => entry.index)).toEqual([0, 1]);
    expect(over.rejected.map((rejection) => rejection.problem.message.split(';')[0])).toEqual([
      `invoices[2] has ${FILE_READ_BYTES + 1} bytes`,
      `invoices[3] has ${3 * FILE_READ_BYTES + 17} bytes`,
      `invoices[4] has ${3 * FILE_READ_BYTES} bytes`,
    ]);
  });

  it('refuses an invoice given both as its XML and as a file, and a path that is not a non-empty string', async () => {
    const [path] = await invoiceFiles([invoice(1)]);
    const pkg = await build([
      { xml: invoice(2), path } as unknown as InvoiceInput,
      { path: '' },
      { path: 42 } as unknown as InvoiceInput,
      invoice(4),
    ]);
    expect(pkg.entries.map((entry) => entry.index)).toEqual([3]);
    expect(pkg.rejected.map((rejection) => [rejection.index, rejection.problem.field])).toEqual([
      [0, 'invoices[0]'],
      [1, 'invoices[1].path'],
      [2, 'invoices[2].path'],
    ]);
    expect(pkg.rejected[0].problem.message).toBe(
      'invoices[0] gives both xml and path: give the invoice once, as its XML or as the path of its file.',
    );
    expect(pkg.rejected[1].problem.message).toBe('invoices[1].path must be the path of a file holding the invoice XML; got "".');
  });

  it('refuses a named pipe and a path with a NUL byte on their own, without waiting for a writer', async () => {
    const [path] = await invoiceFiles([invoice(1)]);
    const pipe = join(dirname(path), 'a-pipe.xml');
    execFileSync('mkfifo', [pipe]);
    // Opened the usual way, the pipe would hold this thread (and the test) until something wrote to it.
    const pkg = await build([{ path: pipe }, { path: `${path}\0.xml` }, { path }, { xml: invoice(4), path: undefined } as InvoiceInput]);
    expect(pkg.entries.map((entry) => entry.index)).toEqual([2, 3]);
    expect(pkg.rejected.map((rejection) => [rejection.index, rejection.problem.field, rejection.problem.message])).toEqual([
      [0, 'invoices[0].path', `invoices[0].path must name a regular file with the invoice XML; ${pipe} is not one.`],
      [
        1,
        'invoices[1].path',
        `invoices[1].path must be the path of a file holding the invoice XML; got ${JSON.stringify(`${path}\0.xml`)}.`,
      ],
    ]);
  });

  it('reads file inputs again when the package is built again (a resumed batch): the same bytes, and a file changed since counts', async () => {
    const xmls = Array.from({ length: 6 }, (_, n) => invoice(n, 30));
    const paths = await invoiceFiles(xmls);
    const inputs = (): InvoiceInput[] => paths.map((path) => ({ path }));
    for (const compressionType of ['Zip', 'TarGz'] as ArchiveFormat[]) {
      const options = { compressionType, partSizeBytes: 4096 };
      const first = await build(inputs(), options);
      const again = await build(inputs(), { ...options, maxInMemoryBytes: 0 });
      expect(again.fileHash).toBe(first.fileHash);
      expect(again.parts).toEqual(first.parts);
      expect(again.entries).toEqual(first.entries);
      for (const part of first.parts) {
        expect(await collect(again.openPart(part.ordinalNumber))).toEqual(await collect(first.openPart(part.ordinalNumber)));
      }
      expect((await build(xmls, options)).fileHash).toBe(first.fileHash);
    }
    // Nothing of a file is kept between builds: one rewritten since is packed as it is now.
    await writeFile(paths[2], invoice(99, 30));
    const changed = await build(inputs());
    expect(changed.entries[2].invoiceHash).toBe(sha256(await readFile(paths[2])));
    expect(changed.entries[2].invoiceNumber).toBe('FV/2026/BP/99');
    expect(changed.fileHash).not.toBe((await build(xmls)).fileHash);
  });

  it.each<ArchiveFormat>(['Zip', 'TarGz'])('names a stream that fails and removes the spool (%s)', async (compressionType) => {
    const failing = {
      open: () =>
        Readable.from(
          (async function* () {
            yield Buffer.from('<?xml');
            throw new Error('disk gone');
          })(),
        ),
    };
    const error = await build([invoice(1), failing], { compressionType }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KsefError);
    expect((error as KsefError).message).toBe('invoices[1] could not be read: disk gone');
    expect(await readdir(tempDir)).toEqual([]);
  });

  it('refuses duplicate and unsafe file names, naming the invoice', async () => {
    const duplicate = await build([
      { xml: invoice(1), fileName: 'a.xml' },
      { xml: invoice(2), fileName: 'a.xml' },
    ]).catch((e: unknown) => e);
    expect(duplicate).toBeInstanceOf(KsefInputError);
    expect((duplicate as KsefInputError).field).toBe('invoices[1].fileName');
    expect((duplicate as KsefInputError).message).toContain('give every invoice its own file name');
    const unsafe = await build([{ xml: invoice(1), fileName: '../a.xml' }], { compressionType: 'TarGz' }).catch((e: unknown) => e);
    expect((unsafe as KsefInputError).field).toBe('invoices[0].fileName');
    expect(await readdir(tempDir)).toEqual([]);
  });

  it('refuses more invoices than a session takes, and more than 50 parts, telling the fix', async () => {
    const tooMany = await build([invoice(1), invoice(2), invoice(3)], { maxInvoices: 2 }).catch((e: unknown) => e);
    expect(tooMany).toBeInstanceOf(KsefInputError);
    expect((tooMany as KsefInputError).message).toBe(
      'invoices[2] would be invoice 3 of one batch package; a batch session takes at most 2. Send fewer invoices per session (maxInvoicesPerSession).',
    );
    const tooManyParts = await build(
      Array.from({ length: 10 }, (_, n) => invoice(n, 20)),
      { partSizeBytes: 100 },
    ).catch((e: unknown) => e);
    expect(tooManyParts).toBeInstanceOf(KsefInputError);
    expect((tooManyParts as KsefInputError).field).toBe('options.partSizeBytes');
    expect((tooManyParts as KsefInputError).message).toMatch(
      new RegExp(
        `^The batch package needs more than KSeF's 50 parts of 100 bytes \\(\\d+ invoices filled them\\): raise partSizeBytes \\(now 100, at most ${MAX_PART_BYTES}\\)`,
      ),
    );
    const tooManyTarGzParts = await build(
      Array.from({ length: 10 }, (_, n) => invoice(n, 20)),
      { partSizeBytes: 20, compressionType: 'TarGz' },
    ).catch((e: unknown) => e);
    expect((tooManyTarGzParts as KsefInputError).field).toBe('options.partSizeBytes');
    expect(await readdir(tempDir)).toEqual([]);
    await expect(build([invoice(1)], { partSizeBytes: MAX_PART_BYTES + 1 })).rejects.toMatchObject({ field: 'options.partSizeBytes' });
  });

  it('spools to a private directory (0700, parts 0600) and dispose removes it', async () => {
    const pkg = await build([invoice(1), invoice(2)], { partSizeBytes: 2000, maxInMemoryBytes: 0 });
    const [directory] = await readdir(tempDir);
    expect((await stat(join(tempDir, directory))).mode & 0o777).toBe(0o700);
    const files = await readdir(join(tempDir, directory));
    expect(files).toHaveLength(pkg.parts.length);
    for (const file of files) expect((await stat(join(tempDir, directory, file))).mode & 0o777).toBe(0o600);
    await pkg.dispose();
    expect(await readdir(tempDir)).toEqual([]);
    expect(() => pkg.openPart(1)).toThrow(/disposed/);
  });

  it.each<ArchiveFormat>(['Zip', 'TarGz'])(
    "lets the host's event loop run while it reads, checks and compresses invoices (%s)",
    async (compressionType) => {
      // Invoices in memory: nothing of the build waits on I/O, only on the package workers.
      const xmls = Array.from({ length: 1500 }, (_, n) => invoice(n));
      let ticks = 0;
      let longestGapMs = 0;
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        longestGapMs = Math.max(longestGapMs, now - last);
        last = now;
        ticks++;
      }, 1);
      const started = performance.now();
      try {
        await build(xmls, { compressionType });
      } finally {
        clearInterval(timer);
      }
      const buildMs = performance.now() - started;
      // The build takes many of the timer's turns here (the workers pack, this thread assembles and encrypts); the
      // timer must have run all along, not only at the end.
      expect(buildMs).toBeGreaterThan(30);
      expect(ticks).toBeGreaterThan(3);
      expect(longestGapMs).toBeLessThan(buildMs / 2);
    },
  );

  it('lets parts kept in memory go on dispose', async () => {
    const pkg = await build([invoice(1), invoice(2)], { partSizeBytes: 2000 });
    expect(await readdir(tempDir)).toEqual([]);
    await collect(pkg.openPart(1));
    await pkg.dispose();
    expect(() => pkg.openPart(1)).toThrow(/disposed/);
  });
});

describe('inputForWorker', () => {
  it("gives a worker a slice of a larger buffer as a copy of its own bytes, and leaves the caller's buffer as it was", () => {
    const file = Buffer.from(`<a/>${invoice(1)}<b/>`, 'utf8');
    const slice = file.subarray(4, file.length - 4);
    const sentAlone = inputForWorker(slice) as Uint8Array;
    const sentInObject = (inputForWorker({ xml: slice, fileName: 'a.xml', offlineMode: true }) as { xml: Uint8Array; fileName: string })
      .xml;
    for (const sent of [sentAlone, sentInObject]) {
      expect(sent.buffer.byteLength).toBe(slice.length);
      expect(Buffer.from(sent)).toEqual(slice);
    }
    expect(inputForWorker({ xml: slice, fileName: 'a.xml', offlineMode: true })).toMatchObject({ fileName: 'a.xml', offlineMode: true });
    // Not transferred: the caller's buffer still holds everything.
    expect(file.buffer.byteLength).toBeGreaterThanOrEqual(file.length);
    expect(file.toString('utf8')).toBe(`<a/>${invoice(1)}<b/>`);
    // A buffer of its own, text and paths go as they are.
    const own = new Uint8Array(Buffer.from(invoice(2), 'utf8'));
    expect(inputForWorker(own)).toBe(own);
    expect(inputForWorker(invoice(3))).toBe(invoice(3));
    const path = { path: '/tmp/invoice.xml' };
    expect(inputForWorker(path)).toBe(path);
  });
});
