/**
 * Self-test of the collector harnesses with hand-built packets only (no nsg2ipfix encoder code):
 * a NetFlow v5 packet goes over UDP to nfcapd and nfacctd and into a pcap for tshark, and the
 * decoded addresses, ports, protocol, counters and times must round-trip.
 */

import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pcapGlobalHeader, pcapRecord } from '../../src/transport/pcap.js';
import { nfdumpTimeToMs, startNfcapd, stopAll as stopAllNfcapd, type NfcapdResult } from './nfcapd.js';
import { pmacctTimeToMs, startNfacctd, stopAll as stopAllNfacctd, type NfacctdResult } from './nfacctd.js';
import { captureLoopback, stopAll as stopAllTshark, tsharkExpertMessages, tsharkFields, tsharkTimeToMs } from './tshark.js';
import { makeTempDir, removeTempDir, sleep } from './util.js';

// Whole seconds everywhere (unix_nsecs 0, uptimes multiple of 1000) so that nfacctd's
// second-resolution v5 time arithmetic gives the exact values too.
const UNIX_SECS = 1_700_000_000; // 2023-11-14T22:13:20Z
const SYS_UPTIME_MS = 3_600_000;
const FIRST_UPTIME_MS = SYS_UPTIME_MS - 5_000;
const LAST_UPTIME_MS = SYS_UPTIME_MS - 1_000;
const EXPECTED_FIRST_MS = UNIX_SECS * 1000 - 5_000;
const EXPECTED_LAST_MS = UNIX_SECS * 1000 - 1_000;

/** NetFlow v5: 24-byte header + one 48-byte record 10.0.0.1:1234 -> 10.0.0.2:80 TCP, 10 pkts, 1000 B. */
function buildV5(flowSequence: number): Buffer {
  const b = Buffer.alloc(24 + 48);
  b.writeUInt16BE(5, 0); // version
  b.writeUInt16BE(1, 2); // count
  b.writeUInt32BE(SYS_UPTIME_MS, 4); // sys_uptime
  b.writeUInt32BE(UNIX_SECS, 8); // unix_secs
  b.writeUInt32BE(0, 12); // unix_nsecs
  b.writeUInt32BE(flowSequence, 16); // flow_sequence (counts flows, so +1 per one-record packet)
  b.writeUInt8(0, 20); // engine_type
  b.writeUInt8(0, 21); // engine_id
  b.writeUInt16BE(0, 22); // sampling_interval
  const r = 24;
  b.writeUInt32BE(0x0a000001, r + 0); // srcaddr 10.0.0.1
  b.writeUInt32BE(0x0a000002, r + 4); // dstaddr 10.0.0.2
  b.writeUInt32BE(0, r + 8); // nexthop
  b.writeUInt16BE(1, r + 12); // input ifIndex
  b.writeUInt16BE(2, r + 14); // output ifIndex
  b.writeUInt32BE(10, r + 16); // dPkts
  b.writeUInt32BE(1000, r + 20); // dOctets
  b.writeUInt32BE(FIRST_UPTIME_MS, r + 24); // First
  b.writeUInt32BE(LAST_UPTIME_MS, r + 28); // Last
  b.writeUInt16BE(1234, r + 32); // srcport
  b.writeUInt16BE(80, r + 34); // dstport
  b.writeUInt8(0, r + 36); // pad1
  b.writeUInt8(0x1b, r + 37); // tcp_flags FIN SYN PSH ACK
  b.writeUInt8(6, r + 38); // prot
  b.writeUInt8(0, r + 39); // tos
  b.writeUInt16BE(0, r + 40); // src_as
  b.writeUInt16BE(0, r + 42); // dst_as
  b.writeUInt8(0, r + 44); // src_mask
  b.writeUInt8(0, r + 45); // dst_mask
  b.writeUInt16BE(0, r + 46); // pad2
  return b;
}

/** IPFIX message, domain 7: template 256 (proto, flowStart/EndMilliseconds) and/or one data record. */
function buildIpfix(opts: { template: boolean; data: boolean; sequence: number }): Buffer {
  const fields: Array<[number, number]> = [
    [8, 4],
    [12, 4],
    [7, 2],
    [11, 2],
    [4, 1],
    [2, 8],
    [1, 8],
    [152, 8],
    [153, 8],
  ];
  const sets: Buffer[] = [];
  if (opts.template) {
    const t = Buffer.alloc(8 + fields.length * 4);
    t.writeUInt16BE(2, 0);
    t.writeUInt16BE(t.length, 2);
    t.writeUInt16BE(256, 4);
    t.writeUInt16BE(fields.length, 6);
    fields.forEach(([id, len], i) => {
      t.writeUInt16BE(id, 8 + i * 4);
      t.writeUInt16BE(len, 10 + i * 4);
    });
    sets.push(t);
  }
  if (opts.data) {
    const d = Buffer.alloc(4 + 45);
    d.writeUInt16BE(256, 0);
    d.writeUInt16BE(d.length, 2);
    let o = 4;
    o = d.writeUInt32BE(0x0a000003, o); // 10.0.0.3
    o = d.writeUInt32BE(0x0a000004, o); // 10.0.0.4
    o = d.writeUInt16BE(5353, o);
    o = d.writeUInt16BE(53, o);
    o = d.writeUInt8(17, o);
    o = d.writeBigUInt64BE(3n, o);
    o = d.writeBigUInt64BE(300n, o);
    o = d.writeBigUInt64BE(BigInt(EXPECTED_FIRST_MS + 794), o);
    d.writeBigUInt64BE(BigInt(EXPECTED_LAST_MS + 249), o);
    sets.push(d);
  }
  const body = Buffer.concat(sets);
  const h = Buffer.alloc(16);
  h.writeUInt16BE(10, 0);
  h.writeUInt16BE(16 + body.length, 2);
  h.writeUInt32BE(UNIX_SECS, 4);
  h.writeUInt32BE(opts.sequence, 8);
  h.writeUInt32BE(7, 12);
  return Buffer.concat([h, body]);
}

async function sendUdp(host: string, port: number, packets: Buffer[]): Promise<void> {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  try {
    for (const packet of packets) {
      await new Promise<void>((resolve, reject) => socket.send(packet, port, host, (err) => (err ? reject(err) : resolve())));
      await sleep(100);
    }
  } finally {
    socket.close();
  }
}

function writePcap(path: string, port: number, payloads: Buffer[]): void {
  const src = { address: '127.0.0.1', port: 50000 };
  const dst = { address: '127.0.0.1', port };
  const records = payloads.map((p, i) => pcapRecord(p, src, dst, UNIX_SECS * 1000 + i));
  writeFileSync(path, Buffer.concat([pcapGlobalHeader(), ...records]));
}

const isRoot = process.getuid?.() === 0;
const PCAP_PORT = 39_999; // not a default cflow port: needs decodeAsPorts

describe('collector harnesses (hand-built NetFlow v5)', () => {
  let nfcapdV4: NfcapdResult;
  let nfcapdV6: NfcapdResult;
  let nfacctd: NfacctdResult;
  let capturedPcap: string | undefined;
  let capturedPort = 0;
  let pcapDir: string;

  beforeAll(async () => {
    pcapDir = makeTempDir('collectors-test');
    const [v4, v6, acct] = await Promise.all([
      startNfcapd(),
      startNfcapd({ host: '::1' }),
      startNfacctd({ primitives: 'name=proto_int field_type=4 len=1 semantics=u_int' }),
    ]);
    const capture = isRoot ? await captureLoopback(v4.port, { expectPackets: 3 }) : undefined;
    capturedPort = v4.port;
    try {
      await Promise.all([
        // Sequence 0,1,2: a clean stream. 0,1,5 on ::1: one gap -> nfcapd counts a sequence error.
        sendUdp('127.0.0.1', v4.port, [buildV5(0), buildV5(1), buildV5(2)]),
        sendUdp('::1', v6.port, [buildV5(0), buildV5(1), buildV5(5)]),
        sendUdp('127.0.0.1', acct.port, [buildV5(0), buildV5(1), buildV5(2), buildIpfix({ template: true, data: true, sequence: 0 })]),
      ]);
    } finally {
      const [r4, r6, ra, pcap] = await Promise.all([v4.stop(), v6.stop(), acct.stop(), capture?.stop()]);
      nfcapdV4 = r4;
      nfcapdV6 = r6;
      nfacctd = ra;
      capturedPcap = pcap;
    }
  });

  afterAll(async () => {
    await Promise.all([stopAllNfcapd(), stopAllNfacctd(), stopAllTshark()]);
    if (pcapDir) removeTempDir(pcapDir);
  });

  it('nfcapd/nfdump decodes every v5 record with exact ms times', () => {
    expect(nfcapdV4.flows).toHaveLength(3);
    for (const flow of nfcapdV4.flows) {
      expect(flow).toMatchObject({
        protocol: 6,
        srcAddr: '10.0.0.1',
        dstAddr: '10.0.0.2',
        srcPort: 1234,
        dstPort: 80,
        inPackets: 10,
        inBytes: 1000,
        outPackets: 0,
        outBytes: 0,
        firstMs: EXPECTED_FIRST_MS,
        lastMs: EXPECTED_LAST_MS,
      });
      expect(flow.raw.ip4_router).toBe('127.0.0.1');
    }
    expect(nfcapdV4.sequenceErrors).toBe(0);
    expect(nfcapdV4.badPackets).toBe(0);
    expect(nfcapdV4.stderr).toContain('Terminating nfcapd.');
  });

  it('nfcapd on ::1 receives too and reports a sequence gap', () => {
    expect(nfcapdV6.flows).toHaveLength(3);
    expect(nfcapdV6.flows.every((f) => f.srcAddr === '10.0.0.1' && f.firstMs === EXPECTED_FIRST_MS)).toBe(true);
    expect(nfcapdV6.flows[0]?.raw.ip6_router).toBe('::1');
    expect(nfcapdV6.sequenceErrors).toBe(1);
  });

  it('nfacctd keeps the three v5 packets apart and prints UTC second-resolution times', () => {
    const v5 = nfacctd.flows.filter((f) => f.export_proto_version === 5);
    expect(v5, nfacctd.log).toHaveLength(3);
    expect(v5.map((f) => f.export_proto_seqno).sort()).toEqual([0, 1, 2]);
    for (const flow of v5) {
      expect(flow).toMatchObject({
        ip_src: '10.0.0.1',
        ip_dst: '10.0.0.2',
        port_src: 1234,
        port_dst: 80,
        ip_proto: '6', // print_num_protos: a numeric STRING
        peer_ip_src: '127.0.0.1',
        iface_in: 1,
        iface_out: 2,
        tcp_flags: '27',
        flows: 1,
        packets: 10,
        bytes: 1000,
        proto_int: '0', // custom primitives are not filled from NetFlow v5
      });
      expect(flow.timestamp_start).toBe('2023-11-14 22:13:15.000000');
      expect(pmacctTimeToMs(flow.timestamp_start)).toBe(EXPECTED_FIRST_MS);
      expect(pmacctTimeToMs(flow.timestamp_end)).toBe(EXPECTED_LAST_MS);
    }
  });

  it('nfacctd decodes IPFIX with custom primitives; timestamps_secs floors the ms', () => {
    const ipfix = nfacctd.flows.filter((f) => f.export_proto_version === 10);
    expect(ipfix, nfacctd.log).toHaveLength(1);
    expect(ipfix[0]).toMatchObject({
      ip_src: '10.0.0.3',
      ip_dst: '10.0.0.4',
      port_src: 5353,
      port_dst: 53,
      ip_proto: '17',
      proto_int: '17',
      export_proto_sysid: 7,
      packets: 3,
      bytes: 300,
    });
    expect(pmacctTimeToMs(ipfix[0]?.timestamp_start)).toBe(EXPECTED_FIRST_MS); // +794 ms dropped
    expect(pmacctTimeToMs(ipfix[0]?.timestamp_end)).toBe(EXPECTED_LAST_MS); // +249 ms dropped
    expect(nfacctd.log).toContain('OK, Exiting');
  });

  it('tshark decodes a v5 pcap on a non-default port only with decodeAsPorts', () => {
    const path = join(pcapDir, 'v5.pcap');
    writePcap(path, PCAP_PORT, [buildV5(0), buildV5(1)]);
    const fields = [
      'cflow.version',
      'cflow.count',
      'cflow.sequence',
      'cflow.srcaddr',
      'cflow.dstaddr',
      'cflow.srcport',
      'cflow.dstport',
      'cflow.protocol',
      'cflow.packets',
      'cflow.octets',
      'cflow.timestamp',
      'cflow.sysuptime',
      'cflow.timestart',
      'cflow.timeend',
      'udp.length',
    ];
    const packets = tsharkFields(path, fields, { decodeAsPorts: [PCAP_PORT] });
    expect(packets).toHaveLength(2);
    packets.forEach((p, i) => {
      expect(p['cflow.version']).toEqual(['5']);
      expect(p['cflow.sequence']).toEqual([String(i)]);
      expect(p['cflow.srcaddr']).toEqual(['10.0.0.1']);
      expect(p['cflow.dstaddr']).toEqual(['10.0.0.2']);
      expect(p['cflow.srcport']).toEqual(['1234']);
      expect(p['cflow.dstport']).toEqual(['80']);
      expect(p['cflow.protocol']).toEqual(['6']);
      expect(p['cflow.packets']).toEqual(['10']);
      expect(p['cflow.octets']).toEqual(['1000']);
      expect(p['udp.length']).toEqual([String(8 + 72)]);
      const exportMs = tsharkTimeToMs(p['cflow.timestamp']?.[0] ?? '');
      expect(exportMs).toBe(UNIX_SECS * 1000);
      // v5 start/end are uptimes in seconds: absolute = export time - (sysuptime - uptime).
      const uptimeMs = Math.round(Number(p['cflow.sysuptime']?.[0]) * 1000);
      expect(exportMs - uptimeMs + Math.round(Number(p['cflow.timestart']?.[0]) * 1000)).toBe(EXPECTED_FIRST_MS);
      expect(exportMs - uptimeMs + Math.round(Number(p['cflow.timeend']?.[0]) * 1000)).toBe(EXPECTED_LAST_MS);
    });
    expect(tsharkExpertMessages(path, { decodeAsPorts: [PCAP_PORT] })).toEqual([]);
    // A kernel-chosen port in Wireshark's traceroute range (33435-33464) adds a note about the
    // port, not the payload: the helper leaves it out, and everything else still counts.
    const traceroutePort = join(pcapDir, 'v5-traceroute-port.pcap');
    writePcap(traceroutePort, 33_447, [buildV5(0)]);
    expect(tsharkFields(traceroutePort, ['_ws.expert.message'], { decodeAsPorts: [33_447] })[0]?.['_ws.expert.message']).toEqual([
      'Possible traceroute: hop #5, attempt #1',
    ]);
    expect(tsharkExpertMessages(traceroutePort, { decodeAsPorts: [33_447] })).toEqual([]);
    const noRecords = buildV5(0);
    noRecords.writeUInt16BE(0, 2);
    writePcap(traceroutePort, 33_447, [noRecords]);
    expect(tsharkExpertMessages(traceroutePort, { decodeAsPorts: [33_447] })).toEqual(['FlowSets impossible - PDU Count is 0']);
    // Without -d the port is plain UDP: the frames are there, the cflow fields are not.
    const undecoded = tsharkFields(path, ['cflow.version', 'udp.dstport']);
    expect(undecoded.map((p) => [p['cflow.version'], p['udp.dstport']])).toEqual([
      [[], [String(PCAP_PORT)]],
      [[], [String(PCAP_PORT)]],
    ]);
  });

  it('tshark reports expert messages (IPFIX data before its template)', () => {
    const path = join(pcapDir, 'ipfix-no-template.pcap');
    writePcap(path, 4739, [buildIpfix({ template: false, data: true, sequence: 0 }), buildIpfix({ template: true, data: true, sequence: 1 })]);
    const messages = tsharkExpertMessages(path);
    expect(messages).toEqual(['Data (45 bytes), no template found']);
    const [, second] = tsharkFields(path, ['cflow.abstimestart', 'cflow.abstimeend', 'cflow.od_id']);
    expect(second?.['cflow.od_id']).toEqual(['7']);
    expect(tsharkTimeToMs(second?.['cflow.abstimestart']?.[0] ?? '')).toBe(EXPECTED_FIRST_MS + 794);
    expect(tsharkTimeToMs(second?.['cflow.abstimeend']?.[0] ?? '')).toBe(EXPECTED_LAST_MS + 249);
  });

  it.skipIf(!isRoot && process.env['NSG2IPFIX_REQUIRE_DECODERS'] !== '1')('captureLoopback records what was sent to nfcapd', () => {
    expect(capturedPcap).toBeDefined();
    const packets = tsharkFields(capturedPcap ?? '', ['cflow.version', 'cflow.sequence', 'cflow.srcaddr'], {
      decodeAsPorts: [capturedPort],
    });
    expect(packets.map((p) => p['cflow.sequence']?.[0])).toEqual(['0', '1', '2']);
    expect(packets.every((p) => p['cflow.srcaddr']?.[0] === '10.0.0.1')).toBe(true);
  });

  it('time parsers', () => {
    expect(nfdumpTimeToMs('2023-11-14T22:13:15.123')).toBe(EXPECTED_FIRST_MS + 123);
    expect(pmacctTimeToMs('2023-11-14 22:13:15.794000')).toBe(EXPECTED_FIRST_MS + 794);
    expect(pmacctTimeToMs('2023-11-14T22:13:15.794000Z')).toBe(EXPECTED_FIRST_MS + 794);
    expect(pmacctTimeToMs('2023-11-14T23:13:15.794000+01:00')).toBe(EXPECTED_FIRST_MS + 794);
    expect(pmacctTimeToMs('1699999995.794000')).toBe(EXPECTED_FIRST_MS + 794);
    expect(pmacctTimeToMs(1699999995)).toBe(EXPECTED_FIRST_MS);
    expect(tsharkTimeToMs('Nov 14, 2023 22:13:15.794000000 UTC')).toBe(EXPECTED_FIRST_MS + 794);
    expect(() => tsharkTimeToMs('Nov 14, 2023 17:13:15.794000000 EST')).toThrow();
    expect(() => pmacctTimeToMs(undefined)).toThrow();
  });
});
