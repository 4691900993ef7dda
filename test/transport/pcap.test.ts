import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pcapGlobalHeader, pcapRecord, type PcapEndpoint } from '../../src/transport/pcap.js';
import { PcapWriter } from '../../src/transport/pcapWriter.js';

/** Independent RFC 1071 Internet checksum: ones'-complement of the ones'-complement sum. */
function rfc1071(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    sum += ((bytes[i] ?? 0) << 8) + (bytes[i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[\s:]/g, ''), 'hex');
}

const V4_SRC: PcapEndpoint = { address: '192.0.2.1', port: 40000 };
const V4_DST: PcapEndpoint = { address: '198.51.100.7', port: 4739 };
const V6_SRC: PcapEndpoint = { address: '2001:db8::1', port: 40000 };
const V6_DST: PcapEndpoint = { address: '2001:db8::2', port: 4739 };
/** 2023-11-14T22:13:20.123Z: seconds 1700000000 = 0x6553F100, micros 123000 = 0x0001E078. */
const TIME_MS = 1_700_000_000_123;

describe('pcapGlobalHeader', () => {
  it('is the classic little-endian microsecond header for Ethernet', () => {
    expect(pcapGlobalHeader()).toEqual(
      hex(
        'd4c3b2a1' + // magic 0xa1b2c3d4 written LE
          '0200 0400' + // version 2.4
          '00000000' + // thiszone
          '00000000' + // sigfigs
          'ffff0000' + // snaplen 65535
          '01000000', // LINKTYPE_ETHERNET
      ),
    );
  });
});

describe('pcapRecord', () => {
  it('frames a small IPv4 datagram byte for byte', () => {
    const rec = pcapRecord(Buffer.from('hello'), V4_SRC, V4_DST, TIME_MS);
    // Worked out by hand:
    // IPv4 header words 4500 0021 0000 4000 4011 c000 0201 c633 6407 sum to 0x2B16D,
    //   folded 0xB16F, checksum 0x4E90.
    // UDP pseudo-header c000 0201 c633 6407 0011 000d + 9c40 1283 000d 0000 6865 6c6c 6f00
    //   sum to 0x3DEFA, folded 0xDEFD, checksum 0x2102.
    const expected = hex(
      // record header: ts_sec, ts_usec, incl_len 47, orig_len 47 (all LE)
      '00f15365 78e00100 2f000000 2f000000' +
        // Ethernet: dst, src, ethertype IPv4
        '020000000002 020000000001 0800' +
        // IPv4: ver/IHL, TOS, total 33, id 0, DF, TTL 64, UDP, checksum, src, dst
        '45 00 0021 0000 4000 40 11 4e90 c0000201 c6336407' +
        // UDP: 40000 -> 4739, length 13, checksum, "hello"
        '9c40 1283 000d 2102 68656c6c6f',
    );
    expect(rec.toString('hex')).toBe(expected.toString('hex'));

    // Recompute both checksums independently: a valid header/segment sums to 0xFFFF, so
    // RFC 1071 over it (checksum field included) yields 0.
    const ip = rec.subarray(16 + 14, 16 + 14 + 20);
    expect(rfc1071(ip)).toBe(0);
    const udp = rec.subarray(16 + 14 + 20);
    const pseudo = Buffer.concat([ip.subarray(12, 20), hex('0011'), hex('000d')]);
    expect(rfc1071(Buffer.concat([pseudo, udp]))).toBe(0);
  });

  it('frames an IPv6 datagram with a valid UDP checksum', () => {
    const rec = pcapRecord(Buffer.from('hello'), V6_SRC, V6_DST, TIME_MS);
    // pseudo-header 2001 0db8 .. 0001, 2001 0db8 .. 0002, length 000d, next header 0011 plus the
    // UDP words sum to 0x24E34, folded 0x4E36, checksum 0xB1C9.
    const expected = hex(
      '00f15365 78e00100 43000000 43000000' + // incl_len = orig_len = 14 + 40 + 13 = 67
        '020000000002 020000000001 86dd' +
        '60000000 000d 11 40' + // version 6, payload length 13, next header UDP, hop limit 64
        '20010db8000000000000000000000001' +
        '20010db8000000000000000000000002' +
        '9c40 1283 000d b1c9 68656c6c6f',
    );
    expect(rec.toString('hex')).toBe(expected.toString('hex'));

    const ip6 = rec.subarray(16 + 14, 16 + 14 + 40);
    const udp = rec.subarray(16 + 14 + 40);
    const pseudo = Buffer.concat([ip6.subarray(8, 40), hex('0000000d 000000 11')]);
    expect(rfc1071(Buffer.concat([pseudo, udp]))).toBe(0);
  });

  it('sends a computed UDP checksum of 0 as 0xFFFF', () => {
    // Pick the 2-byte payload that makes the ones'-complement sum 0xFFFF (checksum 0).
    const probe = pcapRecord(Buffer.alloc(2), V4_SRC, V4_DST, 0);
    const ip = probe.subarray(30, 50);
    const pseudo = Buffer.concat([ip.subarray(12, 20), hex('0011 000a')]);
    const udpZeroChecksum = Buffer.from(probe.subarray(50));
    udpZeroChecksum.writeUInt16BE(0, 6);
    const partial = 0xffff - (~rfc1071(Buffer.concat([pseudo, udpZeroChecksum])) & 0xffff);
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(partial, 0);

    const rec = pcapRecord(payload, V4_SRC, V4_DST, 0);
    expect(rec.readUInt16BE(50 + 6)).toBe(0xffff);
    expect(rfc1071(Buffer.concat([pseudo, rec.subarray(50)]))).toBe(0);
  });

  it('keeps fractional milliseconds as microseconds', () => {
    const rec = pcapRecord(Buffer.alloc(0), V4_SRC, V4_DST, 1_500.25);
    expect(rec.readUInt32LE(0)).toBe(1);
    expect(rec.readUInt32LE(4)).toBe(500_250);
  });

  it('refuses mixed address families', () => {
    expect(() => pcapRecord(Buffer.from('x'), V4_SRC, V6_DST, 0)).toThrow(/same family/);
    expect(() => pcapRecord(Buffer.from('x'), V6_SRC, V4_DST, 0)).toThrow(/same family/);
  });

  it('refuses invalid addresses, ports and times', () => {
    const p = Buffer.from('x');
    expect(() => pcapRecord(p, { address: 'nope', port: 1 }, V4_DST, 0)).toThrow(/source address/);
    expect(() => pcapRecord(p, { address: '010.0.0.1', port: 1 }, V4_DST, 0)).toThrow(/dotted-quad/);
    expect(() => pcapRecord(p, V4_SRC, { address: '2001:db8::zz', port: 1 }, 0)).toThrow(/destination address/);
    expect(() => pcapRecord(p, { ...V4_SRC, port: 65536 }, V4_DST, 0)).toThrow(/port/);
    expect(() => pcapRecord(p, { ...V4_SRC, port: 1.5 }, V4_DST, 0)).toThrow(/port/);
    expect(() => pcapRecord(p, V4_SRC, V4_DST, -1)).toThrow(/timeMs/);
    expect(() => pcapRecord(p, V4_SRC, V4_DST, Number.NaN)).toThrow(/timeMs/);
  });

  it('accepts the largest payloads and refuses anything past a 65535-byte IP packet', () => {
    expect(pcapRecord(Buffer.alloc(65507), V4_SRC, V4_DST, 0).readUInt16BE(16 + 14 + 2)).toBe(65535);
    expect(() => pcapRecord(Buffer.alloc(65508), V4_SRC, V4_DST, 0)).toThrow(/65535/);
    expect(pcapRecord(Buffer.alloc(65487), V6_SRC, V6_DST, 0).readUInt16BE(16 + 14 + 4)).toBe(65495);
    expect(() => pcapRecord(Buffer.alloc(65488), V6_SRC, V6_DST, 0)).toThrow(/65535/);
  });

  it('is pure', () => {
    const a = pcapRecord(Buffer.from('same'), V4_SRC, V4_DST, TIME_MS);
    const b = pcapRecord(Buffer.from('same'), V4_SRC, V4_DST, TIME_MS);
    expect(a.equals(b)).toBe(true);
  });
});

describe('PcapWriter', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nsg2ipfix-pcap-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes the global header followed by each record', async () => {
    const file = join(dir, 'simple.pcap');
    const w = await PcapWriter.open(file);
    await w.write(Buffer.from('one'), V4_SRC, V4_DST, TIME_MS);
    await w.write(Buffer.from('two'), V6_SRC, V6_DST, TIME_MS + 1);
    expect(w.packetsWritten).toBe(2);
    const closing = w.close();
    expect(w.close()).toBe(closing); // idempotent
    await closing;
    await w.close();
    expect(() => w.write(Buffer.from('late'), V4_SRC, V4_DST, 0)).toThrow(/after close/);
    expect(w.packetsWritten).toBe(2);

    const expected = Buffer.concat([
      pcapGlobalHeader(),
      pcapRecord(Buffer.from('one'), V4_SRC, V4_DST, TIME_MS),
      pcapRecord(Buffer.from('two'), V6_SRC, V6_DST, TIME_MS + 1),
    ]);
    expect((await readFile(file)).equals(expected)).toBe(true);
  });

  it('leaves the writer usable after an invalid record', async () => {
    const w = await PcapWriter.open(join(dir, 'invalid.pcap'));
    expect(() => w.write(Buffer.from('x'), V4_SRC, V6_DST, 0)).toThrow(/same family/);
    expect(w.packetsWritten).toBe(0);
    await w.write(Buffer.from('x'), V4_SRC, V4_DST, 0);
    expect(w.packetsWritten).toBe(1);
    await w.close();
  });

  it('signals back-pressure with a promise and keeps every record', async () => {
    const file = join(dir, 'pressure.pcap');
    const w = await PcapWriter.open(file);
    const payload = Buffer.alloc(1400, 0xab);
    let promises = 0;
    for (let i = 0; i < 1000; i++) {
      const r = w.write(payload, V4_SRC, V4_DST, TIME_MS + i);
      if (r) {
        promises++;
        await r;
      }
    }
    await w.close();
    // 1 MiB write buffer / ~1.4 KiB records: the buffer must fill at some point.
    expect(promises).toBeGreaterThan(0);
    const recordLength = 16 + 14 + 20 + 8 + 1400;
    expect((await readFile(file)).length).toBe(24 + 1000 * recordLength);
  });

  it('rejects open() when the file cannot be created', async () => {
    await expect(PcapWriter.open(join(dir, 'missing-dir', 'x.pcap'))).rejects.toThrow(/ENOENT/);
  });

  const TSHARK = '/usr/bin/tshark';
  it.skipIf(!existsSync(TSHARK) && process.env['NSG2IPFIX_REQUIRE_DECODERS'] !== '1')('produces a file tshark reads with valid checksums', async () => {
    const file = join(dir, 'tshark.pcap');
    const big = Buffer.alloc(1400);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    const max4 = Buffer.alloc(65507, 0x5a);
    const frames: Array<{ payload: Buffer; src: PcapEndpoint; dst: PcapEndpoint }> = [
      { payload: Buffer.from('hello'), src: V4_SRC, dst: V4_DST },
      { payload: big, src: { address: '10.0.0.4', port: 50123 }, dst: { address: '10.1.2.3', port: 2055 } },
      { payload: Buffer.from('hello'), src: V6_SRC, dst: V6_DST },
      { payload: big, src: { address: 'fd00::4', port: 50124 }, dst: { address: 'fd00:1::3', port: 9995 } },
      { payload: Buffer.alloc(0), src: V4_SRC, dst: V4_DST },
      { payload: max4, src: V4_SRC, dst: V4_DST },
    ];
    const w = await PcapWriter.open(file);
    for (const [i, f] of frames.entries()) await w.write(f.payload, f.src, f.dst, TIME_MS + i);
    await w.close();

    const out = execFileSync(
      TSHARK,
      [
        '-r',
        file,
        '-T',
        'json',
        '-e',
        'ip.src',
        '-e',
        'ip.dst',
        '-e',
        'ipv6.src',
        '-e',
        'ipv6.dst',
        '-e',
        'udp.srcport',
        '-e',
        'udp.dstport',
        '-e',
        'udp.length',
        '-e',
        'frame.time_epoch',
        '-e',
        '_ws.expert.message',
        '-o',
        'udp.check_checksum:TRUE',
        '-o',
        'ip.check_checksum:TRUE',
        // Keep port-based dissectors (e.g. CFLOW on 2055/4739) from adding unrelated expert info.
        '--disable-protocol',
        'cflow',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 * 1024 * 1024 },
    );
    type Layers = Record<string, string[] | undefined>;
    const packets = JSON.parse(out) as Array<{ _source: { layers: Layers } }>;
    expect(packets).toHaveLength(frames.length);

    for (const [i, f] of frames.entries()) {
      const layers = packets[i]?._source.layers ?? {};
      const v6 = f.src.address.includes(':');
      expect(layers[v6 ? 'ipv6.src' : 'ip.src']).toEqual([f.src.address]);
      expect(layers[v6 ? 'ipv6.dst' : 'ip.dst']).toEqual([f.dst.address]);
      expect(layers[v6 ? 'ip.src' : 'ipv6.src']).toBeUndefined();
      expect(layers['udp.srcport']).toEqual([String(f.src.port)]);
      expect(layers['udp.dstport']).toEqual([String(f.dst.port)]);
      expect(layers['udp.length']).toEqual([String(8 + f.payload.length)]);
      expect(Number(layers['frame.time_epoch']?.[0])).toBeCloseTo((TIME_MS + i) / 1000, 6);
      expect(layers['_ws.expert.message']).toBeUndefined();
    }
  });
});
