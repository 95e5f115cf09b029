// A real browser for end-to-end tests: Debian's Chromium driven by playwright-core, headless,
// with a fresh profile per launch, and nothing reaching out to the network on its own.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.OUTPOST_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Why browser tests cannot run here, or undefined when they can. In CI a missing browser is a failure. */
export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const reason = `no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set OUTPOST_CHROMIUM)`;
  if (process.env.CI === 'true') throw new Error(`e2e: ${reason}`);
  return reason;
}

/** Saves a screenshot under $OUTPOST_E2E_SHOTS (for looking at the UI while developing); no-op otherwise. */
export async function debugShot(page: Page, name: string): Promise<void> {
  const dir = process.env.OUTPOST_E2E_SHOTS;
  if (dir) await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Console errors and failed requests the page produced, for assertions and debugging. */
  problems: string[];
  close(): Promise<void>;
}

export interface BrowserOptions {
  viewport?: { width: number; height: number };
  /**
   * Ignore the pages' Content-Security-Policy (default false): an XSS probe then sees any
   * injected markup run, instead of the CSP hiding an injection behind a refusal.
   */
  bypassCSP?: boolean;
}

export async function launchBrowser(opts: BrowserOptions = {}): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'outpost-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ARGS,
    viewport: opts.viewport ?? { width: 1360, height: 900 },
    deviceScaleFactor: 1,
    bypassCSP: opts.bypassCSP ?? false,
    timeout: 60_000,
  });
  context.setDefaultTimeout(20_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return {
    context,
    page,
    problems,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
