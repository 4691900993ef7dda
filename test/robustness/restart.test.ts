/**
 * Stopping a long replay (SIGKILL during a blob follow and during a replay to a collector is in
 * test/sources/blobSource.test.ts). A generated 200,000-tuple PT1H.json is replayed, paced, to an
 * in-process collector:
 * - one SIGTERM: intake stops after the batch in flight, what was encoded is flushed to the
 *   collector, the summary is written, exit code 0 — well before the replay could have finished;
 * - a second SIGTERM while the first stop is still flushing: the process exits at once with 143.
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, spawnTracked, stopChild, type Spawned } from '../collectors/util.js';
import { CLI } from '../helpers/cli.js';
import { TupleCollector } from '../sources/blobHarness.js';

const TUPLES = 200_000;

let dir: string;
let flowLog: string;
const children = new Set<Spawned>();
const collectors: TupleCollector[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nsg2ipfix-restart-'));
  flowLog = join(dir, 'PT1H.json');
  const generator = pathToFileURL(join(import.meta.dirname, '..', '..', 'scripts', 'generate-flow-log.mjs')).href;
  const { generateFlowLog } = (await import(generator)) as { generateFlowLog: (options: Record<string, unknown>) => Promise<{ tuples: number }> };
  // IPv4 only: the in-process collector keys tuples by IPv4 addresses.
  const written = await generateFlowLog({ tuples: TUPLES, out: flowLog, ipv6Share: 0, seed: 7, quiet: true });
  expect(written.tuples).toBe(TUPLES);
});

afterAll(async () => {
  await Promise.allSettled([...children].map((child) => stopChild(child, 'SIGKILL', 1000)));
  await Promise.allSettled(collectors.map((c) => c.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function replay(maxPps: number, summaryPath: string): Promise<{ cli: Spawned; collector: TupleCollector }> {
  const collector = await TupleCollector.open();
  collectors.push(collector);
  const cli = spawnTracked(process.execPath, [
    CLI,
    'replay',
    flowLog,
    '-c',
    collector.address,
    '--biflow',
    'rfc5103',
    '--max-pps',
    String(maxPps),
    '--summary-json',
    summaryPath,
    '-q',
  ]);
  children.add(cli);
  void cli.exited.then(() => children.delete(cli));
  return { cli, collector };
}

async function until(check: () => boolean, what: string, cli: Spawned, timeoutMs = 20_000): Promise<void> {
  let exited = false;
  void cli.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (exited) throw new Error(`replay exited before ${what}:\n${cli.output().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`no ${what} after ${timeoutMs} ms:\n${cli.output().slice(-3000)}`);
    await sleep(20);
  }
}

/** Waits for the exit, SIGKILLing after `graceMs` (which then shows as signal SIGKILL). */
async function exitWithin(cli: Spawned, graceMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const started = Date.now();
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), graceMs);
  const exit = await cli.exited;
  clearTimeout(timer);
  return { ...exit, ms: Date.now() - started };
}

describe('stopping a long replay', () => {
  it('SIGTERM: stops intake, flushes what was encoded, writes the summary, exits 0 long before the end', async () => {
    const summaryPath = join(dir, 'summary-term.json');
    // ~10,000 datagrams at 1,000/s: about 10 s for the whole file.
    const { cli, collector } = await replay(1000, summaryPath);
    await until(() => collector.total > 0, 'first records at the collector', cli);
    cli.child.kill('SIGTERM');
    const exit = await exitWithin(cli, 15_000);
    expect({ code: exit.code, signal: exit.signal }, cli.output().slice(-3000)).toEqual({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(10_000);
    expect(cli.output()).toContain('stopping: no new intake');

    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as {
      tuples: number;
      exportedRecords: number;
      collectors: { datagrams: number; errors: number }[];
    };
    // Stopped early: only part of the file was read.
    expect(summary.tuples).toBeGreaterThan(0);
    expect(summary.tuples).toBeLessThan(TUPLES);
    // Flushed: every record encoded before the stop reached the collector (loopback, paced).
    await until(() => collector.total >= summary.exportedRecords, 'flushed records at the collector', { ...cli, exited: new Promise(() => {}) }, 5_000);
    expect(collector.total).toBe(summary.exportedRecords);
    expect(summary.exportedRecords).toBe(summary.tuples);
    expect(summary.collectors[0]!.errors).toBe(0);
  });

  it('a second SIGTERM during the stop exits at once with 143', async () => {
    const summaryPath = join(dir, 'summary-twice.json');
    // 100 datagrams/s: finishing the batch in flight (about 1 MiB of input) would take seconds.
    const { cli, collector } = await replay(100, summaryPath);
    await until(() => collector.total > 0, 'first records at the collector', cli);
    cli.child.kill('SIGTERM');
    await until(() => cli.output().includes('stopping: no new intake'), 'the first stop to begin', cli);
    cli.child.kill('SIGTERM');
    const exit = await exitWithin(cli, 10_000);
    expect({ code: exit.code, signal: exit.signal }, cli.output().slice(-3000)).toEqual({ code: 143, signal: null });
    expect(exit.ms).toBeLessThan(5_000);
    expect(cli.output()).toContain('second signal: exiting at once');
    // It did not wait for the flush: no summary was written.
    expect(() => readFileSync(summaryPath)).toThrow();
  });
});
