/**
 * The report's numbers worked out independently of src/: plain JSON.parse of the flow log files,
 * split(',') of each tuple, string keys in Maps, addresses normalised by the WHATWG URL parser.
 * Slow and simple on purpose: it is what the CLI's output is checked against.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/* eslint-disable @typescript-eslint/no-explicit-any -- plain JSON.parse output, on purpose */

export interface ExpectedTuple {
  readonly resource: string;
  readonly rule: string;
  readonly timeMs: number;
  readonly source: string;
  readonly destination: string;
  readonly destinationPort: number;
  readonly protocol: number;
  readonly inbound: boolean;
  readonly denied: boolean;
  readonly state: 'B' | 'C' | 'E' | 'D' | 'none';
  readonly packetsForward: number;
  readonly bytesForward: number;
  readonly packetsReverse: number;
  readonly bytesReverse: number;
}

export function jsonFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...jsonFiles(path));
    else if (name.endsWith('.json')) out.push(path);
  }
  return out;
}

function canonical(address: string): string {
  return address.includes(':') ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

const count = (text: string | undefined) => (text === undefined || text === '' ? 0 : Number(text));

export function tuplesOf(files: readonly string[]): ExpectedTuple[] {
  const tuples: ExpectedTuple[] = [];
  for (const file of files) {
    const records = (JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as { records: Record<string, any>[] }).records;
    for (const record of records) {
      if (record['flowRecords'] !== undefined) {
        const resource = record['flowLogResourceID'] ?? record['targetResourceID'];
        for (const acl of record['flowRecords'].flows)
          for (const group of acl.flowGroups)
            for (const text of group.flowTuples) {
              const f = (text as string).split(',');
              const ts = Number(f[0]);
              tuples.push({
                resource,
                rule: group.rule,
                timeMs: ts < 1e11 ? ts * 1000 : ts,
                source: canonical(f[1]!),
                destination: canonical(f[2]!),
                destinationPort: Number(f[4]),
                protocol: Number(f[5]),
                inbound: f[6] === 'I',
                denied: f[7] === 'D',
                state: f[7] as ExpectedTuple['state'],
                packetsForward: count(f[9]),
                bytesForward: count(f[10]),
                packetsReverse: count(f[11]),
                bytesReverse: count(f[12]),
              });
            }
      } else {
        for (const ruleGroup of record['properties'].flows)
          for (const macGroup of ruleGroup.flows)
            for (const text of macGroup.flowTuples) {
              const f = (text as string).split(',');
              tuples.push({
                resource: record['resourceId'],
                rule: ruleGroup.rule,
                timeMs: Number(f[0]) * 1000,
                source: canonical(f[1]!),
                destination: canonical(f[2]!),
                destinationPort: Number(f[4]),
                protocol: f[5] === 'T' ? 6 : 17,
                inbound: f[6] === 'I',
                denied: f[7] === 'D',
                state: f.length > 8 ? (f[8] as ExpectedTuple['state']) : 'none',
                packetsForward: count(f[9]),
                bytesForward: count(f[10]),
                packetsReverse: count(f[11]),
                bytesReverse: count(f[12]),
              });
            }
      }
    }
  }
  return tuples;
}

type Measures = { bytes: number; packets: number; flows: number };
const order = ['bytes', 'packets', 'flows'] as const;

function ranked<T extends Measures>(entries: T[], by: (typeof order)[number], text: (e: T) => string): T[] {
  const measures = [by, ...order.filter((m) => m !== by)];
  return entries.sort((a, b) => {
    for (const m of measures) if (a[m] !== b[m]) return b[m] - a[m];
    return text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0;
  });
}

function bump<K, V>(map: Map<K, V>, key: K, make: () => V, update: (v: V) => void): void {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make()));
  update(v);
}

/** The whole report as the README defines it, every list complete (no --top cut). */
export function expectedReport(tuples: readonly ExpectedTuple[], by: (typeof order)[number] = 'bytes') {
  const pairs = new Map<string, { source: string; destination: string } & Measures>();
  const hosts = new Map<string, { address: string; bytesSent: number; bytesReceived: number; packetsSent: number; packetsReceived: number } & Measures>();
  const deniedSources = new Map<string, number>();
  const deniedDestinations = new Map<string, number>();
  const deniedPorts = new Map<string, { port: number; protocolNumber: number; flows: number }>();
  const rules = new Map<string, { resource: string; rule: string; flows: number; deniedFlows: number; bytes: number; packets: number }>();
  const states = { B: 0, C: 0, E: 0, D: 0, none: 0 };
  const totals = { flows: 0, deniedFlows: 0, bytes: 0, packets: 0 };
  for (const t of tuples) {
    totals.flows++;
    if (t.denied) totals.deniedFlows++;
    totals.bytes += t.bytesForward + t.bytesReverse;
    totals.packets += t.packetsForward + t.packetsReverse;
    states[t.state]++;
    const pair = (s: string, d: string, bytes: number, packets: number, flows: number) =>
      bump(
        pairs,
        `${s}>${d}`,
        () => ({ source: s, destination: d, bytes: 0, packets: 0, flows: 0 }),
        (p) => {
          p.bytes += bytes;
          p.packets += packets;
          p.flows += flows;
        },
      );
    pair(t.source, t.destination, t.bytesForward, t.packetsForward, 1);
    if (t.bytesReverse > 0 || t.packetsReverse > 0) pair(t.destination, t.source, t.bytesReverse, t.packetsReverse, 0);
    const host = (a: string, sentB: number, recvB: number, sentP: number, recvP: number, flows: number) =>
      bump(
        hosts,
        a,
        () => ({ address: a, bytes: 0, packets: 0, flows: 0, bytesSent: 0, bytesReceived: 0, packetsSent: 0, packetsReceived: 0 }),
        (h) => {
          h.bytesSent += sentB;
          h.bytesReceived += recvB;
          h.packetsSent += sentP;
          h.packetsReceived += recvP;
          h.bytes += sentB + recvB;
          h.packets += sentP + recvP;
          h.flows += flows;
        },
      );
    host(t.source, t.bytesForward, t.bytesReverse, t.packetsForward, t.packetsReverse, 1);
    host(t.destination, t.bytesReverse, t.bytesForward, t.packetsReverse, t.packetsForward, t.source === t.destination ? 0 : 1);
    if (t.denied) {
      deniedSources.set(t.source, (deniedSources.get(t.source) ?? 0) + 1);
      deniedDestinations.set(t.destination, (deniedDestinations.get(t.destination) ?? 0) + 1);
      bump(
        deniedPorts,
        `${t.destinationPort}/${t.protocol}`,
        () => ({ port: t.destinationPort, protocolNumber: t.protocol, flows: 0 }),
        (p) => p.flows++,
      );
    }
    bump(
      rules,
      `${t.resource}\n${t.rule}`,
      () => ({ resource: t.resource, rule: t.rule, flows: 0, deniedFlows: 0, bytes: 0, packets: 0 }),
      (r) => {
        r.flows++;
        if (t.denied) r.deniedFlows++;
        r.bytes += t.bytesForward + t.bytesReverse;
        r.packets += t.packetsForward + t.packetsReverse;
      },
    );
  }
  const byFlowsThenText = <T>(entries: [string, T][], flows: (v: T) => number) =>
    entries.sort(([ka, a], [kb, b]) => flows(b) - flows(a) || (ka < kb ? -1 : ka > kb ? 1 : 0));
  return {
    totals,
    flowStates: states,
    topTalkers: ranked([...pairs.values()], by, (p) => `${p.source} ${p.destination}`),
    topHosts: ranked([...hosts.values()], by, (h) => h.address),
    deniedSources: byFlowsThenText([...deniedSources], (n) => n).map(([address, flows]) => ({ address, flows })),
    deniedDestinations: byFlowsThenText([...deniedDestinations], (n) => n).map(([address, flows]) => ({ address, flows })),
    deniedPorts: [...deniedPorts.values()]
      .sort((a, b) => b.flows - a.flows || a.port - b.port || a.protocolNumber - b.protocolNumber)
      .map((p) => ({
        port: p.port,
        protocol: p.protocolNumber === 6 ? 'TCP' : p.protocolNumber === 17 ? 'UDP' : p.protocolNumber,
        protocolNumber: p.protocolNumber,
        flows: p.flows,
      })),
    rules: [...rules.values()]
      .sort(
        (a, b) =>
          b.flows - a.flows ||
          b.deniedFlows - a.deniedFlows ||
          b.bytes - a.bytes ||
          b.packets - a.packets ||
          (`${a.resource}\n${a.rule}` < `${b.resource}\n${b.rule}` ? -1 : 1),
      )
      .map((r) => ({ ...r, allowedFlows: r.flows - r.deniedFlows })),
  };
}
