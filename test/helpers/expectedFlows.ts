import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** One tuple of the bundled samples as an independent reading (scripts/expected-from-samples.mjs) sees it. */
export interface ExpectedTuple {
  file: string;
  recordIndex: number;
  kind: 'nsg-v1' | 'nsg-v2' | 'vnet';
  timeMs: number;
  srcAddr: string;
  dstAddr: string;
  srcPort: number;
  dstPort: number;
  protocol: number;
  direction: 'inbound' | 'outbound';
  decision: 'allow' | 'deny';
  state: 'begin' | 'continue' | 'end' | 'deny' | null;
  packetsForward: number | null;
  bytesForward: number | null;
  packetsReverse: number | null;
  bytesReverse: number | null;
  rule: string;
  mac: string;
}

/** One record a collector should show. */
export interface ExpectedRecord {
  srcAddr: string;
  dstAddr: string;
  srcPort: number;
  dstPort: number;
  protocol: number;
  bytes: number;
  packets: number;
  reverseBytes: number;
  reversePackets: number;
  startMs: number;
  endMs: number;
  /** flowDirection: 0 ingress, 1 egress. */
  direction: 0 | 1;
  deny: boolean;
  ipv6: boolean;
  rule: string;
}

export const SAMPLES_DIR = join(import.meta.dirname, '..', '..', 'samples');

export function expectedTuples(): ExpectedTuple[] {
  return JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'samples-expected.json'), 'utf8')) as ExpectedTuple[];
}

/**
 * The records the samples must produce on the wire. Start times follow the documented rule: a
 * tuple's flow starts at the same flow's previous tuple (within its NIC's file; end and deny
 * tuples close the flow), else at the tuple time.
 */
export function expectedRecords(biflow: 'split' | 'rfc5103', options: { shiftMs?: number; ipv4Only?: boolean } = {}): ExpectedRecord[] {
  const lastSeen = new Map<string, number>();
  const records: ExpectedRecord[] = [];
  const shiftMs = options.shiftMs ?? 0;
  for (const original of expectedTuples()) {
    if (options.ipv4Only && original.srcAddr.includes(':')) continue;
    const t = { ...original, timeMs: original.timeMs + shiftMs };
    const key = `${t.file}|${t.protocol}|${t.srcAddr}|${t.srcPort}|${t.dstAddr}|${t.dstPort}`;
    const previous = lastSeen.get(key);
    const startMs = previous !== undefined && previous <= t.timeMs ? previous : t.timeMs;
    lastSeen.delete(key);
    if (t.state !== 'end' && t.decision !== 'deny') lastSeen.set(key, t.timeMs);
    const forward: ExpectedRecord = {
      srcAddr: t.srcAddr,
      dstAddr: t.dstAddr,
      srcPort: t.srcPort,
      dstPort: t.dstPort,
      protocol: t.protocol,
      bytes: t.bytesForward ?? 0,
      packets: t.packetsForward ?? 0,
      reverseBytes: biflow === 'rfc5103' ? (t.bytesReverse ?? 0) : 0,
      reversePackets: biflow === 'rfc5103' ? (t.packetsReverse ?? 0) : 0,
      startMs,
      endMs: t.timeMs,
      direction: t.direction === 'inbound' ? 0 : 1,
      deny: t.decision === 'deny',
      ipv6: t.srcAddr.includes(':'),
      rule: t.rule,
    };
    records.push(forward);
    if (biflow === 'split' && ((t.bytesReverse ?? 0) > 0 || (t.packetsReverse ?? 0) > 0)) {
      records.push({
        ...forward,
        srcAddr: t.dstAddr,
        dstAddr: t.srcAddr,
        srcPort: t.dstPort,
        dstPort: t.srcPort,
        bytes: t.bytesReverse ?? 0,
        packets: t.packetsReverse ?? 0,
        direction: forward.direction === 0 ? 1 : 0,
      });
    }
  }
  return records;
}

/** Stable order for comparing record lists from different decoders. */
export function byFlow<
  T extends { srcAddr: string; dstAddr: string; srcPort: number; dstPort: number; endMs: number; bytes: number; direction?: number; rule?: string },
>(a: T, b: T): number {
  return (
    a.endMs - b.endMs ||
    a.srcAddr.localeCompare(b.srcAddr) ||
    a.srcPort - b.srcPort ||
    a.dstAddr.localeCompare(b.dstAddr) ||
    a.dstPort - b.dstPort ||
    a.bytes - b.bytes ||
    (a.direction ?? 0) - (b.direction ?? 0) ||
    (a.rule ?? '').localeCompare(b.rule ?? '')
  );
}

/**
 * Copies the sample logs into `dir` with every timestamp moved by `shiftMs` (a whole number of
 * seconds), e.g. to make them recent. Returns the directory.
 */
export function shiftedSamples(dir: string, shiftMs: number): string {
  for (const file of listJson(SAMPLES_DIR)) {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { records: Record<string, unknown>[] };
    for (const record of doc.records) {
      record['time'] = new Date(Date.parse(String(record['time'])) + shiftMs).toISOString();
      const shiftTuple = (tuple: string) => {
        const [ts, ...rest] = tuple.split(',');
        const value = Number(ts);
        const shifted = value >= 1e11 ? value + shiftMs : value + shiftMs / 1000;
        return [String(shifted), ...rest].join(',');
      };
      const walk = (node: unknown): void => {
        if (Array.isArray(node)) node.forEach(walk);
        else if (node !== null && typeof node === 'object') {
          for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
            if (key === 'flowTuples' && Array.isArray(value)) (node as Record<string, unknown>)[key] = value.map((t) => shiftTuple(String(t)));
            else walk(value);
          }
        }
      };
      walk(record);
    }
    const target = join(dir, relative(SAMPLES_DIR, file));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, JSON.stringify(doc));
  }
  return dir;
}

function listJson(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? listJson(path) : entry.name.endsWith('.json') ? [path] : [];
  });
}

/** The fields every collector shows of a uniflow record: what the interop tests compare. */
export interface CoreFields {
  srcAddr: string;
  dstAddr: string;
  srcPort: number;
  dstPort: number;
  protocol: number;
  bytes: number;
  packets: number;
  startMs: number;
  endMs: number;
}

export function coreFields(r: CoreFields): CoreFields {
  return {
    srcAddr: r.srcAddr,
    dstAddr: r.dstAddr,
    srcPort: r.srcPort,
    dstPort: r.dstPort,
    protocol: r.protocol,
    bytes: r.bytes,
    packets: r.packets,
    startMs: r.startMs,
    endMs: r.endMs,
  };
}

/** nfdump's view of a flow in the same shape (in-direction counters, first/last). */
export function nfdumpCoreFields(f: {
  srcAddr: string;
  dstAddr: string;
  srcPort: number;
  dstPort: number;
  protocol: number;
  inBytes: number;
  inPackets: number;
  firstMs: number;
  lastMs: number;
}): CoreFields {
  return coreFields({ ...f, bytes: f.inBytes, packets: f.inPackets, startMs: f.firstMs, endMs: f.lastMs });
}
