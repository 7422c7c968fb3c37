import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { findChromium } = require('./chromium') as { findChromium: () => string | undefined };

/** Where screenshots go; CI keeps ci-artifacts/ as the run's artifacts. */
export const SCREENSHOTS = join(__dirname, '..', '..', 'ci-artifacts', 'console');

/** Debian's Chromium, headless, with nothing that reaches past loopback. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath)
    throw new Error('no Chromium: apt-get install chromium, or set CHROMIUM_PATH');
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--no-default-browser-check',
    ],
  });
}

/**
 * What a page reported that a user would never want: uncaught errors, console errors (a CSP
 * violation is one), and failed requests to its own origin.
 */
export function watchPage(page: Page): { problems: string[] } {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  return { problems };
}

/** A context whose pages may use the clipboard, as a person's browser would let them. */
export async function newContext(browser: Browser, baseURL: string): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseURL });
  return context;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * An expression evaluated in the page, with the browser's globals (sessionStorage, navigator):
 * the test project compiles without the DOM library, so these are not written as functions.
 */
export function inPage<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate<T>(expression);
}

/** The console in a fresh browser context per test, its problems checked after each. */
export interface ConsoleFixture {
  readonly page: Page;
  /** Signs in through the form, as a person would; resolves once the console shows "Sign out". */
  signIn(token: string, tenant?: string): Promise<void>;
}

/**
 * For a `describe` block: one Chromium for the block, a new context (clipboard allowed) and page for
 * each test, and after each test no uncaught error, console error or CSP violation on any page it
 * visited. A refused API call is shown on the page; Chromium also logs it ("Failed to load
 * resource"), which is not a problem.
 */
export function useConsole(baseUrl: () => string): ConsoleFixture {
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  let watched: { problems: string[] } = { problems: [] };
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    context = await newContext(browser!, baseUrl());
    page = await context.newPage();
    watched = watchPage(page);
  });
  afterEach(async () => {
    const problems = watched.problems.filter((m) => !/Failed to load resource/.test(m));
    await context?.close();
    expect(problems).toEqual([]);
  });
  return {
    get page() {
      if (!page) throw new Error('useConsole: the page exists only inside a test');
      return page;
    },
    async signIn(token, tenant) {
      const p = this.page;
      await p.goto('/console');
      await p.getByLabel('Credential').fill(token);
      if (tenant) await p.getByLabel('Tenant (tenant admins only)').fill(tenant);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByRole('button', { name: 'Sign out' }).waitFor();
    },
  };
}
