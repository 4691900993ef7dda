import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { expectedRecords, expectedTuples, SAMPLES_DIR } from '../helpers/expectedFlows.js';

const work = mkdtempSync(join(tmpdir(), 'nsg2ipfix-cli-'));
const MALFORMED = join(import.meta.dirname, '..', 'fixtures', 'malformed');
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('nsg2ipfix replay', () => {
  it('writes a summary with every count, on stdout and as JSON', async () => {
    const summaryPath = join(work, 'summary.json');
    const run = await runCli(['replay', SAMPLES_DIR, '--pcap', join(work, 'a.pcap'), '--summary-json', summaryPath]);
    expect(run.code).toBe(0);
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
    expect(summary).toMatchObject({
      files: 3,
      tuples: expectedTuples().length,
      exportedRecords: expectedRecords('split').length,
      skippedTuples: {},
      skippedRecords: {},
    });
    expect(summary.messages).toBeGreaterThan(summary.templateMessages);
    expect(run.stdout).toMatch(/flow tuples\s+76/);
    expect(run.stdout).toMatch(/exported flow records\s+101/);
  });

  it('skips and counts bad tuples and records by reason, sends the rest, and exits 0', async () => {
    const summaryPath = join(work, 'bad.json');
    const run = await runCli(['replay', MALFORMED, '--pcap', join(work, 'bad.pcap'), '--summary-json', summaryPath, '--quiet']);
    expect(run.code).toBe(0);
    const counts = JSON.parse(readFileSync(join(MALFORMED, 'counts.json'), 'utf8')) as Record<string, { goodTuples: number; badTuples: unknown[] }>;
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
    expect(summary.tuples).toBe(Object.values(counts).reduce((sum, c) => sum + c.goodTuples, 0));
    expect(Object.values(summary.skippedTuples as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(
      Object.values(counts).reduce((sum, c) => sum + c.badTuples.length, 0),
    );
    expect(summary.skippedTuples).toMatchObject({ 'bad-address': 5, 'bad-port': 2, 'bad-protocol': 1, 'bad-field-count': 2, 'bad-count': 2 });
    expect(summary.skippedRecords).toMatchObject({ 'truncated-json': 1, 'bad-properties': 1 });
    // Each problem is logged with its context (file, record, tuple), as JSON on stderr.
    const logged = run.stderr
      .split('\n')
      .filter((l) => l.includes('"reason":"bad-port"'))
      .map((l) => JSON.parse(l));
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatchObject({ level: 40, source: expect.stringContaining('bad-port.json'), recordIndex: 0, tupleIndex: expect.any(Number) });
  });

  it('fails with one clear line when a path does not exist', async () => {
    const run = await runCli(['replay', join(work, 'nope'), '--pcap', join(work, 'x.pcap')]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toMatch(/^nsg2ipfix: cannot read '.*nope': no such file or directory$/);
  });

  it('fails with one clear line when there is nowhere to send flows', async () => {
    const run = await runCli(['replay', SAMPLES_DIR]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('nsg2ipfix: nowhere to send flows: give --collector HOST:PORT and/or --pcap FILE');
  });

  it('fails before sending anything when one of several paths is missing (a typo must not look like a short replay)', async () => {
    const dir = join(work, 'partly');
    const run = await runCli(['replay', SAMPLES_DIR, join(dir, 'missing.json'), '--pcap', join(work, 'p.pcap')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/cannot read/);
  });

  it('refuses a message size that would not fit one unfragmented datagram', async () => {
    const run = await runCli(['replay', SAMPLES_DIR, '--collector', '[::1]:4739', '--max-message-size', '1480']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/does not fit one unfragmented datagram.*MTU 1500 allows 1452/);
  });

  it('rejects a malformed collector address with one clear line', async () => {
    const run = await runCli(['replay', SAMPLES_DIR, '--collector', 'collector:4739:1']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/\[ADDRESS\]:PORT/);
  });
});

describe('nsg2ipfix listen', () => {
  it('prints one JSON line per decoded record, for IPFIX, NetFlow v9 and v5', async () => {
    for (const [format, count] of [
      ['ipfix', expectedRecords('split').length],
      ['netflow9', expectedRecords('split').length],
      ['netflow5', expectedRecords('split', { ipv4Only: true }).length],
    ] as const) {
      const port = 40000 + Math.floor(Math.random() * 20000);
      const listener = spawn(process.execPath, [CLI, 'listen', '--port', String(port), '--count', String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const exited = new Promise<number | null>((resolve) => listener.on('exit', resolve));
      listener.stdout.on('data', (d) => (stdout += d));
      listener.stderr.on('data', (d) => (stderr += d));
      await new Promise<void>((resolve) => {
        const check = () => (stderr.includes('listening') ? resolve() : setTimeout(check, 20));
        check();
      });
      const run = await runCli(['replay', SAMPLES_DIR, '--format', format, '--collector', `127.0.0.1:${port}`, '--quiet']);
      expect(run.code).toBe(0);
      const code = await exited;
      expect(code).toBe(0);
      const lines = stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines).toHaveLength(count);
      expect(lines[0]).toMatchObject({ format, sourceTransportPort: expect.any(Number), flowStartMilliseconds: expect.any(Number) });
    }
  });
});

describe('nsg2ipfix with its output piped', () => {
  it('ends quietly with exit code 0 when the reader of stdout goes away (`nsg2ipfix listen | head`)', async () => {
    const child = spawn(process.execPath, [CLI, 'replay', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before node has even started: its first write to stdout meets EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});

describe('npm start (the demo)', () => {
  it('replays the samples through UDP to the built-in collector and prints the decoded flows as a table', async () => {
    const run = await runCli(['demo', '--out', join(work, 'demo')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`(${expectedRecords('split').length} of ${expectedRecords('split').length} sent`);
    expect(run.stdout).toMatch(/end \(UTC\)\s+source\s+destination/);
    expect(run.stdout).toContain('DefaultRule_DenyAllInBound');
    expect(readFileSync(join(work, 'demo', 'nsg2ipfix-demo.pcap')).length).toBeGreaterThan(1000);
  });
});
