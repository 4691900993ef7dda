/**
 * The report on generated logs of tens of thousands of tuples (scripts/generate-flow-log.mjs, NSG
 * v2 and VNet, IPv4 and IPv6, all states): exact while the keys fit, and within Space-Saving's
 * bounds when --max-keys is far too small, both checked against the independent count.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowReport } from '../../src/report/flowReport.js';
import { runCli } from '../helpers/cli.js';
import { expectedReport, tuplesOf } from './expectedReport.js';

const scratch = mkdtempSync(join(tmpdir(), 'nsg2ipfix-report-scale-'));
const files = [join(scratch, 'nsg.json'), join(scratch, 'vnet.json')];
let expected: ReturnType<typeof expectedReport>;

beforeAll(async () => {
  const generator = (await import(join(import.meta.dirname, '..', '..', 'scripts', 'generate-flow-log.mjs'))) as {
    generateFlowLog(options: { tuples: number; out: string; kind: string; seed: number; tuplesPerRecord: number }): Promise<unknown>;
  };
  await generator.generateFlowLog({ tuples: 30_000, out: files[0]!, kind: 'nsg-v2', seed: 3, tuplesPerRecord: 500 });
  await generator.generateFlowLog({ tuples: 20_000, out: files[1]!, kind: 'vnet', seed: 4, tuplesPerRecord: 700 });
  expected = expectedReport(tuplesOf(files));
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function report(args: string[]): Promise<FlowReport> {
  const result = await runCli(['report', ...files, '--output', 'json', '--quiet', ...args]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as FlowReport;
}

describe('report at scale', () => {
  it('is exact on 50,000 generated tuples', async () => {
    const r = await report(['--top', '100000']);
    expect(r.approximate).toBe(false);
    expect(r.totals).toMatchObject({ tuples: 50_000, ...expected.totals });
    expect(r.flowStates).toEqual(expected.flowStates);
    expect(r.topTalkers).toEqual(expected.topTalkers);
    expect(r.topHosts).toEqual(expected.topHosts);
    expect(r.deniedSources).toEqual(expected.deniedSources);
    expect(r.deniedDestinations).toEqual(expected.deniedDestinations);
    expect(r.deniedPorts).toEqual(expected.deniedPorts);
    expect(r.rules).toEqual(expected.rules);
  });

  it('stays within the Space-Saving bounds, and says so, with --max-keys far below the distinct keys', async () => {
    const top = 20;
    const r = await report(['--max-keys', '2000', '--top', String(top)]);
    expect(r.approximate).toBe(true);
    expect(r.approximations.map((a) => a.list)).toEqual(expect.arrayContaining(['topTalkers', 'topHosts']));
    expect(r.totals).toMatchObject(expected.totals);
    const truth = new Map(expected.topTalkers.map((p) => [`${p.source} ${p.destination}`, p.bytes]));
    for (const listed of r.topTalkers) {
      const trueBytes = truth.get(`${listed.source} ${listed.destination}`)!;
      expect(listed.bytes).toBeGreaterThanOrEqual(trueBytes);
      expect(listed.bytes - listed.error!).toBeLessThanOrEqual(trueBytes);
    }
    // Nothing left out is heavier than the lightest entry listed.
    const listed = new Set(r.topTalkers.map((p) => `${p.source} ${p.destination}`));
    const floor = r.topTalkers.at(-1)!.bytes;
    for (const [key, bytes] of truth) if (!listed.has(key)) expect(bytes).toBeLessThanOrEqual(floor);
    // The true heaviest pairs whose margin exceeds the error bound are all found.
    const bound = r.approximations.find((a) => a.list === 'topTalkers')!.maxError;
    for (const p of expected.topTalkers.slice(0, top))
      if (p.bytes > expected.topTalkers[top]!.bytes + bound) expect(listed.has(`${p.source} ${p.destination}`)).toBe(true);
  });
});
