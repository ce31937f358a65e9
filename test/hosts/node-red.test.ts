/**
 * A real Node-RED 4 process with the package installed as a user gets it (`npm pack`, then `npm install <tgz>` in
 * the user folder), running the example flow "Send demo invoices" on the embedded sandbox. Also proves what the
 * test helper cannot: package.json's node list, the locales (en-US and pl), the help and the examples load.
 * Needs `npm run build` first (`npm run test:hosts` does it).
 */
import { execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { isValidKsefNumber } from '../../shared/model/ksefNumber';
import { findSpecFolder } from '../../shared/spec/specFolder';

interface Quickstart {
  writeSettings(userDir: string, port: number): string;
  startNodeRed(userDir: string, settingsFile: string, options: { onLine?: (line: string) => void; env?: NodeJS.ProcessEnv }): Promise<ChildProcess>;
  stopNodeRed(child: ChildProcess): Promise<void>;
  EXAMPLE_FLOW: string;
  PACKAGE_NAME: string;
}
// scripts/quickstart.js is plain JavaScript (it runs before any build); its Node-RED start-up is shared with this test.
const quickstart = require('../../scripts/quickstart.js') as Quickstart;

const ROOT = path.resolve(__dirname, '..', '..');
const DEMO_SELLER_NIP = '1234563218';
const SEND_NODE_ID = 'a1f0c0de00000004';

let workDir: string;
let userDir: string;
let baseUrl: string;
let nodeRed: ChildProcess | undefined;
const log: string[] = [];

beforeAll(async () => {
  const built = ['ksef-send.js', 'ksef-send.html', 'locales/pl/ksef-send.json'].map((file) => path.join(ROOT, 'dist', 'nodes', 'node-red', file));
  if (!built.every((file) => fs.existsSync(file))) {
    throw new Error('dist/ is missing or incomplete: run `npm run build` first (`npm run test:hosts` does).');
  }
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-node-red-'));
  userDir = path.join(workDir, 'user');
  fs.mkdirSync(userDir);

  const tarball = npm(['pack', '--ignore-scripts', '--pack-destination', workDir], ROOT).trim().split('\n').pop()!;
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true }));
  npm(['install', '--no-audit', '--no-fund', '--omit=peer', '--prefer-offline', path.join(workDir, tarball)], userDir);

  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const settingsFile = quickstart.writeSettings(userDir, port);
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(exampleFlowWithResultFile()));

  const specDir = findSpecFolder();
  nodeRed = await quickstart
    .startNodeRed(userDir, settingsFile, {
      onLine: (line) => log.push(line),
      env: { ...process.env, ...(specDir && { KSEF_SPEC_DIR: specDir }) },
    })
    .catch((err: Error) => {
      throw new Error(`${err.message}\nNode-RED log:\n${log.join('\n')}`);
    });
});

afterAll(async () => {
  if (nodeRed) await quickstart.stopNodeRed(nodeRed);
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

/** The example flow as shipped, plus a file node that writes what ksef-send outputs (one JSON line per message). */
function exampleFlowWithResultFile(): Array<Record<string, unknown>> {
  const flow = JSON.parse(fs.readFileSync(quickstart.EXAMPLE_FLOW, 'utf8')) as Array<Record<string, any>>;
  const send = flow.find((node) => node.id === SEND_NODE_ID && node.type === 'ksef-send');
  if (!send) throw new Error(`The example flow has no ksef-send node ${SEND_NODE_ID}; update SEND_NODE_ID.`);
  send.wires[0].push('hostTestResults');
  flow.push({
    id: 'hostTestResults',
    type: 'file',
    z: send.z,
    filename: path.join(workDir, 'results.jsonl'),
    filenameType: 'str',
    appendNewline: true,
    createDir: true,
    overwriteFile: 'false',
    encoding: 'utf8',
    wires: [[]],
  });
  return flow;
}

describe('Node-RED 4 with the packed package', () => {
  it('runs the example flow: both demo invoices get a KSeF number and a UPO', async () => {
    const results = await firstResultLine();

    expect(results).toHaveLength(2);
    for (const result of results) {
      expect(result).toMatchObject({ accepted: true, pending: false });
      expect(isValidKsefNumber(result.ksefNumber)).toBe(true);
      expect(result.ksefNumber.startsWith(DEMO_SELLER_NIP)).toBe(true);
      expect(result.upo).toContain(result.ksefNumber);
      // The example's console debug node prints each number for the user.
      expect(log.some((line) => line.includes(`KSeF number: ${result.ksefNumber}`))).toBe(true);
    }
  });

  it('registers both nodes from package.json without load errors', async () => {
    const sets = (await getJson('/nodes', { Accept: 'application/json' })) as Array<Record<string, any>>;
    const ours = sets.filter((set) => set.module === quickstart.PACKAGE_NAME);

    expect(ours.map((set) => [set.types, set.enabled, set.err])).toEqual([
      [['ksef-config'], true, undefined],
      [['ksef-send'], true, undefined],
    ]);
  });

  it('serves the en-US and pl catalogues with the same keys', async () => {
    const english = await getJson(`/locales/${quickstart.PACKAGE_NAME}/ksef-send?lng=en-US`);
    const polish = await getJson(`/locales/${quickstart.PACKAGE_NAME}/ksef-send?lng=pl`);
    const polishConfig = await getJson(`/locales/${quickstart.PACKAGE_NAME}/ksef-config?lng=pl`);

    expect(english['ksef-send'].status.sending).toBe('sending __count__');
    expect(polish['ksef-send'].status.sending).toBe('wysyłanie: __count__');
    expect(polishConfig['ksef-config'].environment.sandbox).toBe('Piaskownica (wbudowana)');
    expect(keysOf(polish)).toEqual(keysOf(english));
  });

  it('serves the help in the browser language', async () => {
    const polishEditor = await getText('/nodes', { Accept: 'text/html', 'Accept-Language': 'pl' });
    const englishEditor = await getText('/nodes', { Accept: 'text/html', 'Accept-Language': 'en-US' });

    expect(polishEditor).toContain('data-help-name="ksef-send"');
    expect(polishEditor).toContain('Wysyła faktury do KSeF');
    expect(englishEditor).toContain('Sends invoices to KSeF');
    expect(englishEditor).toContain('data-template-name="ksef-config"');
  });

  it('lists the example flow, and only Node-RED flows, under Import > Examples', async () => {
    const root = await getJson(`/library/examples/flows/${quickstart.PACKAGE_NAME}`);
    const folder = await getJson(`/library/examples/flows/${quickstart.PACKAGE_NAME}/ksef-send`);
    const example = await getJson(`/library/examples/flows/${quickstart.PACKAGE_NAME}/ksef-send/Send%20demo%20invoices`);

    // Node-RED offers every .json under examples/ for import, so anything else there (e.g. n8n workflows) misleads users.
    expect(root).toEqual(['ksef-send']);
    expect(folder).toEqual([{ fn: 'Send demo invoices' }]);
    expect(example.map((node: { type: string }) => node.type)).toContain('ksef-send');
  });
});

async function firstResultLine(): Promise<Array<Record<string, any>>> {
  const file = path.join(workDir, 'results.jsonl');
  const deadline = Date.now() + 120_000;
  while (!fs.existsSync(file) || !fs.readFileSync(file, 'utf8').includes('\n')) {
    if (Date.now() > deadline) throw new Error(`No result from ksef-send within 120 s. Node-RED log:\n${log.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0]);
}

async function getText(urlPath: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(baseUrl + urlPath, { headers });
  expect(response.status).toBe(200);
  return response.text();
}

async function getJson(urlPath: string, headers: Record<string, string> = {}): Promise<any> {
  return JSON.parse(await getText(urlPath, headers));
}

function keysOf(catalogue: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(catalogue)
    .flatMap(([key, value]) =>
      typeof value === 'object' && value !== null ? keysOf(value as Record<string, unknown>, `${prefix}${key}.`) : [`${prefix}${key}`],
    )
    .sort();
}

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
