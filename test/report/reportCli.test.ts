import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FlowReport } from '../../src/report/flowReport.js';
import { CSV_COLUMNS } from '../../src/report/renderCsv.js';
import { runCli } from '../helpers/cli.js';
import { expectedReport, jsonFiles, tuplesOf } from './expectedReport.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SAMPLES = join(ROOT, 'samples');
const MALFORMED = join(ROOT, 'test', 'fixtures', 'malformed');
const tempDirs: string[] = [];

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nsg2ipfix-report-'));
  tempDirs.push(dir);
  return dir;
}

async function jsonReport(args: string[]): Promise<FlowReport> {
  const result = await runCli(['report', ...args, '--output', 'json']);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as FlowReport;
}

describe('nsg2ipfix report', () => {
  const expected = expectedReport(tuplesOf(jsonFiles(SAMPLES)));

  it('gives the exact numbers of the samples (NSG v1, v2, VNet; IPv4 and IPv6) as JSON', async () => {
    const report = await jsonReport([SAMPLES, '--top', '1000']);
    expect(report.totals).toMatchObject({ files: 3, tuples: 76, outsideWindow: 0, skippedTuples: {}, skippedRecords: {} });
    expect(report.totals).toMatchObject({ ...expected.totals, allowedFlows: expected.totals.flows - expected.totals.deniedFlows });
    expect(report.flowStates).toEqual(expected.flowStates);
    expect(report.topTalkers).toEqual(expected.topTalkers);
    expect(report.topHosts).toEqual(expected.topHosts);
    expect(report.deniedSources).toEqual(expected.deniedSources);
    expect(report.deniedDestinations).toEqual(expected.deniedDestinations);
    expect(report.deniedPorts).toEqual(expected.deniedPorts);
    expect(report.rules).toEqual(expected.rules);
    expect(report.approximate).toBe(false);
    expect(report.hours.reduce((sum, h) => sum + h.flows, 0)).toBe(expected.totals.flows);
    expect(report.directions.inbound.flows + report.directions.outbound.flows).toBe(expected.totals.flows);
  });

  it('cuts the top lists at --top and ranks them by --by', async () => {
    const report = await jsonReport([SAMPLES, '--top', '3', '--by', 'flows']);
    const byFlows = expectedReport(tuplesOf(jsonFiles(SAMPLES)), 'flows');
    expect(report.rankedBy).toBe('flows');
    expect(report.topTalkers).toEqual(byFlows.topTalkers.slice(0, 3));
    expect(report.topHosts).toEqual(byFlows.topHosts.slice(0, 3));
    expect(report.deniedSources).toEqual(byFlows.deniedSources.slice(0, 3));
    expect(report.rules).toEqual(byFlows.rules);
  });

  it('writes one CSV with a header and a list column, the same numbers as the JSON', async () => {
    const result = await runCli(['report', SAMPLES, '--output', 'csv']);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\r\n');
    expect(lines[0]).toBe(CSV_COLUMNS.join(','));
    const rows = lines.slice(1).map((line) => Object.fromEntries(line.split(',').map((value, i) => [CSV_COLUMNS[i], value])) as Record<string, string>);
    const talkers = rows.filter((r) => r['list'] === 'topTalkers');
    expect(talkers).toHaveLength(10);
    expect(talkers.map((r) => [r['source'], r['destination'], Number(r['bytes']), Number(r['packets']), Number(r['flows'])])).toEqual(
      expected.topTalkers.slice(0, 10).map((p) => [p.source, p.destination, p.bytes, p.packets, p.flows]),
    );
    const rules = rows.filter((r) => r['list'] === 'rules');
    expect(rules.map((r) => [r['rule'], Number(r['flows']), Number(r['deniedFlows'])])).toEqual(expected.rules.map((r) => [r.rule, r.flows, r.deniedFlows]));
    expect(rows.find((r) => r['list'] === 'totals')?.['flows']).toBe(String(expected.totals.flows));
  });

  it('prints tables by default', async () => {
    const result = await runCli(['report', SAMPLES, '--by', 'packets']);
    expect(result.code, result.stderr).toBe(0);
    for (const title of [
      'Top talkers by packets',
      'Top hosts by packets',
      'Denied sources',
      'Denied destinations',
      'Denied destination ports',
      'Rule hits',
      'Traffic by direction',
      'Traffic per hour (UTC)',
      'Flow states',
    ]) {
      expect(result.stdout).toContain(title);
    }
    expect(result.stdout).toContain(`flows ${expected.totals.flows} (${expected.totals.deniedFlows} denied)`);
    expect(result.stdout).toContain('DefaultRule_DenyAllInBound');
  });

  it('counts malformed input, reports the rest, and exits 0', async () => {
    const dir = tempDir();
    const samples = jsonFiles(SAMPLES);
    samples.forEach((file, i) => copyFileSync(file, join(dir, `sample-${i}.json`)));
    for (const bad of ['truncated.json', 'bad-port.json', 'empty.json']) copyFileSync(join(MALFORMED, bad), join(dir, bad));
    writeFileSync(join(dir, 'garbage.json'), 'this is not JSON at all');
    const report = await jsonReport([dir, '--top', '1000', '--log-level', 'silent']);
    const good = expectedReport(tuplesOf(samples));
    expect(report.totals.files).toBe(samples.length + 4);
    expect(report.totals.skippedTuples['bad-port']).toBeGreaterThan(0);
    expect(Object.keys(report.totals.skippedRecords).length).toBeGreaterThan(0);
    // The good files' numbers are all still there, plus what the bad files held that was valid.
    expect(report.totals.flows).toBeGreaterThanOrEqual(good.totals.flows);
    expect(report.rules.find((r) => r.rule === 'DefaultRule_DenyAllInBound' && r.resource.endsWith('JUMP-NSG'))?.deniedFlows).toBe(
      good.rules.find((r) => r.rule === 'DefaultRule_DenyAllInBound' && r.resource.endsWith('JUMP-NSG'))?.deniedFlows,
    );
  });

  it('keeps only the tuples inside --since / --until', async () => {
    const tuples = tuplesOf(jsonFiles(SAMPLES));
    const since = Date.UTC(2025, 5, 12, 9, 1, 0);
    const until = Date.UTC(2025, 5, 12, 9, 2, 0);
    const inside = tuples.filter((t) => t.timeMs >= since && t.timeMs < until);
    const report = await jsonReport([SAMPLES, '--since', '2025-06-12T09:01:00Z', '--until', '2025-06-12T09:02:00Z', '--top', '1000']);
    expect(report.totals).toMatchObject({ tuples: tuples.length, outsideWindow: tuples.length - inside.length, flows: inside.length });
    expect(report.topTalkers).toEqual(expectedReport(inside).topTalkers);
    expect(report.timeRange.since).toBe('2025-06-12T09:01:00.000Z');
  });

  it.each([
    [['report', '/no/such/path'], /cannot read '\/no\/such\/path'/],
    [['report', SAMPLES, '--since', 'yesterday'], /--since must be/],
    [['report', SAMPLES, '--since', '2025-06-12T10:00:00Z', '--until', '2025-06-12T09:00:00Z'], /--since must be before --until/],
    [['report', SAMPLES, '--top', '0'], /--top must be a whole number/],
    [['report', SAMPLES, '--html', '/no/such/dir/r.html'], /cannot write --html/],
    [['report'], /nothing to report on/],
    [['report', SAMPLES, '--account-url', 'https://example.invalid'], /either paths or --account-url/],
  ])('exits 2 with one line for a user error: %j', async (args, message) => {
    const result = await runCli(args, { env: { NSG2IPFIX_ACCOUNT_URL: '', NSG2IPFIX_CONNECTION_STRING: '' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stdout).toBe('');
  });

  it('writes the HTML page with the data embedded and log text escaped', async () => {
    const dir = tempDir();
    const hostile = join(dir, 'logs');
    mkdirSync(hostile);
    const log = JSON.parse(
      readFileSync(
        jsonFiles(SAMPLES).find((f) => f.includes('WEB-NSG'))!,
        'utf8',
      ),
    ) as { records: { properties: { flows: { rule: string }[] } }[] };
    log.records[0]!.properties.flows[0]!.rule = '</script><script>alert(1)</script><img src=x onerror=alert(2)>';
    writeFileSync(join(hostile, 'PT1H.json'), JSON.stringify(log));
    const html = join(dir, 'report.html');
    const result = await runCli(['report', hostile, '--html', html, '--quiet']);
    expect(result.code, result.stderr).toBe(0);
    const page = readFileSync(html, 'utf8');
    // Booleans, not toContain: a failure must not print a 200 kB page.
    expect(page.includes('Content-Security-Policy" content="default-src &#39;none&#39;')).toBe(true);
    expect(page.includes('<script>alert(1)')).toBe(false);
    expect(page.includes('<img src=x')).toBe(false);
    expect(page.includes('&#60;/script&#62;&#60;script&#62;alert(1)')).toBe(true);
    expect(/(src|href)=["']?(https?:)?\/\//i.test(page)).toBe(false);
  });

  it('names the addresses it knows with --enrich-file (JSON name keys, `name (address)` in tables), the numbers unchanged', async () => {
    const names = join(ROOT, 'deploy', 'enrichment.example.json');
    const vmOf: Record<string, string> = {
      '10.1.0.4': 'vm-web-01',
      'fd12:3456:789a:1::4': 'vm-web-01',
      '10.1.2.5': 'vm-jump-01',
      '10.2.0.4': 'vm-api-01',
      'fd12:3456:789a:10::4': 'vm-api-01',
      '10.2.1.5': 'vm-db-01',
      '10.2.1.6': 'vm-db-01',
    };
    const plain = await jsonReport([SAMPLES, '--top', '1000']);
    const named = await jsonReport([SAMPLES, '--top', '1000', '--enrich-file', names]);
    const strip = <T extends object>(entries: readonly T[]) =>
      entries.map((entry) => Object.fromEntries(Object.entries(entry).filter(([key]) => !/name$/i.test(key))));
    expect(strip(named.topTalkers)).toEqual(plain.topTalkers);
    expect(strip(named.topHosts)).toEqual(plain.topHosts);
    expect(named.totals).toEqual(plain.totals);
    let namedEntries = 0;
    for (const pair of named.topTalkers as readonly (FlowReport['topTalkers'][number] & { sourceName?: string; destinationName?: string })[]) {
      expect(pair.sourceName).toBe(vmOf[pair.source]);
      expect(pair.destinationName).toBe(vmOf[pair.destination]);
      if (pair.sourceName !== undefined) namedEntries++;
    }
    for (const host of named.topHosts as readonly (FlowReport['topHosts'][number] & { name?: string })[]) expect(host.name).toBe(vmOf[host.address]);
    expect(namedEntries).toBeGreaterThan(0);

    const table = await runCli(['report', SAMPLES, '--enrich-file', names, '--quiet']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain('vm-web-01 (10.1.0.4)');
    expect(table.stdout).toContain('vm-api-01 (10.2.0.4)');

    const missing = await runCli(['report', SAMPLES, '--enrich-file', join(tempDir(), 'absent.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });
});
