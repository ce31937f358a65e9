#!/usr/bin/env node
/**
 * `npm run bench:export`: how fast the engine downloads, decrypts and unpacks an invoice export, against what this
 * machine can do at best with the same bytes, and how its memory grows with the package.
 *
 * Per run (N = 1,000 and 10,000 received invoices, each as ZIP and as TarGz): a sandbox seeded with N invoices to
 * the demo context (rate limits lifted) runs in a child process of its own; the engine exports them as the buyer
 * (`client.invoices.export`) and reads every invoice of the package (`invoices()`): parts downloaded, hash-checked,
 * AES-256-CBC decrypted and unpacked. That read's time gives `downloadDecryptUnpackMBps` (MB of invoice XML, 10^6
 * bytes, per second). Then, in the same process and on the same bytes (the encrypted parts the sandbox served and
 * their key, handed over by the sandbox process), bare AES-256-CBC decryption and bare inflate (ZIP: each entry's
 * raw deflate stream; TarGz: gunzip of the package) are timed in CPU time, after a warm-up round, over enough rounds
 * to be measurable: `aesLimitMBps` (encrypted MB per second), `inflateLimitMBps` (unpacked MB per second), and
 * `fractionOfLimit` = (time of those two) / (measured time). On a busy machine the measured (wall-clock) time grows
 * and the limits do not, so the fraction errs low. Prints one JSON line per run, plus `seconds` and `cpuSeconds` of
 * the read (their difference is time spent waiting: network, disk, the thread pool, other processes), `parts` and
 * `packageMB`.
 *
 * Every run is a fresh client process and `peakRssMB` is its operating-system high-water mark
 * (`process.resourceUsage().maxRSS`), read right after the download: a long-lived process would carry the heap of
 * an earlier (larger) run into the next, and sampling `memoryUsage().rss` misses short peaks between samples.
 * Targets: fractionOfLimit >= 0.5; peakRssMB at 10,000 <= 1.3 x that at 1,000.
 *
 * Options: BENCH_SIZES (default "1000,10000"), BENCH_FORMATS (default "Zip,TarGz").
 */
const { fork } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { dist, unlimitedRateLimits } = require('./support');

const sizes = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number);
const formats = (process.env.BENCH_FORMATS ?? 'Zip,TarGz').split(',');
const MB = 1e6;
const LIMIT_MIN_ROUNDS = 3;
const LIMIT_MIN_CPU_SECONDS = 0.5;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The orchestrator: one fresh client process per run, its JSON line printed as it comes. */
async function main() {
  const results = [];
  for (const n of sizes) {
    for (const format of formats) {
      const result = await inChild(['run', String(n), format]);
      console.log(JSON.stringify(result));
      results.push(result);
    }
  }
  for (const format of formats) {
    const small = results.find((r) => r.format === formatLabel(format) && r.n === Math.min(...sizes));
    const large = results.find((r) => r.format === formatLabel(format) && r.n === Math.max(...sizes));
    if (small && large && small !== large) {
      console.error(`${small.format}: peak RSS at ${large.n} is ${(large.peakRssMB / small.peakRssMB).toFixed(2)} x that at ${small.n}`);
    }
  }
}

/** Runs this file with `args` in a child process; resolves with the message it sends. */
function inChild(args) {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let answered = false;
    child.on('message', (message) => {
      answered = true;
      resolve(message);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (!answered) reject(new Error(`bench child ${args.join(' ')} exited with ${code} before reporting`));
    });
  });
}

/** One run, in a fresh process: the sandbox in a child of its own, the engine here. */
async function run(n, format) {
  const { createKsefClient, MemoryTokenStore } = require(path.join(dist, 'shared'));
  const sandbox = await startSandboxProcess(n);
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
    const exported = await client.invoices.export(filters, { compressionType: format });
    if (exported.package.invoiceCount !== n) {
      throw new Error(`The package holds ${exported.package.invoiceCount} invoices, not ${n} (is the sandbox seeding received invoices?)`);
    }

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
    const peakRssMB = process.resourceUsage().maxRSS / 1024;
    if (invoiceCount !== n) throw new Error(`invoices() yielded ${invoiceCount} invoices, not ${n}`);

    const material = await sandbox.ask({ exportMaterial: exported.referenceNumber });
    const encryptedParts = material.partFiles.map((file) => fs.readFileSync(file));
    const key = { key: Buffer.from(material.key, 'base64'), iv: Buffer.from(material.iv, 'base64') };
    const aes = cpuTimed(() => encryptedParts.map((part) => decrypt(part, key)));
    const archive = Buffer.concat(aes.value);
    const inflate = format === 'Zip' ? await zipInflateLimit(archive) : cpuTimed(() => zlib.gunzipSync(archive));
    const inflatedBytes = format === 'Zip' ? inflate.inflatedBytes : inflate.value.length;
    const encryptedBytes = encryptedParts.reduce((sum, part) => sum + part.length, 0);

    return {
      bench: 'export',
      format: formatLabel(format),
      n,
      xmlMB: round(xmlBytes / MB),
      downloadDecryptUnpackMBps: round(xmlBytes / MB / seconds),
      aesLimitMBps: round(encryptedBytes / MB / aes.seconds),
      inflateLimitMBps: round(inflatedBytes / MB / inflate.seconds),
      fractionOfLimit: round((aes.seconds + inflate.seconds) / seconds),
      peakRssMB: round(peakRssMB),
      seconds: round(seconds),
      cpuSeconds: round((cpu.user + cpu.system) / 1e6),
      parts: encryptedParts.length,
      packageMB: round(archive.length / MB),
    };
  } finally {
    await sandbox.close();
  }
}

function decrypt(encrypted, { key, iv }) {
  const decipher = crypto.createDecipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([decipher.update(encrypted), decipher.final()]);
}

/** The ZIP's entries' raw deflate streams (read apart from the timing), then the best time to inflate all of them. */
async function zipInflateLimit(archive) {
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
          deflated.push(Buffer.concat(chunks));
          zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
  const timed = cpuTimed(() => deflated.reduce((sum, raw) => sum + zlib.inflateRawSync(raw).length, 0));
  return { seconds: timed.seconds, inflatedBytes: timed.value };
}

/**
 * The CPU time of one round of `work`, with its value: one warm-up round (fresh memory pages, JIT), then rounds until
 * at least LIMIT_MIN_ROUNDS and LIMIT_MIN_CPU_SECONDS, averaged, since the clock of CPU time is coarse next to a small
 * package's few milliseconds. The work is synchronous on this thread, so its CPU time is its cost: on a machine
 * shared with other processes the wall clock would measure them too. (The engine's read is timed by the wall clock:
 * it waits on the network and the disk.)
 */
function cpuTimed(work) {
  const value = work();
  const started = process.cpuUsage();
  let rounds = 0;
  let seconds = 0;
  while (rounds < LIMIT_MIN_ROUNDS || seconds < LIMIT_MIN_CPU_SECONDS) {
    work();
    rounds++;
    const { user, system } = process.cpuUsage(started);
    seconds = (user + system) / 1e6;
  }
  return { seconds: seconds / rounds, value };
}

/** Starts the sandbox role in a child process; `ask` sends it a request and resolves with its answer. */
async function startSandboxProcess(n) {
  const child = fork(__filename, ['sandbox', String(n)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const answers = [];
  const waiting = [];
  child.on('message', (message) => (waiting.length > 0 ? waiting.shift().resolve(message) : answers.push(message)));
  child.on('exit', (code) => {
    for (const pending of waiting.splice(0)) pending.reject(new Error(`the sandbox process exited with ${code}`));
  });
  const next = () =>
    answers.length > 0 ? Promise.resolve(answers.shift()) : new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  const ready = await next();
  if (ready.error) throw new Error(`the sandbox process failed: ${ready.error}`);
  return {
    ...ready,
    ask: async (request) => {
      child.send(request);
      const answer = await next();
      if (answer.error) throw new Error(`the sandbox process failed: ${answer.error}`);
      return answer;
    },
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.send({ close: true });
      }),
  };
}

/**
 * The sandbox role: seeded with N received invoices (the sandbox dates them over the last 30 days), rate limits lifted. Answers
 * `exportMaterial` with the export's key and the files of its encrypted parts, so the client can time bare
 * decryption and inflate on exactly the bytes it downloaded.
 */
async function sandboxRole(n) {
  const SEEDED_DAYS = 30;
  const { startSandbox } = require(path.join(dist, 'sandbox'));
  const sandbox = await startSandbox({
    rateLimits: unlimitedRateLimits(),
    seedReceived: n,
  });
  process.send({
    baseUrl: sandbox.baseUrl,
    contextIdentifier: sandbox.contextIdentifier,
    ksefToken: sandbox.ksefToken,
    seededDays: SEEDED_DAYS,
  });
  process.on('message', async (message) => {
    if (message.close) {
      await sandbox.close();
      process.exit(0);
    }
    try {
      const record = sandbox.state.invoiceExports.byReference.get(message.exportMaterial);
      if (!record?.package || !record.symmetricKey) throw new Error(`no built export ${message.exportMaterial}`);
      process.send({
        key: record.symmetricKey.key.toString('base64'),
        iv: record.symmetricKey.iv.toString('base64'),
        partFiles: record.package.parts.map((part) => sandbox.storage.blob(part.blobPath).file),
      });
    } catch (error) {
      process.send({ error: String(error) });
    }
  });
}

function formatLabel(format) {
  return format === 'Zip' ? 'zip' : 'tar.gz';
}

function round(value) {
  return Number(value.toFixed(value >= 10 ? 1 : 3));
}

const [role, n, format] = process.argv.slice(2);
const fail = (error) => {
  console.error(error);
  process.exit(1);
};
if (role === 'run') run(Number(n), format).then((result) => process.send(result, () => process.exit(0)), fail);
else if (role === 'sandbox') sandboxRole(Number(n)).catch((error) => (process.send({ error: String(error) }), fail(error)));
else main().catch(fail);
