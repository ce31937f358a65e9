/**
 * The Node-RED editor in headless Chromium (Debian's, driven by playwright-core) against a real Node-RED 4 with the
 * packed package, doing what a user does: Import > Examples one example after another (the examples share one
 * sandbox config node, which the editor then keeps once), deploy, press the send example's inject button, and in the
 * config dialog test the connection and load certificate files from disk. Also checks the dialogs' layout in Polish.
 * Screenshots go to .tmp/screenshots/node-red-editor-*.png. Needs `npm run build` first (`npm run test:hosts` does).
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { nodeRedWithPackage, quickstart } from './support/nodeRedUserDir';
import { generateTestCertificate } from '../../shared';
import { findSpecFolder } from '../../shared/protocol/spec/specFolder';

const ROOT = path.resolve(__dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = path.join(ROOT, '.tmp', 'screenshots');
const DEMO_SELLER_NIP = '1234563218';
/** The sandbox config node every sandbox example carries (same id and content). */
const SHARED_CONFIG_ID = 'a1f0c0de00000009';
const SEND_NODE_ID = 'a1f0c0de00000004';
const SEND_INJECT_ID = 'a1f0c0de00000002';
const CONFLICT_NOTICE = 'Some of the nodes you are importing already exist';

let workDir: string;
let baseUrl: string;
let nodeRed: ChildProcess | undefined;
let browser: Browser | undefined;
const log: string[] = [];

// The browser globals (RED, $) exist only in the page; the project's TypeScript has no DOM library.
declare const RED: any;

const describeWithChromium = fs.existsSync(CHROMIUM) || process.env.CI === 'true' ? describe : describe.skip;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    if (process.env.CI === 'true') throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH).`);
    return;
  }
  let userDir: string;
  const installed = await nodeRedWithPackage('ksef-node-red-editor-', [
    'ksef-config.js',
    'ksef-config.html',
    'locales/pl/ksef-config.json',
  ]);
  ({ workDir, userDir, baseUrl } = installed);
  const { settingsFile } = installed;
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify([{ id: 'editorTestTab', type: 'tab', label: 'empty' }]));

  const specDir = findSpecFolder();
  [nodeRed, browser] = await Promise.all([
    quickstart
      .startNodeRed(userDir, settingsFile, {
        onLine: (line) => log.push(line),
        env: { ...process.env, ...(specDir && { KSEF_SPEC_DIR: specDir }) },
      })
      .catch((err: Error) => {
        throw new Error(`${err.message}\nNode-RED log:\n${log.join('\n')}`);
      }),
    chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    }),
  ]);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  if (nodeRed) await quickstart.stopNodeRed(nodeRed);
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

describeWithChromium('Node-RED 4 editor with the packed package', () => {
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    page = await openEditor('en-US', pageErrors);
  });

  afterAll(async () => {
    await page?.context().close();
  });

  afterEach(() => {
    expect(pageErrors).toEqual([]);
  });

  it('imports the examples one after another with one shared sandbox config node, and sends only on a button press', async () => {
    await importExample(page, 'ksef-send', 'Send demo invoices');
    expect(await configNodes(page)).toEqual([{ id: SHARED_CONFIG_ID, name: 'KSeF Sandbox', users: 1 }]);

    // The second example's config node has the id of the one already there: Node-RED 4.1 says so, and "Import copy"
    // (new ids for the flow) links the imported nodes to the existing config node instead of adding a copy.
    await importExample(page, 'ksef-auth', 'Check credentials and list sessions');
    await resolveConflict(page, 'ksef-auth', 'Check credentials and list sessions', 'Import copy');
    expect(await configNodes(page)).toEqual([{ id: SHARED_CONFIG_ID, name: 'KSeF Sandbox', users: 3 }]);

    // "View nodes..." offers the existing config node unticked: importing the selection keeps it once as well.
    await importExample(page, 'ksef-token', 'Generate and revoke a KSeF token');
    await resolveConflict(page, 'ksef-token', 'Generate and revoke a KSeF token', 'View nodes...');
    expect(await configNodes(page)).toEqual([{ id: SHARED_CONFIG_ID, name: 'KSeF Sandbox', users: 6 }]);

    // The certificate example has its own config (a seal), different in content, so it is added.
    await importExample(page, 'ksef-certificate', 'Test certificate and KSeF certificates');
    expect((await configNodes(page)).map((node) => node.name).sort()).toEqual(['KSeF Sandbox', 'KSeF Sandbox seal']);

    await deploy(page);
    const deployed = (await (await fetch(`${baseUrl}/flows`)).json()) as Array<Record<string, any>>;
    expect(
      deployed
        .filter((node) => node.type === 'ksef-config')
        .map((node) => node.name)
        .sort(),
    ).toEqual(['KSeF Sandbox', 'KSeF Sandbox seal']);
    const sandboxUsers = deployed.filter((node) => ['ksef-send', 'ksef-auth', 'ksef-token'].includes(node.type));
    expect(sandboxUsers.length).toBe(6);
    expect(new Set(sandboxUsers.map((node) => node.ksef))).toEqual(new Set([SHARED_CONFIG_ID]));

    // The other examples' on-start injects have fired (1 s after the deploy): the send example's has none.
    await logLine(/Signed in: /);
    await page.waitForTimeout(1500);
    expect(log.filter((line) => line.includes('KSeF number: '))).toEqual([]);

    await page.evaluate((id) => RED.workspaces.show(RED.nodes.node(id).z), SEND_INJECT_ID);
    await page.click(`[id="${SEND_INJECT_ID}"] .red-ui-flow-node-button`);
    await logLine(/KSeF number: .*invoice FV\/\d+\/2/);
    expect(log.filter((line) => /KSeF number: \d{10}-/.test(line))).toHaveLength(2);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'node-red-editor-send-example.png') });
  });

  it('names the nodes on the canvas with one pattern', async () => {
    const labels = (await page.evaluate(() => {
      const found: string[] = [];
      RED.nodes.eachNode((node: any) => {
        if (/^ksef-/.test(node.type)) found.push(RED.utils.getNodeLabel(node));
      });
      return found;
    })) as string[];
    const onCanvas = await page.textContent(`[id="${SEND_NODE_ID}"] .red-ui-flow-node-label`);

    expect(onCanvas?.trim()).toBe('KSeF send');
    expect(labels).toEqual(
      expect.arrayContaining(['KSeF send', 'KSeF auth: authenticate', 'KSeF token: generate', 'KSeF certificate: test certificate']),
    );
    expect(labels.filter((label) => !/^KSeF (send|(auth|token|certificate): [a-z ]+)$/.test(label))).toEqual([]);
  });

  it('tests the connection with the settings typed in the config dialog or deployed, and loads certificate files into it', async () => {
    await openSendConfigDialog(page);

    expect(await testConnection(page)).toMatch(
      new RegExp(`^KSeF accepted these settings: signed in for context ${DEMO_SELLER_NIP} \\(authentication \\d{8}-AU-`),
    );

    const wrongToken = `wrong-token-${Date.now()}`;
    await page.fill('#node-config-input-ksefToken', wrongToken);
    const refused = await testConnection(page);
    expect(refused).toMatch(/KSeF refused authentication .*450/);
    expect(refused).not.toContain(wrongToken);
    await page.fill('#node-config-input-ksefToken', '');

    const seal = generateTestCertificate({
      subject: { kind: 'seal', organizationName: 'Demo Sprzedawca sp. z o.o.', nip: DEMO_SELLER_NIP },
      pkcs12Password: 'editor-test-password',
    });
    await page.selectOption('#node-config-input-authMethod', 'certificate');
    await page.selectOption('#node-config-input-certificateFormat', 'pem');
    // One PEM file with the certificate and the key, as many tools save them: each goes to its own field.
    await page.setInputFiles('#ksef-config-file-certificatePem', {
      name: 'seal.pem',
      mimeType: 'application/x-pem-file',
      buffer: Buffer.from(`${seal.certificatePem}\n${seal.privateKeyPem}`),
    });
    await page.waitForFunction(() => (globalThis as any).document.getElementById('node-config-input-privateKeyPem').value !== '');
    expect(await page.inputValue('#node-config-input-certificatePem')).toBe(seal.certificatePem.trim());
    expect(await page.inputValue('#node-config-input-privateKeyPem')).toBe(seal.privateKeyPem.trim());
    expect(await page.textContent('.ksef-config-pem .ksef-config-file-note')).toContain('seal.pem loaded');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'node-red-editor-config-pem.png') });
    expect(await testConnection(page)).toMatch(/^KSeF accepted these settings/);

    await page.selectOption('#node-config-input-certificateFormat', 'pkcs12');
    await page.setInputFiles('#ksef-config-file-pkcs12', { name: 'seal.p12', mimeType: 'application/x-pkcs12', buffer: seal.pkcs12 });
    await page.waitForFunction(() => (globalThis as any).document.getElementById('node-config-input-pkcs12').value !== '');
    expect(await page.inputValue('#node-config-input-pkcs12')).toBe(seal.pkcs12.toString('base64'));
    await page.fill('#node-config-input-pkcs12Password', 'editor-test-password');
    expect(await testConnection(page)).toMatch(/^KSeF accepted these settings/);

    // A deployed token comes back to the dialog as Node-RED's placeholder: the test uses the stored token (refused
    // here, where an empty token would sign in with the sandbox's demo token).
    await page.selectOption('#node-config-input-authMethod', 'ksefToken');
    await page.fill('#node-config-input-ksefToken', wrongToken);
    await page.click('#node-config-dialog-ok');
    await page.click('#node-dialog-ok');
    await deploy(page);
    await openSendConfigDialog(page);
    expect(await page.inputValue('#node-config-input-ksefToken')).toBe('__PWRD__');
    const stored = await testConnection(page);
    expect(stored).toMatch(/KSeF refused authentication .*450/);
    expect(stored).not.toContain(wrongToken);
    expect(log.join('\n')).not.toContain(wrongToken);

    await page.click('#node-config-dialog-cancel');
    await page.click('#node-dialog-cancel');
  });
});

/** Uses the flows the English part imported and deployed (jest runs a file's tests in order). */
describeWithChromium('Node-RED 4 editor in Polish', () => {
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    page = await openEditor('pl-PL', pageErrors);
  });

  afterAll(async () => {
    await page?.context().close();
  });

  it('puts every config dialog label on one line beside its field, in every authentication state', async () => {
    await openSendConfigDialog(page);
    const states: Array<[string, string?]> = [['ksefToken'], ['certificate', 'pkcs12'], ['certificate', 'pem']];
    const problems: string[] = [];
    for (const [method, format] of states) {
      await page.selectOption('#node-config-input-authMethod', method);
      if (format) await page.selectOption('#node-config-input-certificateFormat', format);
      const state = format ? `${method}-${format}` : method;
      await page.screenshot({ path: path.join(SCREENSHOTS, `node-red-editor-config-pl-${state}.png`) });
      problems.push(
        ...((await page.evaluate(labelProblems, '.ksef-config-form .form-row')) as string[]).map((problem) => `${state}: ${problem}`),
      );
    }
    const authentication = (await page.textContent('label[for="node-config-input-authMethod"]'))?.trim();

    expect(authentication).toBe('Uwierzytelnianie');
    expect(problems).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.click('#node-config-dialog-cancel');
    await page.click('#node-dialog-cancel');
  });

  it("puts ksef-token's permissions label beside the first permission", async () => {
    const tokenId = await page.evaluate(() => {
      let id = '';
      RED.nodes.eachNode((node: any) => {
        if (node.type === 'ksef-token' && node.operation === 'generate') id = node.id;
      });
      RED.workspaces.show(RED.nodes.node(id).z);
      return id;
    });
    await page.dblclick(`[id="${tokenId}"] .red-ui-flow-node`);
    await page.waitForSelector('#ksef-token-permissions label', { state: 'visible' });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'node-red-editor-token-pl.png') });
    const [label, firstPermission] = await Promise.all(
      ['.form-row:has(#ksef-token-permissions) > label:first-child', '#ksef-token-permissions label'].map(
        async (selector) => (await page.locator(selector).first().boundingBox())!,
      ),
    );

    expect(Math.abs(label.y - firstPermission.y)).toBeLessThan(6);
    expect(label.x + label.width).toBeLessThanOrEqual(firstPermission.x);
    expect(pageErrors).toEqual([]);
    await page.click('#node-dialog-cancel');
  });
});

/**
 * Runs in the page: the form rows' first labels that wrap onto a second line or reach into their field. The DOM is
 * typed `any` here (no DOM library in the project's TypeScript).
 */
function labelProblems(rowSelector: string): string[] {
  const page = globalThis as any;
  const problems: string[] = [];
  for (const row of Array.from(page.document.querySelectorAll(rowSelector)) as any[]) {
    const label = row.querySelector(':scope > label:first-child');
    const field = row.querySelector(':scope > input:not([type="checkbox"]), :scope > select, :scope > textarea, :scope > button');
    if (!label || row.offsetParent === null || !label.innerText.trim()) continue;
    const lineHeight = parseFloat(page.getComputedStyle(label).lineHeight) || 20;
    const box = label.getBoundingClientRect();
    if (box.height > lineHeight * 1.5) problems.push(`"${label.innerText.trim()}" wraps (${Math.round(box.height)} px high)`);
    if (field && box.right > field.getBoundingClientRect().left + 1) problems.push(`"${label.innerText.trim()}" reaches into its field`);
  }
  return problems;
}

async function openEditor(locale: string, pageErrors: string[]): Promise<Page> {
  const context = await browser!.newContext({ locale, viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(`${error.name}: ${error.message}`));
  await page.goto(baseUrl);
  // The palette lists our nodes once the editor has loaded the node types and their catalogues.
  await page.waitForSelector('.red-ui-palette-node[data-palette-type="ksef-send"]', { state: 'attached' });
  return page;
}

/**
 * Menu > Import > Examples > the package > `folder` > `file` > Import, into a new flow. Returns once the flow's tab is
 * there or Node-RED asks about nodes that already exist (the editor fetches the example after the dialog closes).
 */
async function importExample(page: Page, folder: string, file: string): Promise<void> {
  await page.click('#red-ui-header-button-sidemenu');
  await page.click('#menu-item-import');
  await page.click('#red-ui-clipboard-dialog-import-tabs a:has-text("Examples")');
  const library = page.locator('#red-ui-clipboard-dialog-import-tabs-content .red-ui-treeList-label:visible');
  await library.filter({ hasText: quickstart.PACKAGE_NAME }).click();
  await library.filter({ hasText: new RegExp(`^${folder}$`) }).click();
  await library.filter({ hasText: file }).click();
  await page.click('#red-ui-clipboard-dialog-import-opt-new');
  await page.click('#red-ui-clipboard-dialog-ok');
  const tab = exampleTabLabel(folder, file);
  await page.waitForFunction(
    ({ label, conflictText }) => {
      let found = false;
      RED.nodes.eachWorkspace((workspace: any) => {
        found ||= workspace.label === label;
      });
      return found || (globalThis as any).$(`.red-ui-notification:contains("${conflictText}")`).length > 0;
    },
    { label: tab, conflictText: CONFLICT_NOTICE },
  );
}

/** Answers Node-RED's notice that some imported nodes already exist, and waits for the imported flow's tab. */
async function resolveConflict(page: Page, folder: string, file: string, choice: 'Import copy' | 'View nodes...'): Promise<void> {
  const notice = page.locator('.red-ui-notification', { hasText: CONFLICT_NOTICE });
  await notice.getByRole('button', { name: choice }).click();
  if (choice === 'View nodes...') await page.click('#red-ui-clipboard-dialog-import-conflict');
  await page.waitForFunction(
    (label) => {
      let found = false;
      RED.nodes.eachWorkspace((workspace: any) => {
        found ||= workspace.label === label;
      });
      return found;
    },
    exampleTabLabel(folder, file),
  );
}

function exampleTabLabel(folder: string, file: string): string {
  const flow = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', folder, `${file}.json`), 'utf8')) as Array<Record<string, string>>;
  return flow.find((node) => node.type === 'tab')!.label;
}

async function configNodes(page: Page): Promise<Array<{ id: string; name: string; users: number }>> {
  return (await page.evaluate(() => {
    const found: Array<{ id: string; name: string; users: number }> = [];
    RED.nodes.eachConfig((node: any) => {
      if (node.type === 'ksef-config') found.push({ id: node.id, name: node.name, users: node.users.length });
    });
    return found;
  })) as Array<{ id: string; name: string; users: number }>;
}

async function deploy(page: Page): Promise<void> {
  const started = log.length;
  await page.click('#red-ui-header-button-deploy');
  await waitFor('Node-RED to start the deployed flows', () => log.slice(started).some((line) => line.includes('Started flows')));
}

/** Double-clicks the send example's ksef-send node, then the pencil beside its KSeF config. */
async function openSendConfigDialog(page: Page): Promise<void> {
  await page.evaluate((id) => RED.workspaces.show(RED.nodes.node(id).z), SEND_NODE_ID);
  await page.dblclick(`[id="${SEND_NODE_ID}"] .red-ui-flow-node`);
  await page.click('#node-input-btn-ksef-edit');
  await page.waitForSelector('#ksef-config-test', { state: 'visible' });
}

/** Clicks Test connection and returns what the dialog shows once the answer is in. */
async function testConnection(page: Page): Promise<string> {
  await page.click('#ksef-config-test');
  await page.waitForSelector('#ksef-config-test-result.ksef-config-ok, #ksef-config-test-result.ksef-config-error', { timeout: 60_000 });
  return (await page.textContent('#ksef-config-test-result'))!.trim();
}

async function logLine(pattern: RegExp): Promise<void> {
  await waitFor(`a log line matching ${pattern}`, () => log.some((line) => pattern.test(line)));
}

async function waitFor(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`No ${what} within 120 s. Node-RED log:\n${log.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
