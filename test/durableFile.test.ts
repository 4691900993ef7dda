import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeDirectory } from '../src/durableFile.js';

const work = mkdtempSync(join(tmpdir(), 'nsg2ipfix-mkdir-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('makeDirectory: mkdir -p that always ends', () => {
  it('makes the missing parents, with the mode asked for, and takes a directory that exists', async () => {
    const deep = join(work, 'a', 'b', 'c');
    await makeDirectory(deep, 0o700);
    expect(statSync(deep).isDirectory()).toBe(true);
    expect(statSync(join(work, 'a')).mode & 0o777).toBe(0o700);
    await makeDirectory(deep);
    await Promise.all([makeDirectory(join(work, 'x', 'y')), makeDirectory(join(work, 'x', 'z'))]);
    expect(existsSync(join(work, 'x', 'y')) && existsSync(join(work, 'x', 'z'))).toBe(true);
  });

  it('refuses a file in the way, and a place that takes no directories, instead of hanging as Node 20 does under /proc', async () => {
    writeFileSync(join(work, 'file'), '');
    await expect(makeDirectory(join(work, 'file'))).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(makeDirectory(join(work, 'file', 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(makeDirectory('/proc/nsg2ipfix-test/x')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
