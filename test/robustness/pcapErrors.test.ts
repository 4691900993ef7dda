import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { SAMPLES_DIR } from '../helpers/expectedFlows.js';
import { GOOD_TUPLE, NSG_HEAD, NSG_TAIL } from './fuzzBodies.js';
import { expectOneLineError } from './oneLine.js';

const work = mkdtempSync(join(tmpdir(), 'nsg2ipfix-pcap-errors-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** One record of `tuples` tuples: a pcap of about 100 bytes per tuple. */
function bigFlowLog(tuples: number): string {
  const path = join(work, `big-${tuples}.json`);
  if (!existsSync(path)) {
    const rows = Array.from({ length: tuples }, (_, i) => `"${GOOD_TUPLE.replace('44321', String(1024 + (i % 60_000)))}"`);
    writeFileSync(path, `{"records":[${NSG_HEAD}${rows.join(',')}${NSG_TAIL}]}`);
  }
  return path;
}

/** Runs the CLI through a shell, e.g. to set a resource limit first; collects exit code and output. */
function runShell(script: string, args: readonly string[], shell = '/bin/sh'): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(shell, ['-c', script, 'sh', process.execPath, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('a pcap file that cannot be written', () => {
  it.each([
    ['/dev/full', /^nsg2ipfix: cannot write pcap '\/dev\/full': ENOSPC \(no space left on the device\)$/],
    ['/proc/self/status', /^nsg2ipfix: cannot write pcap '\/proc\/self\/status': E[A-Z]+ \(.*\)$/],
    [join('/nonexistent-dir', 'x.pcap'), /^nsg2ipfix: cannot write pcap '\/nonexistent-dir\/x\.pcap': ENOENT \(its directory does not exist\)$/],
  ])('refuses %s at start with one line and exit 2', async (path, pattern) => {
    expectOneLineError(await runCli(['replay', SAMPLES_DIR, '-q', '--pcap', path]), pattern);
  });

  it('stops a run whose disk fills up mid-way with one line and exit 2, no stack', async () => {
    const pcap = join(work, 'limited.pcap');
    // A file size limit stands in for a full disk: writes past it fail with EFBIG (SIGXFSZ ignored).
    const run = await runShell('ulimit -f 1024; trap "" XFSZ; exec "$@"', ['replay', bigFlowLog(40_000), '-q', '--log-level', 'warn', '--pcap', pcap]);
    expectOneLineError(run, new RegExp(`^nsg2ipfix: cannot write pcap '${pcap}': EFBIG \\(the file is too large\\)$`));
    expect(statSync(pcap).size).toBeGreaterThan(0);
  });

  it('ends quietly with 0 when the reader of --pcap /dev/stdout goes away (| head)', async () => {
    // A real pipe, as a shell makes it (node's own stdio pipes are sockets, which /dev/stdout cannot reopen).
    const run = await runShell(
      'set -o pipefail; "$@" | head -c 1000 | wc -c',
      ['replay', bigFlowLog(40_000), '-q', '--log-level', 'warn', '--pcap', '/dev/stdout'],
      '/bin/bash',
    );
    expect(run.stdout.trim()).toBe('1000');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });
});
