#!/usr/bin/env node
/**
 * `npm run bench:batch`: how fast the engine sends invoices in a batch session, from input to every KSeF number, how
 * close its package building comes to what this machine can do at best with the same bytes, and how its memory grows
 * with the number of invoices.
 *
 * N realistic, distinct FA(3) invoices (the demo context as seller, each to a buyer of its own, with its own lines,
 * quantities and prices) are written to files, as a caller sending from disk has them: two sets per N, of other
 * numbers, buyers and lines. Per run (N = 100, 1,000 and 10,000, each as ZIP and as TarGz) a fresh client process
 * sends with `client.sessions.batch.send` (file inputs, `{ path }`) to a sandbox in a child process of its own (rate
 * limits lifted, processing delay 0, XSD validation on): first a warm-up send of 20 other invoices (the client
 * authenticated, the sandbox's validation workers started), then the first set (the `cold` figures: this process's
 * first large send, its JIT cold and its package workers fresh), then the second set (the steady figures, of a
 * sender that has sent before: every field without `cold`). The engine's progress gives the phases: `prepareMs` from
 * `packing` until the package is built (its parts known: invoices read and checked, archive, hashes, parts, AES,
 * spool), `openMs` until `uploading` (`POST /sessions/batch`), `uploadMs` until `processing`, `processingMs` until
 * `done` (the sandbox verifies every invoice; statuses and the session UPO read back). `totalMs` is the whole call,
 * `invoicesPerSecond` N per `totalMs`.
 *
 * Then, in the same process and on the same bytes, the three pieces of work a package cannot do without are timed in
 * CPU time on one thread (`cpuTimed`): deflate of the invoices' XML (ZIP: every invoice's raw deflate; TarGz: gzip
 * of the tar), AES-256-CBC and SHA-256 of the package (rebuilt by the engine's package builder, which writes the same
 * archive bytes for the same invoices). `deflateLimitMBps` is MB (10^6 bytes) of invoice XML per second,
 * `aesLimitMBps` and `sha256LimitMBps` MB of package per second, and `prepFractionOfLimit` = (time of those three) /
 * `prepareMs` (`coldPrepFractionOfLimit` the same for the first set). On a busy machine `prepareMs` (wall clock)
 * grows and the limits do not, so the fraction errs low; `prepareCpuMs` is the CPU time of the whole process, all
 * threads, during the preparation, and `prepCpuFractionOfLimit` the limits' time over it, which the machine's load
 * affects far less. `peakRssMB` is the client process's operating-system high-water mark, read right after the first
 * set's send (before the second); `rssBeforeSendMB` and `heapBeforeSendMB` are its RSS and V8 heap (committed, the
 * calling thread's) right before that send, its inputs listed and the warm-up's workers started: what the process
 * held before the engine took the N invoices. An N above 10,000 (KSeF's most per session, e.g. BENCH_SIZES=20000) is
 * sent in several sessions, one after another; the phases are then summed over the sessions. `loadAverage` is the
 * machine's 1-minute load then. `readFloorMs` is the files read bare on one thread (`fs.readFileSync`, the fastest of
 * three, wall clock; 0 for inputs from memory), and `floorFractionOfLimit` = limits' time / (limits' time +
 * `readFloorMs`), the fraction a preparation on one thread that did nothing but read the files and do the three pieces
 * of work would reach.
 *
 * Targets (both formats): prepFractionOfLimit >= 0.5; peakRssMB at 10,000 <= 1.3 x that at 100; 10,000 invoices in
 * totalMs < 60,000. Options: BENCH_SIZES (default "100,1000,10000"), BENCH_FORMATS (default "Zip,TarGz"), BENCH_INPUT
 * ("files", the default: file inputs, `{ path }`; "streams": stream inputs opening the files; "memory": the files'
 * bytes read before the clock starts, so reading them is not measured, and held by the caller throughout, so its
 * peak RSS grows with N).
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const {
  dist,
  unlimitedRateLimits,
  inChild,
  startSandboxProcess,
  serveSandbox,
  cpuTimed,
  bestWallTime,
  encrypt,
  formatLabel,
  round,
} = require('./support');
// The engine's package builder, and its most invoices per package (KSeF's per batch session): a larger N goes in several.
const { buildBatchPackage, MAX_INVOICES_PER_PACKAGE } = require(path.join(dist, 'shared', 'sessions', 'batch', 'package'));

const sizes = (process.env.BENCH_SIZES ?? '100,1000,10000').split(',').map(Number);
const formats = (process.env.BENCH_FORMATS ?? 'Zip,TarGz').split(',');
const inputKind = process.env.BENCH_INPUT ?? 'files';
const MB = 1e6;
/** Bytes in a MiB: `rssBeforeSendMB` and `heapBeforeSendMB` in the unit of `peakRssMB` (`maxRSS` is in KiB). */
const MIB = 1024 * 1024;
const TARGET_FRACTION = 0.5;
const TARGET_RSS_GROWTH = 1.3;
const TARGET_TOTAL_MS = 60_000;
/** Invoices of the warm-up send that precedes every measured one. */
const WARM_UP_INVOICES = 20;

/** The orchestrator: the invoices written once per N, one fresh client process per run, its JSON line printed as it comes. */
async function main() {
  const results = [];
  const warmUpFolder = writeInvoiceFiles(WARM_UP_INVOICES, 'WU', WARM_UP_INVOICES);
  try {
    for (const n of sizes) {
      const folder = writeInvoiceFiles(n, 'FV', n);
      const steadyFolder = writeInvoiceFiles(n, 'FW', n + 1);
      try {
        for (const format of formats) {
          const result = await inChild(__filename, ['run', String(n), format, folder, warmUpFolder, steadyFolder]);
          console.log(JSON.stringify(result));
          results.push(result);
        }
      } finally {
        for (const written of [folder, steadyFolder]) fs.rmSync(written, { recursive: true, force: true });
      }
    }
  } finally {
    fs.rmSync(warmUpFolder, { recursive: true, force: true });
  }
  for (const format of formats.map(formatLabel)) {
    const runs = results.filter((r) => r.format === format);
    const lowFractions = runs.filter((r) => r.prepFractionOfLimit < TARGET_FRACTION).map((r) => r.n);
    const outOfReach = runs.filter((r) => r.floorFractionOfLimit < TARGET_FRACTION).map((r) => r.n);
    console.error(
      `${format}: prepFractionOfLimit >= ${TARGET_FRACTION} ${lowFractions.length ? `missed at N = ${lowFractions.join(', ')}` : 'met'}` +
        (outOfReach.length ? ` (at N = ${outOfReach.join(', ')} reading the inputs on one thread alone takes more than the budget)` : ''),
    );
    const small = runs.find((r) => r.n === Math.min(...sizes));
    const large = runs.find((r) => r.n === Math.max(...sizes));
    if (small && large && small !== large) {
      const growth = large.peakRssMB / small.peakRssMB;
      console.error(`${format}: peak RSS at ${large.n} is ${growth.toFixed(2)} x that at ${small.n} (target <= ${TARGET_RSS_GROWTH})`);
    }
    const tenThousand = runs.find((r) => r.n === 10_000);
    if (tenThousand)
      console.error(`${format}: 10,000 invoices in ${(tenThousand.totalMs / 1000).toFixed(1)} s (target < ${TARGET_TOTAL_MS / 1000} s)`);
  }
}

/**
 * One run, in a fresh process: the sandbox in a child of its own, the engine here. A warm-up send, the first send of
 * N invoices (`cold`, and the peak RSS), then a second send of N other invoices (the steady figures).
 */
async function run(n, format, folder, warmUpFolder, steadyFolder) {
  const { createKsefClient, MemoryTokenStore } = require(path.join(dist, 'shared'));
  const coldFiles = invoiceFiles(folder);
  const steadyFiles = invoiceFiles(steadyFolder);
  for (const files of [coldFiles, steadyFiles])
    if (files.length !== n) throw new Error(`a folder holds ${files.length} invoices, not ${n}`);
  // Read before the clock starts when the invoices are given from memory.
  const inputsOf = (files) => (inputKind === 'memory' ? files.map((file) => fs.readFileSync(file)) : fileInputs(files));
  const sandbox = await startSandboxProcess(__filename, ['sandbox']);
  try {
    if (!sandbox.officialSchemas)
      throw new Error('The sandbox validates with the official XSDs: set KSEF_SPEC_DIR to the folder containing ksef-docs/.');
    const client = createKsefClient({
      environment: 'custom',
      baseUrl: sandbox.baseUrl,
      credentials: { method: 'ksefToken', contextIdentifier: sandbox.contextIdentifier, ksefToken: sandbox.ksefToken },
      tokenStore: new MemoryTokenStore(),
    });
    const send = async (inputs) => {
      const phases = new PhaseClock();
      const started = process.hrtime.bigint();
      const result = await client.sessions.batch.send(inputs, { compressionType: format, onProgress: (progress) => phases.see(progress) });
      const totalMs = Number(process.hrtime.bigint() - started) / 1e6;
      const failed = result.invoices.filter((invoice) => !invoice.ksefNumber);
      if (failed.length > 0) throw new Error(`${failed.length} invoices have no KSeF number, e.g. ${JSON.stringify(failed[0])}`);
      const sessions = Math.ceil(inputs.length / MAX_INVOICES_PER_PACKAGE);
      if (result.sessions.length !== sessions)
        throw new Error(`${inputs.length} invoices went in ${result.sessions.length} sessions, not ${sessions}`);
      return { phases, totalMs };
    };

    // Authentication and the sandbox's validation workers started, as they are for a steady sender.
    await send(fileInputs(invoiceFiles(warmUpFolder)));
    const coldInputs = inputsOf(coldFiles);
    // What the process holds before the engine sends: its modules, the warm-up's workers, the caller's inputs.
    const before = process.memoryUsage();
    const cold = await send(coldInputs);
    const peakRssMB = process.resourceUsage().maxRSS / 1024;
    const steadyInputs = inputsOf(steadyFiles);
    const steady = await send(steadyInputs);
    const loadAverage = os.loadavg()[0];

    const coldLimit = await limitsOf(coldFiles, coldInputs, format);
    const limit = await limitsOf(steadyFiles, steadyInputs, format);
    const prepareMs = steady.phases.prepareMs();
    // Inputs given from memory cost nothing to read; files cost at least one bare read each.
    // By the wall clock: reading goes through the kernel (page cache, file system), which this process's CPU time leaves out.
    const readFloorMs =
      inputKind === 'memory' ? 0 : (await bestWallTime(() => steadyFiles.forEach((file) => fs.readFileSync(file)))).seconds * 1000;

    return {
      bench: 'batch',
      format: formatLabel(format),
      n,
      xmlMB: round(limit.xmlBytes / MB),
      prepareMs: round(prepareMs),
      uploadMs: round(steady.phases.between('uploading', 'processing')),
      processingMs: round(steady.phases.between('processing', 'done')),
      totalMs: round(steady.totalMs),
      invoicesPerSecond: round(n / (steady.totalMs / 1000)),
      deflateLimitMBps: round(limit.xmlBytes / MB / limit.deflate.seconds),
      aesLimitMBps: round(limit.packageBytes / MB / limit.aes.seconds),
      sha256LimitMBps: round(limit.packageBytes / MB / limit.sha256.seconds),
      prepFractionOfLimit: round(limit.ms / prepareMs),
      peakRssMB: round(peakRssMB),
      rssBeforeSendMB: round(before.rss / MIB),
      heapBeforeSendMB: round(before.heapTotal / MIB),
      coldPrepareMs: round(cold.phases.prepareMs()),
      coldPrepFractionOfLimit: round(coldLimit.ms / cold.phases.prepareMs()),
      coldTotalMs: round(cold.totalMs),
      readFloorMs: round(readFloorMs),
      floorFractionOfLimit: round(limit.ms / (limit.ms + readFloorMs)),
      openMs: round(steady.phases.openMs()),
      prepareCpuMs: round(steady.phases.prepareCpuMs),
      prepCpuFractionOfLimit: round(limit.ms / steady.phases.prepareCpuMs),
      input: inputKind,
      packageMB: round(limit.packageBytes / MB),
      parts: limit.parts,
      loadAverage: round(loadAverage),
    };
  } finally {
    await sandbox.close();
  }
}

/**
 * The three pieces of work a package of these invoices cannot do without, timed in CPU time on one thread: deflate
 * (ZIP: every invoice's raw deflate; TarGz: gzip of the tar), AES-256-CBC and SHA-256 of the package, rebuilt by the
 * engine's package builder (the same invoices give the same archive bytes).
 */
async function limitsOf(files, inputs, format) {
  const xmls = files.map((file) => fs.readFileSync(file));
  const xmlBytes = xmls.reduce((sum, xml) => sum + xml.length, 0);
  const { plainParts, key } = await rebuiltPackage(inputs, format);
  const packageBytes = Buffer.concat(plainParts);
  const deflate = format === 'Zip' ? deflateEachLimit(xmls) : gzipLimit(packageBytes);
  const aes = cpuTimed(() => plainParts.forEach((part) => encrypt(part, key)));
  const sha256 = cpuTimed(() => crypto.createHash('sha256').update(packageBytes).digest());
  const ms = (deflate.seconds + aes.seconds + sha256.seconds) * 1000;
  return { xmlBytes, packageBytes: packageBytes.length, parts: plainParts.length, deflate, aes, sha256, ms };
}

/**
 * When the engine's progress changed phase, per session (a send of more than 10,000 invoices goes in several, one
 * after another). A package is built when its parts are known (the session's first report with `parts`), before the
 * session opens; `packing` to that is its preparation. Each phase's time is summed over the sessions.
 */
class PhaseClock {
  constructor() {
    /** By session: when each phase began, and `packed`. */
    this.sessions = new Map();
    this.prepareCpuMs = 0;
  }

  see(progress) {
    const now = Number(process.hrtime.bigint()) / 1e6;
    let at = this.sessions.get(progress.session);
    if (!at) this.sessions.set(progress.session, (at = {}));
    if (at[progress.phase] === undefined) {
      at[progress.phase] = now;
      if (progress.phase === 'packing') this.cpuAtPacking = process.cpuUsage();
    }
    if (progress.parts > 0 && at.packed === undefined) {
      at.packed = now;
      const cpu = process.cpuUsage(this.cpuAtPacking);
      this.prepareCpuMs += (cpu.user + cpu.system) / 1000;
    }
  }

  prepareMs() {
    return this.between('packing', 'packed');
  }

  openMs() {
    return this.between('packed', 'uploading');
  }

  between(from, to) {
    let sum = 0;
    for (const [session, at] of this.sessions) {
      if (at[from] === undefined || at[to] === undefined)
        throw new Error(`the engine reported no ${from} -> ${to} progress in session ${session}`);
      sum += at[to] - at[from];
    }
    return sum;
  }
}

/**
 * The packages the engine sent (one per session of at most 10,000 invoices), built again with a key of our own (the
 * same invoices give the same archive bytes), as plain parts.
 */
async function rebuiltPackage(inputs, format) {
  const key = { key: crypto.randomBytes(32), iv: crypto.randomBytes(16) };
  const plainParts = [];
  for (let first = 0; first < inputs.length; first += MAX_INVOICES_PER_PACKAGE) {
    const pkg = await buildBatchPackage(
      inputs.slice(first, first + MAX_INVOICES_PER_PACKAGE).map((input, index) => ({ index: first + index, input })),
      { key, compressionType: format },
    );
    try {
      for (const part of pkg.parts) {
        const chunks = [];
        for await (const chunk of pkg.openPart(part.ordinalNumber)) chunks.push(chunk);
        const decipher = crypto.createDecipheriv('aes-256-cbc', key.key, key.iv);
        plainParts.push(Buffer.concat([decipher.update(Buffer.concat(chunks)), decipher.final()]));
      }
    } finally {
      await pkg.dispose();
    }
  }
  return { plainParts, key };
}

/**
 * ZIP: every invoice deflated on its own, the faster of zlib's one-shot call (a zlib stream made per invoice) and one
 * stream reset between invoices (minizlib, as the engine deflates): the limit must not be slower than the engine's way.
 */
function deflateEachLimit(xmls) {
  const level = compressionLevel();
  const oneShot = cpuTimed(() => xmls.forEach((xml) => zlib.deflateRawSync(xml, { level })));
  const { DeflateRaw } = require('minizlib');
  const stream = new DeflateRaw({ level });
  stream.on('data', () => undefined);
  const reused = cpuTimed(() =>
    xmls.forEach((xml) => {
      stream.write(xml);
      stream.flush(zlib.constants.Z_FINISH);
      stream.reset();
    }),
  );
  stream.close();
  return oneShot.seconds <= reused.seconds ? oneShot : reused;
}

/** TarGz: the package's tar, gzipped again at the engine's level. */
function gzipLimit(packageBytes) {
  const tar = zlib.gunzipSync(packageBytes);
  return cpuTimed(() => zlib.gzipSync(tar, { level: compressionLevel() }));
}

function compressionLevel() {
  return require(path.join(dist, 'shared', 'protocol', 'archive', 'write')).ARCHIVE_COMPRESSION_LEVEL;
}

/** The sandbox role: rate limits lifted, processing without delay, invoices verified against the official XSDs. */
async function sandboxRole() {
  await serveSandbox({ rateLimits: unlimitedRateLimits(), processingDelayMs: 0 });
}

// ---- The invoices: the demo context sells office services and supplies to many buyers ----

const SELLER_ADDRESS = { street: 'ul. Przykładowa 1', city: '00-001 Warszawa' };
const CATALOGUE = [
  { name: 'Papier do drukarki A4 80 g (ryza)', unit: 'szt.', unitPrice: 2_199, vatRate: 23 },
  { name: 'Toner do drukarki laserowej, czarny', unit: 'szt.', unitPrice: 31_900, vatRate: 23 },
  { name: 'Segregator A4 75 mm', unit: 'szt.', unitPrice: 1_150, vatRate: 23 },
  { name: 'Serwis kserokopiarki – wizyta', unit: 'usł.', unitPrice: 24_000, vatRate: 23 },
  { name: 'Abonament na obsługę informatyczną', unit: 'mies.', unitPrice: 89_000, vatRate: 23 },
  { name: 'Kawa ziarnista 1 kg', unit: 'szt.', unitPrice: 6_490, vatRate: 5 },
  { name: 'Ciastka kruche 500 g', unit: 'szt.', unitPrice: 1_450, vatRate: 8 },
  { name: 'Prenumerata miesięcznika branżowego (rok)', unit: 'szt.', unitPrice: 42_000, vatRate: 8 },
  { name: 'Książka „Podatek VAT w praktyce 2026”', unit: 'szt.', unitPrice: 13_900, vatRate: 5 },
  { name: 'Szkolenie online: e-faktury w KSeF', unit: 'usł.', unitPrice: 59_000, vatRate: 23 },
];
const BUYER_NAMES = [
  'Piekarnia',
  'Kancelaria',
  'Apteka',
  'Warsztat',
  'Hurtownia',
  'Biuro Rachunkowe',
  'Drukarnia',
  'Przychodnia',
  'Księgarnia',
];
const BUYER_SURNAMES = ['Nowak', 'Kowalski', 'Wiśniewska', 'Wójcik', 'Kamińska', 'Lewandowski', 'Zielińska', 'Szymański', 'Dąbrowska'];
const BUYER_FORMS = ['sp. z o.o.', 's.c.', 'sp. j.', 'S.A.', ''];
const CITIES = ['00-950 Warszawa', '30-001 Kraków', '50-001 Wrocław', '60-001 Poznań', '80-001 Gdańsk', '90-001 Łódź', '20-001 Lublin'];
const STREETS = ['ul. Lipowa', 'ul. Polna', 'ul. Leśna', 'ul. Słoneczna', 'ul. Krótka', 'ul. Szkolna', 'al. Niepodległości'];

/** Writes N distinct invoices, numbered in `series`, to files of a new temporary folder; returns the folder. `seed` picks their buyers and lines. */
function writeInvoiceFiles(n, series, seed) {
  const { buildReceivedInvoiceXml } = require(path.join(dist, 'sandbox', 'samples', 'receivedInvoices'));
  const { DEFAULT_SANDBOX_NIP } = require(path.join(dist, 'sandbox'));
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-bench-batch-'));
  // Yesterday: a date KSeF takes whatever the time of day.
  const issueDate = new Date(Date.now() - 24 * 60 * 60 * 1000).toISOString().slice(0, 10);
  const seller = { nip: DEFAULT_SANDBOX_NIP, name: 'Demo Sp. z o.o.', ...SELLER_ADDRESS };
  const random = mulberry32(seed);
  const pick = (list) => list[Math.floor(random() * list.length)];
  for (let i = 0; i < n; i++) {
    const buyer = {
      nip: nipOf(i),
      name: `${pick(BUYER_NAMES)} ${pick(BUYER_SURNAMES)} ${pick(BUYER_FORMS)}`.trim(),
      street: `${pick(STREETS)} ${1 + Math.floor(random() * 120)}`,
      city: pick(CITIES),
    };
    const lines = Array.from({ length: 1 + Math.floor(random() * 6) }, () => {
      const item = pick(CATALOGUE);
      return { ...item, quantity: 1 + Math.floor(random() * 25), unitPrice: Math.round(item.unitPrice * (0.8 + random() * 0.4)) };
    });
    const xml = buildReceivedInvoiceXml({
      seller,
      buyer,
      invoiceNumber: `${series}/${issueDate.slice(0, 4)}/${i + 1}`,
      issueDate,
      currency: 'PLN',
      lines,
      paymentDays: random() < 0.5 ? 14 : 30,
    });
    fs.writeFileSync(path.join(folder, invoiceFileName(i)), xml);
  }
  return folder;
}

/** The files as inputs, as a caller sending from disk gives them: their paths, or (BENCH_INPUT=streams) streams opening them. */
function fileInputs(files) {
  return inputKind === 'streams' ? files.map((file) => ({ open: () => fs.createReadStream(file) })) : files.map((path) => ({ path }));
}

function invoiceFiles(folder) {
  return fs
    .readdirSync(folder)
    .sort()
    .map((name) => path.join(folder, name));
}

function invoiceFileName(i) {
  return `invoice-${String(i + 1).padStart(6, '0')}.xml`;
}

/** A NIP of its own for every buyer: FA(3)'s pattern (no 0 in the 2nd and 3rd digit both) and a valid check digit (weights 6 5 7 2 3 4 5 6 7, mod 11; 10 is skipped). */
function nipOf(i) {
  const WEIGHTS = [6, 5, 7, 2, 3, 4, 5, 6, 7];
  for (let candidate = 521_000_000 + i * 11; ; candidate++) {
    const digits = String(candidate).split('').map(Number);
    const check = digits.reduce((sum, digit, k) => sum + digit * WEIGHTS[k], 0) % 11;
    if (check !== 10) return `${candidate}${check}`;
  }
}

/** A small seeded generator: the same N gives the same invoices on every run. */
function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const [role, n, format, folder, warmUpFolder, steadyFolder] = process.argv.slice(2);
const fail = (error) => {
  console.error(error);
  process.exit(1);
};
if (role === 'run')
  run(Number(n), format, folder, warmUpFolder, steadyFolder).then((result) => process.send(result, () => process.exit(0)), fail);
else if (role === 'sandbox') sandboxRole().catch((error) => (process.send({ error: String(error) }), fail(error)));
else main().catch(fail);
