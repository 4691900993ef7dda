/**
 * Harness around tshark 4.0.17 (Debian 12): decode a pcap with the cflow (NetFlow/IPFIX) dissector
 * and read fields / expert messages, plus an optional live loopback capture.
 *
 * Facts checked on this machine:
 * - Only UDP 2055, 9996 and 4739 are decoded as cflow by default; any other port needs
 *   `-d udp.port==P,cflow` (without it the cflow.* fields are simply absent, no error).
 * - `-T json -e f ...` prints a JSON array, one element per frame, `_source.layers` maps each
 *   PRESENT field to an array of strings (absent fields are left out; {@link tsharkFields} fills
 *   them with []). An empty capture prints "[]" (no error).
 * - Absolute times (cflow.timestamp, cflow.abstimestart/abstimeend) are printed like
 *   "Nov 25, 2026 06:02:01.250000000 UTC" in tshark's LOCAL zone (TZ=America/New_York gives
 *   "... 01:02:01.250000000 EST"): this module runs tshark with TZ=UTC; see {@link tsharkTimeToMs}.
 *   NetFlow v5 cflow.timestart/timeend are uptimes in seconds ("94.667000000"); cflow.sysuptime
 *   too; cflow.unix_secs / cflow.unix_nsecs are plain integers.
 * - `-T fields -e _ws.expert.message` prints one line per frame, EMPTY for a clean frame, and joins
 *   several messages of a frame with ','. We use -T json to get them as a list instead.
 * - Single pass matters: "Data (45 bytes), no template found" is reported for IPFIX data before
 *   its template; with `-2` (two-pass) tshark learns the template in pass 1 and the warning vanishes.
 * - tshark does NOT check NetFlow v5 flow_sequence and does not flag a v5 `count` larger than the
 *   records present. For IPFIX it checks sequence per domain once it has decoded a message
 *   ("Unexpected flow sequence for domain ID 1 (expected 8, got 20)").
 * - Every run prints 'Running as user "root" and group "root". This could be dangerous.' on stderr.
 * - Live capture as root: `tshark -i lo -f "udp port P" -F pcap -w file`; "Capture started." shows
 *   up on stderr ~1 s after spawn; SIGINT stops it in ~1-2 s ("N packets captured"). Without -F
 *   pcap the file is pcapng. Loopback frames are DLT Ethernet (zeroed MACs).
 */

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, removeTempDir, spawnTracked, stopChild, waitUntil, type Spawned } from './util.js';

export const TSHARK = '/usr/bin/tshark';

/** field name -> values in the packet (tshark -T json -e ... arrays); [] when absent. */
export interface TsharkPacket {
  [field: string]: string[];
}

export interface TsharkOptions {
  /** Extra UDP ports to decode as cflow (`-d udp.port==P,cflow` each). */
  decodeAsPorts?: number[];
}

function decodeAsArgs(options: TsharkOptions | undefined): string[] {
  return (options?.decodeAsPorts ?? []).flatMap((port) => ['-d', `udp.port==${port},cflow`]);
}

function runTshark(args: string[]): string {
  try {
    return execFileSync(TSHARK, args, {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC' },
      maxBuffer: 512 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`tshark ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

interface TsharkJsonFrame {
  _source?: { layers?: Record<string, string[] | string> };
}

function readJson(pcapPath: string, fields: string[], options: TsharkOptions | undefined): TsharkPacket[] {
  const out = runTshark(['-r', pcapPath, '-n', ...decodeAsArgs(options), '-T', 'json', ...fields.flatMap((f) => ['-e', f])]);
  const frames = JSON.parse(out.trim() === '' ? '[]' : out) as TsharkJsonFrame[];
  return frames.map((frame) => {
    const layers = frame._source?.layers ?? {};
    const packet: TsharkPacket = {};
    for (const field of fields) {
      const value = layers[field];
      packet[field] = value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)];
    }
    return packet;
  });
}

/** Decodes `pcapPath` (single pass, TZ=UTC) and returns the requested fields of every frame. */
export function tsharkFields(pcapPath: string, fields: string[], options?: TsharkOptions): TsharkPacket[] {
  return readJson(pcapPath, fields, options);
}

/**
 * Wireshark's UDP dissector calls any datagram to or from a port in 33435-33464 a "Possible
 * traceroute" (hop and attempt from the port number). The collectors' ports and our exporter's
 * ephemeral source port are chosen by the kernel and land there now and then: that note says
 * nothing about the payload, so it is left out.
 */
const PORT_HEURISTIC_NOTE = /^Possible traceroute: hop #\d+, attempt #\d+$/;

/** All expert messages of all frames (warnings, notes, malformed...); an empty list means clean. */
export function tsharkExpertMessages(pcapPath: string, options?: TsharkOptions): string[] {
  return readJson(pcapPath, ['_ws.expert.message'], options)
    .flatMap((p) => p['_ws.expert.message'] ?? [])
    .filter((message) => !PORT_HEURISTIC_NOTE.test(message));
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

/**
 * tshark absolute time as printed by -T json/fields ("Nov 25, 2026 06:02:01.250000000 UTC") to
 * epoch ms (sub-ms digits dropped). Only "UTC" is accepted: the functions here run tshark with
 * TZ=UTC; a local-zone string would silently be off by the offset.
 */
export function tsharkTimeToMs(value: string): number {
  const m = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}), (\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))? UTC$/.exec(value.trim());
  const month = m ? MONTHS[m[1] ?? ''] : undefined;
  if (!m || month === undefined) throw new Error(`unrecognised tshark UTC time "${value}"`);
  const [, , d, y, h, mi, s, frac] = m;
  return Date.UTC(Number(y), month, Number(d), Number(h), Number(mi), Number(s)) + (frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0);
}

export interface LoopbackCapture {
  /** Where the classic pcap is written (removed at process exit). */
  pcapPath: string;
  /** Stops tshark (SIGINT, idempotent) and resolves with the pcap path once the file is closed. */
  stop(): Promise<string>;
}

const captures = new Set<LoopbackCapture>();
const captureDirs: string[] = [];

/**
 * Live capture of `udp port <port>` on lo (needs root or capture capabilities). Resolves once
 * tshark reports "Capture started." so packets sent afterwards are recorded.
 */
export async function captureLoopback(port: number, options: { startTimeoutMs?: number; expectPackets?: number } = {}): Promise<LoopbackCapture> {
  const dir = makeTempDir('tshark');
  captureDirs.push(dir);
  const pcapPath = join(dir, `lo-udp-${port}.pcap`);
  const proc: Spawned = spawnTracked(TSHARK, ['-i', 'lo', '-n', '-f', `udp port ${port}`, '-F', 'pcap', '-w', pcapPath], {
    env: { ...process.env, TZ: 'UTC' },
  });
  try {
    await waitUntil(() => proc.output().includes('Capture started'), {
      timeoutMs: options.startTimeoutMs ?? 10_000,
      exited: proc.exited,
      what: `tshark capture on lo port ${port}`,
      describe: proc.output,
    });
  } catch (err) {
    await stopChild(proc, 'SIGKILL', 1000);
    throw err;
  }
  let stopping: Promise<string> | undefined;
  const capture: LoopbackCapture = {
    pcapPath,
    stop() {
      stopping ??= (async () => {
        try {
          // dumpcap writes packets out a little after they arrive: wait (bounded) until the file
          // holds what the caller sent, or SIGINT may cut the last ones off.
          if (options.expectPackets !== undefined) {
            const expected = options.expectPackets;
            await waitUntil(() => classicPcapRecords(pcapPath) >= expected, {
              timeoutMs: 5000,
              exited: proc.exited,
              what: `${expected} packets in ${pcapPath}`,
              describe: proc.output,
            }).catch(() => {});
          }
          await stopChild(proc, 'SIGINT', 10_000);
          return pcapPath;
        } finally {
          captures.delete(capture);
        }
      })();
      return stopping;
    },
  };
  captures.add(capture);
  return capture;
}

/** Records in a classic pcap file written so far (0 if it does not exist yet). */
function classicPcapRecords(path: string): number {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return 0;
  }
  let count = 0;
  for (let offset = 24; offset + 16 <= bytes.length; count++) offset += 16 + bytes.readUInt32LE(offset + 8);
  return count;
}

/**
 * Stops all live captures still running and deletes every capture file made by this module
 * (call from afterAll, after the pcaps have been read).
 */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...captures].map((c) => c.stop()));
  for (const dir of captureDirs.splice(0)) removeTempDir(dir);
}

/** One decoded flow (or options) record, fields flattened: `cflow.srcaddr` -> ['10.0.0.1'] (arrays keep RFC 5103 forward/reverse pairs). */
export interface TsharkFlow {
  readonly frame: number;
  readonly setId: number;
  readonly fields: Record<string, string[]>;
}

export interface TsharkMessage {
  readonly frame: number;
  /** `cflow.*` header fields of the message. */
  readonly header: Record<string, string>;
  readonly udpLength: number;
  readonly flows: TsharkFlow[];
}

function flatten(node: unknown, into: Record<string, string[]>): void {
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (typeof value === 'string') (into[key] ??= []).push(value);
    else if (Array.isArray(value)) {
      for (const item of value) {
        if (typeof item === 'string') (into[key] ??= []).push(item);
        else flatten(item, into);
      }
    } else flatten(value, into);
  }
}

/**
 * Every NetFlow/IPFIX message in the pcap with its records, from tshark's full JSON tree
 * (`--no-duplicate-keys`, so repeated fields such as forward and reverse octets stay apart).
 */
export function tsharkMessages(pcapPath: string, options?: TsharkOptions): TsharkMessage[] {
  const out = runTshark(['-r', pcapPath, '-n', ...decodeAsArgs(options), '-T', 'json', '--no-duplicate-keys', '-J', 'udp cflow']);
  const frames = JSON.parse(out.trim() === '' ? '[]' : out) as { _source: { layers: Record<string, unknown> } }[];
  return frames.map((frame, index) => {
    const layers = frame._source.layers;
    const udp = layers['udp'] as Record<string, string> | undefined;
    const cflow = (layers['cflow'] ?? {}) as Record<string, unknown>;
    const header: Record<string, string> = {};
    const flows: TsharkFlow[] = [];
    for (const [key, value] of Object.entries(cflow)) {
      if (typeof value === 'string') header[key] = value;
      if (/^pdu \d+/.test(key)) {
        // NetFlow v5: fixed records straight under the header.
        const fields: Record<string, string[]> = {};
        flatten(value, fields);
        flows.push({ frame: index + 1, setId: 0, fields });
        continue;
      }
      const set = /^(?:Set|FlowSet) \d+ \[id=(\d+)\]/.exec(key);
      if (set === null && key.endsWith('_tree') && value !== null && typeof value === 'object') {
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (typeof v === 'string') header[k] = v;
      }
      if (set === null || value === null || typeof value !== 'object') continue;
      for (const [flowKey, flowValue] of Object.entries(value as Record<string, unknown>)) {
        if (!/^(?:Flow|pdu) \d+/.test(flowKey)) continue;
        const fields: Record<string, string[]> = {};
        flatten(flowValue, fields);
        flows.push({ frame: index + 1, setId: Number(set[1]), fields });
      }
    }
    return { frame: index + 1, header, udpLength: Number(udp?.['udp.length'] ?? 0), flows };
  });
}
