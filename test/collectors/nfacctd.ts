/**
 * Harness around pmacct nfacctd 1.7.7 (Debian 12 package) with one print plugin writing JSON lines.
 *
 * Facts checked on this machine:
 * - Ready line in the log file: "waiting for NetFlow/IPFIX data on 127.0.0.1:PORT", ~100-150 ms
 *   after spawn; the print plugin logs its own start ("JSON: setting object handlers") after it.
 *   The harness waits for both. With `logfile` set nothing goes to stdout/stderr. Config errors ("Unknown
 *   primitive 'x'", "bind() to ip=... failed (errno: 98)") are logged and the core exits 1.
 * - Spawned with `daemonize: false`, the spawned pid IS the core process ("nfacctd: Core Process
 *   [default]"); the print plugin is its child ("nfacctd: Print Plugin [p]").
 * - SIGINT to the core: it sleeps a hard-coded 2 s (signals.c), SIGINTs the plugin, which purges
 *   its cache to the output file, then exits; datagrams still queued on its socket are never read.
 *   stop() therefore first waits for the socket's queue to drain, and takes ~3-3.5 s. With an empty
 *   cache no output file is written at all; the result's log ends with the number of JSON lines
 *   and the socket's queue and drops as /proc/net/udp gave them.
 * - JSON line per aggregate, e.g. {"event_type": "purge", "peer_ip_src": "127.0.0.1",
 *   "iface_in": 1, "iface_out": 2, "ip_src": "10.0.0.1", "ip_dst": "10.0.0.2", "port_src": 1234,
 *   "port_dst": 80, "tcp_flags": "27", "ip_proto": "6", "timestamp_start": "2026-11-25 06:01:56.000000",
 *   "timestamp_end": "...", "export_proto_seqno": 0, "export_proto_version": 5,
 *   "export_proto_sysid": 0, "flows": 1, "packets": 10, "bytes": 1000}.
 *   ip_proto is a NAME ("tcp") unless print_num_protos is set, and then a STRING ("6"); tcp_flags
 *   is a decimal string; custom aggregate_primitives with semantics=u_int are printed as strings.
 * - Aggregates with identical keys are summed (packets/bytes added, "flows" counts the records).
 *   The default aggregate below adds export_proto_seqno (+ version, sysid, exporter address,
 *   interfaces, tcp flags) so records from different export packets stay apart; two identical
 *   records in ONE packet still merge: check `flows`.
 *
 * Time format of timestamp_start / timestamp_end (timestamp_arrival alike), as printed here:
 * - default: "YYYY-MM-DD HH:MM:SS.ffffff" (space, 6 fraction digits, no zone). The zone is the
 *   local one of nfacctd unless `timestamps_utc: true`; this harness sets timestamps_utc AND runs
 *   nfacctd with TZ=UTC, so the string is UTC.
 * - timestamps_secs: true still prints 6 fraction digits, always ".000000": the time is truncated
 *   (floored) to the second, e.g. IPFIX flowStartMilliseconds ...55.794 -> "...:55.000000".
 *   Without it, IPFIX/v9 millisecond times come out exact ("...:55.794000").
 * - NetFlow v5 is second-resolution in nfacctd whatever the options: it ignores unix_nsecs and
 *   computes unix_secs - floor((sys_uptime - First) / 1000), so it can be up to 1 s LATER than
 *   the true start (nfdump and tshark use the ms values exactly).
 * - timestamps_rfc3339: true gives "YYYY-MM-DDTHH:MM:SS.ffffffZ"; timestamps_since_epoch: true
 *   gives "1795586515.794000" (a string). {@link pmacctTimeToMs} accepts all of these.
 */

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADDRESS_IN_USE, freeUdpPort, makeTempDir, removeTempDir, spawnTracked, stopChild, udpSocketDrained, waitUntil, type Spawned } from './util.js';

export const NFACCTD = '/usr/sbin/nfacctd';

export interface PmacctFlow {
  [key: string]: unknown;
}

export interface NfacctdResult {
  /** One object per JSON line of the print plugin's output file(s), in file order. */
  flows: PmacctFlow[];
  /** nfacctd's log file followed by anything it wrote to stdout/stderr. */
  log: string;
}

export interface NfacctdRun {
  port: number;
  host: string;
  /** The generated nfacctd.conf text (handy in assertion messages). */
  config: string;
  /** Idempotent: later calls return the first call's promise. Always removes processes and dir. */
  stop(): Promise<NfacctdResult>;
}

export interface NfacctdOptions {
  /** Address to bind, default 127.0.0.1. */
  host?: string;
  /** Aggregation primitives; default {@link DEFAULT_AGGREGATE}. Custom primitive names are appended. */
  aggregate?: string[];
  /**
   * Contents of an aggregate_primitives file, e.g. "name=flow_dir field_type=61 len=1 semantics=u_int".
   * Every `name=` defined here is appended to the aggregate if missing (an undefined-but-aggregated
   * name is a startup error; a defined-but-not-aggregated one would be useless).
   */
  primitives?: string;
  /** `timestamps_secs`, default true (times floored to the second; see the file comment). */
  timestampsSecs?: boolean;
  /** `print_num_protos`, default true: ip_proto is printed as a numeric string ("6"), not "tcp". */
  numProtos?: boolean;
  /** Extra config lines appended verbatim (e.g. "nfacctd_time_new: true"). */
  extraConfig?: string[];
  /** How long to wait for the ready line, default 10 s. */
  startTimeoutMs?: number;
}

export const DEFAULT_AGGREGATE: readonly string[] = [
  'src_host',
  'dst_host',
  'src_port',
  'dst_port',
  'proto',
  'timestamp_start',
  'timestamp_end',
  'tcpflags',
  'in_iface',
  'out_iface',
  'peer_src_ip',
  'export_proto_version',
  'export_proto_sysid',
  'export_proto_seqno',
  'flows',
];

const PLUGIN = 'p';
/** The core's line once its socket is bound; the print plugin logs its own start after it. */
const READY = 'waiting for NetFlow/IPFIX data';
const PLUGIN_READY = '( p/print ): JSON: setting object handlers';
const running = new Set<NfacctdRun>();

/** Starts nfacctd with a JSON print plugin on a free UDP port; resolves once it is listening. */
export async function startNfacctd(options: NfacctdOptions = {}): Promise<NfacctdRun> {
  const host = options.host ?? '127.0.0.1';
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const aggregate = [...(options.aggregate ?? DEFAULT_AGGREGATE)];
  for (const m of (options.primitives ?? '').matchAll(/(?:^|\s)name=([^\s]+)/g)) {
    const name = m[1];
    if (name !== undefined && !aggregate.includes(name)) aggregate.push(name);
  }

  let lastError: unknown;
  // The free port can be taken between probing and nfacctd's bind: retry a few times.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeUdpPort(host);
    const dir = makeTempDir('nfacctd');
    const logPath = join(dir, 'nfacctd.log');
    const lines = [
      'daemonize: false',
      `nfacctd_ip: ${host}`,
      `nfacctd_port: ${port}`,
      `pidfile: ${join(dir, 'nfacctd.pid')}`,
      `logfile: ${logPath}`,
      `plugins: print[${PLUGIN}]`,
      `print_output[${PLUGIN}]: json`,
      // %s = epoch seconds of the purge: a periodic purge and the final one get separate files;
      // append in case two purges fall in the same second.
      `print_output_file[${PLUGIN}]: ${join(dir, 'out-%s.json')}`,
      `print_output_file_append[${PLUGIN}]: true`,
      `print_refresh_time[${PLUGIN}]: 60`,
      `print_num_protos[${PLUGIN}]: ${options.numProtos ?? true}`,
      // Room for bursts on a busy machine: the socket's buffer (as root beyond rmem_max). CI once
      // lost one 8 KiB message's records with the default. (A larger plugin_pipe_size made CI see
      // every record twice once: left at its default.)
      'nfacctd_pipe_size: 8388608',
      `timestamps_secs: ${options.timestampsSecs ?? true}`,
      'timestamps_utc: true',
      `aggregate[${PLUGIN}]: ${aggregate.join(',')}`,
    ];
    if (options.primitives !== undefined) {
      const primitivesPath = join(dir, 'primitives.lst');
      writeFileSync(primitivesPath, options.primitives.endsWith('\n') ? options.primitives : `${options.primitives}\n`);
      lines.push(`aggregate_primitives: ${primitivesPath}`);
    }
    lines.push(...(options.extraConfig ?? []));
    const config = `${lines.join('\n')}\n`;
    const configPath = join(dir, 'nfacctd.conf');
    writeFileSync(configPath, config);

    const proc = spawnTracked(NFACCTD, ['-f', configPath], { env: { ...process.env, TZ: 'UTC' } });
    const log = (): string => readLog(logPath) + proc.output();
    try {
      await waitUntil(() => readLog(logPath).includes(READY) && readLog(logPath).includes(PLUGIN_READY), {
        timeoutMs: startTimeoutMs,
        exited: proc.exited,
        what: `nfacctd on ${host}:${port}`,
        describe: () => `${log()}\n--- config ---\n${config}`,
      });
    } catch (err) {
      lastError = err;
      await stopChild(proc, 'SIGKILL', 1000);
      const text = log();
      removeTempDir(dir);
      if (ADDRESS_IN_USE.test(text)) continue;
      throw err;
    }
    const run = makeRun(proc, host, port, dir, config, log);
    running.add(run);
    return run;
  }
  throw lastError;
}

function makeRun(proc: Spawned, host: string, port: number, dir: string, config: string, log: () => string): NfacctdRun {
  let stopping: Promise<NfacctdResult> | undefined;
  const run: NfacctdRun = {
    port,
    host,
    config,
    stop() {
      stopping ??= (async () => {
        try {
          // The core reads no datagram after SIGINT: let it take what the kernel still holds first.
          const socket = await udpSocketDrained(port, 5_000);
          // SIGINT to the core only: it flushes its pipe, waits 2 s, SIGINTs the plugin (which
          // purges the cache to the file) and wait()s for it, so the file is complete once the core
          // has exited. (stopChild then SIGKILLs whatever is left of the process group.)
          await stopChild(proc, 'SIGINT', 15_000);
          const flows = readFlows(dir);
          return { flows, log: `${log()}\n[harness] ${flows.length} JSON lines; socket ${socket}` };
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

/** Stops every nfacctd this module started and has not stopped yet (for afterAll hooks). */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...running].map((run) => run.stop()));
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function readFlows(dir: string): PmacctFlow[] {
  const files = readdirSync(dir)
    .filter((name) => /^out-\d+\.json$/.test(name))
    .sort((a, b) => Number(a.slice(4, -5)) - Number(b.slice(4, -5)));
  const flows: PmacctFlow[] = [];
  for (const file of files) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        flows.push(JSON.parse(line) as PmacctFlow);
      } catch (err) {
        throw new Error(`nfacctd wrote a line that is not JSON in ${file} (${(err as Error).message}): ${line}`);
      }
    }
  }
  return flows;
}

/**
 * Converts a pmacct timestamp_start/timestamp_end/timestamp_arrival value to epoch ms (fractions
 * below the ms are dropped). Accepts:
 * - "YYYY-MM-DD HH:MM:SS[.ffffff]" (default format; read as UTC, which this harness guarantees via
 *   timestamps_utc + TZ=UTC),
 * - "YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+hh:mm)" (timestamps_rfc3339),
 * - "SSSSSSSSSS[.ffffff]" or a number: seconds since the epoch (timestamps_since_epoch).
 */
export function pmacctTimeToMs(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value)) return Math.floor(value * 1000);
  if (typeof value !== 'string') throw new Error(`not a pmacct time: ${JSON.stringify(value)}`);
  const text = value.trim();
  const epoch = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (epoch) return Number(epoch[1]) * 1000 + fractionMs(epoch[2]);
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/.exec(text);
  if (!m) throw new Error(`unrecognised pmacct time "${text}"`);
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) + fractionMs(frac);
  if (zone !== undefined && zone !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
    if (z) ms -= (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3])) * 60_000;
  }
  return ms;
}

function fractionMs(frac: string | undefined): number {
  return frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
}
