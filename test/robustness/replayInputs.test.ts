import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, chmodSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { displayPath, listFlowLogFiles, type SkippedInput } from '../../src/sources/files.js';
import { expectedTuples, SAMPLES_DIR } from '../helpers/expectedFlows.js';
import { expectOneLineError } from './oneLine.js';
import { openToAll, runCliUnprivileged } from './unprivileged.js';

const work = mkdtempSync(join(tmpdir(), 'nsg2ipfix-inputs-'));
afterAll(() => {
  chmodSync(join(work, 'logs', 'locked'), 0o755);
  rmSync(work, { recursive: true, force: true });
});

const VNET_SAMPLE = join(
  SAMPLES_DIR,
  'insights-logs-flowlogflowevent/flowLogResourceID=/00000000-0000-0000-0000-000000000000_NETWORKWATCHERRG/NETWORKWATCHER_EASTUS_DEMO-VNET-FLOWLOG/y=2025/m=06/d=12/h=09/m=00/macAddress=000D3A1B2C3D/PT1H.json',
);
const VNET_TUPLES = expectedTuples().filter((t) => t.kind === 'vnet').length;

/** logs/ with a readable file, a file whose name is not UTF-8, and a directory nobody may list. */
function makeLogs(): { logs: string; out: string } {
  const logs = join(work, 'logs');
  const out = join(work, 'out');
  mkdirSync(join(logs, 'locked'), { recursive: true });
  mkdirSync(join(logs, 'latin1'), { recursive: true });
  mkdirSync(out);
  openToAll(work, logs, join(logs, 'latin1'), out);
  copyFileSync(VNET_SAMPLE, join(logs, 'PT1H.json'));
  // "flöw.json" in Latin-1: 0xf6 alone is not UTF-8.
  writeFileSync(Buffer.concat([Buffer.from(join(logs, 'latin1', 'fl')), Buffer.from([0xf6]), Buffer.from('w.json')]), readFileSync(VNET_SAMPLE));
  writeFileSync(join(logs, 'locked', 'PT1H.json'), readFileSync(VNET_SAMPLE));
  chmodSync(join(logs, 'locked'), 0o000);
  return { logs, out };
}

describe('replay inputs that cannot all be read', () => {
  const { logs, out } = makeLogs();

  it('skips an unreadable subdirectory, logs it once with its code, replays the rest (a non-UTF-8 name too) and exits 2 with one line', async () => {
    const summaryPath = join(out, 'summary.json');
    const run = await runCliUnprivileged(['replay', logs, '--pcap', join(out, 'a.pcap'), '--summary-json', summaryPath, '-q', '--log-format', 'json']);
    const lines = run.stderr.trim().split('\n');
    const logged = lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
    const skippedLogs = logged.filter((entry) => String(entry['msg']).startsWith('skipped'));
    expect(skippedLogs).toEqual([
      expect.objectContaining({ level: 50, file: join(logs, 'locked'), code: 'EACCES', msg: 'skipped: cannot list directory: EACCES' }),
    ]);
    expectOneLineError(
      { ...run, stderr: lines.filter((line) => !line.startsWith('{')).join('\n') },
      /^nsg2ipfix: 1 input could not be read, the rest was replayed \(first: .*locked: cannot list directory: EACCES\)$/,
    );
    expect(JSON.parse(readFileSync(summaryPath, 'utf8'))).toMatchObject({ files: 2, tuples: 2 * VNET_TUPLES });
  });

  it('lists a non-UTF-8 name by its bytes and shows it escaped', async () => {
    const skipped: SkippedInput[] = [];
    const files = await listFlowLogFiles([join(logs, 'latin1')], (input) => skipped.push(input));
    expect(files).toHaveLength(1);
    expect(files[0]!.path).toBe(join(logs, 'latin1', 'fl\\xf6w.json'));
    expect(Buffer.isBuffer(files[0]!.fsPath)).toBe(true);
    expect(skipped).toEqual([]);
    expect(displayPath(Buffer.from('/a/ü.json'))).toBe('/a/ü.json');
  });
});

describe('symbolic links in a directory of logs', () => {
  it('follows linked files and directories, reads each file once, does not loop, and tells a link to nothing', async () => {
    const root = join(work, 'linked');
    const elsewhere = join(work, 'elsewhere');
    mkdirSync(join(root, 'sub'), { recursive: true });
    mkdirSync(elsewhere);
    copyFileSync(VNET_SAMPLE, join(root, 'own.json'));
    copyFileSync(VNET_SAMPLE, join(elsewhere, 'mounted.json'));
    symlinkSync('own.json', join(root, 'alias.json'));
    symlinkSync(elsewhere, join(root, 'mounted'));
    symlinkSync('..', join(root, 'sub', 'up'));
    symlinkSync(join(work, 'nothing.json'), join(root, 'dangling.json'));
    const skipped: SkippedInput[] = [];
    const files = await listFlowLogFiles([root], (input) => skipped.push(input));
    expect(files.map((f) => f.path.slice(root.length + 1)).sort()).toEqual([expect.stringMatching(/^(own|alias)\.json$/), 'mounted/mounted.json']);
    expect(skipped).toEqual([expect.objectContaining({ path: join(root, 'dangling.json'), code: 'ENOENT' })]);
  });
});
