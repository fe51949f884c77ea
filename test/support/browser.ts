import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page, type Route } from 'playwright-core';

/**
 * Test support: Debian's chromium (installed by scripts/install-chromium.sh from the vitest global setup),
 * driven by playwright-core through `executablePath` — Playwright never downloads a browser here.
 * Each `launchBrowser()` is a fresh browser process with a fresh temporary profile (Playwright creates and
 * removes the user-data-dir); no sync, no component updates, no background networking, no QUIC, and pages
 * may only load from loopback (other hosts are aborted unless a test intercepts them).
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where screenshots go (gitignored): `<repo>/test-output/`. */
export const TEST_OUTPUT_DIR = fileURLToPath(new URL('../../test-output/', import.meta.url));

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface TestBrowser {
  readonly browser: Browser;
  /** A new isolated context (own cookies) and a page in it. */
  newPage(): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`chromium is not installed at ${CHROMIUM_PATH}: run scripts/install-chromium.sh (the vitest global setup does)`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS], timeout: 30_000 });
  return {
    browser,
    newPage: async () => {
      const context = await browser.newContext();
      // Loopback only: anything else (the IdP dev pages pull Google Fonts, for one) is refused inside the
      // browser. Routes added later (interceptRequests) take precedence over this one.
      await context.route(
        (url) => !LOOPBACK_HOSTS.has(url.hostname),
        (route) => route.abort('blockedbyclient'),
      );
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      return { context, page };
    },
    close: () => browser.close(),
  };
}

/** Saves a full-page PNG as `test-output/<name>.png` (directory created) and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(TEST_OUTPUT_DIR, { recursive: true });
  const path = join(TEST_OUTPUT_DIR, `${name.replace(/[^A-Za-z0-9._-]+/g, '-')}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Answers every request whose URL starts with `urlPrefix` inside the browser (a small HTML page) instead of the
 * network, and records the URLs — for an MCP client's redirect URI such as `https://mcp-client.test/callback`,
 * which has no server. `next()` resolves with the next such URL (or one seen before it was called).
 */
export async function interceptRequests(target: Page | BrowserContext, urlPrefix: string): Promise<{ seen: string[]; next(): Promise<string> }> {
  const seen: string[] = [];
  let waiting: ((url: string) => void) | undefined;
  let delivered = 0;
  await target.route(
    (url) => url.href.startsWith(urlPrefix),
    async (route: Route) => {
      const url = route.request().url();
      seen.push(url);
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>client callback</title><p id="client-callback">received</p>' });
      if (waiting) {
        const resolve = waiting;
        waiting = undefined;
        delivered += 1;
        resolve(url);
      }
    },
  );
  return {
    seen,
    next: () => {
      if (seen.length > delivered) return Promise.resolve(seen[delivered++]!);
      return new Promise<string>((resolve) => {
        waiting = resolve;
      });
    },
  };
}
