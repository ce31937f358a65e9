/**
 * The sync example flow "Received invoices to CSV every 15 minutes" in a real Node-RED 4 process, with the package
 * installed as a user gets it (`npm pack`, `npm install <tgz>`) and a persistent context store (localfilesystem), as
 * the node's help recommends. Another seller authenticates with a self-signed seal of its own NIP and sends invoices
 * whose buyer is the demo company, on a sandbox outside Node-RED (the embedded one would live and die with it); the
 * flow writes each one once as a CSV row and an XML file across runs, and carries on without repeats or losses when
 * Node-RED is restarted between runs. Needs `npm run build` first (`npm run test:hosts` does it).
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createKsefClient, generateTestCertificate, MemoryTokenStore, type KsefClient } from '../../shared';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { nodeRedWithPackage, quickstart } from './support/nodeRedUserDir';

const EXAMPLES_DIR = path.resolve(__dirname, '..', '..', 'examples');
const EXAMPLE = path.join(EXAMPLES_DIR, 'ksef-sync', 'Received invoices to CSV every 15 minutes.json');
const INVOICE_EXAMPLE = path.join(EXAMPLES_DIR, 'ksef-invoice', 'Search, get and download invoices.json');
const CONFIG_ID = 'a1f0c0de00000009';
const OTHER_SELLER_NIP = '5830002226';
const OTHER_SELLER_PASSWORD = 'other-seller-seal';

let sandbox: SandboxHandle;
let otherSeller: KsefClient;
let workDir: string;
let userDir: string;
let settingsFile: string;
let baseUrl: string;
let nodeRed: ChildProcess | undefined;
const log: string[] = [];
/** Invoice numbers (P_2) the other seller issued to the demo company, by KSeF number. */
const issued = new Map<string, string>();
/** CSV rows written before the last start of Node-RED. */
let rowsBeforeStart = 0;

beforeAll(async () => {
  // KSeF's high-water mark lags its now a little, as on KSeF; the test waits it out before each run.
  sandbox = await startSandbox({ processingDelayMs: 5, hwmDelayMs: 300 });
  const seal = generateTestCertificate({
    subject: { kind: 'seal', organizationName: 'Hurtownia Papieru Inny Sprzedawca sp. z o.o.', nip: OTHER_SELLER_NIP },
    pkcs12Password: OTHER_SELLER_PASSWORD,
  });
  otherSeller = createKsefClient({
    environment: 'custom',
    baseUrl: sandbox.baseUrl,
    credentials: {
      method: 'certificate',
      contextIdentifier: { type: 'Nip', value: OTHER_SELLER_NIP },
      certificate: { pkcs12: seal.pkcs12, password: OTHER_SELLER_PASSWORD },
      subjectIdentifierType: 'certificateSubject',
    },
    tokenStore: new MemoryTokenStore(),
  });

  ({ workDir, userDir, baseUrl, settingsFile } = await nodeRedWithPackage('ksef-node-red-sync-', [
    'ksef-sync.js',
    'ksef-sync.html',
    'locales/pl/ksef-sync.json',
  ]));
  // The store the help recommends, so the checkpoint outlives Node-RED; the example's files land in the work folder.
  fs.appendFileSync(
    settingsFile,
    `module.exports.contextStorage = { default: { module: 'localfilesystem' } };\nmodule.exports.fileWorkingDirectory = ${JSON.stringify(workDir)};\n`,
  );
  const { flow, credentials } = exampleOnSandbox();
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flow));
  fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(credentials));
});

afterAll(async () => {
  if (nodeRed) await quickstart.stopNodeRed(nodeRed);
  await otherSeller?.close();
  await sandbox?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

/**
 * The example as shipped, its config node pointed at the sandbox outside Node-RED (same id, the demo company's NIP
 * and owner token), plus a status node that logs the sync node's statuses, so the test sees when a run ended; and the
 * ksef-invoice example, which shares that config node.
 */
function exampleOnSandbox(): { flow: Array<Record<string, any>>; credentials: Record<string, Record<string, string>> } {
  const flow = readFlow(EXAMPLE);
  const config = flow.find((node) => node.id === CONFIG_ID);
  const sync = flow.find((node) => node.type === 'ksef-sync');
  if (!config || !sync) throw new Error(`The sync example has no ksef-config ${CONFIG_ID} or no ksef-sync node.`);
  Object.assign(config, { environment: 'custom', baseUrl: sandbox.baseUrl, contextValue: sandbox.contextIdentifier.value });
  flow.push(
    { id: 'hostTestStatus', type: 'status', z: sync.z, scope: [sync.id], wires: [['hostTestStatusLog']] },
    {
      id: 'hostTestStatusLog',
      type: 'debug',
      z: sync.z,
      active: true,
      tosidebar: false,
      console: true,
      complete: '"SYNC STATUS " & status.fill & " " & status.text',
      targetType: 'jsonata',
      wires: [],
    },
  );
  const invoiceExample = readFlow(INVOICE_EXAMPLE).filter((node) => node.id !== CONFIG_ID);
  return { flow: [...flow, ...invoiceExample], credentials: { [CONFIG_ID]: { ksefToken: sandbox.ksefToken } } };
}

function readFlow(file: string): Array<Record<string, any>> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Array<Record<string, any>>;
}

/** The other seller sends `count` invoices to the demo company in one online session; waits until KSeF's HWM passed them. */
async function otherSellerIssues(count: number): Promise<string[]> {
  const invoices = Array.from({ length: count }, () =>
    buildDemoInvoice({ sellerNip: OTHER_SELLER_NIP, buyerNip: sandbox.contextIdentifier.value, lines: 2 }),
  );
  const result = await otherSeller.sessions.online.send(invoices, { fetchUpo: false });
  const numbers = result.invoices.map((invoice) => {
    expect(invoice).toMatchObject({ accepted: true });
    issued.set(invoice.ksefNumber!, /<P_2>([^<]+)<\/P_2>/.exec(invoices[invoice.index])![1]);
    return invoice.ksefNumber!;
  });
  await new Promise((resolve) => setTimeout(resolve, 600));
  return numbers;
}

async function start(): Promise<void> {
  const from = log.length;
  rowsBeforeStart = csvRows().length;
  nodeRed = await quickstart.startNodeRed(userDir, settingsFile, { onLine: (line) => log.push(line) }).catch((err: Error) => {
    throw new Error(`${err.message}\nNode-RED log:\n${log.slice(from).join('\n')}`);
  });
}

async function stop(): Promise<void> {
  if (nodeRed) await quickstart.stopNodeRed(nodeRed);
  nodeRed = undefined;
}

/** Waits for the run that starts after log line `from` to end (the example's inject fires on start and on a press). */
async function runEnded(from: number): Promise<string> {
  const ended = /SYNC STATUS (green|yellow|red) (.*)$/;
  let match: RegExpExecArray | null = null;
  await waitFor('the end of a sync run', () => log.slice(from).some((line) => (match = ended.exec(line)) !== null));
  const [, fill, text] = match!;
  expect({ fill, text, log: fill === 'green' ? '' : log.slice(from).join('\n') }).toEqual({ fill: 'green', text, log: '' });
  return text;
}

/** Presses the sync example's inject button and waits for the end of that run. */
async function pressInject(): Promise<string> {
  const from = log.length;
  await press(readFlow(EXAMPLE).find((node) => node.type === 'inject')!.id);
  return runEnded(from);
}

/** Presses an inject node's button through the admin API, as the editor does. */
async function press(injectId: string): Promise<void> {
  const response = await fetch(`${baseUrl}/inject/${injectId}`, { method: 'POST' });
  expect(response.status).toBe(200);
}

/** Node-RED's admin API with the editor's API version (flows with their revision). */
async function adminJson(method: 'GET' | 'POST', urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<any> {
  const response = await fetch(baseUrl + urlPath, {
    method,
    headers: { 'Content-Type': 'application/json', 'Node-RED-API-Version': 'v2', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect({ urlPath, status: response.status }).toEqual({ urlPath, status: 200 });
  return response.json();
}

/** The log lines after `from` that match `pattern`, once there are `count` of them. */
async function logLines(from: number, pattern: RegExp, count: number): Promise<RegExpExecArray[]> {
  const matches = () =>
    log
      .slice(from)
      .map((line) => pattern.exec(line))
      .filter((match): match is RegExpExecArray => match !== null);
  await waitFor(`${count} log lines matching ${pattern}`, () => matches().length >= count);
  return matches();
}

/** The data rows of the example's CSV file (the header comes once per start), as column -> value. */
function csvRows(): Array<Record<string, string>> {
  const file = path.join(workDir, 'received-invoices.csv');
  if (!fs.existsSync(file)) return [];
  const lines = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '');
  if (lines.length === 0) return [];
  const header = lines[0].split(',');
  return lines
    .filter((line) => !line.startsWith('ksefNumber,'))
    .map((line) => Object.fromEntries(line.split(',').map((value, i) => [header[i], value.replace(/^"|"$/g, '')])));
}

function deliveredNumbers(): string[] {
  return csvRows().map((row) => row.ksefNumber);
}

/**
 * The KSeF numbers in the CSV once it has `count` rows (the file node writes after the sync node's status), and a
 * moment more, so a row written twice would show.
 */
async function delivered(count: number): Promise<string[]> {
  await waitFor(`${count} CSV rows`, () => csvRows().length >= count);
  await new Promise((resolve) => setTimeout(resolve, 300));
  return deliveredNumbers();
}

async function waitFor(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`No ${what} within 60 s. Node-RED log:\n${log.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the sync example in Node-RED 4 with a persistent context store', () => {
  it('writes each invoice another seller issued once, as a CSV row and an XML file, across runs and restarts', async () => {
    const beforeFirstRun = await otherSellerIssues(2);

    // First start: the example's inject fires once on deploy; its first run reaches 30 days back.
    let from = log.length;
    await start();
    expect(await runEnded(from)).toMatch(/^2 sent, up to date$/);
    expect((await delivered(2)).sort()).toEqual([...beforeFirstRun].sort());

    const second = await otherSellerIssues(2);
    expect(await pressInject()).toBe('2 sent, up to date');
    expect((await delivered(4)).slice(2).sort()).toEqual([...second].sort());

    // Restarted with nothing new: the run on start sends nothing.
    await stop();
    from = log.length;
    await start();
    expect(await runEnded(from)).toBe('up to date');
    expect(await delivered(4)).toHaveLength(4);

    // Stopped, an invoice arrives meanwhile, started again: it comes, and only it.
    await stop();
    const whileStopped = await otherSellerIssues(1);
    from = log.length;
    await start();
    expect(await runEnded(from)).toBe('1 sent, up to date');
    expect(await pressInject()).toBe('up to date');
    const third = await otherSellerIssues(1);
    expect(await pressInject()).toBe('1 sent, up to date');

    const all = [...beforeFirstRun, ...second, ...whileStopped, ...third];
    expect((await delivered(all.length)).sort()).toEqual([...all].sort());
    for (const row of csvRows()) {
      expect(row).toMatchObject({ invoiceNumber: issued.get(row.ksefNumber), sellerNip: OTHER_SELLER_NIP, currency: 'PLN' });
      expect(Number(row.grossAmount)).toBeGreaterThan(0);
      const xml = fs.readFileSync(path.join(workDir, 'ksef-invoices', `${row.ksefNumber}.xml`), 'utf8');
      expect(xml).toContain(`<P_2>${row.invoiceNumber}</P_2>`);
    }
    // The example's debug node prints each invoice for the user, translated statuses show on the canvas.
    expect(log.filter((line) => line.includes(`Received `) && line.includes(` from ${OTHER_SELLER_NIP} `))).toHaveLength(all.length);
    expect(log.join('\n')).not.toContain(sandbox.ksefToken);
  });

  it('loses nothing when Node-RED is killed: what came after the checkpoint the store last wrote comes again', async () => {
    const lastRun = await otherSellerIssues(1);
    expect(await pressInject()).toBe('1 sent, up to date');
    const beforeKill = await delivered(issued.size);
    const sinceStart = beforeKill.slice(rowsBeforeStart);
    expect(sinceStart).toContain(lastRun[0]);
    // No graceful stop: the file context store writes its cache every 30 s and on stop, so the checkpoint on disk may
    // be of an earlier run.
    await new Promise((resolve) => {
      nodeRed!.once('exit', resolve);
      nodeRed!.kill('SIGKILL');
    });
    nodeRed = undefined;
    const afterKill = await otherSellerIssues(1);

    const from = log.length;
    await start();
    expect(await runEnded(from)).toMatch(/^\d+ sent, up to date$/);

    const rows = await delivered(beforeKill.length + 1);
    expect([...new Set(rows)].sort()).toEqual([...issued.keys()].sort());
    // At least once, never lost: only what the killed process delivered may come twice; the rest exactly once.
    const repeated = rows.filter((number, index) => rows.indexOf(number) !== index);
    expect(repeated.filter((number) => !sinceStart.includes(number))).toEqual([]);
    expect(rows.filter((number) => number === afterKill[0])).toHaveLength(1);
  });

  it('sends nothing from a run interrupted by a deploy; the redeployed node delivers those invoices, once', async () => {
    const before = deliveredNumbers();
    const interrupted = await otherSellerIssues(2);
    const syncId = readFlow(EXAMPLE).find((node) => node.type === 'ksef-sync')!.id;

    // KSeF takes its time over the export while the node is edited and deployed (only the changed node restarts).
    sandbox.holdExports(true);
    try {
      const pressedAt = log.length;
      await press(readFlow(EXAMPLE).find((node) => node.type === 'inject')!.id);
      await logLines(pressedAt, /SYNC STATUS blue /, 1);
      const { rev, flows } = await adminJson('GET', '/flows');
      const edited = flows.map((node: Record<string, unknown>) => (node.id === syncId ? { ...node, name: 'received invoices' } : node));
      const from = log.length;
      await adminJson('POST', '/flows', { rev, flows: edited }, { 'Node-RED-Deployment-Type': 'nodes' });
      await logLines(from, /Started modified nodes/, 1);
    } finally {
      sandbox.holdExports(false);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(deliveredNumbers()).toEqual(before);

    expect(await pressInject()).toBe('2 sent, up to date');
    const rows = await delivered(before.length + 2);
    expect(rows.slice(before.length).sort()).toEqual([...interrupted].sort());
  });

  it('runs the ksef-invoice example on the same invoices: search, get each by KSeF number, download them in one export', async () => {
    const [searchInject, downloadInject] = readFlow(INVOICE_EXAMPLE).filter((node) => node.type === 'inject');
    const all = [...issued.keys()].sort();
    let from = log.length;

    await press(searchInject.id);

    const found = await logLines(from, /Found (\S+) \((\S+)\), gross (\d+(?:\.\d+)?) PLN$/, all.length);
    expect(found.map((match) => match[1]).sort()).toEqual(all);
    expect(found.every(([, ksefNumber, invoiceNumber]) => issued.get(ksefNumber) === invoiceNumber)).toBe(true);
    const got = await logLines(from, /Got (\S+): (.+) -> (.+), 2 lines, gross (\d+\.\d{2})$/, all.length);
    expect(got.map((match) => match[1]).sort()).toEqual(all);

    from = log.length;
    await press(downloadInject.id);
    const [downloaded] = await logLines(from, /Downloaded (\d+) invoices in export (\S+)$/, 1);
    expect(Number(downloaded[1])).toBe(all.length);
    expect(downloaded[2]).toMatch(/-EH-/);
    expect(log.some((line) => line.includes('Failed: '))).toBe(false);
  });
});
