/**
 * Real headless Chromium for the console's tests: Debian's `chromium` driven by playwright-core (its
 * own browser download cannot work on these machines), with the flags of DESIGN.md ("Console").
 * Playwright gives every launch a fresh temporary profile (the `--user-data-dir` of the recipe).
 *
 *   const browser = await launchChromium();
 *   const page = await browser.newPage();
 *   expect(await seriousA11yViolations(page)).toEqual([]);
 */
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from './service.ts';

export const CHROMIUM = process.env['CHROMIUM_BIN'] ?? '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export function launchChromium(): Promise<Browser> {
  if (!chromiumAvailable()) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/install-system-deps.sh)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_FLAGS] });
}

const axeSource = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
let axeScript: string | undefined;

export interface A11yViolation {
  readonly id: string;
  readonly impact: string;
  readonly help: string;
  readonly targets: readonly string[];
}

/**
 * Runs axe-core (evaluated in the page, not added as a script tag: the console's Content-Security-Policy
 * refuses inline scripts, and the test should see the page under its real policy) and answers its
 * serious and critical violations.
 */
export async function seriousA11yViolations(page: Page): Promise<A11yViolation[]> {
  await page.evaluate((axeScript ??= readFileSync(axeSource, 'utf8')));
  // A string, not a function: these tests compile without the DOM library.
  return page.evaluate<A11yViolation[]>(
    `axe.run(document).then((r) => r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => JSON.stringify(n.target)) })))`,
  );
}

/** Saves a full-page screenshot under test/artifacts/console/ (kept out of git) and answers its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = join(repoRoot, 'test', 'artifacts', 'console');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
