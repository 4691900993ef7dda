/**
 * Harness around nfcapd / nfdump 1.7.1 (Debian 12 package): start a collector on a free UDP port,
 * stop it, and read back what it stored as flows.
 *
 * Facts checked on this machine (nfdump "NSEL-NEL1.7.1"):
 * - Flags: `nfcapd -w DIR -p PORT -b HOST -t 60` (`-w` is the flow dir in 1.7.x; `-l` is gone).
 *   `-b ::1` binds IPv6 without `-6`. Everything goes to stderr; "Startup nfcapd." is the ready
 *   line (printed after "Bound to IPv4 host/IP: ..."), ~30 ms after spawn.
 * - Stats line "Ident: 'none' Flows: N, Packets: N, Bytes: N, Sequence Errors: N, Bad Packets: N"
 *   is printed at every file rotation (`-t 60` rotates on wall-clock minute boundaries, so a run
 *   crossing hh:mm:00 prints one mid-run, with counters reset) and once more on SIGTERM, followed
 *   by "Terminating nfcapd.". The run's total is the SUM of all those lines.
 * - `nfdump -R DIR -o json`: a JSON array of objects with keys type, export_sysid, first, last,
 *   received, in_packets, in_bytes, out_packets/out_bytes (only when non-zero), proto, src_port,
 *   dst_port, src4_addr/dst4_addr or src6_addr/dst6_addr, ip4_router/ip6_router, ... Times are
 *   "YYYY-MM-DDTHH:MM:SS.mmm" in the LOCAL time zone of nfdump, no zone suffix: run it with TZ=UTC.
 *   NetFlow v5 first/last are exact to the ms (unix_nsecs is used).
 * - With no flows (or an empty dir) nfdump prints "[\nNo matching flows\n]" (not JSON) and exits 0.
 */

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ADDRESS_IN_USE, freeUdpPort, makeTempDir, removeTempDir, spawnTracked, stopChild, udpSocketDrained, waitUntil, type Spawned } from './util.js';

const execFileAsync = promisify(execFile);

export const NFCAPD = '/usr/bin/nfcapd';
export const NFDUMP = '/usr/bin/nfdump';

export interface NfdumpFlow {
  protocol: number;
  srcAddr: string;
  dstAddr: string;
  srcPort: number;
  dstPort: number;
  inPackets: number;
  inBytes: number;
  outPackets: number;
  outBytes: number;
  /** Flow start, epoch ms (nfdump "first"). */
  firstMs: number;
  /** Flow end, epoch ms (nfdump "last"). */
  lastMs: number;
  /** The record exactly as `nfdump -o json` printed it. */
  raw: Record<string, unknown>;
}

export interface NfcapdResult {
  flows: NfdumpFlow[];
  /** nfcapd's stderr + stdout for the whole run. */
  stderr: string;
  /** Sum of every "Sequence Errors: N" stats line nfcapd printed; undefined if none was printed. */
  sequenceErrors: number | undefined;
  /** Sum of every "Bad Packets: N" in the same stats lines; undefined if none was printed. */
  badPackets: number | undefined;
  /** `nfdump -q -o FORMAT` of the flows, when stop() was given a format. */
  formatted?: string;
}

export interface NfcapdRun {
  port: number;
  host: string;
  /** Flow directory (deleted by stop()). */
  dir: string;
  /**
   * Idempotent: later calls return the first call's promise. Always removes process and dir.
   * With `format` (an nfdump -o format such as `fmt:%sa %inam`) the flows are printed with it too.
   */
  stop(format?: string): Promise<NfcapdResult>;
}

export interface NfcapdOptions {
  /** Address to bind, default 127.0.0.1 (`::1` works too). */
  host?: string;
  /** How long to wait for "Startup nfcapd.", default 10 s. */
  startTimeoutMs?: number;
  /** A fixed UDP port (e.g. to restart a collector where an exporter sends); default a free one. */
  port?: number;
}

const running = new Set<NfcapdRun>();

/** Starts nfcapd on a free (or the given) UDP port of `host` and resolves once it has bound its socket. */
export async function startNfcapd(options: NfcapdOptions = {}): Promise<NfcapdRun> {
  const host = options.host ?? '127.0.0.1';
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  let lastError: unknown;
  // The free port can be taken between probing and nfcapd's bind: retry a few times.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = options.port ?? (await freeUdpPort(host));
    const dir = makeTempDir('nfcapd');
    const proc = spawnTracked(NFCAPD, ['-w', dir, '-p', String(port), '-b', host, '-t', '60'], {
      env: { ...process.env, TZ: 'UTC' },
    });
    try {
      await waitUntil(() => proc.output().includes('Startup nfcapd.'), {
        timeoutMs: startTimeoutMs,
        exited: proc.exited,
        what: `nfcapd on ${host}:${port}`,
        describe: proc.output,
      });
    } catch (err) {
      lastError = err;
      await stopChild(proc, 'SIGKILL', 1000);
      removeTempDir(dir);
      if (ADDRESS_IN_USE.test(proc.output())) continue;
      throw err;
    }
    const run = makeRun(proc, host, port, dir);
    running.add(run);
    return run;
  }
  throw lastError;
}

function makeRun(proc: Spawned, host: string, port: number, dir: string): NfcapdRun {
  let stopping: Promise<NfcapdResult> | undefined;
  const run: NfcapdRun = {
    port,
    host,
    dir,
    stop(format?: string) {
      stopping ??= (async () => {
        try {
          // Datagrams still queued when the signal lands may never be read: let nfcapd take them first.
          const socket = await udpSocketDrained(port, 5_000);
          // SIGTERM makes nfcapd flush the current file, print its stats and exit.
          await stopChild(proc, 'SIGTERM', 5000);
          const output = `${proc.output()}\n[harness] socket ${socket}`;
          const flows = await readNfdumpDir(dir);
          const formatted =
            format === undefined
              ? undefined
              : (await execFileAsync(NFDUMP, ['-R', dir, '-q', '-N', '-o', format], { env: { ...process.env, TZ: 'UTC' }, maxBuffer: 256 * 1024 * 1024 }))
                  .stdout;
          return {
            flows,
            ...(formatted === undefined ? {} : { formatted }),
            stderr: output,
            sequenceErrors: sumCounter(output, 'Sequence Errors'),
            badPackets: sumCounter(output, 'Bad Packets'),
          };
        } finally {
          removeTempDir(dir);
          running.delete(run);
        }
      })();
      return stopping;
    },
  };
  return run;
}

/** Stops every nfcapd this module started and has not stopped yet (for afterAll hooks). */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...running].map((run) => run.stop()));
}

function sumCounter(output: string, label: string): number | undefined {
  const re = new RegExp(`${label}: (\\d+)`, 'g');
  let total: number | undefined;
  for (const m of output.matchAll(re)) total = (total ?? 0) + Number(m[1]);
  return total;
}

/** Runs `nfdump -R dir -o json` with TZ=UTC and converts its records. */
export async function readNfdumpDir(dir: string): Promise<NfdumpFlow[]> {
  const { stdout } = await execFileAsync(NFDUMP, ['-R', dir, '-o', 'json'], {
    env: { ...process.env, TZ: 'UTC' },
    maxBuffer: 256 * 1024 * 1024,
  });
  return parseNfdumpJson(stdout);
}

/** Parses `nfdump -o json` output (run with TZ=UTC); "No matching flows" yields []. */
export function parseNfdumpJson(text: string): NfdumpFlow[] {
  if (/^\s*\[\s*No matching flows\s*\]\s*$/.test(text) || text.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`nfdump printed invalid JSON (${(err as Error).message}):\n${text.slice(0, 2000)}`);
  }
  if (!Array.isArray(parsed)) throw new Error(`nfdump JSON is not an array:\n${text.slice(0, 2000)}`);
  return parsed.map((raw: Record<string, unknown>) => ({
    protocol: num(raw.proto),
    srcAddr: String(raw.src4_addr ?? raw.src6_addr ?? ''),
    dstAddr: String(raw.dst4_addr ?? raw.dst6_addr ?? ''),
    srcPort: num(raw.src_port),
    dstPort: num(raw.dst_port),
    inPackets: num(raw.in_packets),
    inBytes: num(raw.in_bytes),
    outPackets: num(raw.out_packets),
    outBytes: num(raw.out_bytes),
    firstMs: typeof raw.first === 'string' ? nfdumpTimeToMs(raw.first) : NaN,
    lastMs: typeof raw.last === 'string' ? nfdumpTimeToMs(raw.last) : NaN,
    raw,
  }));
}

function num(value: unknown): number {
  return value === undefined || value === null ? 0 : Number(value);
}

/**
 * nfdump 1.7.1 json time ("2026-11-25T06:01:03.000", local time of nfdump, no suffix) to epoch ms.
 * Only correct when nfdump ran with TZ=UTC, as {@link readNfdumpDir} does.
 */
export function nfdumpTimeToMs(value: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/.exec(value.trim());
  if (!m) throw new Error(`unrecognised nfdump time "${value}"`);
  const [, y, mo, d, h, mi, s, frac] = m;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) + (frac ? Number(frac.padEnd(3, '0')) : 0);
}
