/**
 * The proof: our IPFIX, sent over real UDP or written to pcap, decoded by tshark, nfdump and
 * pmacct, shows exactly the flows of the sample logs.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_PCAPS, writeSamplePcaps } from '../../src/tools/samplePcaps.js';
import { startNfacctd, stopAll as stopAllNfacctd } from '../collectors/nfacctd.js';
import { pmacctTimeToMs } from '../collectors/nfacctd.js';
import { startNfcapd, stopAll as stopAllNfcapd } from '../collectors/nfcapd.js';
import { tsharkExpertMessages, tsharkMessages, tsharkTimeToMs, type TsharkMessage } from '../collectors/tshark.js';
import { runCli } from '../helpers/cli.js';
import { byFlow, coreFields, expectedRecords, nfdumpCoreFields, SAMPLES_DIR, type ExpectedRecord } from '../helpers/expectedFlows.js';
import { requireDecoders } from '../helpers/decoders.js';

const PCAPS_DIR = join(import.meta.dirname, '..', '..', 'pcaps');
const work = mkdtempSync(join(tmpdir(), 'nsg2ipfix-interop-'));

requireDecoders();

afterAll(async () => {
  await stopAllNfcapd();
  await stopAllNfacctd();
  rmSync(work, { recursive: true, force: true });
});

const FLOW_TEMPLATES = new Set([256, 257, 258, 259]);
const first = (fields: Record<string, string[]>, name: string) => fields[name]?.[0];

/** What tshark shows of each flow record, in the shape of ExpectedRecord. */
function tsharkRecords(messages: TsharkMessage[]): ExpectedRecord[] {
  return messages.flatMap((m) =>
    m.flows
      .filter((f) => FLOW_TEMPLATES.has(f.setId))
      .map((f) => {
        const v = f.fields;
        const ruleHex = (v['cflow.enterprise_private_entry'] ?? [])[1] ?? '';
        return {
          srcAddr: first(v, 'cflow.srcaddr') ?? first(v, 'cflow.srcaddrv6')!,
          dstAddr: first(v, 'cflow.dstaddr') ?? first(v, 'cflow.dstaddrv6')!,
          srcPort: Number(first(v, 'cflow.srcport')),
          dstPort: Number(first(v, 'cflow.dstport')),
          protocol: Number(first(v, 'cflow.protocol')),
          bytes: Number(v['cflow.octets']![0]),
          packets: Number(v['cflow.packets']![0]),
          reverseBytes: Number(v['cflow.octets']![1] ?? 0),
          reversePackets: Number(v['cflow.packets']![1] ?? 0),
          startMs: tsharkTimeToMs(first(v, 'cflow.abstimestart')!),
          endMs: tsharkTimeToMs(first(v, 'cflow.abstimeend')!),
          direction: Number(first(v, 'cflow.direction')) as 0 | 1,
          deny: first(v, 'cflow.forwarding_status') === '2',
          ipv6: first(v, 'cflow.srcaddrv6') !== undefined,
          rule: Buffer.from(ruleHex.replaceAll(':', ''), 'hex').toString('utf8'),
        };
      }),
  );
}

function expectCleanIpfix(messages: TsharkMessage[], pcap: string, decodeAsPorts?: number[]): void {
  expect(messages.length).toBeGreaterThan(3);
  expect(tsharkExpertMessages(pcap, { decodeAsPorts })).toEqual([]);
  const nextSequence = new Map<string, number>();
  for (const message of messages) {
    expect(message.header['cflow.version']).toBe('10');
    // tshark does not flag a length that disagrees with the datagram: check it here.
    expect(Number(message.header['cflow.len'])).toBe(message.udpLength - 8);
    const domain = message.header['cflow.od_id']!;
    expect(Number(message.header['cflow.sequence'])).toBe(nextSequence.get(domain) ?? 0);
    const dataRecords = message.flows.filter((f) => f.setId >= 256).length;
    nextSequence.set(domain, (nextSequence.get(domain) ?? 0) + dataRecords);
  }
}

describe('sample pcaps (pcaps/)', () => {
  it('are what scripts/make-pcaps.mjs makes from samples/ today (run `npm run pcaps` after changing the encoder)', async () => {
    const fresh = join(work, 'fresh-pcaps');
    await writeSamplePcaps(fresh);
    for (const sample of SAMPLE_PCAPS) {
      expect(existsSync(join(PCAPS_DIR, sample.file)), sample.file).toBe(true);
      expect(readFileSync(join(PCAPS_DIR, sample.file)).equals(readFileSync(join(fresh, sample.file))), `${sample.file} is stale`).toBe(true);
    }
  });

  for (const [file, biflow] of [
    ['ipfix-uniflow.pcap', 'split'],
    ['ipfix-rfc5103-biflow.pcap', 'rfc5103'],
  ] as const) {
    it(`${file}: tshark decodes every message clean, and every flow equals the input (NSG v1, v2, VNet; IPv4, IPv6)`, () => {
      const pcap = join(PCAPS_DIR, file);
      const messages = tsharkMessages(pcap);
      expectCleanIpfix(messages, pcap);
      const decoded = tsharkRecords(messages).sort(byFlow);
      const expected = expectedRecords(biflow).sort(byFlow);
      expect(decoded).toEqual(expected);
      expect(decoded.some((r) => r.ipv6)).toBe(true);
      expect(decoded.some((r) => r.deny)).toBe(true);
      expect(decoded.some((r) => r.startMs < r.endMs)).toBe(true);
    });
  }

  it('with --options-records, names each NIC and each NSG / flow log in options records tshark decodes clean', async () => {
    const pcap = join(work, 'options.pcap');
    const run = await runCli(['replay', SAMPLES_DIR, '--pcap', pcap, '--options-records', '--quiet']);
    expect(run.code).toBe(0);
    const messages = tsharkMessages(pcap);
    expectCleanIpfix(messages, pcap);
    const options = messages.flatMap((m) => m.flows.filter((f) => f.setId === 261 || f.setId === 266 || f.setId === 267));
    // Without names, a NIC is its MAC, described by the NSG or flow log that logged it.
    const interfaceNames = new Set(options.flatMap((f) => f.fields['cflow.if_name'] ?? []));
    expect(interfaceNames).toEqual(new Set(['00:0d:3a:f8:78:56', '00:0d:3a:f8:80:1a', '00:0d:3a:1b:2c:3d']));
    const descriptions = new Set(options.flatMap((f) => f.fields['cflow.if_descr'] ?? []));
    expect(descriptions).toEqual(new Set(['Azure NIC behind WEB-NSG', 'Azure NIC behind JUMP-NSG', 'Azure NIC behind DEMO-VNET-FLOWLOG']));
    const domainNames = [...new Set(options.flatMap((f) => f.fields['cflow.observation_domain_name'] ?? []))];
    expect(domainNames).toHaveLength(3);
    expect(domainNames.some((n) => n.includes('NETWORKSECURITYGROUPS/WEB-NSG'))).toBe(true);
    expect(tsharkRecords(messages).sort(byFlow)).toEqual(expectedRecords('split').sort(byFlow));
  });
});

describe('IPFIX over UDP into nfcapd / nfdump', () => {
  let pcap: string;
  let collectorPort: number;
  let result: Awaited<ReturnType<Awaited<ReturnType<typeof startNfcapd>>['stop']>>;

  beforeAll(async () => {
    const nfcapd = await startNfcapd();
    collectorPort = nfcapd.port;
    pcap = join(work, 'nfcapd.pcap');
    const run = await runCli(['replay', SAMPLES_DIR, '--collector', `127.0.0.1:${nfcapd.port}`, '--pcap', pcap, '--quiet']);
    expect(run.stderr).not.toMatch(/"level":[5-6]0/);
    expect(run.code).toBe(0);
    result = await nfcapd.stop();
  });

  it('stores exactly the sample flows: addresses, ports, protocol, bytes, packets, start and end times', () => {
    const stored = result.flows.map(nfdumpCoreFields);
    const expected = expectedRecords('split').map(coreFields);
    expect(stored.sort(byFlow)).toEqual(expected.sort(byFlow));
  });

  it('reports no sequence errors and no bad packets', () => {
    expect(result.sequenceErrors).toBe(0);
    expect(result.badPackets).toBe(0);
  });

  it('wrote to --pcap exactly what it sent, which tshark decodes clean', () => {
    const messages = tsharkMessages(pcap, { decodeAsPorts: [collectorPort] });
    expectCleanIpfix(messages, pcap, [collectorPort]);
    expect(tsharkRecords(messages).sort(byFlow)).toEqual(expectedRecords('split').sort(byFlow));
  });
});

describe('IPFIX RFC 5103 biflow over IPv6 UDP into nfcapd', () => {
  it('shows reverse counters as nfdump out bytes / out packets', async () => {
    const nfcapd = await startNfcapd({ host: '::1' });
    const run = await runCli(['replay', SAMPLES_DIR, '--collector', `[::1]:${nfcapd.port}`, '--biflow', 'rfc5103', '--quiet']);
    expect(run.code).toBe(0);
    const result = await nfcapd.stop();
    expect(result.sequenceErrors).toBe(0);
    const stored = result.flows.map((f) => ({
      srcAddr: f.srcAddr,
      srcPort: f.srcPort,
      dstAddr: f.dstAddr,
      dstPort: f.dstPort,
      endMs: f.lastMs,
      bytes: f.inBytes,
      packets: f.inPackets,
      reverseBytes: f.outBytes,
      reversePackets: f.outPackets,
    }));
    const expected = expectedRecords('rfc5103').map(({ srcAddr, srcPort, dstAddr, dstPort, endMs, bytes, packets, reverseBytes, reversePackets }) => ({
      srcAddr,
      srcPort,
      dstAddr,
      dstPort,
      endMs,
      bytes,
      packets,
      reverseBytes,
      reversePackets,
    }));
    expect(stored.sort(byFlow)).toEqual(expected.sort(byFlow));
  });
});

describe('IPFIX over UDP into pmacct nfacctd', () => {
  it('reports the same flows: addresses, ports, protocol, packets, bytes, start and end times, direction, allow/deny', async () => {
    const nfacctd = await startNfacctd({
      // Millisecond times and the firewall event keep a flow's B and E tuples of the same second apart.
      timestampsSecs: false,
      primitives: [
        'name=flow_dir field_type=61 len=1 semantics=u_int',
        'name=fwd_status field_type=89 len=1 semantics=u_int',
        'name=firewall_event field_type=233 len=1 semantics=u_int',
      ].join('\n'),
    });
    const run = await runCli(['replay', SAMPLES_DIR, '--collector', `127.0.0.1:${nfacctd.port}`, '--quiet']);
    expect(run.code).toBe(0);
    const { flows, log } = await nfacctd.stop();
    expect(log).not.toMatch(/unknown template|ERROR/i);
    expect(flows.length, log).toBeGreaterThan(0);
    const reported = flows.flatMap((f) => {
      const row = {
        srcAddr: String(f['ip_src']),
        dstAddr: String(f['ip_dst']),
        srcPort: Number(f['port_src']),
        dstPort: Number(f['port_dst']),
        protocol: Number(f['ip_proto']),
        bytes: Number(f['bytes']),
        packets: Number(f['packets']),
        startMs: pmacctTimeToMs(f['timestamp_start']),
        endMs: pmacctTimeToMs(f['timestamp_end']),
        direction: Number(f['flow_dir']),
        deny: Number(f['fwd_status']) >> 6 === 2,
      };
      // pmacct sums records with identical keys: each row must be one record.
      expect(f['flows']).toBe(1);
      return [row];
    });
    const expected = expectedRecords('split').map((r) => ({
      srcAddr: r.srcAddr,
      dstAddr: r.dstAddr,
      srcPort: r.srcPort,
      dstPort: r.dstPort,
      protocol: r.protocol,
      bytes: r.bytes,
      packets: r.packets,
      startMs: r.startMs,
      endMs: r.endMs,
      direction: r.direction,
      deny: r.deny,
    }));
    expect(reported.sort(byFlow)).toEqual(expected.sort(byFlow));
  });
});
