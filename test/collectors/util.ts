/**
 * Shared plumbing for the third-party collector harnesses (nfcapd, nfacctd, tshark): free-port
 * probing, waiting for a child's readiness line, stopping a child by its own pid, and a last-resort
 * cleanup when the test process exits without calling stop().
 */

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Children and temp dirs still owned by a harness. Each child runs in its own process group
 * (spawned detached), so nfacctd's plugin process and tshark's dumpcap go with it. If the test
 * process exits or is told to stop (vitest ends its fork workers with SIGTERM, which skips 'exit'
 * handlers unless a signal handler exits), the groups are SIGKILLed and the dirs removed.
 * A SIGKILLed test process cannot clean up: nfacctd's plugin and dumpcap then survive their parent.
 */
const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the whole group is gone already.
  }
}

function emergencyCleanup(): void {
  for (const child of liveChildren) killGroup(child, 'SIGKILL');
  liveChildren.clear();
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', emergencyCleanup);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      emergencyCleanup();
      // Keep the default "die on this signal" unless somebody else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.once(signal, onSignal);
  }
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

/**
 * Spawns `command` in its own process group, records its output and registers it for
 * last-resort cleanup.
 */
export function spawnTracked(command: string, args: string[], options: SpawnOptions = {}): Spawned {
  installExitHook();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options, detached: true });
  liveChildren.add(child);
  let text = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      liveChildren.delete(child);
      // 'close' (stdio drained) normally follows at once; a grandchild holding the pipes open
      // (nfacctd's plugin, dumpcap) must not hold us up for long.
      const timer = setTimeout(() => resolve({ code, signal }), 1000);
      child.once('close', () => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
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
 * Sends `signal` to the child (its pid only, not the group: nfacctd's core must be the one to stop
 * its plugin) and waits for it to exit; after `graceMs` the whole process group is SIGKILLed.
 * Leftovers of the group are SIGKILLed after the exit as well. Safe on an already exited child.
 */
export async function stopChild(spawned: Spawned, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  const { child } = spawned;
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  try {
    await spawned.exited;
  } finally {
    clearTimeout(timer);
    killGroup(child, 'SIGKILL');
  }
}

/** Matches the "port already taken" messages of nfcapd and nfacctd, for the free-port race retry. */
export const ADDRESS_IN_USE = /Address already in use|errno: 98|bind\(\)/i;

/**
 * Waits until no UDP socket on `port` has datagrams queued (/proc/net/udp{,6}: rx_queue) and
 * describes what the kernel says of it, drops included, for the failure message of a test.
 */
export async function udpSocketDrained(port: number, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sockets = udpSockets(port);
    if (sockets.every((s) => s.queued === 0) || Date.now() > deadline) {
      return sockets.length === 0 ? `:${port} not found in /proc/net/udp` : sockets.map((s) => `:${port} rx_queue ${s.queued} drops ${s.drops}`).join(', ');
    }
    await sleep(20);
  }
}

function udpSockets(port: number): { queued: number; drops: number }[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found: { queued: number; drops: number }[] = [];
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    for (const line of readText(table).split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops
      if (fields[1]?.endsWith(`:${hexPort}`) !== true) continue;
      found.push({ queued: parseInt(fields[4]?.split(':')[1] ?? '0', 16), drops: Number(fields[12] ?? 0) });
    }
  }
  return found;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
