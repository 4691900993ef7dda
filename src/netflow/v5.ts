import { ADDRESS_WORDS, type FlowColumns, IPV6, OUTBOUND } from '../flow/flowColumns.js';
import { type EncodedMessage, type FlowEncoder, hasReverseTraffic } from '../flow/flowEncoder.js';
import { IPFIX_DEFAULTS } from '../ipfix/encoder.js';
import { writeU16, writeU32, writeU8 } from '../ipfix/writers.js';
import { clampStartMs, UptimeClock } from './uptimeClock.js';

/**
 * NetFlow v5: a 24-byte header and fixed 48-byte IPv4 records, at most 30 per packet (Cisco's
 * format, as documented by Cisco and implemented by every collector).
 *
 * What v5 cannot say, and so loses: IPv6 (those tuples are declined and counted), flow direction,
 * allow vs deny (denied flows go out with their zero counts, indistinguishable from allowed
 * ones), the Azure rule name, ACL id and encryption, and 64-bit counters (clamped to 2^32 - 1).
 * Interface indexes are 16 bits: the low 16 bits of the NIC's index.
 */
export const NETFLOW5_VERSION = 5;
const HEADER_BYTES = 24;
const RECORD_BYTES = 48;
const MAX_RECORDS = 30;
const U32_MAX = 0xffff_ffff;
export const DECLINED_IPV6 = 'ipv6-not-in-netflow5';

export interface NetflowV5EncoderOptions {
  readonly maxMessageSizeInBytes?: number;
}

/** Per engine: v5 has no observation domain, only an 8-bit engine id, and sequences are kept per engine. */
interface EngineState {
  readonly engineId: number;
  /** Flows sent before the next packet (v5 counts flows, not packets). */
  sequence: number;
}

interface OpenPacket {
  readonly buf: Buffer;
  readonly engine: EngineState;
  records: number;
}

export class NetflowV5Encoder implements FlowEncoder {
  readonly declined = new Map<string, number>();
  readonly counters = { flowRecords: 0, optionsRecords: 0 };
  private readonly maxRecords: number;
  private readonly engines = new Map<number, EngineState>();
  private readonly clock = new UptimeClock();
  private open: OpenPacket | undefined;

  constructor(
    options: NetflowV5EncoderOptions,
    private readonly emit: (message: EncodedMessage) => void,
  ) {
    const size = options.maxMessageSizeInBytes ?? IPFIX_DEFAULTS.maxMessageSizeInBytes;
    this.maxRecords = Math.min(MAX_RECORDS, Math.floor((size - HEADER_BYTES) / RECORD_BYTES));
    if (this.maxRecords < 1) throw new RangeError(`maximum message size ${size} cannot hold one NetFlow v5 record`);
  }

  addRows(flows: FlowColumns, from: number, to: number, nowMs: number): void {
    const { domains, interfaces, flags, starts, times, addresses, ports, protocols, counts } = flows;
    for (let i = from; i < to; i++) {
      const rowFlags = flags[i]!;
      if ((rowFlags & IPV6) !== 0) {
        this.declined.set(DECLINED_IPV6, (this.declined.get(DECLINED_IPV6) ?? 0) + 1);
        continue;
      }
      // The engine id names the NSG / flow log as far as 8 bits can.
      const engineId = domains[i]! & 0xff;
      const endMs = times[i]!;
      const startMs = clampStartMs(starts[i]!, endMs);
      const inbound = (rowFlags & OUTBOUND) === 0;
      const nicIndex = interfaces[i]!;
      const nic = nicIndex === 0 ? 0 : nicIndex & 0xffff || 1;
      const a = i * ADDRESS_WORDS;
      const k = i * 4;
      const source = addresses[a]!;
      const destination = addresses[a + 4]!;
      const sourcePort = ports[i * 2]!;
      const destinationPort = ports[i * 2 + 1]!;
      const protocol = protocols[i]!;
      this.appendRecord(
        engineId,
        source,
        destination,
        sourcePort,
        destinationPort,
        protocol,
        inbound ? nic : 0,
        inbound ? 0 : nic,
        counts[k]!,
        counts[k + 1]!,
        startMs,
        endMs,
        nowMs,
      );
      if (hasReverseTraffic(flows, i)) {
        this.appendRecord(
          engineId,
          destination,
          source,
          destinationPort,
          sourcePort,
          protocol,
          inbound ? 0 : nic,
          inbound ? nic : 0,
          counts[k + 2]!,
          counts[k + 3]!,
          startMs,
          endMs,
          nowMs,
        );
      }
    }
  }

  /** NetFlow v5 has no templates. */
  refreshTemplates(): void {}

  /** Every NetFlow v5 packet has a buffer of its own. */
  reuseBuffers(): void {}

  flush(nowMs: number): void {
    const open = this.open;
    if (open === undefined) return;
    this.open = undefined;
    const { sysUptimeMs, unixSeconds } = this.clock.header(nowMs);
    const buf = open.buf;
    let offset = writeU16(buf, 0, NETFLOW5_VERSION);
    offset = writeU16(buf, offset, open.records);
    offset = writeU32(buf, offset, sysUptimeMs);
    offset = writeU32(buf, offset, unixSeconds);
    offset = writeU32(buf, offset, 0); // unix_nsecs: boot time is exact to the second by construction
    offset = writeU32(buf, offset, open.engine.sequence);
    offset = writeU8(buf, offset, 0); // engine_type
    offset = writeU8(buf, offset, open.engine.engineId);
    writeU16(buf, offset, 0); // sampling: none, Azure logs every flow
    open.engine.sequence = (open.engine.sequence + open.records) >>> 0;
    this.emit({
      bytes: buf.subarray(0, HEADER_BYTES + open.records * RECORD_BYTES),
      observationDomainId: open.engine.engineId,
      dataRecords: open.records,
      templateRecords: 0,
    });
  }

  private appendRecord(
    engineId: number,
    source: number,
    destination: number,
    sourcePort: number,
    destinationPort: number,
    protocol: number,
    input: number,
    output: number,
    packets: number,
    octets: number,
    startMs: number,
    endMs: number,
    nowMs: number,
  ): void {
    let open = this.open;
    if (open !== undefined && (open.engine.engineId !== engineId || open.records >= this.maxRecords || !this.clock.fits(startMs, endMs))) {
      this.flush(nowMs);
      open = undefined;
    }
    if (open === undefined) {
      let engine = this.engines.get(engineId);
      if (engine === undefined) {
        engine = { engineId, sequence: 0 };
        this.engines.set(engineId, engine);
      }
      open = { buf: Buffer.alloc(HEADER_BYTES + this.maxRecords * RECORD_BYTES), engine, records: 0 };
      this.open = open;
      this.clock.open(startMs);
    }
    const buf = open.buf;
    const base = this.clock.baseMs;
    let offset = HEADER_BYTES + open.records * RECORD_BYTES;
    offset = writeU32(buf, offset, source);
    offset = writeU32(buf, offset, destination);
    offset = writeU32(buf, offset, 0); // nexthop: unknown
    offset = writeU16(buf, offset, input);
    offset = writeU16(buf, offset, output);
    // A blank count (NaN) is 0.
    offset = writeU32(buf, offset, packets === packets ? Math.min(packets, U32_MAX) : 0);
    offset = writeU32(buf, offset, octets === octets ? Math.min(octets, U32_MAX) : 0);
    offset = writeU32(buf, offset, startMs - base);
    offset = writeU32(buf, offset, endMs - base);
    offset = writeU16(buf, offset, sourcePort);
    offset = writeU16(buf, offset, destinationPort);
    // pad1, tcp_flags, prot, tos, src_as, dst_as, src_mask, dst_mask, pad2: only prot is known.
    buf.fill(0, offset, offset + 12);
    buf[offset + 2] = protocol;
    this.clock.wrote(endMs);
    open.records++;
    this.counters.flowRecords++;
  }
}
