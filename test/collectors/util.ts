/**
 * Shared plumbing for the third-party collector harnesses (nfcapd, nfacctd, tshark): free-port
 * probing, waiting for a child's readiness line, stopping a child by its own pid, and a last-resort
 * cleanup when the test process exits without calling stop().
 */

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Children and temp dirs still owned by a harness; removed synchronously if the process exits. */
const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of liveChildren) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  });
}

/** A fresh directory under the OS temp dir, removed at process exit unless {@link removeTempDir} ran first. */
export function makeTempDir(prefix: string): string {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), `nsg2ipfix-${prefix}-`));
  liveDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  liveDirs.delete(dir);
}

/** True for an IPv6 literal such as `::1`. */
export function isIpv6(host: string): boolean {
  return host.includes(':');
}

/**
 * Binds a UDP socket to port 0 on `host`, reads the port the kernel chose and closes the socket.
 * Another process may grab the port before the collector binds it; callers retry on "in use".
 */
export async function freeUdpPort(host: string): Promise<number> {
  const socket = dgram.createSocket(isIpv6(host) ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return socket.address().port;
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

export interface Spawned {
  child: ChildProcess;
  /** Everything the child wrote to stdout and stderr so far (interleaved in arrival order). */
  output(): string;
  /** Resolves with the exit code/signal once the child has exited (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `command`, records its output and registers it for last-resort cleanup. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions = {}): Spawned {
  installExitHook();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  liveChildren.add(child);
  let text = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close' fires after the exit and after stdio is drained, so output() is complete by then.
    child.once('close', (code, signal) => {
      liveChildren.delete(child);
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      text += `\n[spawn error] ${err.message}\n`;
      liveChildren.delete(child);
      resolve({ code: null, signal: null });
    });
  });
  return { child, output: () => text, exited };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` every 20 ms until it returns true. Rejects when `exited` settles first (the child
 * died before becoming ready) or after `timeoutMs`; `describe` supplies the diagnostics.
 */
export async function waitUntil(
  check: () => boolean,
  opts: { timeoutMs: number; exited: Promise<unknown>; what: string; describe: () => string },
): Promise<void> {
  let dead = false;
  void opts.exited.then(() => (dead = true));
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (check()) return;
    if (dead) {
      // One more look: the line may have arrived together with the exit.
      if (check()) return;
      throw new Error(`${opts.what} exited before it was ready:\n${opts.describe()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`${opts.what} not ready after ${opts.timeoutMs} ms:\n${opts.describe()}`);
    }
    await sleep(20);
  }
}

/**
 * Sends `signal` to the child (by its pid) and waits for it to exit; after `graceMs` it is
 * SIGKILLed. Safe to call on a child that has already exited.
 */
export async function stopChild(spawned: Spawned, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  const { child } = spawned;
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, graceMs);
  try {
    await spawned.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Kills a process by pid if it is still alive (used for nfacctd's plugin child). */
export function killPidIfAlive(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: already gone.
  }
}

/** Matches the "port already taken" messages of nfcapd and nfacctd, for the free-port race retry. */
export const ADDRESS_IN_USE = /Address already in use|errno: 98|bind\(\)/i;
