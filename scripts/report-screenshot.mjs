#!/usr/bin/env node
/**
 * Writes docs/report.png, the README's picture of the HTML report: `report samples/ --html`,
 * opened in Debian's Chromium (headless, puppeteer-core, the flags of the browser test), and
 * captured whole. Needs dist/ (npm run build) and /usr/bin/chromium (or NSG2IPFIX_CHROMIUM).
 *
 *   node scripts/report-screenshot.mjs [--out docs/report.png]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import puppeteer from 'puppeteer-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = process.env.NSG2IPFIX_CHROMIUM ?? '/usr/bin/chromium';
const outIndex = process.argv.indexOf('--out');
const out = path.resolve(outIndex > 0 ? process.argv[outIndex + 1] : path.join(ROOT, 'docs', 'report.png'));

if (!existsSync(path.join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run npm run build first');
if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (or set NSG2IPFIX_CHROMIUM)`);

const scratch = mkdtempSync(path.join(tmpdir(), 'nsg2ipfix-screenshot-'));
try {
  const html = path.join(scratch, 'report.html');
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'bin', 'nsg2ipfix.js'), 'report', path.join(ROOT, 'samples'), '--html', html, '--quiet', '--output', 'json'],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
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
      `--user-data-dir=${path.join(scratch, 'profile')}`,
    ],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900, deviceScaleFactor: 1 });
    await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
    await page.screenshot({ path: out, fullPage: true });
  } finally {
    await browser.close();
  }
  process.stderr.write(`report-screenshot: wrote ${path.relative(process.cwd(), out)}\n`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
