import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { claimInstanceIdentity, INSTANCE_FILE_NAME } from '../../src/sources/eventHubInstance.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'nsg2ipfix-instance-'));
  dirs.push(d);
  return d;
}

describe('the instance name kept in the state directory', () => {
  it('is made once, then reused by every later run (a restart after kill -9 included)', async () => {
    const d = dir();
    const first = await claimInstanceIdentity(d, undefined);
    expect(first).toMatchObject({ origin: 'new', stateDir: d });
    const stored = JSON.parse(readFileSync(join(d, INSTANCE_FILE_NAME), 'utf8'));
    expect(stored).toMatchObject({ id: first.id, pid: process.pid });
    // A dead holder (here: a pid that has exited) is a previous run of this instance.
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = child.pid!;
    await new Promise((resolve) => child.once('exit', resolve));
    writeFileSync(join(d, INSTANCE_FILE_NAME), JSON.stringify({ ...stored, pid: deadPid }));
    expect(await claimInstanceIdentity(d, undefined)).toMatchObject({ id: first.id, origin: 'resumed', stateDir: d });
  });

  it('is not shared with another live instance: that one gets a name and a directory of its own', async () => {
    const d = dir();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      writeFileSync(join(d, INSTANCE_FILE_NAME), JSON.stringify({ id: 'held', pid: child.pid, startedAt: '' }));
      const other = await claimInstanceIdentity(d, undefined);
      expect(other.origin).toBe('shared-dir');
      expect(other.id).not.toBe('held');
      expect(other.stateDir).toBe(join(d, `instance-${other.id}`));
      expect(JSON.parse(readFileSync(join(d, INSTANCE_FILE_NAME), 'utf8')).id).toBe('held');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('comes from --instance-id when given, without touching the directory', async () => {
    const d = join(dir(), 'not-created');
    expect(await claimInstanceIdentity(d, 'sidecar-1')).toEqual({ id: 'sidecar-1', stateDir: d, origin: 'given' });
  });
});
