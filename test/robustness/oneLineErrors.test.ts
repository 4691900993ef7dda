import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { SAMPLES_DIR } from '../helpers/expectedFlows.js';
import { expectOneLineError } from './oneLine.js';

describe('listen and demo: user errors are one line, exit 2', () => {
  it.each([
    ['a port out of range', ['listen', '--port', '99999'], /^nsg2ipfix: --port must be a whole number from 0 to 65535, got '99999'$/],
    [
      'a host that does not resolve',
      ['listen', '--host', 'nonexistent.invalid', '--count', '1'],
      /^nsg2ipfix: cannot listen on nonexistent\.invalid:4739: ENOTFOUND$/,
    ],
    // 203.0.113.0/24 is for documentation: never an address of this host.
    ['an address not of this host', ['listen', '--host', '203.0.113.9', '--count', '1'], /^nsg2ipfix: cannot listen on 203\.0\.113\.9:4739: EADDRNOTAVAIL$/],
    ['a count that is not a number', ['listen', '--count', 'ten'], /^nsg2ipfix: --count must be a whole number/],
    // Before: minutes of retries against the typo, then exit 1 (coverage's "findings").
    ['an ARM endpoint that is not a URL', ['coverage', '--arm-endpoint', 'notaurl'], /^nsg2ipfix: --arm-endpoint must be an https:\/\/ URL .*, got 'notaurl'$/],
    ['a demo output that is not a directory', ['demo', '--out', '/dev/full'], /^nsg2ipfix: cannot write to '\/dev\/full': EEXIST$/],
    // Node 20's recursive mkdir never returns there: the demo hung instead of saying so.
    [
      'a demo output where no directory can be made',
      ['demo', '--out', '/proc/nsg2ipfix-demo'],
      /^nsg2ipfix: cannot write to '\/proc\/nsg2ipfix-demo': ENOENT$/,
    ],
  ])('%s', async (_, args, pattern) => {
    expectOneLineError(await runCli(args, { timeoutMs: 30_000 }), pattern);
  });
});

describe('names files that cannot be used: one line, exit 2, nothing waits, nothing unprintable', () => {
  it('a FIFO in the place of the names file is refused at once, and a binary file is quoted without control characters', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsg2ipfix-names-'));
    try {
      execFileSync('mkfifo', [join(dir, 'names.json')]);
      expectOneLineError(
        await runCli(['replay', SAMPLES_DIR, '--pcap', join(dir, 'a.pcap'), '-q', '--enrich-file', join(dir, 'names.json')], { timeoutMs: 30_000 }),
        /names\.json: cannot read the enrichment file \(not-a-regular-file\)$/,
      );
      writeFileSync(join(dir, 'binary.json'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0x1b, 0x5b, 0x32, 0x4a]));
      const run = await runCli(['replay', SAMPLES_DIR, '--pcap', join(dir, 'b.pcap'), '-q', '--enrich-file', join(dir, 'binary.json')]);
      expectOneLineError(run, /binary\.json: not valid JSON/);
      // eslint-disable-next-line no-control-regex
      expect(run.stderr.trim()).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the option parser's own errors are user errors too: exit 2 (coverage's 1 means findings)", () => {
  it.each([
    ['an unknown option', ['coverage', '--bogus'], /^error: unknown option '--bogus'$/],
    ['a value outside the choices', ['enrich', 'export', '--format', 'xml', '--offline'], /^error: option '--format <format>' argument 'xml' is invalid/],
    ['a missing argument', ['replay', '--collector', '127.0.0.1:4739'], /^error: missing required argument 'paths'$/],
  ])('%s', async (_, args, pattern) => {
    const run = await runCli(args, { timeoutMs: 30_000 });
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr.trim()).toMatch(pattern);
    expect(run.code).toBe(2);
  });

  it('help and --version still exit 0', async () => {
    for (const args of [['--help'], ['replay', '--help'], ['--version']]) expect((await runCli(args)).code).toBe(0);
  });
});
