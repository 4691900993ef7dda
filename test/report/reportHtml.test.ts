/**
 * The HTML report in a real browser (Debian's Chromium, headless): it renders with no console
 * error, page error or network request, and its charts hold the report's numbers.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowReport } from '../../src/report/flowReport.js';
import { runCli } from '../helpers/cli.js';
import { chromiumAvailable, launchChromium, type LaunchedBrowser } from './browser.js';
import { jsonFiles } from './expectedReport.js';

const SAMPLES = join(import.meta.dirname, '..', '..', 'samples');
const HOSTILE_RULE = '</script><script>alert(1)</script><img src=x onerror=alert(2)>"\'&';
const required = process.env['NSG2IPFIX_REQUIRE_DECODERS'] === '1';
const scratch = mkdtempSync(join(tmpdir(), 'nsg2ipfix-report-html-'));
let chromium: LaunchedBrowser | undefined;

beforeAll(async () => {
  if (chromiumAvailable()) chromium = await launchChromium();
});

afterAll(async () => {
  await chromium?.close();
  rmSync(scratch, { recursive: true, force: true });
});

interface DrawnChart {
  id: string;
  labels: string[];
  datasets: { label: string; data: number[] }[];
  paintedPixels: number;
}

/** Opens the page and returns what Chart.js drew, and everything that went wrong. */
async function openReport(file: string) {
  const page = await chromium!.browser.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warn') problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${(error as Error).message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  page.on('request', (request) => requests.push(request.url()));
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  const url = pathToFileURL(file).href;
  await page.goto(url, { waitUntil: 'load' });
  // Run in the page, as source text: this project's TypeScript has no DOM types.
  const charts = (await page.evaluate(`[...document.querySelectorAll('canvas')].map((canvas) => {
    const chart = window.Chart.getChart(canvas);
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
    return {
      id: canvas.id,
      labels: chart ? chart.data.labels : [],
      datasets: (chart ? chart.data.datasets : []).map((d) => ({ label: d.label, data: d.data })),
      paintedPixels: painted,
    };
  })`)) as DrawnChart[];
  const tables = (await page.evaluate(
    `Object.fromEntries([...document.querySelectorAll('section')].map((s) => [s.id, [...s.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent))]))`,
  )) as Record<string, string[][]>;
  const images = (await page.evaluate(`document.querySelectorAll('img').length`)) as number;
  await page.close();
  return { charts, tables, images, problems, otherRequests: requests.filter((r) => r !== url) };
}

describe.skipIf(!chromiumAvailable() && !required)('the HTML report in Chromium', () => {
  it('renders with no errors and no requests, and its charts hold the report numbers', async () => {
    const html = join(scratch, 'samples.html');
    const result = await runCli(['report', SAMPLES, '--html', html, '--output', 'json', '--quiet']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as FlowReport;
    const { charts, tables, problems, otherRequests } = await openReport(html);
    expect(problems).toEqual([]);
    expect(otherRequests).toEqual([]);
    const chart = (id: string) => charts.find((c) => c.id === id)!;
    expect(charts.map((c) => c.id)).toEqual([
      'chart-topTalkers',
      'chart-topHosts',
      'chart-deniedSources',
      'chart-deniedDestinations',
      'chart-deniedPorts',
      'chart-rules',
      'chart-hours',
    ]);
    for (const c of charts) expect(c.paintedPixels, `${c.id} is blank`).toBeGreaterThan(1000);

    expect(chart('chart-topTalkers').labels).toEqual(report.topTalkers.map((p) => `${p.source} → ${p.destination}`));
    expect(chart('chart-topTalkers').datasets).toEqual([{ label: 'bytes', data: report.topTalkers.map((p) => p.bytes) }]);
    expect(chart('chart-topHosts').labels).toEqual(report.topHosts.map((h) => h.address));
    expect(chart('chart-topHosts').datasets[0]!.data).toEqual(report.topHosts.map((h) => h.bytes));
    expect(chart('chart-deniedSources').labels).toEqual(report.deniedSources.map((d) => d.address));
    expect(chart('chart-deniedSources').datasets[0]!.data).toEqual(report.deniedSources.map((d) => d.flows));
    expect(chart('chart-deniedDestinations').datasets[0]!.data).toEqual(report.deniedDestinations.map((d) => d.flows));
    expect(chart('chart-deniedPorts').labels).toEqual(report.deniedPorts.map((d) => `${d.port}/${d.protocol}`));
    expect(chart('chart-deniedPorts').datasets[0]!.data).toEqual(report.deniedPorts.map((d) => d.flows));
    expect(chart('chart-rules').datasets).toEqual([
      { label: 'allowed', data: report.rules.map((r) => r.allowedFlows) },
      { label: 'denied', data: report.rules.map((r) => r.deniedFlows) },
    ]);
    expect(chart('chart-hours').datasets).toEqual([
      { label: 'bytes', data: report.hours.map((h) => h.bytes) },
      { label: 'flows', data: report.hours.map((h) => h.flows) },
      { label: 'denied flows', data: report.hours.map((h) => h.deniedFlows) },
    ]);
    // The tables hold the same rows.
    expect(tables['topTalkers']!.map((row) => row.slice(0, 2))).toEqual(report.topTalkers.map((p) => [p.source, p.destination]));
    expect(tables['rules']!.map((row) => row[1])).toEqual(report.rules.map((r) => r.rule));
    expect(tables['topTalkers']![0]![2]).toBe(report.topTalkers[0]!.bytes.toLocaleString('en-US'));
  });

  it('shows text from the logs as text: a hostile rule name runs nothing', async () => {
    const logs = join(scratch, 'hostile');
    mkdirSync(logs, { recursive: true });
    const log = JSON.parse(
      readFileSync(
        jsonFiles(SAMPLES).find((f) => f.includes('WEB-NSG'))!,
        'utf8',
      ),
    ) as { records: { properties: { flows: { rule: string }[] } }[] };
    log.records[0]!.properties.flows[0]!.rule = HOSTILE_RULE;
    writeFileSync(join(logs, 'PT1H.json'), JSON.stringify(log));
    const html = join(scratch, 'hostile.html');
    const result = await runCli(['report', logs, '--html', html, '--quiet']);
    expect(result.code, result.stderr).toBe(0);
    const { charts, tables, images, problems, otherRequests } = await openReport(html);
    expect(problems).toEqual([]);
    expect(otherRequests).toEqual([]);
    expect(images).toBe(0);
    expect(tables['rules']!.some((row) => row[1] === HOSTILE_RULE)).toBe(true);
    expect(charts.find((c) => c.id === 'chart-rules')!.labels.some((label) => label.endsWith(HOSTILE_RULE))).toBe(true);
  });
});
