/**
 * The Node-RED editor in headless Chromium (Debian's), in English and in Polish (Node-RED picks the language from the
 * browser's): the palette, every KSeF node's edit dialog (each added to the canvas as a palette drop adds it, then
 * double-clicked) and the ksef-config dialog (opened with the "+" next to the config select), and every node's help.
 *
 * Fails on console errors and uncaught page errors, on requests leaving the machine, on untranslated i18n keys on
 * screen, on dialog labels that differ from the language's catalogue, on node properties without a field in the
 * dialog, on visible fields without a label (in every state the dialog's selects can put it in, two selects deep),
 * on fields that no state shows, on labels that are clipped or wrap onto two lines, and on empty or untranslated help. Screenshots of each dialog (as it opens and in the
 * state with the most fields) go to .tmp/screenshots/node-red-*.png.
 *
 * One Node-RED (the devDependency, with the package installed from `npm pack` as users get it) and one browser serve
 * the whole file. Needs `npm run build` first (`npm run test:hosts` does it).
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describeWithChromium, launchChromium, openPage, screenshot, type PageProblems } from './support/browser';
import { nodeRedWithPackage, quickstart } from './support/nodeRedUserDir';
import { findSpecFolder } from '../../shared/protocol/spec/specFolder';

const ROOT = path.resolve(__dirname, '..', '..');
const FLOW_NODE_TYPES = ['ksef-send', 'ksef-auth', 'ksef-token', 'ksef-certificate', 'ksef-invoice', 'ksef-sync'];
const ALL_TYPES = ['ksef-config', ...FLOW_NODE_TYPES];
const TAB_ID = 'browserTestTab';
/** Browser locale -> the package's catalogue folder that Node-RED should serve for it. */
const LANGUAGES = [
  { locale: 'en-US', catalogue: 'en-US' },
  { locale: 'pl-PL', catalogue: 'pl' },
];
/** Text that is one of our i18n keys (or its namespace) instead of its translation. */
const KEY_PATTERN = /(@ksef-flow\/|\bksef-(?:config|send|auth|token|certificate|invoice|sync)\.[A-Za-z0-9_]+\.[A-Za-z0-9_.]+)/;

let workDir: string;
let userDir: string;
let baseUrl: string;
let nodeRed: ChildProcess | undefined;
let browser: Browser | undefined;
const log: string[] = [];

/** The installed package's catalogue of a node in one language, as flat `ksef-x.label.y` -> text. */
function catalogue(language: string, type: string): Record<string, string> {
  const file = path.join(
    userDir,
    'node_modules',
    ...quickstart.PACKAGE_NAME.split('/'),
    'dist',
    'nodes',
    'node-red',
    'locales',
    language,
    `${type}.json`,
  );
  const flat: Record<string, string> = {};
  const walk = (value: unknown, prefix: string) => {
    if (typeof value === 'string') flat[prefix] = value;
    else if (value && typeof value === 'object')
      for (const [key, child] of Object.entries(value)) walk(child, prefix ? `${prefix}.${key}` : key);
  };
  walk(JSON.parse(fs.readFileSync(file, 'utf8')), '');
  return flat;
}

/** The <h3> headings of a node's help in one language (plain text), which the help sidebar must show. */
function helpHeadings(language: string, type: string): string[] {
  const html = fs.readFileSync(path.join(ROOT, 'nodes', 'node-red', 'locales', language, `${type}.html`), 'utf8');
  return [...html.matchAll(/<h3>([\s\S]*?)<\/h3>/g)].map((match) => match[1].replace(/<[^>]+>/g, '').trim());
}

beforeAll(async () => {
  const built = ['ksef-send.js', 'ksef-send.html', 'locales/pl/ksef-send.json'].map((file) =>
    path.join(ROOT, 'dist', 'nodes', 'node-red', file),
  );
  if (!built.every((file) => fs.existsSync(file))) {
    throw new Error('dist/ is missing or incomplete: run `npm run build` first (`npm run test:hosts` does).');
  }
  if (!fs.existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium')) return; // describeWithChromium reports it
  const installed = await nodeRedWithPackage('ksef-browser-node-red-', []);
  ({ workDir, userDir, baseUrl } = installed);
  const { settingsFile } = installed;
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify([{ id: TAB_ID, type: 'tab', label: 'KSeF' }]));

  const specDir = findSpecFolder();
  // Both start at once; each is kept as soon as it exists, so afterAll stops it even when the other failed.
  const started = await Promise.allSettled([
    quickstart
      .startNodeRed(userDir, settingsFile, {
        onLine: (line) => log.push(line),
        env: { ...process.env, ...(specDir && { KSEF_SPEC_DIR: specDir }) },
      })
      .then((child) => (nodeRed = child))
      .catch((err: Error) => {
        throw new Error(`${err.message}\nNode-RED log:\n${log.join('\n')}`);
      }),
    launchChromium().then((launched) => (browser = launched)),
  ]);
  const failure = started.find((result) => result.status === 'rejected');
  if (failure) throw (failure as PromiseRejectedResult).reason;
});

afterAll(async () => {
  await browser?.close();
  if (nodeRed) await quickstart.stopNodeRed(nodeRed);
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

/** What one dialog looks like in every state its selects can put it in (computed in the page, see inspectDialog). */
interface DialogReport {
  missingFields: string[];
  neverShown: string[];
  unlabelled: string[];
  keysOnScreen: string[];
  wrongTranslations: string[];
  clippedLabels: string[];
  statesChecked: number;
  fullest: Array<[string, string]>;
}

/**
 * Runs in the page. For the open dialog `formSelector` of node type `type`: every property in the type's defaults and
 * credentials has a field; then, for the dialog as it opened and for every option of every select, and every option
 * of every other select within that (two levels), the visible fields each have a label, no i18n key is on screen and
 * our data-i18n elements show the catalogue's text. Restores every select. Also returns the state with the most
 * visible fields (to screenshot it).
 */
function inspectDialog(args: { formSelector: string; type: string; catalogue: Record<string, string>; keyPattern: string }): DialogReport {
  // Runs in the browser: the DOM is typed `any` here (the project's TypeScript has no DOM library).
  const page = globalThis as any;
  const $ = page.$;
  const RED = page.RED;
  const form = page.document.querySelector(args.formSelector);
  const keyPattern = new RegExp(args.keyPattern);
  const definition = RED.nodes.getType(args.type);
  const properties = [...Object.keys(definition.defaults || {}), ...Object.keys(definition.credentials || {})];
  const visible = (element: any): boolean => element.offsetParent !== null && page.getComputedStyle(element).visibility !== 'hidden';
  // The standard field id, else a node-specific control (or group of controls, like ksef-token's permission boxes).
  const fieldOf = (property: string): any =>
    form.querySelector(`#node-input-${property}, #node-config-input-${property}`) ??
    (Array.from(form.querySelectorAll(`[id$="-${property}"]`)) as any[]).find(
      (element) => element.matches('input, select, textarea') || element.querySelector('input, select, textarea'),
    ) ??
    null;
  const fields = () =>
    (Array.from(form.querySelectorAll('input, select, textarea')) as any[]).filter(
      (element) =>
        visible(element) && !element.id.startsWith('red-ui-trap-') && !['hidden', 'button', 'submit', 'file'].includes(element.type),
    );
  const labelText = (field: any): string => {
    const texts: string[] = [];
    if (field.id) form.querySelectorAll(`label[for="${field.id}"]`).forEach((label: any) => texts.push(label.innerText));
    const wrapping = field.closest('label');
    if (wrapping) texts.push(wrapping.innerText);
    const row = field.closest('.form-row');
    if (row) row.querySelectorAll(':scope > label').forEach((label: any) => texts.push(label.innerText));
    return texts
      .join(' ')
      .replace(/\u00a0/g, ' ')
      .trim();
  };
  const describeField = (field: any) => `#${field.id || field.tagName.toLowerCase()}`;

  const missingFields = properties.filter((property) => !fieldOf(property));
  const shown = new Set<string>();
  const unlabelled = new Set<string>();
  const keysOnScreen = new Set<string>();
  const wrongTranslations = new Set<string>();
  const clippedLabels = new Set<string>();
  let statesChecked = 0;
  let fullest: { count: number; state: Array<[string, string]> } = { count: -1, state: [] };

  const check = (state: Array<[string, string]>) => {
    statesChecked += 1;
    const where = state.length ? ` (${state.map(([id, value]) => `${id}=${value}`).join(', ')})` : '';
    const visibleFields = fields();
    if (visibleFields.length > fullest.count) fullest = { count: visibleFields.length, state };
    for (const property of properties) {
      const field = fieldOf(property);
      if (field && (visible(field) || (Array.from(field.querySelectorAll('input')) as any[]).some(visible))) shown.add(property);
    }
    for (const field of visibleFields) {
      if (!labelText(field)) unlabelled.add(describeField(field) + where);
      for (const attribute of ['placeholder', 'title']) {
        const value = field.getAttribute(attribute);
        if (value && keyPattern.test(value)) keysOnScreen.add(`${describeField(field)}[${attribute}] "${value}"${where}`);
      }
    }
    const text: string = form.innerText;
    const leak = text.split('\n').find((line) => keyPattern.test(line));
    if (leak) keysOnScreen.add(`"${leak.trim()}"${where}`);
    form.querySelectorAll('label').forEach((label: any) => {
      if (!visible(label)) return;
      const style = page.getComputedStyle(label);
      const clipped = label.scrollWidth > label.clientWidth + 1 && style.overflow !== 'visible';
      // A row's left-hand label is one line beside its field; a second line pushes it out of line with the field.
      const lineHeight = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.4;
      const leftHand = label.parentElement?.classList.contains('form-row') && label.parentElement.firstElementChild === label;
      const wrapped = leftHand && label.getBoundingClientRect().height > lineHeight * 1.6;
      const text = `"${label.innerText.trim().replace(/\s+/g, ' ')}" ${clipped ? 'clipped' : 'on two lines'}`;
      if ((clipped || wrapped) && ![...clippedLabels].some((seen) => seen.startsWith(text))) clippedLabels.add(`${text}${where}`);
    });
    form.querySelectorAll('[data-i18n]').forEach((element: any) => {
      for (const entry of (element.getAttribute('data-i18n') as string).split(';')) {
        const match = /^(?:\[([a-z]+)\])?(?:([^:]+):)?(.+)$/.exec(entry.trim());
        if (!match) continue;
        const [, attribute, namespace, key] = match;
        if (!namespace?.startsWith('@ksef-flow/') || attribute === 'html') continue;
        const expected = args.catalogue[key];
        const actual: string | null = attribute ? element.getAttribute(attribute) : element.textContent;
        if (expected === undefined) wrongTranslations.add(`${key}: not in the catalogue`);
        else if ((actual ?? '').trim() !== expected.trim())
          wrongTranslations.add(`${key}: shows "${(actual ?? '').trim()}", catalogue "${expected}"`);
      }
    });
  };

  const selects = () =>
    (Array.from(form.querySelectorAll('select')) as any[]).filter(
      // A config-node select (with its add/edit buttons beside it) picks a config node; it does not change the form.
      (select) => visible(select) && !select.parentElement.querySelector('a[id$="-add"]'),
    );
  const options = (select: any): string[] => (Array.from(select.options) as any[]).map((option) => option.value);
  const set = (select: any, value: string) => $(select).val(value).trigger('change');

  check([]);
  for (const outer of selects()) {
    const outerInitial = outer.value;
    for (const outerValue of options(outer)) {
      set(outer, outerValue);
      check([[outer.id, outerValue]]);
      for (const inner of selects()) {
        if (inner === outer) continue;
        const innerInitial = inner.value;
        for (const innerValue of options(inner)) {
          set(inner, innerValue);
          check([
            [outer.id, outerValue],
            [inner.id, innerValue],
          ]);
        }
        set(inner, innerInitial);
      }
    }
    set(outer, outerInitial);
  }
  return {
    missingFields,
    neverShown: properties.filter((property) => fieldOf(property) && !shown.has(property)),
    unlabelled: [...unlabelled],
    keysOnScreen: [...keysOnScreen],
    wrongTranslations: [...wrongTranslations],
    clippedLabels: [...clippedLabels],
    statesChecked,
    fullest: fullest.state,
  };
}

/** Checks the open dialog, screenshots it as opened and in its fullest state, and restores the selects. */
async function checkDialog(page: Page, formSelector: string, type: string, language: string, shotName: string): Promise<DialogReport> {
  await page.locator(formSelector).waitFor();
  await page.waitForTimeout(400); // the tray slides in
  await screenshot(page, shotName);
  const report = await page.evaluate(inspectDialog, {
    formSelector,
    type,
    catalogue: catalogue(language, type),
    keyPattern: KEY_PATTERN.source,
  });
  if (report.fullest.length > 0) {
    const restore = await page.evaluate((state) => {
      const $ = (globalThis as any).$;
      const initial = state.map(([id]) => [id, $(`[id="${id}"]`).val()] as [string, string]);
      for (const [id, value] of state) $(`[id="${id}"]`).val(value).trigger('change');
      return initial;
    }, report.fullest);
    await screenshot(page, `${shotName}-fullest`);
    await page.evaluate((state) => {
      const $ = (globalThis as any).$;
      for (const [id, value] of [...state].reverse()) $(`[id="${id}"]`).val(value).trigger('change');
    }, restore);
  }
  // One screenshot per operation, for people checking the layout of every variant of the dialog.
  const operation = page.locator(`${formSelector} #node-input-operation`);
  if ((await operation.count()) > 0) {
    const initial = await operation.inputValue();
    for (const value of await operation.evaluate((select: any) =>
      (Array.from(select.options) as any[]).map((option) => option.value as string),
    )) {
      await page.evaluate((chosen) => (globalThis as any).$('#node-input-operation').val(chosen).trigger('change'), value);
      await screenshot(page, `${shotName}-operation-${value}`);
    }
    await page.evaluate((chosen) => (globalThis as any).$('#node-input-operation').val(chosen).trigger('change'), initial);
  }
  expect({
    dialog: shotName,
    missingFields: report.missingFields,
    neverShown: report.neverShown,
    unlabelled: report.unlabelled,
    keysOnScreen: report.keysOnScreen,
    wrongTranslations: report.wrongTranslations,
    clippedLabels: report.clippedLabels,
  }).toEqual({
    dialog: shotName,
    missingFields: [],
    neverShown: [],
    unlabelled: [],
    keysOnScreen: [],
    wrongTranslations: [],
    clippedLabels: [],
  });
  expect(report.statesChecked).toBeGreaterThan(0);
  return report;
}

function expectNoProblems(problems: PageProblems, step: string): void {
  expect({ step, ...problems.sinceMark() }).toEqual({ step, consoleErrors: [], pageErrors: [], offHostRequests: [] });
}

describeWithChromium('Node-RED editor in headless Chromium', () => {
  describe.each(LANGUAGES)('in $locale', ({ locale, catalogue: language }) => {
    let context: BrowserContext;
    let page: Page;
    let problems: PageProblems;
    const nodeIds: Record<string, string> = {};

    beforeAll(async () => {
      ({ context, page, problems } = await openPage(browser!, locale));
      await page.goto(`${baseUrl}/`);
      await page.locator('.red-ui-palette-node[data-palette-type="ksef-send"]').waitFor({ timeout: 60_000 });
      // The deployed flow is loaded and its tab shown (the palette can be ready before).
      await page.waitForFunction((tab) => (globalThis as any).RED?.workspaces?.active() === tab, TAB_ID, { timeout: 60_000 });
      // Each flow node added the way a palette drop adds it (defaults, onadd), one under the other.
      Object.assign(
        nodeIds,
        await page.evaluate(
          ({ types, tab }) => {
            const RED = (globalThis as any).RED;
            const ids: Record<string, string> = {};
            types.forEach((type, index) => {
              const created = RED.view.createNode(type, 200, 80 + index * 80, tab);
              RED.nodes.add(created.node);
              RED.history.push(created.historyEvent);
              ids[type] = created.node.id;
            });
            RED.view.redraw(true);
            return ids;
          },
          { types: FLOW_NODE_TYPES, tab: TAB_ID },
        ),
      );
      for (const id of Object.values(nodeIds)) await page.locator(`[id="${id}"] .red-ui-flow-node`).waitFor();
    });

    afterAll(async () => {
      await context?.close();
    });

    it('loads the editor without console errors, with the KSeF palette and canvas labels translated', async () => {
      expectNoProblems(problems, 'editor load');
      const palette: Array<string | null> = await page.evaluate(
        (types) =>
          types.map(
            (type) =>
              (globalThis as any).document.querySelector(`.red-ui-palette-node[data-palette-type="${type}"]`)?.innerText.trim() ?? null,
          ),
        FLOW_NODE_TYPES,
      );
      const canvas: Array<string | null> = await page.evaluate(
        (ids) =>
          ids.map((id) => (globalThis as any).document.querySelector(`[id="${id}"] .red-ui-flow-node-label`)?.textContent?.trim() ?? null),
        FLOW_NODE_TYPES.map((type) => nodeIds[type]),
      );
      const expectedPalette = FLOW_NODE_TYPES.map((type) => catalogue(language, type)[`${type}.paletteLabel`] ?? null);
      for (const [index, type] of FLOW_NODE_TYPES.entries()) {
        expect({ type, palette: palette[index]?.replace(/\s+/g, ' ') }).toEqual({
          type,
          palette: expectedPalette[index]?.replace(/\s+/g, ' '),
        });
        expect({ type, canvas: canvas[index] }).toEqual({ type, canvas: expect.stringMatching(/\S/) });
        expect({ type, canvas: canvas[index] }).not.toEqual({ type, canvas: expect.stringMatching(KEY_PATTERN) });
      }
      await screenshot(page, `node-red-${language}-canvas`);
    });

    it.each(FLOW_NODE_TYPES)('%s: the edit dialog opens by double-click with every field labelled and translated', async (type) => {
      problems.mark();
      await page.locator(`[id="${nodeIds[type]}"] .red-ui-flow-node`).dblclick();
      try {
        await checkDialog(page, '#dialog-form', type, language, `node-red-${language}-${type}`);
        if (type === 'ksef-send') {
          // The "+" next to the KSeF select opens a new ksef-config in a second tray, as a new user's first step.
          await page.locator('#node-input-btn-ksef-add').click();
          try {
            await checkDialog(page, '#node-config-dialog-edit-form', 'ksef-config', language, `node-red-${language}-ksef-config`);
          } finally {
            await page.locator('#node-config-dialog-cancel').click();
            await page.locator('#node-config-dialog-edit-form').waitFor({ state: 'detached' });
          }
        }
      } finally {
        await page.locator('#node-dialog-cancel').click();
        await page.locator('#dialog-form').waitFor({ state: 'detached' });
      }
      expectNoProblems(problems, `${type} dialog`);
    });

    it('the dialog checks catch an unlabelled field, a raw i18n key, a wrong translation and a missing field', async () => {
      await page.locator(`[id="${nodeIds['ksef-auth']}"] .red-ui-flow-node`).dblclick();
      try {
        await page.locator('#dialog-form').waitFor();
        // Break the open dialog the ways a slip in ksef-auth.html or its catalogue would.
        await page.evaluate(() => {
          const $ = (globalThis as any).$;
          $('#dialog-form').append(
            '<div class="form-row"><label for="node-input-unlabelled"></label><input type="text" id="node-input-unlabelled"></div>',
          );
          $('#dialog-form').append('<div class="form-tips">ksef-auth.tip.notTranslated</div>');
          $('#dialog-form label[for="node-input-name"] span[data-i18n]').text('Something else');
          $('#node-input-operation').attr('id', 'node-input-renamed');
        });
        const report = await page.evaluate(inspectDialog, {
          formSelector: '#dialog-form',
          type: 'ksef-auth',
          catalogue: catalogue(language, 'ksef-auth'),
          keyPattern: KEY_PATTERN.source,
        });
        expect(report.missingFields).toEqual(['operation']);
        expect(report.unlabelled).toEqual(expect.arrayContaining(['#node-input-unlabelled']));
        expect(report.keysOnScreen).toEqual(expect.arrayContaining(['"ksef-auth.tip.notTranslated"']));
        expect(report.wrongTranslations).toEqual([expect.stringContaining('ksef-auth.label.name: shows "Something else"')]);
      } finally {
        await page.locator('#node-dialog-cancel').click();
        await page.locator('#dialog-form').waitFor({ state: 'detached' });
      }
    });

    it.each(ALL_TYPES)('%s: the help sidebar shows the help in this language', async (type) => {
      problems.mark();
      await page.evaluate((nodeType) => (globalThis as any).RED.sidebar.help.show(nodeType), type);
      // The help stack's panel: the node's title, then its help text.
      const help = page.locator('.red-ui-sidebar-help-stack .red-ui-help:has(> .red-ui-help-title)');
      await help.locator('.red-ui-help-title').waitFor({ timeout: 10_000 });
      await page.waitForTimeout(200);
      const { title, body } = await help.evaluate((element: any) => ({
        title: element.querySelector('.red-ui-help-title').innerText.trim() as string,
        body: (element.querySelector('.red-ui-help')?.innerText.trim() ?? '') as string,
      }));
      await screenshot(page, `node-red-${language}-${type}-help`);
      expect({ type, title }).toEqual({ type, title: expect.stringMatching(/\S/) });
      expect({ type, helpLength: body.length > 200 }).toEqual({ type, helpLength: true });
      expect({ type, keyOnScreen: KEY_PATTERN.exec(body)?.[0] ?? null }).toEqual({ type, keyOnScreen: null });
      const headings = helpHeadings(language, type);
      expect(headings.length).toBeGreaterThan(0);
      for (const heading of headings) expect({ type, heading, shown: body.includes(heading) }).toEqual({ type, heading, shown: true });
      expectNoProblems(problems, `${type} help`);
    });
  });
});
