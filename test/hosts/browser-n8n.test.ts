/**
 * The n8n 2.41 editor in headless Chromium (Debian's), with the package installed from `npm pack` as users get it:
 * the owner is set up over REST, a workflow with the KSeF node is created over REST, then the browser signs in on the
 * sign-in page, opens the workflow and double-clicks the node.
 *
 * Checks the node panel (NDV): every resource and every operation of the node's description is offered and selectable,
 * and for each the parameters the description shows by default are on screen with their labels; the Invoice > Send
 * parameters in particular; the Docs link is the package README. Then the KSeF API credential form, opened from the
 * panel: its fields in every state its selects and switches lead to (two levels deep) and its docs link. Then the KSeF
 * Trigger's panel: its events and its parameters in both start states. Fails on any
 * console error (beyond the precise allowlist below), uncaught page error or request leaving the machine.
 * Screenshots go to .tmp/screenshots/n8n-*.png.
 *
 * One n8n server (own HTTP and task-broker ports) and one browser for the whole file. Needs test/hosts/ensure-hosts.sh.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INodeProperties } from 'n8n-workflow';
import type { Browser, Locator, Page } from 'playwright-core';
import { describeWithChromium, launchChromium, openPage, screenshot, type PageProblems } from './support/browser';
import { N8nHost, locateN8n, packPackage } from './support/n8nHost';
import { freePort } from './support/ports';
import { KsefApi } from '../../credentials/KsefApi.credentials';
import { Ksef } from '../../nodes/n8n/Ksef/Ksef.node';
import { KsefTrigger } from '../../nodes/n8n/KsefTrigger/KsefTrigger.node';
import { findSpecFolder } from '../../shared/protocol/spec/specFolder';

const README = 'https://github.com/ksef-flow/n8n-nodes-ksef#';
const NODE_TYPE = '@ksef-flow/n8n-nodes-ksef.ksef';
const NODE_NAME = 'KSeF';
const OWNER = { email: 'owner@example.com', firstName: 'Test', lastName: 'Owner', password: `Pw1-${randomBytes(12).toString('hex')}` };
/**
 * n8n-internal console noise, allowed only where it occurs: the sign-in page first asks whether a session exists
 * (GET /rest/login) and the browser logs the expected 401.
 */
const SIGN_IN_NOISE = [
  /^Failed to load resource: the server responded with a status of 401 \(Unauthorized\) \(http:\/\/127\.0\.0\.1:\d+\/rest\/login:0\)$/,
];

const description = new Ksef().description;
const triggerDescription = new KsefTrigger().description;
const TRIGGER_TYPE = '@ksef-flow/n8n-nodes-ksef.ksefTrigger';
const TRIGGER_NAME = 'KSeF Trigger';
const credentialProperties = new KsefApi().properties;

let host: N8nHost | undefined;
let n8n: ChildProcess | undefined;
let n8nExited: Promise<void> | undefined;
let n8nLog = '';
let baseUrl: string;
let workflowId: string;
let browser: Browser | undefined;
let page: Page;
let problems: PageProblems;

type Values = Record<string, unknown>;

/** Whether n8n shows a property for these parameter values (plain show/hide conditions; `@version` is 1). */
function isShown(property: INodeProperties, values: Values): boolean {
  const matches = (key: string, allowed: unknown[]) => {
    const value = key === '@version' ? 1 : values[key.replace(/^\//, '')];
    return allowed.some((candidate) => (typeof candidate === 'object' && candidate !== null ? true : candidate === value));
  };
  const { show = {}, hide = {} } = property.displayOptions ?? {};
  return (
    Object.entries(show).every(([key, allowed]) => matches(key, allowed as unknown[])) &&
    !Object.entries(hide).some(([key, allowed]) => matches(key, allowed as unknown[]))
  );
}

/** The parameter values in a state: the state's own, then each shown property's default (first shown wins). */
function valuesFor(properties: INodeProperties[], state: Values): Values {
  const values: Values = { ...state };
  for (let pass = 0; pass < 3; pass += 1) {
    for (const property of properties) {
      if (!(property.name in state) && isShown(property, values)) values[property.name] ??= property.default;
    }
  }
  return values;
}

/** The labels of the parameters n8n should render in a state (not notices or hidden ones). */
function expectedLabels(properties: INodeProperties[], state: Values): string[] {
  const values = valuesFor(properties, state);
  return [
    ...new Set(
      properties
        .filter((property) => !['notice', 'hidden', 'callout'].includes(property.type) && isShown(property, values))
        .map((property) => property.displayName),
    ),
  ];
}

function optionNames(property: INodeProperties): string[] {
  return (property.options ?? []).map((option) => (option as { name: string }).name);
}

function expectNoProblems(step: string, allowed: RegExp[] = []): void {
  expect({ step, ...problems.sinceMark(allowed) }).toEqual({ step, consoleErrors: [], pageErrors: [], offHostRequests: [] });
}

async function waitForReadiness(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ready = await fetch(`${baseUrl}/healthz/readiness`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return;
    if (n8n?.exitCode !== null || Date.now() > deadline) throw new Error(`n8n did not become ready at ${baseUrl}:\n${n8nLog.slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Starts `n8n start` on its own ports with our package installed; sets up the owner and the test workflow over REST. */
async function startN8n(): Promise<void> {
  const installation = locateN8n();
  const packDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-browser-pack-'));
  try {
    host = await N8nHost.create(installation);
    await host.installPackage(await packPackage(packDir));
  } finally {
    fs.rmSync(packDir, { recursive: true, force: true });
  }
  const [port, brokerPort] = [await freePort(), await freePort()];
  baseUrl = `http://127.0.0.1:${port}`;
  const specDir = findSpecFolder();
  n8n = spawn(installation.n8nBin, ['start'], {
    cwd: host.userFolder,
    env: {
      ...process.env,
      PATH: `${installation.node24Bin}${path.delimiter}${process.env.PATH ?? ''}`,
      NODE_ENV: 'production',
      N8N_USER_FOLDER: host.userFolder,
      N8N_ENCRYPTION_KEY: randomBytes(24).toString('hex'),
      N8N_PORT: String(port),
      N8N_LISTEN_ADDRESS: '127.0.0.1',
      // Parallel n8n processes clash on the task broker's default port.
      N8N_RUNNERS_BROKER_PORT: String(brokerPort),
      N8N_DIAGNOSTICS_ENABLED: 'false',
      N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
      N8N_TEMPLATES_ENABLED: 'false',
      N8N_PERSONALIZATION_ENABLED: 'false',
      N8N_SECURE_COOKIE: 'false',
      N8N_LOG_LEVEL: 'info',
      N8N_DISABLED_MODULES: 'mcp-registry,instance-ai,agents,agent-evals,chat-hub,workflow-builder,insights',
      ...(specDir && { KSEF_SPEC_DIR: specDir }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer) => (n8nLog = (n8nLog + chunk.toString('utf8')).slice(-20_000));
  n8n.stdout?.on('data', keep);
  n8n.stderr?.on('data', keep);
  const child = n8n;
  n8nExited = new Promise((resolve) => child.once('exit', () => resolve()));
  await waitForReadiness(120_000);

  const setup = await fetch(`${baseUrl}/rest/owner/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(OWNER),
  });
  if (!setup.ok) throw new Error(`n8n owner setup failed: ${setup.status} ${await setup.text()}`);
  const cookie = setup.headers
    .getSetCookie()
    .map((value) => value.split(';')[0])
    .join('; ');
  const trigger = 'When clicking ‘Execute workflow’';
  const created = await fetch(`${baseUrl}/rest/workflows`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({
      name: 'KSeF browser test',
      nodes: [
        {
          id: 'b0000000-0000-4000-8000-000000000001',
          name: trigger,
          type: 'n8n-nodes-base.manualTrigger',
          typeVersion: 1,
          position: [0, 0],
          parameters: {},
        },
        {
          id: 'b0000000-0000-4000-8000-000000000002',
          name: NODE_NAME,
          type: NODE_TYPE,
          typeVersion: 1,
          position: [300, 0],
          parameters: {},
        },
        {
          id: 'b0000000-0000-4000-8000-000000000003',
          name: TRIGGER_NAME,
          type: TRIGGER_TYPE,
          typeVersion: 1,
          position: [0, 300],
          parameters: {},
        },
      ],
      connections: { [trigger]: { main: [[{ node: NODE_NAME, type: 'main', index: 0 }]] } },
      settings: {},
    }),
  });
  const body = (await created.json()) as { data?: { id: string } };
  if (!created.ok || !body.data) throw new Error(`Creating the workflow failed: ${created.status} ${JSON.stringify(body)}`);
  workflowId = body.data.id;
}

/** Waits for all, then throws the first failure (Promise.all would return before the others had settled). */
async function settleAll(promises: Array<Promise<unknown>>): Promise<void> {
  const failure = (await Promise.allSettled(promises)).find((result) => result.status === 'rejected');
  if (failure) throw (failure as PromiseRejectedResult).reason;
}

async function stopN8n(): Promise<void> {
  if (n8n && n8n.exitCode === null && n8n.signalCode === null) {
    const child = n8n;
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.kill('SIGTERM');
    await n8nExited;
    clearTimeout(killTimer);
  }
  await host?.cleanup();
}

/** Opens an n8n select (a parameter's dropdown) and returns the names it offers. */
async function openSelect(scope: Locator, parameter: string): Promise<string[]> {
  await scope.locator(`[data-test-id="parameter-input-${parameter}"]`).click();
  const items = page.locator('.el-select-dropdown__item:visible');
  await items.first().waitFor();
  return (await items.locator('.option-headline').allInnerTexts()).map((text) => text.trim());
}

/** Picks an option of a parameter's select by its name. */
async function choose(scope: Locator, parameter: string, name: string): Promise<string[]> {
  const offered = await openSelect(scope, parameter);
  await page
    .locator('.el-select-dropdown__item:visible')
    .filter({ has: page.locator('.option-headline', { hasText: new RegExp(`^${escapeRegExp(name)}$`) }) })
    .click();
  await page
    .locator('.el-select-dropdown__item:visible')
    .first()
    .waitFor({ state: 'hidden' })
    .catch(() => undefined);
  return offered;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The parameter labels on screen in a scope (first line of each label, without a required-field asterisk). */
async function labelsIn(scope: Locator): Promise<string[]> {
  const texts = await scope.locator('.n8n-input-label:visible').allInnerTexts();
  return texts
    .map((text) =>
      text
        .split('\n')[0]
        .replace(/\s*\*\s*$/, '')
        .trim(),
    )
    .filter(Boolean);
}

async function expectLabels(scope: Locator, expected: string[], where: string): Promise<void> {
  // Parameters appear once the select's change has settled: look again for a few seconds before judging.
  let missing: string[] = [];
  const deadline = Date.now() + 10_000;
  do {
    const shown = await labelsIn(scope);
    missing = expected.filter((label) => !shown.includes(label));
    if (missing.length === 0) break;
    await page.waitForTimeout(250);
  } while (Date.now() < deadline);
  expect({ where, missing }).toEqual({ where, missing: [] });
}

describeWithChromium('n8n editor in headless Chromium', () => {
  const ndv = () => page.locator('[data-test-id="ndv"]');
  const resourceProperty = description.properties.find((property) => property.name === 'resource')!;
  const resources = resourceProperty.options as Array<{ name: string; value: string }>;
  const operationProperty = (resource: string) =>
    description.properties.find((property) => property.name === 'operation' && isShown(property, { resource }))!;

  beforeAll(async () => {
    // Both start at once; each is kept as soon as it exists, so afterAll stops it even when the other failed.
    await settleAll([startN8n(), launchChromium().then((launched) => (browser = launched))]);
    // Tall enough that the screenshots show most of a panel or the credential form.
    ({ page, problems } = await openPage(browser!, 'en-US', { width: 1400, height: 1200 }));
    page.setDefaultTimeout(60_000);
  });

  afterAll(async () => {
    await browser?.close();
    await stopN8n();
  });

  it('signs in on the sign-in page and opens the KSeF node panel by double-click', async () => {
    await page.goto(`${baseUrl}/signin`);
    await page.locator('input[name="emailOrLdapLoginId"]').fill(OWNER.email);
    await page.locator('input[type="password"]').fill(OWNER.password);
    await page.locator('[data-test-id="form-submit-button"]').click();
    await page.waitForURL((url) => !url.pathname.startsWith('/signin'));
    expectNoProblems('sign in', SIGN_IN_NOISE);

    problems.mark();
    await page.goto(`${baseUrl}/workflow/${workflowId}`);
    const node = page.locator(`[data-test-id="canvas-node"][data-node-name="${NODE_NAME}"]`);
    await node.waitFor({ timeout: 180_000 }); // the editor bundle is large and the machine shared
    await screenshot(page, 'n8n-canvas');
    await node.dblclick();
    await ndv().locator('[data-test-id="parameter-input-resource"]').waitFor();
    await screenshot(page, 'n8n-ndv-opened');
    const docs = await ndv().locator('a[href^="https://github.com/ksef-flow/"]').first().getAttribute('href');
    expect(docs?.startsWith(README)).toBe(true);
    expectNoProblems('open the workflow and the node panel');
  });

  it('offers every resource and operation of the node, each selectable, with its parameters shown', async () => {
    problems.mark();
    const offeredResources = await openSelect(ndv(), 'resource');
    await page.keyboard.press('Escape');
    expect(offeredResources).toEqual(resources.map((resource) => resource.name));
    for (const resource of resources) {
      await choose(ndv(), 'resource', resource.name);
      const operations = operationProperty(resource.value);
      const operationOptions = operations.options as Array<{ name: string; value: string }>;
      for (const operation of operationOptions) {
        const offered = await choose(ndv(), 'operation', operation.name);
        expect({ resource: resource.name, offered }).toEqual({ resource: resource.name, offered: optionNames(operations) });
        const where = `${resource.name} > ${operation.name}`;
        await expectLabels(ndv(), expectedLabels(description.properties, { resource: resource.value, operation: operation.value }), where);
        await screenshot(page, `n8n-ndv-${resource.value}-${operation.value}`);
        expectNoProblems(where);
      }
    }
  });

  it('Invoice > Send shows its parameters', async () => {
    problems.mark();
    await choose(ndv(), 'resource', 'Invoice');
    await choose(ndv(), 'operation', 'Send');
    const expected = expectedLabels(description.properties, { resource: 'invoice', operation: 'send' });
    // The parameters the README's n8n section walks through, besides whatever else the description shows.
    for (const name of ['xmlSource', 'binaryPropertyName', 'schema', 'waitForProcessingSeconds', 'downloadUpo']) {
      expect({ name, visible: await ndv().locator(`[data-test-id="parameter-input-${name}"]`).isVisible() }).toEqual({
        name,
        visible: true,
      });
    }
    await expectLabels(ndv(), expected, 'Invoice > Send');
    // The credential picker (an empty-state "Connect" button while no credential exists).
    expect(
      await ndv().locator('[data-test-id="node-credentials-select"], [data-test-id="node-credentials-empty-state"]').first().isVisible(),
    ).toBe(true);
    await screenshot(page, 'n8n-ndv-invoice-send');
    expectNoProblems('Invoice > Send');
  });

  it('opens the KSeF API credential form with its fields in every state', async () => {
    problems.mark();
    await ndv()
      .getByText(/Connect to KSeF|Create new credential/)
      .first()
      .click();
    const modal = page.locator('[data-test-id="editCredential-modal"]');
    await modal.locator('[data-test-id="parameter-input-environment"]').waitFor();
    await screenshot(page, 'n8n-credential');
    const docs = await modal.locator('a[href^="https://github.com/ksef-flow/"]').first().getAttribute('href');
    expect(docs?.startsWith(README)).toBe(true);

    const properties = credentialProperties;
    const controlling = properties.filter(
      (property) =>
        ['options', 'boolean'].includes(property.type) &&
        properties.some((other) => Object.keys({ ...other.displayOptions?.show, ...other.displayOptions?.hide }).includes(property.name)),
    );
    const valuesOf = (property: INodeProperties): unknown[] =>
      property.type === 'boolean'
        ? [!property.default]
        : (property.options as Array<{ value: unknown }>).map((option) => option.value).filter((value) => value !== property.default);
    const nameOf = (property: INodeProperties, value: unknown) =>
      (property.options as Array<{ name: string; value: unknown }> | undefined)?.find((option) => option.value === value)?.name;
    const apply = async (property: INodeProperties, value: unknown) => {
      if (property.type === 'boolean') await modal.locator(`[data-test-id="parameter-input-${property.name}"] .el-switch`).click();
      else await choose(modal, property.name, nameOf(property, value)!);
    };

    const seen = new Set<string>();
    const checkState = async (state: Values) => {
      const where = `credential ${JSON.stringify(state)}`;
      const expected = expectedLabels(properties, state);
      expected.forEach((label) => seen.add(label));
      await expectLabels(modal, expected, where);
      expectNoProblems(where);
    };
    await checkState({});
    const defaults = valuesFor(properties, {});
    for (const outer of controlling.filter((property) => isShown(property, defaults))) {
      for (const outerValue of valuesOf(outer)) {
        await apply(outer, outerValue);
        await checkState({ [outer.name]: outerValue });
        await screenshot(page, `n8n-credential-${outer.name}-${String(outerValue)}`);
        const inState = valuesFor(properties, { [outer.name]: outerValue });
        for (const inner of controlling.filter(
          (property) => property !== outer && !isShown(property, defaults) && isShown(property, inState),
        )) {
          for (const innerValue of valuesOf(inner)) {
            await apply(inner, innerValue);
            await checkState({ [outer.name]: outerValue, [inner.name]: innerValue });
            await screenshot(page, `n8n-credential-${outer.name}-${String(outerValue)}-${inner.name}-${String(innerValue)}`);
            await apply(inner, inner.default);
          }
        }
        await apply(outer, outer.default);
      }
    }
    // Every field of the credential was on screen in some state.
    const fields = properties
      .filter((property) => !['notice', 'hidden', 'callout'].includes(property.type))
      .map((property) => property.displayName);
    expect(fields.filter((label) => !seen.has(label))).toEqual([]);
  });

  it('opens the KSeF Trigger panel with its parameters, in both of its start states', async () => {
    problems.mark();
    await page.goto(`${baseUrl}/workflow/${workflowId}`);
    const node = page.locator(`[data-test-id="canvas-node"][data-node-name="${TRIGGER_NAME}"]`);
    await node.waitFor({ timeout: 180_000 });
    await node.dblclick();
    await ndv().locator('[data-test-id="parameter-input-event"]').waitFor();
    const events = await openSelect(ndv(), 'event');
    await page.keyboard.press('Escape');
    expect(events).toEqual(optionNames(triggerDescription.properties.find((property) => property.name === 'event')!));
    await expectLabels(ndv(), expectedLabels(triggerDescription.properties, {}), 'KSeF Trigger');
    await choose(ndv(), 'startFrom', 'Days Back');
    await expectLabels(ndv(), expectedLabels(triggerDescription.properties, { startFrom: 'daysBack' }), 'KSeF Trigger, Days Back');
    await screenshot(page, 'n8n-ndv-ksef-trigger');
    expectNoProblems('KSeF Trigger');
  });
});
