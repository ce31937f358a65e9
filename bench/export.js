#!/usr/bin/env node
/**
 * `npm run bench:export`: how fast the engine downloads, decrypts and unpacks an invoice export, against what this
 * machine can do at best with the same bytes, and how its memory grows with the package.
 *
 * Per run (N = 1,000 and 10,000 received invoices, each as ZIP and as TarGz): a sandbox seeded with N invoices to
 * the demo context (rate limits lifted) runs in a child process of its own; the engine exports them as the buyer
 * (`client.invoices.export`) and reads every invoice of the package (`invoices()`): parts downloaded, hash-checked,
 * AES-256-CBC decrypted, unpacked and every invoice's SHA-256 checked. That read's time gives
 * `downloadDecryptUnpackMBps` (MB of invoice XML, 10^6 bytes, per second).
 *
 * The limits: on the same bytes (the encrypted parts the sandbox served and their key), bare AES-256-CBC decryption
 * and bare inflate (ZIP: each entry's raw deflate stream; TarGz: gunzip of the package): `aesLimitMBps` (encrypted
 * MB per second), `inflateLimitMBps` (unpacked MB per second), and `fractionOfLimit` = (time of those two) / (time
 * of the read). The limits exist to cancel this machine's noise (a shared machine, its load varying from second to
 * second), so they are measured the way the read is and under the same conditions: by the wall clock (CPU time
 * would leave out the other processes that slow the read), right before and right after every read, and the best
 * of all those timings is set against the best of the reads (BENCH_ROUNDS exports, each read to the end). They run
 * in a process of their own, started with the run: the bytes they need (the whole package) must not count in the
 * client's peak RSS.
 *
 * Floors, timed the same way beside the limits: `downloadFloorSeconds`, the parts fetched bare from the sandbox's
 * storage (HTTP GET on 127.0.0.1, bytes counted and dropped), and `archiveLibraryFloorSeconds`, the least use of the
 * maintained archive library on the same package (ZIP: yauzl reading the central directory, no entry's data; TarGz:
 * tar-stream walking the already inflated tar, bodies drained). A reader must have every part, its hash checked,
 * before it gives any invoice (a mismatch is never delivered), so the download does not overlap the unpacking:
 * `floorFractionOfLimit` = (AES + inflate) / (download floor + library floor + AES + inflate) is the fraction a reader
 * doing nothing else would reach; below 0.5, the target cannot be met on this machine with that library.
 *
 * Every run is a fresh client process and `peakRssMB` is its operating-system high-water mark
 * (`process.resourceUsage().maxRSS`), read after the first read: a long-lived process would carry the heap of an
 * earlier (larger) run into the next, and sampling `memoryUsage().rss` misses short peaks between samples.
 * Prints one JSON line per run, plus `seconds` and `cpuSeconds` of the best read (their difference is time spent
 * waiting: network, disk, the thread pool, other processes), `parts` and `packageMB`.
 * Targets: fractionOfLimit >= 0.5; peakRssMB at 10,000 <= 1.3 x that at 1,000.
 *
 * Options: BENCH_SIZES (default "1000,10000"), BENCH_FORMATS (default "Zip,TarGz"), BENCH_ROUNDS (default 3).
 */
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const zlib = require('node:zlib');
const {
  dist,
  unlimitedRateLimits,
  inChild,
  startSandboxProcess,
  serveSandbox,
  bestWallTime,
  decrypt,
  formatLabel,
  round,
} = require('./support');

const sizes = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number);
const formats = (process.env.BENCH_FORMATS ?? 'Zip,TarGz').split(',');
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const MB = 1e6;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The orchestrator: one fresh client process per run, its JSON line printed as it comes. */
async function main() {
  const results = [];
  for (const n of sizes) {
    for (const format of formats) {
      const result = await inChild(__filename, ['run', String(n), format]);
      console.log(JSON.stringify(result));
      results.push(result);
    }
  }
  for (const format of formats) {
    for (const r of results.filter((result) => result.format === formatLabel(format))) {
      const verdict = r.fractionOfLimit >= 0.5 ? 'met' : r.floorFractionOfLimit < 0.5 ? 'out of reach here (floor below 0.5)' : 'missed';
      console.error(
        `${r.format} n=${r.n}: fractionOfLimit ${r.fractionOfLimit} (floor ${r.floorFractionOfLimit}), target >= 0.5 ${verdict}`,
      );
    }
    const small = results.find((r) => r.format === formatLabel(format) && r.n === Math.min(...sizes));
    const large = results.find((r) => r.format === formatLabel(format) && r.n === Math.max(...sizes));
    if (small && large && small !== large) {
      console.error(`${small.format}: peak RSS at ${large.n} is ${(large.peakRssMB / small.peakRssMB).toFixed(2)} x that at ${small.n}`);
    }
  }
}

/** One run, in a fresh process: the sandbox and the limits in children of their own, the engine here. */
async function run(n, format) {
  const { createKsefClient, MemoryTokenStore } = require(path.join(dist, 'shared'));
  const sandbox = await startSandboxProcess(__filename, ['sandbox', String(n)]);
  const limits = await startSandboxProcess(__filename, ['limits', String(n), format]);
  try {
    const client = createKsefClient({
      environment: 'custom',
      baseUrl: sandbox.baseUrl,
      credentials: { method: 'ksefToken', contextIdentifier: sandbox.contextIdentifier, ksefToken: sandbox.ksefToken },
      tokenStore: new MemoryTokenStore(),
    });
    const filters = {
      subjectType: 'Subject2',
      dateRange: { dateType: 'PermanentStorage', from: new Date(Date.now() - sandbox.seededDays * DAY_MS - DAY_MS) },
    };
    let best;
    let peakRssMB;
    let aesSeconds = Infinity;
    let inflateSeconds = Infinity;
    let downloadSeconds = Infinity;
    let librarySeconds = Infinity;
    let limitBytes;
    const timeLimits = async (material) => {
      limitBytes = await limits.ask({ material });
      aesSeconds = Math.min(aesSeconds, limitBytes.aesSeconds);
      inflateSeconds = Math.min(inflateSeconds, limitBytes.inflateSeconds);
      downloadSeconds = Math.min(downloadSeconds, limitBytes.downloadSeconds);
      librarySeconds = Math.min(librarySeconds, limitBytes.librarySeconds);
    };
    for (let round = 0; round < rounds; round++) {
      const exported = await client.invoices.export(filters, { compressionType: format });
      if (exported.package.invoiceCount !== n) {
        throw new Error(
          `The package holds ${exported.package.invoiceCount} invoices, not ${n} (is the sandbox seeding received invoices?)`,
        );
      }
      const material = await sandbox.ask({ exportMaterial: exported.referenceNumber });
      await timeLimits(material);
      const read = await timedRead(exported);
      await timeLimits(material);
      if (read.invoiceCount !== n) throw new Error(`invoices() yielded ${read.invoiceCount} invoices, not ${n}`);
      if (!best || read.seconds < best.seconds) best = read;
      // The first read's high-water mark is a fresh process's: later rounds would add the garbage of the earlier ones.
      peakRssMB ??= process.resourceUsage().maxRSS / 1024;
    }
    return {
      bench: 'export',
      format: formatLabel(format),
      n,
      xmlMB: round(best.xmlBytes / MB),
      downloadDecryptUnpackMBps: round(best.xmlBytes / MB / best.seconds),
      aesLimitMBps: round(limitBytes.encryptedBytes / MB / aesSeconds),
      inflateLimitMBps: round(limitBytes.inflatedBytes / MB / inflateSeconds),
      fractionOfLimit: round((aesSeconds + inflateSeconds) / best.seconds),
      downloadFloorSeconds: round(downloadSeconds),
      archiveLibraryFloorSeconds: round(librarySeconds),
      floorFractionOfLimit: round((aesSeconds + inflateSeconds) / (downloadSeconds + librarySeconds + aesSeconds + inflateSeconds)),
      peakRssMB: round(peakRssMB),
      seconds: round(best.seconds),
      cpuSeconds: round(best.cpuSeconds),
      parts: limitBytes.parts,
      packageMB: round(limitBytes.packageBytes / MB),
    };
  } finally {
    await Promise.all([sandbox.close(), limits.close()]);
  }
}

/** The engine's read of an export's invoices, to the end: wall-clock and CPU seconds, invoices and bytes of XML. */
async function timedRead(exported) {
  let xmlBytes = 0;
  let invoiceCount = 0;
  const started = process.hrtime.bigint();
  const cpuStarted = process.cpuUsage();
  for await (const invoice of exported.invoices()) {
    xmlBytes += invoice.xml.length;
    invoiceCount++;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuStarted);
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, xmlBytes, invoiceCount };
}

/**
 * The limits role: for each export's material (its key and the files of its encrypted parts), the best wall-clock
 * time of bare decryption and of bare inflate on those bytes (the inflate's input prepared apart from the timing).
 */
function limitsRole(format) {
  process.send({ ready: true });
  process.on('message', async ({ close, material }) => {
    if (close) process.exit(0);
    try {
      const encryptedParts = material.partFiles.map((file) => fs.readFileSync(file));
      const key = { key: Buffer.from(material.key, 'base64'), iv: Buffer.from(material.iv, 'base64') };
      const aes = await bestWallTime(() => encryptedParts.map((part) => decrypt(part, key)));
      const archive = Buffer.concat(aes.value);
      const deflated = format === 'Zip' ? await zipDeflatedEntries(archive) : [];
      const inflate =
        format === 'Zip'
          ? await bestWallTime(() =>
              deflated.reduce((sum, { raw, size }) => sum + zlib.inflateRawSync(raw, { chunkSize: outputChunk(size) }).length, 0),
            )
          : await bestWallTime(() => gunzipDiscarding(archive));
      const download = await bestWallTime(() => downloadDiscarding(material.partUrls));
      // The tar is inflated before the timing: the inflate limit counts that.
      const tar = format === 'Zip' ? undefined : zlib.gunzipSync(archive, { chunkSize: GUNZIP_CHUNK_BYTES });
      const library = await bestWallTime(() => (tar ? tarWalk(tar) : zipDirectoryWalk(archive)));
      process.send({
        aesSeconds: aes.seconds,
        inflateSeconds: inflate.seconds,
        downloadSeconds: download.seconds,
        librarySeconds: library.seconds,
        encryptedBytes: encryptedParts.reduce((sum, part) => sum + part.length, 0),
        inflatedBytes: inflate.value,
        packageBytes: archive.length,
        parts: encryptedParts.length,
      });
    } catch (error) {
      process.send({ error: String(error) });
    }
  });
}

/**
 * The limits' inflate at its best: output in few, large buffers (zlib's default is 16 KB ones; the engine too reads
 * in large ones).
 */
const GUNZIP_CHUNK_BYTES = 256 * 1024;
function outputChunk(size) {
  return Math.max(zlib.constants.Z_MIN_CHUNK, size + 1);
}

/**
 * Gunzip of the whole package, its output counted and let go chunk by chunk, as a streaming reader does: gathered
 * into one buffer (`gunzipSync`), the 37 MB tar of 10,000 invoices inflated at 130-210 MB/s, streamed at 1.4-1.6 GB/s
 * (measured here): a limit too low to be one.
 */
function gunzipDiscarding(archive) {
  return new Promise((resolve, reject) => {
    const gunzip = zlib.createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES });
    let bytes = 0;
    gunzip.on('data', (chunk) => (bytes += chunk.length));
    gunzip.on('end', () => resolve(bytes));
    gunzip.on('error', reject);
    gunzip.end(archive);
  });
}

/**
 * The parts fetched from the sandbox's storage as the engine fetches them (plain HTTP GET on 127.0.0.1), their bytes
 * counted and let go: the least any reader spends before it has the package.
 */
async function downloadDiscarding(urls) {
  let bytes = 0;
  for (const url of urls) {
    const response = await new Promise((resolve, reject) => http.get(url, { agent: keepAlive }, resolve).on('error', reject));
    for await (const chunk of response) bytes += chunk.length;
  }
  return bytes;
}
const keepAlive = new http.Agent({ keepAlive: true });

/** yauzl reading the ZIP's central directory, entry by entry, without any entry's data: the least use of the library. */
async function zipDirectoryWalk(archive) {
  const yauzl = require('yauzl');
  const zip = await new Promise((resolve, reject) =>
    yauzl.fromBuffer(archive, { lazyEntries: true, decodeStrings: false }, (error, file) => (error ? reject(error) : resolve(file))),
  );
  let entries = 0;
  await new Promise((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', resolve);
    zip.on('entry', () => {
      entries++;
      zip.readEntry();
    });
    zip.readEntry();
  });
  return entries;
}

/** tar-stream reading the (already inflated) tar, every body drained unread: the least use of the library. */
async function tarWalk(tar) {
  const tarStream = require('tar-stream');
  const extract = tarStream.extract();
  let entries = 0;
  const walked = (async () => {
    for await (const entry of extract) {
      entry.resume();
      entries++;
    }
  })();
  extract.end(tar);
  await walked;
  return entries;
}

/** The raw deflate streams of the ZIP's deflated entries, with their uncompressed sizes. */
async function zipDeflatedEntries(archive) {
  const yauzl = require('yauzl');
  const zip = await new Promise((resolve, reject) =>
    yauzl.fromBuffer(archive, { lazyEntries: true }, (error, file) => (error ? reject(error) : resolve(file))),
  );
  const deflated = [];
  await new Promise((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', resolve);
    zip.on('entry', (entry) => {
      if (entry.compressionMethod !== 8) return zip.readEntry();
      zip.openReadStream(entry, { decompress: false }, (error, stream) => {
        if (error) return reject(error);
        const chunks = [];
        stream.on('data', (chunk) => chunks.push(chunk));
        stream.on('error', reject);
        stream.on('end', () => {
          deflated.push({ raw: Buffer.concat(chunks), size: entry.uncompressedSize });
          zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
  return deflated;
}

/**
 * The sandbox role: seeded with N received invoices (the sandbox dates them over the last 30 days), rate limits lifted. Answers
 * `exportMaterial` with the export's key and the files of its encrypted parts, so the client can time bare
 * decryption and inflate on exactly the bytes it downloaded.
 */
async function sandboxRole(n) {
  const SEEDED_DAYS = 30;
  await serveSandbox(
    { rateLimits: unlimitedRateLimits(), seedReceived: n },
    {
      extra: { seededDays: SEEDED_DAYS },
      answer: (sandbox, message) => {
        const record = sandbox.state.invoiceExports.byReference.get(message.exportMaterial);
        if (!record?.package || !record.symmetricKey) throw new Error(`no built export ${message.exportMaterial}`);
        return {
          key: record.symmetricKey.key.toString('base64'),
          iv: record.symmetricKey.iv.toString('base64'),
          partFiles: record.package.parts.map((part) => sandbox.storage.blob(part.blobPath).file),
          partUrls: record.package.parts.map((part) => sandbox.storage.sign(part.blobPath, new Date(Date.now() + 60 * 60 * 1000))),
        };
      },
    },
  );
}

const [role, n, format] = process.argv.slice(2);
const fail = (error) => {
  console.error(error);
  process.exit(1);
};
if (role === 'run') run(Number(n), format).then((result) => process.send(result, () => process.exit(0)), fail);
else if (role === 'limits') limitsRole(format);
else if (role === 'sandbox') sandboxRole(Number(n)).catch((error) => (process.send({ error: String(error) }), fail(error)));
else main().catch(fail);
