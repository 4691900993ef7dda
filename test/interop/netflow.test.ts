/**
 * NetFlow v9 and v5 decoded by tshark, nfdump and pmacct: the same flows as the input, with
 * absolute times right both for logs months old (the sample hour) and for recent ones.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pmacctTimeToMs, startNfacctd, stopAll as stopAllNfacctd } from '../collectors/nfacctd.js';
import { startNfcapd, stopAll as stopAllNfcapd } from '../collectors/nfcapd.js';
import { tsharkExpertMessages, tsharkMessages, type TsharkMessage } from '../collectors/tshark.js';
import { runCli } from '../helpers/cli.js';
import { requireDecoders } from '../helpers/decoders.js';
import { byFlow, coreFields, expectedRecords, expectedTuples, nfdumpCoreFields, SAMPLES_DIR, shiftedSamples } from '../helpers/expectedFlows.js';

requireDecoders();
const work = mkdtempSync(join(tmpdir(), 'nsg2ipfix-netflow-'));
const PCAPS_DIR = join(import.meta.dirname, '..', '..', 'pcaps');

afterAll(async () => {
  await stopAllNfcapd();
  await stopAllNfacctd();
  rmSync(work, { recursive: true, force: true });
});

/** Sample logs moved to ten minutes ago: the ordinary, non-wrapping sysUptime path. */
const RECENT_SHIFT_MS = Math.floor((Date.now() - 10 * 60_000 - Date.UTC(2025, 5, 12, 9, 0, 0)) / 1000) * 1000;
const recentDir = () => shiftedSamples(join(work, `recent-${Math.random().toString(36).slice(2)}`), RECENT_SHIFT_MS);

type Case = { format: 'netflow9' | 'netflow5'; age: 'months old' | 'recent' };
const CASES: Case[] = [
  { format: 'netflow9', age: 'months old' },
  { format: 'netflow9', age: 'recent' },
  { format: 'netflow5', age: 'months old' },
  { format: 'netflow5', age: 'recent' },
];

function expectedFor(format: Case['format'], shiftMs: number) {
  return expectedRecords('split', { shiftMs, ipv4Only: format === 'netflow5' });
}

/** Flow records as tshark shows them, absolute times from the header (boot = unix_secs - sysUptime). */
function tsharkFlows(messages: TsharkMessage[]) {
  return messages.flatMap((m) => {
    const bootMs = Number(m.header['cflow.unix_secs'] ?? 0) * 1000 - Math.round(Number(m.header['cflow.sysuptime']) * 1000);
    return m.flows
      .filter((f) => f.fields['cflow.srcport'] !== undefined)
      .map((f) => {
        const v = (name: string) => f.fields[name]?.[0];
        return {
          srcAddr: v('cflow.srcaddr') ?? v('cflow.srcaddrv6')!,
          dstAddr: v('cflow.dstaddr') ?? v('cflow.dstaddrv6')!,
          srcPort: Number(v('cflow.srcport')),
          dstPort: Number(v('cflow.dstport')),
          protocol: Number(v('cflow.protocol')),
          bytes: Number(v('cflow.octets')),
          packets: Number(v('cflow.packets')),
          startMs: bootMs + Math.round(Number(v('cflow.timestart')) * 1000),
          endMs: bootMs + Math.round(Number(v('cflow.timeend')) * 1000),
        };
      });
  });
}

const pick = coreFields;

describe.each(CASES)('$format, $age logs', ({ format, age }) => {
  it('nfcapd stores every flow with exact addresses, ports, protocol, counts and absolute times, and no sequence errors', async () => {
    const input = age === 'recent' ? recentDir() : SAMPLES_DIR;
    const shift = age === 'recent' ? RECENT_SHIFT_MS : 0;
    const nfcapd = await startNfcapd();
    const pcap = join(work, `${format}-${age === 'recent' ? 'recent' : 'old'}.pcap`);
    const run = await runCli(['replay', input, '--format', format, '--collector', `127.0.0.1:${nfcapd.port}`, '--pcap', pcap, '--quiet']);
    expect(run.code).toBe(0);
    const result = await nfcapd.stop();
    expect(result.sequenceErrors).toBe(0);
    expect(result.badPackets).toBe(0);
    const stored = result.flows.map(nfdumpCoreFields);
    expect(stored.sort(byFlow)).toEqual(expectedFor(format, shift).map(pick).sort(byFlow));

    // The same datagrams, captured with --pcap, decode clean in tshark with the same values.
    const messages = tsharkMessages(pcap, { decodeAsPorts: [nfcapd.port] });
    expect(tsharkExpertMessages(pcap, { decodeAsPorts: [nfcapd.port] })).toEqual([]);
    for (const m of messages) expect(m.header['cflow.version']).toBe(format === 'netflow9' ? '9' : '5');
    expect(tsharkFlows(messages).sort(byFlow)).toEqual(expectedFor(format, shift).map(pick).sort(byFlow));
  });

  it('pmacct nfacctd reports every flow: addresses, ports, protocol, counts, times to the second', async () => {
    const input = age === 'recent' ? recentDir() : SAMPLES_DIR;
    const shift = age === 'recent' ? RECENT_SHIFT_MS : 0;
    const nfacctd = await startNfacctd({ timestampsSecs: false });
    const run = await runCli(['replay', input, '--format', format, '--collector', `127.0.0.1:${nfacctd.port}`, '--quiet']);
    expect(run.code).toBe(0);
    const { flows, log } = await nfacctd.stop();
    expect(flows.length, `${log}\n${run.stderr}`).toBeGreaterThan(0);
    // nfacctd reads NetFlow times to the second (unix_secs - floor((sysUptime - FIRST) / 1000)) and
    // sums records whose keys then match (a flow's begin and end in the same second): compare
    // per 5-tuple totals, and each row's times to within a second of a record of that 5-tuple.
    const fiveTuple = (r: { srcAddr: string; srcPort: number; dstAddr: string; dstPort: number; protocol: number }) =>
      `${r.protocol} ${r.srcAddr}:${r.srcPort} > ${r.dstAddr}:${r.dstPort}`;
    const expected = expectedFor(format, shift);
    const totals = (rows: { key: string; flows: number; bytes: number; packets: number }[]) => {
      const map = new Map<string, { flows: number; bytes: number; packets: number }>();
      for (const row of rows) {
        const t = map.get(row.key) ?? { flows: 0, bytes: 0, packets: 0 };
        t.flows += row.flows;
        t.bytes += row.bytes;
        t.packets += row.packets;
        map.set(row.key, t);
      }
      return Object.fromEntries([...map].sort(([a], [b]) => a.localeCompare(b)));
    };
    const rows = flows.map((f) => ({
      key: fiveTuple({
        srcAddr: String(f['ip_src']),
        srcPort: Number(f['port_src']),
        dstAddr: String(f['ip_dst']),
        dstPort: Number(f['port_dst']),
        protocol: Number(f['ip_proto']),
      }),
      flows: Number(f['flows']),
      bytes: Number(f['bytes']),
      packets: Number(f['packets']),
      startMs: pmacctTimeToMs(f['timestamp_start']),
      endMs: pmacctTimeToMs(f['timestamp_end']),
    }));
    expect(totals(rows)).toEqual(totals(expected.map((r) => ({ key: fiveTuple(r), flows: 1, bytes: r.bytes, packets: r.packets }))));
    for (const row of rows) {
      const near = expected.filter((r) => fiveTuple(r) === row.key && Math.abs(r.endMs - row.endMs) < 1000 && Math.abs(r.startMs - row.startMs) < 1000);
      expect(near.length, `${row.key} ${new Date(row.startMs).toISOString()}`).toBeGreaterThanOrEqual(row.flows);
    }
  });
});

describe('NetFlow sample pcaps', () => {
  for (const [file, version] of [
    ['netflow9.pcap', '9'],
    ['netflow5.pcap', '5'],
  ] as const) {
    it(`${file} decodes clean in tshark with the flows of the samples`, () => {
      const pcap = join(PCAPS_DIR, file);
      expect(tsharkExpertMessages(pcap)).toEqual([]);
      const messages = tsharkMessages(pcap);
      for (const m of messages) expect(m.header['cflow.version']).toBe(version);
      expect(tsharkFlows(messages).sort(byFlow)).toEqual(
        expectedFor(version === '9' ? 'netflow9' : 'netflow5', 0)
          .map(pick)
          .sort(byFlow),
      );
    });
  }

  it('refuses --biflow rfc5103 with NetFlow, saying why', async () => {
    const run = await runCli(['replay', SAMPLES_DIR, '--format', 'netflow9', '--biflow', 'rfc5103', '--pcap', join(work, 'x.pcap')]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/rfc5103 needs IPFIX/);
  });

  it('counts IPv6 tuples NetFlow v5 cannot carry, and warns once', async () => {
    const summary = join(work, 'v5-summary.json');
    const run = await runCli(['replay', SAMPLES_DIR, '--format', 'netflow5', '--pcap', join(work, 'v5.pcap'), '--quiet', '--summary-json', summary]);
    expect(run.code).toBe(0);
    const warnings = run.stderr.split('\n').filter((line) => line.includes('"level":40') && line.includes('ipv6-not-in-netflow5'));
    expect(warnings).toHaveLength(1);
    const { readFileSync } = await import('node:fs');
    const parsed = JSON.parse(readFileSync(summary, 'utf8')) as { declined: Record<string, number> };
    expect(parsed.declined['ipv6-not-in-netflow5']).toBe(expectedTuples().filter((t) => t.srcAddr.includes(':')).length);
  });
});
