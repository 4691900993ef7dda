import { execFile } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { CLI, type CliResult } from '../helpers/cli.js';

/**
 * Permission tests need a user that permissions apply to: root reads an unreadable directory
 * anyway. Under root (CI containers) the CLI runs as `nobody` (65534); the directories it uses
 * must then be open to it (see openToAll).
 */
export const RUNS_AS_ROOT = process.getuid?.() === 0;
const NOBODY = 65_534;

/** Runs the real CLI as an unprivileged user. */
export function runCliUnprivileged(args: readonly string[], timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, ...(RUNS_AS_ROOT ? { uid: NOBODY, gid: NOBODY } : {}) },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Lets the unprivileged user into (and write in) directories a test made. */
export function openToAll(...directories: string[]): void {
  for (const directory of directories) chmodSync(directory, 0o777);
}
