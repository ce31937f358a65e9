#!/usr/bin/env node
/**
 * `npm run bench`: what one online session per execution buys. Sends N demo invoices to a fresh embedded sandbox
 * twice: the baseline sends them one `send` call (one session) per invoice, the way a per-item node would; the
 * engine path sends all N in one `send` call. Both share one authentication. Figures are ratios against the
 * baseline of the same run (machines here are noisy); absolute times are printed for reference only.
 * Options: BENCH_INVOICES (default 30), BENCH_ROUNDS (default 3, the median is reported).
 */
const path = require('node:path');
const { dist, unlimitedRateLimits } = require('./support');
const { startSandbox } = require(path.join(dist, 'sandbox'));
const { buildDemoInvoice } = require(path.join(dist, 'sandbox', 'samples', 'demoInvoice'));
const { createKsefClient } = require(path.join(dist, 'shared'));

const invoiceCount = Number(process.env.BENCH_INVOICES ?? 30);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);

let sequence = 0;
function invoices(count) {
  const run = `${process.pid}-${Date.now()}-${sequence++}`;
  return Array.from({ length: count }, (_, i) => buildDemoInvoice({ invoiceNumber: `BENCH/${run}/${i + 1}` }));
}

async function timed(work) {
  const started = process.hrtime.bigint();
  const result = await work();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, result };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main() {
  const sandbox = await startSandbox({ rateLimits: unlimitedRateLimits() });
  const client = createKsefClient({
    environment: 'custom',
    baseUrl: sandbox.baseUrl,
    credentials: { method: 'ksefToken', contextIdentifier: sandbox.contextIdentifier, ksefToken: sandbox.ksefToken },
  });
  try {
    await client.authenticate();
    await client.sessions.online.send(invoices(2)); // warm-up: keys, schemas, JIT
    const baseline = [];
    const engine = [];
    for (let round = 0; round < rounds; round++) {
      const perInvoice = await timed(async () => {
        const results = [];
        for (const xml of invoices(invoiceCount)) results.push(...(await client.sessions.online.send([xml])).invoices);
        return results;
      });
      const oneSession = await timed(async () => (await client.sessions.online.send(invoices(invoiceCount))).invoices);
      for (const { result } of [perInvoice, oneSession]) {
        const accepted = result.filter((r) => r.accepted).length;
        if (accepted !== invoiceCount) throw new Error(`only ${accepted} of ${invoiceCount} invoices were accepted`);
      }
      baseline.push(perInvoice.ms);
      engine.push(oneSession.ms);
    }
    const baselineMs = median(baseline);
    const engineMs = median(engine);
    console.log(`invoices per run: ${invoiceCount}, rounds: ${rounds} (medians)`);
    console.log(`baseline  one session per invoice : ${baselineMs.toFixed(0)} ms (1.00)`);
    console.log(
      `engine    one session for all     : ${engineMs.toFixed(0)} ms (${(engineMs / baselineMs).toFixed(2)} of baseline, ${(baselineMs / engineMs).toFixed(1)}x faster)`,
    );
  } finally {
    await client.close();
    await sandbox.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
