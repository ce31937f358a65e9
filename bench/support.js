/**
 * What the benchmarks share: they measure our code and the machine, so the sandbox's rate limits are lifted; each run
 * is a fresh client process (`inChild`) with the sandbox in a child process of its own (`startSandboxProcess`,
 * `serveSandbox`), so the client's peak RSS is its own; limits are measured in CPU time (`cpuTimed`) or, set against
 * wall-clock reads or for work that waits on the kernel, by the wall clock (`bestWallTime`).
 */
const { fork } = require('node:child_process');
const crypto = require('node:crypto');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
const { PUBLISHED_RATE_LIMITS } = require(path.join(dist, 'shared', 'protocol', 'model', 'rateLimits'));

const UNLIMITED = { perSecond: 1e6, perMinute: 1e7, perHour: 1e8 };
const LIMIT_MIN_ROUNDS = 3;
const LIMIT_MIN_CPU_SECONDS = 0.5;

/** Every KSeF rate-limit group lifted (the engine reads them back from `GET /rate-limits` and paces by them). */
function unlimitedRateLimits() {
  return Object.fromEntries(Object.keys(PUBLISHED_RATE_LIMITS).map((group) => [group, UNLIMITED]));
}

/** Runs `script` with `args` in a child process; resolves with the message it sends. */
function inChild(script, args) {
  return new Promise((resolve, reject) => {
    const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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

/**
 * Starts `script` with `args` in a child process that runs `serveSandbox`; resolves with what it reported when ready,
 * plus `ask` (sends it a request, resolves with its answer) and `close`.
 */
async function startSandboxProcess(script, args) {
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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
 * The sandbox role of a process started by `startSandboxProcess`: starts the sandbox with `options`, reports where it
 * listens (with `extra`), then answers every request with `answer(sandbox, request)` until told to close.
 */
async function serveSandbox(options, { extra = {}, answer } = {}) {
  const { startSandbox } = require(path.join(dist, 'sandbox'));
  const sandbox = await startSandbox(options);
  process.send({
    baseUrl: sandbox.baseUrl,
    contextIdentifier: sandbox.contextIdentifier,
    ksefToken: sandbox.ksefToken,
    officialSchemas: sandbox.officialSchemas,
    ...extra,
  });
  process.on('message', async (message) => {
    if (message.close) {
      await sandbox.close();
      process.exit(0);
    }
    try {
      if (!answer) throw new Error(`this sandbox takes no requests: ${JSON.stringify(message)}`);
      process.send(await answer(sandbox, message));
    } catch (error) {
      process.send({ error: String(error) });
    }
  });
}

/**
 * The CPU time of one round of `work`, with its value: one warm-up round (fresh memory pages, JIT), then rounds until
 * at least LIMIT_MIN_ROUNDS and LIMIT_MIN_CPU_SECONDS, averaged, since the clock of CPU time is coarse next to a small
 * package's few milliseconds. The work is synchronous on this thread, so its CPU time is its cost: on a machine
 * shared with other processes the wall clock would measure them too. (The engine is timed by the wall clock: it
 * waits on the network and the disk.)
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

/**
 * The fastest of three wall-clock timings of `work` (which may return a promise) after one untimed run (fresh memory
 * pages, JIT), with its value: for work that waits on the kernel or the network, or that must be set against a read
 * timed by the wall clock on a machine whose load varies; three timings find a quiet moment of a busy machine.
 */
async function bestWallTime(work) {
  const value = await work();
  let seconds = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const started = process.hrtime.bigint();
    await work();
    seconds = Math.min(seconds, Number(process.hrtime.bigint() - started) / 1e9);
  }
  return { seconds, value };
}

/** AES-256-CBC/PKCS#7, as KSeF encrypts invoices, packages and their parts. */
function encrypt(plain, { key, iv }) {
  const cipher = crypto.createCipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([cipher.update(plain), cipher.final()]);
}

function decrypt(encrypted, { key, iv }) {
  const decipher = crypto.createDecipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([decipher.update(encrypted), decipher.final()]);
}

/** The benchmarks' name of a `compressionType`. */
function formatLabel(format) {
  return format === 'Zip' ? 'zip' : 'tar.gz';
}

function round(value) {
  return Number(value.toFixed(value >= 10 ? 1 : 3));
}

module.exports = {
  dist,
  unlimitedRateLimits,
  inChild,
  startSandboxProcess,
  serveSandbox,
  cpuTimed,
  bestWallTime,
  encrypt,
  decrypt,
  formatLabel,
  round,
};
