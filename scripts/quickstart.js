#!/usr/bin/env node
/**
 * `npm start`: a real Node-RED (the devDependency) at http://127.0.0.1:1880 with this package and the example flow
 * "Send demo invoices". Once the flows run, this script presses the flow's inject button (as a user would in the
 * editor), so two demo invoices go to the embedded KSeF sandbox; their KSeF numbers are printed here. Then the
 * other half, downloading: a sandbox of this process, seeded with a few invoices other sellers issued to the demo
 * company, and one incremental sync run of the engine as their buyer, printing each received invoice. Runs until
 * Ctrl+C. Set PORT to use another port.
 *
 * The test/hosts Node-RED test starts its Node-RED through the same functions, with the package installed from
 * `npm pack` instead of linked.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const PACKAGE_ROOT = path.resolve(__dirname, '..');
const PACKAGE_NAME = require('../package.json').name;
const EXAMPLE_FLOW = path.join(PACKAGE_ROOT, 'examples', 'ksef-send', 'Send demo invoices.json');
const NODE_RED_BIN = path.join(path.dirname(require.resolve('node-red/package.json')), 'red.js');
const DIST = path.join(PACKAGE_ROOT, 'dist');
/** Received invoices the download half seeds (the sandbox dates them over the 30 days before its start). */
const RECEIVED_INVOICES = 5;
const SEEDED_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;
/** How long the download half waits for the send demo's results, so the two halves print one after the other. */
const SEND_RESULTS_WAIT_MS = 60_000;

/** A headless Node-RED: loopback only, no tours/telemetry/diagnostics, credentials stored unencrypted (demo data only). */
function writeSettings(userDir, port) {
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    flowFile: 'flows.json',
    credentialSecret: false,
    diagnostics: { enabled: false, ui: false },
    telemetry: { enabled: false, updateNotification: false },
    // No palette catalogue: the editor would fetch catalogue.nodered.org on every load and log an error offline.
    editorTheme: { tours: false, projects: { enabled: false }, palette: { catalogues: [] } },
    logging: { console: { level: 'info', metrics: false, audit: false } },
  };
  const file = path.join(userDir, 'settings.js');
  fs.writeFileSync(file, `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
  return file;
}

/**
 * Makes the package loadable from the userDir the way a palette install does (`<userDir>/node_modules/<name>`),
 * as a link to this working copy, so edits plus `npm run build` show up on the next start.
 */
function linkPackage(userDir) {
  const target = path.join(userDir, 'node_modules', ...PACKAGE_NAME.split('/'));
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.rmSync(target, { recursive: true, force: true });
  // A junction needs no special rights on Windows; elsewhere the type is ignored.
  fs.symlinkSync(PACKAGE_ROOT, target, 'junction');
}

/**
 * Starts `node-red -u userDir -s settings`; resolves with the child process once Node-RED reports "Started flows",
 * rejects when it exits first or cannot find node types. Every output line goes to `onLine`.
 */
function startNodeRed(userDir, settingsFile, { onLine = () => {}, env = process.env } = {}) {
  const child = spawn(process.execPath, [NODE_RED_BIN, '-u', userDir, '-s', settingsFile], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    const forward = (stream) => {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop();
        for (const line of lines) {
          onLine(line);
          if (settled) continue;
          if (line.includes('Started flows')) {
            settled = true;
            resolve(child);
          } else if (line.includes('Waiting for missing types')) {
            // Node-RED would wait forever for node types that failed to load.
            settled = true;
            child.kill('SIGINT');
            reject(new Error('Node-RED could not load the KSeF nodes (see its log above). Run `npm run build` and try again.'));
          }
        }
      });
    };
    forward(child.stdout);
    forward(child.stderr);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (!settled) reject(new Error(`Node-RED exited before starting its flows (code ${code}, signal ${signal}).`));
    });
  });
}

/** Stops a Node-RED started by startNodeRed and waits for it to exit. */
function stopNodeRed(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGINT');
  });
}

async function main() {
  const port = Number(process.env.PORT || 1880);
  // QUICKSTART_USER_DIR lets the test run the quick start without touching a developer's own .tmp/quickstart.
  const userDir = process.env.QUICKSTART_USER_DIR || path.join(PACKAGE_ROOT, '.tmp', 'quickstart');
  fs.mkdirSync(userDir, { recursive: true });
  const settingsFile = writeSettings(userDir, port);
  linkPackage(userDir);
  const flowFile = path.join(userDir, 'flows.json');
  // Flows edited in the editor survive restarts; deleting .tmp/quickstart brings the example back.
  if (!fs.existsSync(flowFile)) fs.copyFileSync(EXAMPLE_FLOW, flowFile);

  console.log(`Starting Node-RED with ${PACKAGE_NAME} (user folder ${path.relative(process.cwd(), userDir)}) ...`);
  // Seeded while Node-RED starts; by the time the sync runs, the invoices are below KSeF's high-water mark (hwm.md).
  const receivedSandbox = startReceivedSandbox();
  receivedSandbox.catch(() => undefined); // its failure is reported where it is awaited, after the send demo
  const sendResults = expectLines(/^\s*(KSeF number|Not accepted): /, 2);
  const child = await startNodeRed(userDir, settingsFile, { onLine: (line) => printLine(sendResults.see(line)) });
  console.log('');
  console.log(`Node-RED editor: http://127.0.0.1:${port}  (Ctrl+C to stop)`);
  if (await pressInject(port, exampleInjectId())) {
    console.log(
      'Pressed the inject button of the flow "KSeF: send demo invoices": two demo invoices go to the embedded KSeF sandbox now ...',
    );
    await sendResults.seen(SEND_RESULTS_WAIT_MS);
  } else {
    console.log('The flow "KSeF: send demo invoices" is not deployed (delete .tmp/quickstart to get it back).');
  }
  console.log('');

  process.on('SIGINT', () => stopNodeRed(child).then(() => process.exit(0)));
  process.on('SIGTERM', () => stopNodeRed(child).then(() => process.exit(0)));
  child.on('exit', (code) => process.exit(code ?? 1));

  try {
    await printReceivedInvoices(await receivedSandbox);
  } catch (error) {
    console.error(`Downloading the received invoices failed: ${error.message}`);
  }
  console.log('');
}

/**
 * The download half's KSeF: a sandbox in this process (Node-RED's embedded one lives in Node-RED's process), with
 * invoices from other sellers to the demo company, as `ksef-sandbox --seed-received N` has them.
 */
function startReceivedSandbox() {
  const { startSandbox } = require(path.join(DIST, 'sandbox'));
  return startSandbox({ seedReceived: RECEIVED_INVOICES, keepProcessAlive: false });
}

/**
 * One incremental sync run as the buyer (Subject2), from before the seeded invoices: what the ksef-sync node and the
 * KSeF Trigger do on every run, here with the engine directly. Prints each invoice from its friendly JSON.
 */
async function printReceivedInvoices(sandbox) {
  const { createKsefClient, MemoryTokenStore, readInvoiceJson } = require(path.join(DIST, 'shared'));
  const client = createKsefClient({
    environment: 'custom',
    baseUrl: sandbox.baseUrl,
    credentials: { method: 'ksefToken', contextIdentifier: sandbox.contextIdentifier, ksefToken: sandbox.ksefToken },
    tokenStore: new MemoryTokenStore(),
  });
  console.log(
    `Received invoices: a sandbox with ${RECEIVED_INVOICES} invoices other sellers issued to the demo company; one sync run as their buyer downloads them ...`,
  );
  let checkpoint = null;
  let more = true;
  while (more) {
    const batch = await client.invoices.sync({
      subjectType: 'Subject2',
      checkpoint,
      startFrom: new Date(Date.now() - (SEEDED_DAYS + 1) * DAY_MS),
    });
    for (const { ksefNumber, xml } of batch.invoices) {
      const invoice = readInvoiceJson(xml);
      console.log(
        `  <<< Received ${ksefNumber}  from ${invoice.seller.name} (NIP ${invoice.seller.nip})  ${invoice.totals.gross} ${invoice.currency}`,
      );
    }
    ({ checkpoint, more } = batch);
  }
  await sandbox.close();
}

/** Watches printed lines for `count` that match `pattern`; `seen` resolves once they came or after `timeoutMs`. */
function expectLines(pattern, count) {
  let matched = 0;
  let done;
  const all = new Promise((resolve) => (done = resolve));
  return {
    see(line) {
      if (pattern.test(line) && ++matched === count) done();
      return line;
    },
    seen: (timeoutMs) => Promise.race([all, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]),
  };
}

/** The example's inject node: it sends on a button press only, so a full deploy does not send the invoices again. */
function exampleInjectId() {
  return JSON.parse(fs.readFileSync(EXAMPLE_FLOW, 'utf8')).find((node) => node.type === 'inject').id;
}

/**
 * Presses an inject node's button through Node-RED's admin API, as the editor does. False when the flows have no
 * such node (the user changed the quick start's flows).
 */
async function pressInject(port, id) {
  const response = await fetch(`http://127.0.0.1:${port}/inject/${id}`, { method: 'POST' });
  if (response.status === 404) return false;
  if (!response.ok) throw new Error(`Pressing the inject button ${id} failed: HTTP ${response.status}`);
  return true;
}

/** Node-RED's log as is, with the example's KSeF numbers and errors set apart so they are easy to find. */
function printLine(line) {
  const result = /^\s*(KSeF number: .*|Not accepted: .*)$/.exec(line);
  if (result) console.log(`  >>> ${result[1]}`);
  else console.log(line);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err.message);
    if (/EADDRINUSE|exited before/.test(err.message)) console.error('Is port in use? Try: PORT=1881 npm start');
    process.exit(1);
  });
}

module.exports = { writeSettings, linkPackage, startNodeRed, stopNodeRed, EXAMPLE_FLOW, PACKAGE_NAME };
