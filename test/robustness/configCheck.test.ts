import { execFileSync } from 'node:child_process';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startAt } from '../../src/cli/exportOptions.js';
import { parseStartAt } from '../../src/sources/blobSource.js';
import { parseEventHubStartAt } from '../../src/sources/eventHubSource.js';
import { makeTempDir, removeTempDir } from '../collectors/util.js';
import { runCli } from '../helpers/cli.js';
import { SAMPLES_DIR } from '../helpers/expectedFlows.js';
import { expectOneLineError } from './oneLine.js';
import { openToAll, runCliUnprivileged } from './unprivileged.js';

const work = makeTempDir('config-check');
afterAll(() => removeTempDir(work));

function config(name: string, lines: readonly string[]): string {
  const path = join(work, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** `config check` and `run` give the same one line for the same file, and run starts nothing. */
async function expectBothRefuse(file: string, pattern: RegExp): Promise<void> {
  expectOneLineError(await runCli(['config', 'check', '--config', file]), pattern);
  expectOneLineError(await runCli(['run', '--config', file]), pattern);
}

describe('config check refuses what run would refuse', () => {
  it('a --start-at run cannot read (blob and eventhub), as the command line does', async () => {
    const blob = config('start-at.yaml', [
      'sources:',
      '  - type: blob',
      '    accountUrl: https://acct.blob.core.windows.net',
      '    startAt: yesterday-ish',
      '    collector: [127.0.0.1:4739]',
    ]);
    await expectBothRefuse(blob, /start-at\.yaml: sources\[0\]\.startAt: must be resume, now, beginning or an ISO 8601 time, got 'yesterday-ish'$/);
    expectOneLineError(
      await runCli(['blob', '--account-url', 'https://acct.blob.core.windows.net', '-c', '127.0.0.1', '--start-at', 'yesterday-ish']),
      /^nsg2ipfix: --start-at must be resume, now, beginning or an ISO 8601 time, got 'yesterday-ish'$/,
    );
    const hub = config('hub-start-at.yaml', [
      'sources:',
      '  - type: eventhub',
      '    startAt: beginning',
      '    checkpoint: false',
      '    collector: [127.0.0.1]',
    ]);
    expectOneLineError(await runCli(['config', 'check', '--config', hub]), /sources\[0\]\.startAt: must be earliest, latest or an ISO 8601 time/);
  });

  it('names options and an enrichment file run would stop on', async () => {
    const names = join(work, 'dup.json');
    writeFileSync(names, '{"interfaces":[{"mac":"000D3AF87856","vm":"a"},{"mac":"00-0D-3A-F8-78-56","vm":"b"}]}');
    const source = ['sources:', '  - type: files', `    paths: [${JSON.stringify(SAMPLES_DIR)}]`, '    pcap: /dev/null'];
    await expectBothRefuse(
      config('dup-names.yaml', [...source, `    enrichFile: ${names}`]),
      /dup-names\.yaml: sources\[0\]\.enrichFile: .*dup\.json interfaces\[1\]: mac: 00-0D-3A-F8-78-56 is already given at interfaces\[0\]$/,
    );
    await expectBothRefuse(
      config('no-names.yaml', [...source, `    enrichFile: ${join(work, 'missing.json')}`]),
      /sources\[0\]\.enrichFile: .*missing\.json: cannot read the enrichment file \(ENOENT\)$/,
    );
    await expectBothRefuse(config('fields.yaml', [...source, '    enrichFields: vm', '']), /sources\[0\]\.enrichFields: needs a source of names/);
    const good = join(work, 'good.csv');
    writeFileSync(good, 'mac,vm\n000D3AF87856,a\n');
    await expectBothRefuse(
      config('bogus-field.yaml', [...source, `    enrichFile: ${good}`, "    enrichFields: 'vm,bogus'"]),
      /sources\[0\]\.enrichFields: 'bogus' is not one of vm, nic/,
    );
  });

  it('a pcap path that cannot be written', async () => {
    const missing = config('pcap.yaml', ['sources:', `  - type: files`, `    paths: [${JSON.stringify(SAMPLES_DIR)}]`, '    pcap: /nonexistent-dir/x.pcap']);
    await expectBothRefuse(missing, /pcap\.yaml: sources\[0\]\.pcap: cannot write pcap '\/nonexistent-dir\/x\.pcap': ENOENT/);
    const locked = join(work, 'locked');
    mkdirSync(locked, { mode: 0o555 });
    openToAll(work);
    const denied = config('denied.yaml', ['sources:', `  - type: files`, `    paths: [${JSON.stringify(SAMPLES_DIR)}]`, `    pcap: ${join(locked, 'x.pcap')}`]);
    openToAll(denied);
    expectOneLineError(await runCliUnprivileged(['config', 'check', '--config', denied]), /sources\[0\]\.pcap: cannot write pcap '.*x\.pcap': EACCES/);
  });

  it('a collector that does not resolve, an input path that is not there, nowhere to send', async () => {
    const file = config('many.yaml', [
      'sources:',
      '  - type: files',
      '    name: a',
      `    paths: [${JSON.stringify(join(work, 'nope'))}]`,
      '    collector: [nonexistent.invalid:4739, "[fe80::1%nonexistent0]:4739"]',
      '  - type: files',
      '    name: b',
      `    paths: [${JSON.stringify(SAMPLES_DIR)}]`,
    ]);
    const run = await runCli(['config', 'check', '--config', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr).toMatch(/many\.yaml: 4 problems/);
    expect(run.stderr).toMatch(/sources\[0\]\.paths: cannot read '.*nope': no such file or directory/);
    expect(run.stderr).toMatch(/sources\[0\]\.collector: collector 'nonexistent\.invalid:4739': cannot resolve/);
    expect(run.stderr).toMatch(/sources\[0\]\.collector: collector '\[fe80::1%nonexistent0\]:4739': no network interface 'nonexistent0'/);
    expect(run.stderr).toMatch(/sources\[1\]: nowhere to send flows/);
  });

  it('passes a config run accepts', async () => {
    const file = config('good.yaml', [
      'http: localhost:0',
      'sources:',
      '  - type: files',
      `    paths: [${JSON.stringify(SAMPLES_DIR)}]`,
      `    pcap: ${join(work, 'good.pcap')}`,
      '    collector: ["[::1]:4739", "127.0.0.1"]',
      '  - type: blob',
      '    accountUrl: https://acct.blob.core.windows.net',
      '    startAt: 2025-06-12T09:00:00Z',
      '    collector: [localhost]',
    ]);
    const run = await runCli(['config', 'check', '--config', file]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/good\.yaml: ok, 2 sources/);
  });
});

describe('config files that are not configs', () => {
  it('refuses a 100 MB file before reading it, one line, exit 2', async () => {
    const huge = join(work, 'huge.yaml');
    writeFileSync(huge, 'sources: []\n');
    truncateSync(huge, 100 * 1024 * 1024); // sparse: no disk used
    await expectBothRefuse(huge, /^nsg2ipfix: cannot read config '.*huge\.yaml': 104857600 bytes; a config file is at most 1048576 bytes$/);
  });

  it('refuses a FIFO nobody writes and a directory at once, one line, exit 2', async () => {
    const fifo = join(work, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    await expectBothRefuse(fifo, /cannot read config '.*fifo\.yaml': not a regular file/);
    await expectBothRefuse(work, /cannot read config '.*': it is a directory/);
  });
});

describe('--start-at validation', () => {
  it('accepts exactly what the sources parse', () => {
    const inputs = [
      'resume',
      'NOW',
      ' beginning ',
      'earliest',
      'latest',
      '2025-06-12',
      '2025-06-12T09:00:00Z',
      '2025-13-40',
      'yesterday',
      '',
      '12:00',
      '2025-06-12 junk',
    ];
    const blobValidator = startAt('--start-at', ['resume', 'now', 'beginning']);
    const hubValidator = startAt('--start-at', ['earliest', 'latest']);
    const accepts = (validate: (text: string) => string, text: string) => {
      try {
        validate(text);
        return true;
      } catch {
        return false;
      }
    };
    for (const text of inputs) {
      expect(accepts(blobValidator, text), text).toBe(parseStartAt(text) !== undefined);
      expect(accepts(hubValidator, text), text).toBe(parseEventHubStartAt(text) !== undefined);
    }
  });
});
