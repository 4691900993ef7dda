import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { SAMPLES_DIR, expectedTuples } from '../helpers/expectedFlows.js';
import { makeTempDir, removeTempDir, spawnTracked, stopChild, waitUntil } from '../collectors/util.js';
import { expectOneLineError } from './oneLine.js';
import { GOOD_TUPLE, NSG_HEAD, NSG_TAIL } from './fuzzBodies.js';

const work = makeTempDir('fifo');
afterAll(() => removeTempDir(work));

function fifo(name: string): string {
  const path = join(work, name);
  execFileSync('mkfifo', [path]);
  return path;
}

/** Lines of stderr that are not JSON logs: what the user reads. */
const plainLines = (stderr: string) =>
  stderr
    .trim()
    .split('\n')
    .filter((line) => !line.startsWith('{'))
    .join('\n');

describe('FIFOs never hang a run', () => {
  it('replay skips a FIFO given as input, says why, replays the rest and exits 2 with one line', async () => {
    const input = fifo('input.json');
    const summary = join(work, 'summary.json');
    const run = await runCli(['replay', input, SAMPLES_DIR, '--pcap', join(work, 'a.pcap'), '-q', '--summary-json', summary]);
    expect(run.stderr).toContain('"msg":"skipped: not a regular file (a FIFO, socket or device)"');
    expectOneLineError(
      { ...run, stderr: plainLines(run.stderr) },
      /^nsg2ipfix: 1 input could not be read, the rest was replayed \(first: .*input\.json: not a regular file/,
    );
    expect(JSON.parse(readFileSync(summary, 'utf8'))).toMatchObject({ tuples: expectedTuples().length });
  });

  it('replay skips a FIFO named *.json inside a directory', async () => {
    const directory = join(work, 'logs');
    mkdirSync(directory);
    execFileSync('mkfifo', [join(directory, 'PT1H.json')]);
    const run = await runCli(['replay', directory, '--pcap', join(work, 'b.pcap'), '-q']);
    expectOneLineError({ ...run, stderr: plainLines(run.stderr) }, /no \*\.json flow log files found in .*logs \(skipped .*PT1H\.json: not a regular file/);
  });

  it('report skips a FIFO named *.json as replay does: logged, the rest reported, exit 2 with one line', async () => {
    const directory = join(work, 'report-logs');
    mkdirSync(directory);
    execFileSync('mkfifo', [join(directory, 'PT1H.json')]);
    const run = await runCli(['report', directory, SAMPLES_DIR, '-q', '--output', 'json']);
    expect(run.stderr).toContain('"msg":"skipped: not a regular file (a FIFO, socket or device)"');
    expectOneLineError({ ...run, stderr: plainLines(run.stderr) }, /^nsg2ipfix: 1 input could not be read, the rest was reported \(first: .*PT1H\.json\)$/);
    expect((JSON.parse(run.stdout) as { totals: { tuples: number } }).totals.tuples).toBe(expectedTuples().length);
  });

  it('--pcap on a FIFO nobody reads fails at start with one line and exit 2', async () => {
    expectOneLineError(await runCli(['replay', SAMPLES_DIR, '-q', '--pcap', fifo('nobody.pcap')]), /cannot write pcap '.*nobody\.pcap': ENXIO/);
  });

  it('--pcap on a FIFO whose reader stopped reading: the run waits, and a second signal ends it at once', async () => {
    const pcap = fifo('stalled.pcap');
    const big = join(work, 'big.json');
    const rows = Array.from({ length: 20_000 }, (_, i) => `"${GOOD_TUPLE.replace('44321', String(1024 + i))}"`);
    writeFileSync(big, `{"records":[${NSG_HEAD}${rows.join(',')}${NSG_TAIL}]}`);
    // A reader that opens the FIFO and never reads: the pipe fills after 64 KiB.
    const reader = openSync(pcap, constants.O_RDONLY | constants.O_NONBLOCK);
    const cli = startCli('replay', [big, '-q', '--log-level', 'debug', '--pcap', pcap]);
    try {
      const describe = () => cli.output();
      await waitUntil(() => cli.output().includes('"msg":"replaying file"'), { timeoutMs: 30_000, exited: cli.exited, what: 'replay', describe });
      cli.child.kill('SIGTERM');
      await waitUntil(() => cli.output().includes('stopping: no new intake'), { timeoutMs: 30_000, exited: cli.exited, what: 'replay', describe });
      cli.child.kill('SIGINT');
      expect(await cli.exited).toEqual({ code: 130, signal: null });
    } finally {
      await stopChild(cli, 'SIGKILL', 1000);
      closeSync(reader);
    }
  });

  it('the stop timer ends the process even when a thread is blocked in a system call (open of a FIFO nobody writes)', async () => {
    const blocking = fifo('blocking');
    const runtime = pathToFileURL(join(import.meta.dirname, '..', '..', 'dist', 'cli', 'serviceRuntime.js')).href;
    const script = `
      import { open } from 'node:fs/promises';
      import { withServiceRuntime } from ${JSON.stringify(runtime)};
      await withServiceRuntime({ logLevel: 'info', logFormat: 'json' }, async () => {
        // Holds one of libuv's threads until a writer comes: none will.
        void open(${JSON.stringify(blocking)}, 'r');
        process.stdout.write('ready\\n');
        await new Promise(() => setInterval(() => {}, 1000));
      }, 200);
    `;
    const child = spawnTracked(process.execPath, ['--input-type=module', '-e', script]);
    try {
      await waitUntil(() => child.output().includes('ready'), { timeoutMs: 30_000, exited: child.exited, what: 'script', describe: () => child.output() });
      child.child.kill('SIGTERM');
      // process.exit(1) cannot finish while the thread is blocked: the watchdog kills the process.
      expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' });
      expect(child.output()).toContain('stop took too long: exiting');
    } finally {
      await stopChild(child, 'SIGKILL', 1000);
    }
  });
});
