/**
 * ksef-send in batch mode in a real Node-RED 4 process, with the package installed as a user gets it (`npm pack`,
 * `npm install <tgz>`) and the persistent context store (localfilesystem) the node's help recommends, against a
 * sandbox outside Node-RED. The send example's second button sends 50 invoices, which its Auto mode sends in a
 * batch session, with the progress in the status; and a batch whose close KSeF did not answer, with Node-RED killed
 * afterwards, is finished by the same message after a restart: one batch session, every invoice once, no part
 * uploaded twice. Needs `npm run build` first (`npm run test:hosts` does it).
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';
import { startFaultProxy, type FaultProxy } from '../engine/support/faultProxy';
import { nodeRedWithPackage, quickstart } from './support/nodeRedUserDir';

const EXAMPLE = path.resolve(__dirname, '..', '..', 'examples', 'ksef-send', 'Send demo invoices.json');
const CONFIG_ID = 'a1f0c0de00000009';
const CLOSE = /^\/sessions\/batch\/[^/]+\/close$/;

let sandbox: SandboxHandle;
let proxy: FaultProxy;
let closeFails = false;
/** Each request the sandbox answered: the API operation (`POST /sessions/batch`), or `PUT` for a part upload. */
const exchanges: string[] = [];
let workDir: string;
let userDir: string;
let settingsFile: string;
let baseUrl: string;
let nodeRed: ChildProcess | undefined;
const log: string[] = [];

/** Twelve invoices with fixed numbers, so pressing the button again sends the same invoices (a resume). */
const RESUMED_INVOICES = Array.from({ length: 12 }, (_, i) => buildDemoInvoice({ invoiceNumber: `FV/NR-HOST/RESUME/${i + 1}` }));

beforeAll(async () => {
  sandbox = await startSandbox({ processingDelayMs: 5, onExchange: (exchange) => exchanges.push(exchange.operation ?? exchange.method) });
  proxy = await startFaultProxy(sandbox.baseUrl);
  proxy.inject(
    (request) => closeFails && request.method === 'POST' && CLOSE.test(request.path),
    {
      kind: 'respond',
      status: 503,
      body: 'Service Unavailable',
    },
    1000,
  );

  ({ workDir, userDir, baseUrl, settingsFile } = await nodeRedWithPackage('ksef-node-red-batch-', [
    'ksef-send.js',
    'ksef-send.html',
    'locales/pl/ksef-send.json',
  ]));
  // The store the help recommends, writing its cache every second (30 by default) so the kill below finds it on disk.
  fs.appendFileSync(
    settingsFile,
    `module.exports.contextStorage = { default: { module: 'localfilesystem', config: { flushInterval: 1 } } };\n`,
  );
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flow()));
  fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify({ [CONFIG_ID]: { ksefToken: sandbox.ksefToken } }));
  await start();
});

afterAll(async () => {
  if (nodeRed) await quickstart.stopNodeRed(nodeRed);
  await proxy?.close();
  await sandbox?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

/**
 * The send example as shipped, its config node pointed at the sandbox through the fault proxy (same id, the demo
 * company's NIP and owner token); a status node that logs the send node's statuses; and a button that sends the
 * fixed invoices to the same send node.
 */
function flow(): Array<Record<string, any>> {
  const example = JSON.parse(fs.readFileSync(EXAMPLE, 'utf8')) as Array<Record<string, any>>;
  const config = example.find((node) => node.id === CONFIG_ID)!;
  const send = example.find((node) => node.type === 'ksef-send')!;
  Object.assign(config, { environment: 'custom', baseUrl: proxy.baseUrl, contextValue: sandbox.contextIdentifier.value });
  return [
    ...example,
    { id: 'hostTestStatus', type: 'status', z: send.z, scope: [send.id], wires: [['hostTestStatusLog']] },
    {
      id: 'hostTestStatusLog',
      type: 'debug',
      z: send.z,
      active: true,
      tosidebar: false,
      console: true,
      complete: '"SEND STATUS " & status.fill & " " & status.text',
      targetType: 'jsonata',
      wires: [],
    },
    {
      id: 'hostTestResume',
      type: 'inject',
      z: send.z,
      props: [{ p: 'payload' }, { p: 'mode', v: 'batch', vt: 'str' }],
      payload: JSON.stringify(RESUMED_INVOICES),
      payloadType: 'json',
      wires: [[send.id]],
    },
  ];
}

async function start(): Promise<void> {
  const from = log.length;
  nodeRed = await quickstart.startNodeRed(userDir, settingsFile, { onLine: (line) => log.push(line) }).catch((err: Error) => {
    throw new Error(`${err.message}\nNode-RED log:\n${log.slice(from).join('\n')}`);
  });
}

/** Presses an inject button through the admin API, as the editor does; returns the send node's statuses until its outcome. */
async function press(injectId: string): Promise<string[]> {
  const from = log.length;
  const response = await fetch(`${baseUrl}/inject/${injectId}`, { method: 'POST' });
  expect(response.status).toBe(200);
  const statuses = () => log.slice(from).flatMap((line) => /SEND STATUS (\w+ .*)$/.exec(line)?.[1] ?? []);
  const deadline = Date.now() + 120_000;
  while (!statuses().some((status) => !status.startsWith('blue '))) {
    if (Date.now() > deadline) throw new Error(`No outcome of ksef-send within 120 s. Node-RED log:\n${log.slice(from).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  return statuses();
}

describe('ksef-send batches in Node-RED 4', () => {
  it("sends the example's 50 invoices in a batch session (Auto), the progress in the status, each with a KSeF number", async () => {
    const [, batchButton] = JSON.parse(fs.readFileSync(EXAMPLE, 'utf8')).filter((node: { type: string }) => node.type === 'inject');
    const from = log.length;

    const statuses = await press(batchButton.id);

    expect(statuses[0]).toBe('blue sending 50');
    expect(statuses).toContain('blue packing 50');
    expect(statuses).toContain('blue part 1/1');
    expect(statuses).toContain('blue processing 0/50');
    expect(statuses.at(-1)).toBe('green 50 accepted');
    expect(
      log.slice(from).filter((line) => /KSeF number: \d{10}-\d{8}-[0-9A-F]{12}-[0-9A-F]{2} {2}invoice FV\/\d+\/\d+$/.test(line)),
    ).toHaveLength(50);
    expect(exchanges.filter((exchange) => exchange === 'POST /sessions/batch')).toHaveLength(1);
  });

  it('finishes a batch whose close went unanswered after a kill and restart: one session, every invoice once', async () => {
    closeFails = true;
    const failed = await press('hostTestResume');
    expect(failed.at(-1)).toBe('red send failed');
    const uploads = exchanges.filter((exchange) => exchange === 'PUT').length;
    // The file store writes its cache every second here: then no graceful stop.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await new Promise((resolve) => {
      nodeRed!.once('exit', resolve);
      nodeRed!.kill('SIGKILL');
    });
    nodeRed = undefined;
    closeFails = false;
    await start();
    const batchesBefore = exchanges.filter((exchange) => exchange === 'POST /sessions/batch').length;
    const from = log.length;

    const statuses = await press('hostTestResume');

    expect(statuses.at(-1)).toBe('green 12 accepted');
    // No new session, no part uploaded again: the restarted node closed the session the killed one had filled.
    expect(exchanges.filter((exchange) => exchange === 'POST /sessions/batch')).toHaveLength(batchesBefore);
    expect(exchanges.filter((exchange) => exchange === 'PUT')).toHaveLength(uploads);
    expect(uploads).toBeGreaterThan(0);
    const numbers = log.slice(from).flatMap((line) => /KSeF number: (\S+) {2}invoice FV\/NR-HOST\/RESUME\/(\d+)$/.exec(line)?.[2] ?? []);
    expect(numbers.map(Number).sort((a, b) => a - b)).toEqual(RESUMED_INVOICES.map((_, i) => i + 1));
  });
});
