/**
 * Debian's Chromium driven by puppeteer-core, for the HTML report: the test and
 * scripts/report-screenshot.mjs share these flags. A fresh profile directory per launch, removed
 * on close; no network-bound Chromium services (sync, component updates, background networking).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

export const CHROMIUM = process.env['NSG2IPFIX_CHROMIUM'] ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export interface LaunchedBrowser {
  readonly browser: Browser;
  /** Closes the browser and removes its profile; idempotent. */
  close(): Promise<void>;
}

export async function launchChromium(): Promise<LaunchedBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'nsg2ipfix-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
    ],
  });
  let closing: Promise<void> | undefined;
  return {
    browser,
    close: () =>
      (closing ??= (async () => {
        await browser.close().catch(() => browser.process()?.kill('SIGKILL'));
        rmSync(profile, { recursive: true, force: true });
      })()),
  };
}
