/**
 * A real Node-RED 4 process with the package installed as a user gets it (`npm pack`, then `npm install <tgz>` in
 * the user folder), running every example flow on the embedded sandbox, and the certificate/token story of issue 3
 * deployed through the admin API the way the editor deploys. Also proves what the test helper cannot: package.json's
 * node list, the locales (en-US and pl), the help and the examples load.
 * Needs `npm run build` first (`npm run test:hosts` does it).
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { nodeRedWithPackage, quickstart } from './support/nodeRedUserDir';
import { generateTestCertificate } from '../../shared';
import { isValidKsefNumber } from '../../shared/protocol/model/ksefNumber';
import { findSpecFolder } from '../../shared/protocol/spec/specFolder';
import { buildDemoInvoice } from '../../sandbox/samples/demoInvoice';

const ROOT = path.resolve(__dirname, '..', '..');
const DEMO_SELLER_NIP = '1234563218';
const SEND_NODE_ID = 'a1f0c0de00000004';
const SEND_INJECT_ID = 'a1f0c0de00000002';
const EXAMPLES_DIR = path.join(ROOT, 'examples');
const NODE_TYPES = ['ksef-config', 'ksef-send', 'ksef-auth', 'ksef-token', 'ksef-certificate', 'ksef-invoice', 'ksef-sync'];
const STORY_PKCS12_PASSWORD = 'story-seal-password';

let workDir: string;
let userDir: string;
let baseUrl: string;
let nodeRed: ChildProcess | undefined;
const log: string[] = [];

beforeAll(async () => {
  const installed = await nodeRedWithPackage('ksef-node-red-', ['ksef-send.js', 'ksef-send.html', 'locales/pl/ksef-send.json']);
  ({ workDir, userDir, baseUrl } = installed);
  const { settingsFile } = installed;
  const story = storyFlow();
  fs.writeFileSync(
    path.join(userDir, 'flows.json'),
    JSON.stringify(withoutRepeatedIds([...exampleFlowWithResultFile(), ...otherExampleFlows(), ...story.flow])),
  );
  fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(story.credentials));

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
  flow.push(fileNode('hostTestResults', send.z, 'results.jsonl'));
  return flow;
}

/**
 * The examples share one sandbox config node (same id and content), which the editor imports once; flows.json holds
 * it once too.
 */
function withoutRepeatedIds(nodes: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  const seen = new Set<unknown>();
  return nodes.filter((node) => !seen.has(node.id) && seen.add(node.id));
}

/** The examples of ksef-auth, ksef-token and ksef-certificate as shipped; they run on start (ksef-send's does not). */
function otherExampleFlows(): Array<Record<string, unknown>> {
  return ['ksef-auth', 'ksef-token', 'ksef-certificate'].flatMap((node) => {
    const folder = path.join(EXAMPLES_DIR, node);
    return fs
      .readdirSync(folder)
      .flatMap((file) => JSON.parse(fs.readFileSync(path.join(folder, file), 'utf8')) as Array<Record<string, unknown>>);
  });
}

/**
 * The story's first part, in flows.json and flows_cred.json as a user saves it: a KSeF config with a self-signed seal
 * of the sandbox demo company (PKCS#12 pasted as Base64), and a ksef-token node that generates a token and writes it to
 * a file (where the test picks it up, as a user would copy it into a second config node).
 */
function storyFlow(): { flow: Array<Record<string, unknown>>; credentials: Record<string, Record<string, string>> } {
  const seal = generateTestCertificate({
    subject: { kind: 'seal', organizationName: 'Demo Sprzedawca sp. z o.o.', nip: DEMO_SELLER_NIP },
    pkcs12Password: STORY_PKCS12_PASSWORD,
  });
  return {
    flow: [
      { id: 'story', type: 'tab', label: 'story' },
      {
        id: 'storySeal',
        type: 'ksef-config',
        name: 'seal',
        environment: 'sandbox',
        contextType: 'Nip',
        contextValue: DEMO_SELLER_NIP,
        authMethod: 'certificate',
        certificateFormat: 'pkcs12',
        subjectIdentifierType: 'certificateSubject',
      },
      {
        id: 'storyGenerateInject',
        type: 'inject',
        z: 'story',
        props: [{ p: 'payload' }],
        payload: '',
        payloadType: 'date',
        wires: [['storyGenerate']],
      },
      {
        id: 'storyGenerate',
        type: 'ksef-token',
        z: 'story',
        ksef: 'storySeal',
        operation: 'generate',
        description: 'Node-RED host story',
        permissions: ['InvoiceWrite'],
        waitUntilActive: true,
        wires: [['storyTokenFile']],
      },
      fileNode('storyTokenFile', 'story', 'story-token.jsonl'),
    ],
    credentials: { storySeal: { pkcs12: seal.pkcs12.toString('base64'), pkcs12Password: STORY_PKCS12_PASSWORD } },
  };
}

/** The story's second part, deployed like the editor does: a config node with the new token (as a credential), ... */
function storyDeployment(token: { referenceNumber: string; token: string }): Array<Record<string, unknown>> {
  const inject = (id: string, wire: string, payload = '', payloadType = 'date') => ({
    id,
    type: 'inject',
    z: 'story2',
    props: [{ p: 'payload' }],
    payload,
    payloadType,
    wires: [[wire]],
  });
  const consoleDebug = (id: string, complete: string, targetType = 'jsonata') => ({
    id,
    type: 'debug',
    z: 'story2',
    active: true,
    tosidebar: false,
    console: true,
    complete,
    targetType,
    wires: [],
  });
  return [
    { id: 'story2', type: 'tab', label: 'story, part 2' },
    {
      id: 'storyToken',
      type: 'ksef-config',
      name: 'token',
      environment: 'sandbox',
      contextType: 'Nip',
      contextValue: DEMO_SELLER_NIP,
      authMethod: 'ksefToken',
      credentials: { ksefToken: token.token },
    },
    inject('storySendInject', 'storySend', buildDemoInvoice(), 'str'),
    {
      id: 'storySend',
      type: 'ksef-send',
      z: 'story2',
      ksef: 'storyToken',
      schema: 'FA(3)',
      waitSeconds: 60,
      fetchUpo: false,
      wires: [['storySent']],
    },
    consoleDebug('storySent', '"STORY sent " & payload.ksefNumber'),
    inject('storyRevokeInject', 'storyRevoke', token.referenceNumber, 'str'),
    { id: 'storyRevoke', type: 'ksef-token', z: 'story2', ksef: 'storySeal', operation: 'revoke', wires: [['storyRevoked']] },
    consoleDebug('storyRevoked', '"STORY revoked " & payload.referenceNumber'),
    inject('storyAuthInject', 'storyAuth'),
    { id: 'storyAuth', type: 'ksef-auth', z: 'story2', ksef: 'storyToken', operation: 'authenticate', wires: [['storyAuthenticated']] },
    consoleDebug('storyAuthenticated', '"STORY authenticated " & payload.referenceNumber'),
    { id: 'storyCatch', type: 'catch', z: 'story2', scope: ['storyAuth'], uncaught: false, wires: [['storyCaught']] },
    consoleDebug('storyCaught', '"STORY caught " & error.message'),
  ];
}

function fileNode(id: string, z: string, name: string): Record<string, unknown> {
  return {
    id,
    type: 'file',
    z,
    filename: path.join(workDir, name),
    filenameType: 'str',
    appendNewline: true,
    createDir: true,
    overwriteFile: 'false',
    encoding: 'utf8',
    wires: [[]],
  };
}

describe('Node-RED 4 with the packed package', () => {
  it('runs the example flow on a press of its inject button only: both demo invoices get a KSeF number and a UPO', async () => {
    // The other examples' on-start injects have fired (1 s after start), so the send example's would have too.
    await logLine(/Signed in: /);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(fs.existsSync(path.join(workDir, 'results.jsonl'))).toBe(false);
    expect(log.some((line) => line.includes('KSeF number: '))).toBe(false);

    await post(`/inject/${SEND_INJECT_ID}`);
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

  it('runs the other example flows: signs in, generates and revokes a token, generates a test seal with its warning', async () => {
    const signedIn = await logLine(/Signed in: (\d{8}-AU-\S+), context (\d+)/);
    expect(signedIn[2]).toBe(DEMO_SELLER_NIP);

    const generated = await logLine(/Token generated: (\S+) \(Active\)/);
    expect((await logLine(/Token \S+: Active, permissions InvoiceWrite/))[0]).toContain(generated[1]);
    expect((await logLine(/Token revoked: (\S+)/))[1]).toBe(generated[1]);

    // The node's warning, translated from the en-US catalogue.
    await logLine(
      /KSeF certificate: generated a self-signed test certificate\. Self-signed test certificates work only with the embedded Sandbox and the KSeF Test/,
    );
  });

  it('lives the story: a seal generates a token, the token sends an invoice, the seal revokes it, the token then fails to sign in', async () => {
    await post('/inject/storyGenerateInject');
    const token = JSON.parse(await fileLine('story-token.jsonl')) as { referenceNumber: string; token: string; status: string };
    expect(token.status).toBe('Active');

    const { rev, flows } = await getJson('/flows', { 'Node-RED-API-Version': 'v2' });
    await post(
      '/flows',
      { rev, flows: [...flows, ...storyDeployment(token)] },
      { 'Node-RED-API-Version': 'v2', 'Node-RED-Deployment-Type': 'nodes' },
    );
    // Node-RED answers the deploy before it has started the new nodes.
    await logLine(/Started modified nodes/);

    await post('/inject/storySendInject');
    const ksefNumber = (await logLine(/STORY sent (\S+)/))[1];
    expect(isValidKsefNumber(ksefNumber)).toBe(true);
    expect(ksefNumber.startsWith(DEMO_SELLER_NIP)).toBe(true);

    await post('/inject/storyRevokeInject');
    expect((await logLine(/STORY revoked (\S+)/))[1]).toBe(token.referenceNumber);

    await post('/inject/storyAuthInject');
    const caught = (await logLine(/STORY caught (.*)/))[1];
    expect(caught).toMatch(/KsefAuthError.*450.*Token unieważniony/);
    expect(log.some((line) => line.includes('STORY authenticated'))).toBe(false);
    expect(log.join('\n')).not.toContain(token.token);
  });

  it('registers every node from package.json without load errors', async () => {
    const sets = (await getJson('/nodes', { Accept: 'application/json' })) as Array<Record<string, any>>;
    const ours = sets.filter((set) => set.module === quickstart.PACKAGE_NAME);

    expect(ours.map((set) => [set.types, set.enabled, set.err])).toEqual(NODE_TYPES.map((type) => [[type], true, undefined]));
  });

  it('serves the en-US and pl catalogues with the same keys', async () => {
    const english = await getJson(`/locales/${quickstart.PACKAGE_NAME}/ksef-send?lng=en-US`);
    const polish = await getJson(`/locales/${quickstart.PACKAGE_NAME}/ksef-send?lng=pl`);
    const polishConfig = await getJson(`/locales/${quickstart.PACKAGE_NAME}/ksef-config?lng=pl`);

    expect(english['ksef-send'].status.sending).toBe('sending __count__');
    expect(polish['ksef-send'].status.sending).toBe('wysyłanie: __count__');
    expect(polishConfig['ksef-config'].environment.sandbox).toBe('Piaskownica (wbudowana)');
    expect(keysOf(polish)).toEqual(keysOf(english));
    for (const type of NODE_TYPES) {
      const [englishCatalogue, polishCatalogue] = await Promise.all(
        ['en-US', 'pl'].map((language) => getJson(`/locales/${quickstart.PACKAGE_NAME}/${type}?lng=${language}`)),
      );
      expect({ type, keys: keysOf(polishCatalogue) }).toEqual({ type, keys: keysOf(englishCatalogue) });
      expect(keysOf(englishCatalogue).length).toBeGreaterThan(5);
    }
  });

  it('serves the help in the browser language', async () => {
    const polishEditor = await getText('/nodes', { Accept: 'text/html', 'Accept-Language': 'pl' });
    const englishEditor = await getText('/nodes', { Accept: 'text/html', 'Accept-Language': 'en-US' });

    expect(polishEditor).toContain('data-help-name="ksef-send"');
    expect(polishEditor).toContain('Wysyła faktury do KSeF');
    expect(englishEditor).toContain('Sends invoices to KSeF');
    expect(englishEditor).toContain('data-template-name="ksef-config"');
    for (const type of NODE_TYPES) {
      expect(englishEditor).toContain(`data-template-name="${type}"`);
      expect(englishEditor).toContain(`data-help-name="${type}"`);
    }
    expect(polishEditor).toMatch(/Uwaga: samopodpisane\s+certyfikaty testowe działają tylko z wbudowaną Piaskownicą/);
    expect(englishEditor).toMatch(/Warning: self-signed test certificates\s+work only with the embedded Sandbox/);
  });

  it('lists one example flow per node, and only Node-RED flows, under Import > Examples', async () => {
    const root = await getJson(`/library/examples/flows/${quickstart.PACKAGE_NAME}`);
    const folder = await getJson(`/library/examples/flows/${quickstart.PACKAGE_NAME}/ksef-send`);
    const example = await getJson(`/library/examples/flows/${quickstart.PACKAGE_NAME}/ksef-send/Send%20demo%20invoices`);

    // Node-RED offers every .json under examples/ for import, so anything else there (e.g. n8n workflows) misleads users.
    expect([...root].sort()).toEqual(['ksef-auth', 'ksef-certificate', 'ksef-invoice', 'ksef-send', 'ksef-sync', 'ksef-token']);
    expect(folder).toEqual([{ fn: 'Send demo invoices' }]);
    expect(example.map((node: { type: string }) => node.type)).toContain('ksef-send');
    for (const type of ['ksef-auth', 'ksef-token', 'ksef-certificate', 'ksef-invoice', 'ksef-sync']) {
      const [entry] = await getJson(`/library/examples/flows/${quickstart.PACKAGE_NAME}/${type}`);
      const flow = await getJson(`/library/examples/flows/${quickstart.PACKAGE_NAME}/${type}/${encodeURIComponent(entry.fn)}`);
      expect({ type, hasNode: flow.some((node: { type: string }) => node.type === type) }).toEqual({ type, hasNode: true });
    }
  });
});

async function firstResultLine(): Promise<Array<Record<string, any>>> {
  return JSON.parse(await fileLine('results.jsonl'));
}

/** The first line a file node of the flow wrote to `name` in the work folder. */
async function fileLine(name: string): Promise<string> {
  const file = path.join(workDir, name);
  await waitFor(`a line in ${name}`, () => fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('\n'));
  return fs.readFileSync(file, 'utf8').split('\n')[0];
}

/** The first line of Node-RED's log that matches `pattern` (console debug nodes and node warnings log there). */
async function logLine(pattern: RegExp): Promise<RegExpExecArray> {
  let match: RegExpExecArray | null = null;
  await waitFor(`a log line matching ${pattern}`, () => log.some((line) => (match = pattern.exec(line)) !== null));
  return match!;
}

async function waitFor(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`No ${what} within 120 s. Node-RED log:\n${log.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function post(urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<void> {
  const response = await fetch(baseUrl + urlPath, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect({ urlPath, status: response.status }).toEqual({ urlPath, status: 200 });
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
