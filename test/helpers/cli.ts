import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawnTracked, stopChild, type Spawned } from '../collectors/util.js';

const execFileAsync = promisify(execFile);
export const CLI = join(import.meta.dirname, '..', '..', 'bin', 'nsg2ipfix.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI as a user would (node bin/nsg2ipfix.js ...). */
export async function runCli(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI, ...args], {
      timeout: options.timeoutMs ?? 60_000,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, ...options.env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export interface RunningCli extends Spawned {
  /** SIGTERM (graceful) or SIGKILL; resolves with the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node bin/nsg2ipfix.js <command> ...` as a long-running child (blob, eventhub, run). */
export function startCli(command: string, args: string[], env: NodeJS.ProcessEnv = {}, stopGraceMs = 10_000): RunningCli {
  const spawned = spawnTracked(process.execPath, [CLI, command, ...args], { env: { ...process.env, ...env } });
  return {
    ...spawned,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      await stopChild(spawned, signal, stopGraceMs);
      return spawned.exited;
    },
  };
}
