/**
 * Headless Debian Chromium driven by playwright-core for the host browser tests: one browser per suite, one context
 * per UI language, no way out to the internet, and every console error, page error and off-host request recorded so
 * a test can fail on them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.resolve(__dirname, '..', '..', '..', '.tmp', 'screenshots');

/**
 * `describe` when Chromium is installed. Without it the suite is skipped with a warning on a developer's machine, but
 * under CI (CI=true) it runs and fails with the fix, so a CI machine without Chromium never passes silently.
 */
export function describeWithChromium(name: string, body: () => void): void {
  if (fs.existsSync(CHROMIUM_PATH)) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs Chromium', () => {
        throw new Error(
          `Chromium is not installed at ${CHROMIUM_PATH}: apt-get install -y chromium (or set CHROMIUM_PATH). .ci/run installs it.`,
        );
      });
    });
  } else {
    console.warn(`Skipping "${name}": no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH).`);
    describe.skip(name, body);
  }
}

/** Headless Chromium with the flags that keep it off the network (only loopback resolves). */
export async function launchChromium(): Promise<Browser> {
  return await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      // Any name but loopback fails to resolve: nothing the editors load may come from the internet.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
    ],
  });
}

/** What went wrong in a page: console errors, uncaught page errors and requests that left the loopback host. */
export class PageProblems {
  readonly consoleErrors: string[] = [];
  readonly pageErrors: string[] = [];
  readonly offHostRequests: string[] = [];
  private marks = { console: 0, page: 0, offHost: 0 };

  constructor(page: Page) {
    page.on('console', (message) => {
      if (message.type() === 'error') {
        const { url, lineNumber } = message.location();
        this.consoleErrors.push(`${message.text()}${url ? ` (${url}:${lineNumber})` : ''}`);
      }
    });
    page.on('pageerror', (error) => this.pageErrors.push(`${error.name}: ${error.message}`));
    page.on('request', (request) => {
      const url = request.url();
      if (!/^(https?:\/\/(127\.0\.0\.1|localhost)[:/]|data:|blob:|about:)/.test(url)) this.offHostRequests.push(url);
    });
  }

  /** Forgets what was recorded so far (e.g. after loading the editor, to blame the next step only). */
  mark(): void {
    this.marks = { console: this.consoleErrors.length, page: this.pageErrors.length, offHost: this.offHostRequests.length };
  }

  /** Everything recorded since the last mark, minus console errors an allowlist explains. */
  sinceMark(allowed: RegExp[] = []): { consoleErrors: string[]; pageErrors: string[]; offHostRequests: string[] } {
    return {
      consoleErrors: this.consoleErrors.slice(this.marks.console).filter((text) => !allowed.some((pattern) => pattern.test(text))),
      pageErrors: this.pageErrors.slice(this.marks.page),
      offHostRequests: this.offHostRequests.slice(this.marks.offHost),
    };
  }
}

/** A new context (language, viewport) with one page whose problems are recorded. */
export async function openPage(
  browser: Browser,
  locale: string,
  viewport = { width: 1400, height: 900 },
): Promise<{ context: BrowserContext; page: Page; problems: PageProblems }> {
  const context = await browser.newContext({ locale, viewport });
  const page = await context.newPage();
  return { context, page, problems: new PageProblems(page) };
}

/** Saves a screenshot into .tmp/screenshots/<name>.png (for people to look at; tests never compare pixels). */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}
