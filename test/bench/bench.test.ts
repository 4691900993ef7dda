/**
 * Smoke test of scripts/bench.mjs on a tiny input: it runs end to end and its counts agree.
 * Timings are machine-dependent and deliberately not asserted (only that they are measured).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const BUILT = existsSync(join(ROOT, 'dist', 'cli.js'));
const scratch = mkdtempSync(join(tmpdir(), 'nsg2ipfix-bench-test-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('scripts/bench.mjs', () => {
  it.skipIf(!BUILT)('measures every stage on a small synthetic file', () => {
    const jsonFile = join(scratch, 'bench.json');
    const run = spawnSync(process.execPath, ['scripts/bench.mjs', '--tuples', '3000', '--runs', '1', '--big-bytes', '400000', '--json', jsonFile], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, NSG2IPFIX_BENCH_NO_BUILD: '1' },
      timeout: 120_000,
    });
    expect(run.status, run.stderr).toBe(0);
    for (const stage of [
      'a. bare JSON.parse',
      'b. parse (file source)',
      'c. encode only',
      'd. end-to-end --max-pps 0',
      'e. end-to-end default pacing',
      'GiB file --max-pps 0',
      'g. bare JSON.parse, small records',
      'h. end-to-end, small records',
      'i. report --output json',
      "j. report of f's file",
    ]) {
      expect(run.stdout).toContain(stage);
    }
    expect(run.stdout).toContain('key figure: end-to-end (unpaced) / bare JSON.parse');

    const result = JSON.parse(readFileSync(jsonFile, 'utf8'));
    const { bareJsonParse, parse, encode, endToEndUnpaced, endToEndDefaultPacing, bigFileUnpaced, smallRecordsBareJsonParse, smallRecordsEndToEndUnpaced } =
      result.stages;
    // The same tuples in records of 50: the replay exports every one of them as well.
    expect(smallRecordsEndToEndUnpaced.tuples).toBe(3000);
    expect(smallRecordsBareJsonParse.records).toBe(60);
    expect(smallRecordsEndToEndUnpaced.skippedTuples).toBe(0);
    expect(result.ratios.smallRecordsEndToEndVsBareParseWall).toBeGreaterThan(0);
    // The big-file stage replays a bigger file of the same kind and measures its memory.
    expect(bigFileUnpaced.tuples).toBe(bigFileUnpaced.input.tuples);
    expect(bigFileUnpaced.input.tuples).toBeGreaterThan(3000);
    expect(bigFileUnpaced.exportedRecords).toBeGreaterThan(bigFileUnpaced.tuples);
    expect(result.input.tuples).toBe(3000);
    // The report reads the same file as the replay, side by side.
    expect(result.stages.report.tuples).toBe(3000);
    expect(result.stages.report.flows).toBe(3000);
    expect(result.ratios.reportVsEndToEndUnpacedWall).toBeGreaterThan(0);
    expect(result.stages.bigFileReport.tuples).toBe(bigFileUnpaced.input.tuples);
    expect(parse.tuples).toBe(3000);
    expect(parse.problems).toBe(0);
    expect(encode.tuples).toBe(3000);
    for (const e2e of [endToEndUnpaced, endToEndDefaultPacing]) {
      expect(e2e.tuples).toBe(3000);
      expect(e2e.exportedRecords).toBe(encode.flowRecords);
      expect(e2e.datagramsSent).toBe(e2e.messages);
    }
    // A few hundred datagrams at the default pacing fit any loopback receive buffer.
    expect(endToEndDefaultPacing.datagramsReceived).toBe(endToEndDefaultPacing.messages);
    for (const stage of [bareJsonParse, parse, encode, endToEndUnpaced, endToEndDefaultPacing]) {
      expect(stage.ms).toBeGreaterThan(0);
      expect(stage.wallMs).toBeGreaterThan(0);
    }
    expect(result.ratios.endToEndVsBareParseWall).toBeGreaterThan(0);
  });
});
