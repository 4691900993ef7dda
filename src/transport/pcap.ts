/**
 * Classic libpcap capture files holding the UDP datagrams we would have sent, so an export can be
 * inspected in Wireshark/tshark or replayed (tcpreplay) without a live collector.
 *
 * Format: the original pcap format (https://www.tcpdump.org/manpages/pcap-savefile.5.html,
 * draft-ietf-opsawg-pcap), not pcapng, because every tool reads it. Each record is a synthetic
 * Ethernet II frame carrying IPv4 (RFC 791) or IPv6 (RFC 8200) and UDP (RFC 768) with real
 * checksums (RFC 1071 arithmetic), so dissectors that validate checksums stay quiet.
 */

import ipaddr from 'ipaddr.js';

/** One side of the UDP conversation recorded in a frame. */
export interface PcapEndpoint {
  /** IPv4 in dotted-quad form (`192.0.2.1`) or IPv6 text (`2001:db8::1`). */
  address: string;
  /** UDP port, integer 0..65535. */
  port: number;
}

/** Magic for microsecond-resolution timestamps; written little-endian, so readers see d4 c3 b2 a1. */
const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
const PCAP_VERSION_MAJOR = 2;
const PCAP_VERSION_MINOR = 4;
const PCAP_SNAPLEN = 65535;
const LINKTYPE_ETHERNET = 1;

const GLOBAL_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;
const ETHERNET_HEADER_LENGTH = 14;
const IPV4_HEADER_LENGTH = 20;
const IPV6_HEADER_LENGTH = 40;
const UDP_HEADER_LENGTH = 8;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const IP_PROTOCOL_UDP = 17;
const DEFAULT_HOP_LIMIT = 64;
/** Largest IP packet (header included) a 16-bit total-length field can describe. */
const MAX_IP_PACKET_LENGTH = 65535;

/**
 * Locally administered unicast MACs (the 0x02 bit): they can never collide with a real vendor OUI,
 * which makes the frames obviously synthetic in a capture.
 */
const DESTINATION_MAC = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02] as const;
const SOURCE_MAC = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01] as const;

type Family = 4 | 6;

interface ParsedEndpoint {
  readonly family: Family;
  readonly bytes: readonly number[];
  readonly port: number;
}

/** Endpoints parsed before: a capture writes the same two ends for every datagram. */
const parsedEndpoints = new WeakMap<PcapEndpoint, ParsedEndpoint>();

function parseEndpoint(endpoint: PcapEndpoint, role: 'source' | 'destination'): ParsedEndpoint {
  let parsed = parsedEndpoints.get(endpoint);
  if (parsed === undefined) {
    parsed = parseEndpointText(endpoint, role);
    parsedEndpoints.set(endpoint, parsed);
  }
  return parsed;
}

function parseEndpointText(endpoint: PcapEndpoint, role: 'source' | 'destination'): ParsedEndpoint {
  const { address, port } = endpoint;
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new Error(`pcap: ${role} port must be an integer 0..65535, got ${String(port)}`);
  }
  // ipaddr.parse also accepts legacy IPv4 forms ("10.1", "010.0.0.1" as octal); flow logs never
  // use them, so accepting them would only turn a typo into a silently different address.
  const isV6Text = address.includes(':');
  if (!isV6Text && !ipaddr.IPv4.isValidFourPartDecimal(address)) {
    throw new Error(`pcap: ${role} address "${address}" is not a dotted-quad IPv4 or IPv6 address`);
  }
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    throw new Error(`pcap: ${role} address "${address}" is not a valid IPv4 or IPv6 address`);
  }
  return { family: parsed.kind() === 'ipv4' ? 4 : 6, bytes: parsed.toByteArray(), port };
}

function writeBytes(buf: Buffer, offset: number, bytes: readonly number[]): number {
  for (const b of bytes) buf[offset++] = b;
  return offset;
}

function writeU8(buf: Buffer, offset: number, value: number): number {
  return buf.writeUInt8(value, offset);
}

function writeU16(buf: Buffer, offset: number, value: number): number {
  return buf.writeUInt16BE(value, offset);
}

function writeU32(buf: Buffer, offset: number, value: number): number {
  return buf.writeUInt32BE(value, offset);
}

/**
 * Adds `buf[start, end)` as big-endian 16-bit words to a running ones'-complement accumulator
 * (RFC 1071). Folding is deferred to {@link finishChecksum}: a JS number holds exact integers up to
 * 2^53, far more than 64 KiB of 16-bit words can reach.
 */
function sumWords(buf: Buffer, start: number, end: number, acc: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) acc += (buf[i]! << 8) | buf[i + 1]!;
  // An odd trailing byte is padded with a zero byte on the right, per RFC 1071 / RFC 768.
  if (i < end) acc += buf[i]! << 8;
  return acc;
}

function sumAddress(bytes: readonly number[], acc: number): number {
  for (let i = 0; i + 1 < bytes.length; i += 2) acc += (bytes[i]! << 8) | bytes[i + 1]!;
  return acc;
}

function finishChecksum(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return ~acc & 0xffff;
}

/** Splits epoch milliseconds (possibly fractional) into pcap's seconds + microseconds. */
function splitTimestamp(timeMs: number): { seconds: number; micros: number } {
  if (!Number.isFinite(timeMs) || timeMs < 0) {
    throw new Error(`pcap: timeMs must be a finite, non-negative epoch milliseconds value, got ${String(timeMs)}`);
  }
  // Rounding the total first keeps e.g. 999.9999 ms from producing micros = 1_000_000.
  const totalMicros = Math.round(timeMs * 1000);
  const seconds = Math.floor(totalMicros / 1_000_000);
  if (seconds > 0xffffffff) {
    throw new Error(`pcap: timeMs ${timeMs} is past the 32-bit seconds field of classic pcap (year 2106)`);
  }
  return { seconds, micros: totalMicros - seconds * 1_000_000 };
}

/**
 * The 24-byte classic pcap global (file) header.
 *
 * Fields, all little-endian: magic 0xa1b2c3d4 (microsecond timestamps), version 2.4, thiszone 0
 * (timestamps are UTC), sigfigs 0, snaplen 65535, network LINKTYPE_ETHERNET (1).
 */
export function pcapGlobalHeader(): Buffer {
  const buf = Buffer.alloc(GLOBAL_HEADER_LENGTH);
  let o = buf.writeUInt32LE(PCAP_MAGIC_MICROS, 0);
  o = buf.writeUInt16LE(PCAP_VERSION_MAJOR, o);
  o = buf.writeUInt16LE(PCAP_VERSION_MINOR, o);
  o = buf.writeInt32LE(0, o); // thiszone
  o = buf.writeUInt32LE(0, o); // sigfigs
  o = buf.writeUInt32LE(PCAP_SNAPLEN, o);
  buf.writeUInt32LE(LINKTYPE_ETHERNET, o);
  return buf;
}

/**
 * Frames one UDP payload as a pcap record: the 16-byte record header (little-endian ts_sec,
 * ts_usec, incl_len, orig_len) followed by an Ethernet II / IPv4-or-IPv6 / UDP frame.
 *
 * - Ethernet: dst 02:00:00:00:00:02, src 02:00:00:00:00:01, ethertype 0x0800 or 0x86DD.
 * - IPv4 (RFC 791): IHL 5, TOS 0, identification 0, DF set, TTL 64, protocol 17, valid header
 *   checksum. Identification is fixed at 0 so the function stays pure; with DF set RFC 6864
 *   allows that for atomic datagrams.
 * - IPv6 (RFC 8200): traffic class 0, flow label 0, next header 17, hop limit 64.
 * - UDP (RFC 768): real checksum over the pseudo-header for both families (mandatory for IPv6,
 *   RFC 8200 §8.1); a computed 0 is sent as 0xFFFF, since 0 means "no checksum".
 *
 * The whole frame is captured (incl_len = orig_len). At the IPv4 maximum the frame is up to 14
 * bytes longer than the advertised 65535 snaplen; libpcap and Wireshark read such records fine.
 *
 * Pure: same inputs, same bytes.
 *
 * @param payload the UDP payload (e.g. one IPFIX message).
 * @param source sender address/port; must be the same IP family as `destination`.
 * @param destination receiver address/port.
 * @param timeMs capture time as epoch milliseconds; fractions are kept to the microsecond.
 * @throws Error on mixed families, invalid addresses or ports, a negative/non-finite time, or a
 *   payload that would make the IP packet (header included) exceed 65535 bytes — i.e. more than
 *   65507 payload bytes over IPv4, 65487 over IPv6.
 */
export function pcapRecord(payload: Uint8Array, source: PcapEndpoint, destination: PcapEndpoint, timeMs: number): Buffer {
  const src = parseEndpoint(source, 'source');
  const dst = parseEndpoint(destination, 'destination');
  if (src.family !== dst.family) {
    throw new Error(
      `pcap: source ${source.address} is IPv${src.family} but destination ${destination.address} is IPv${dst.family}; both must be the same family`,
    );
  }
  const family = src.family;
  const ipHeaderLength = family === 4 ? IPV4_HEADER_LENGTH : IPV6_HEADER_LENGTH;
  const udpLength = UDP_HEADER_LENGTH + payload.length;
  const ipPacketLength = ipHeaderLength + udpLength;
  if (ipPacketLength > MAX_IP_PACKET_LENGTH) {
    throw new Error(
      `pcap: payload of ${payload.length} bytes makes a ${ipPacketLength}-byte IPv${family} packet; the limit is ${MAX_IP_PACKET_LENGTH} (at most ${MAX_IP_PACKET_LENGTH - ipHeaderLength - UDP_HEADER_LENGTH} payload bytes)`,
    );
  }
  const { seconds, micros } = splitTimestamp(timeMs);
  const frameLength = ETHERNET_HEADER_LENGTH + ipPacketLength;

  const buf = Buffer.alloc(RECORD_HEADER_LENGTH + frameLength);
  let o = buf.writeUInt32LE(seconds, 0);
  o = buf.writeUInt32LE(micros, o);
  o = buf.writeUInt32LE(frameLength, o); // incl_len
  o = buf.writeUInt32LE(frameLength, o); // orig_len

  o = writeBytes(buf, o, DESTINATION_MAC);
  o = writeBytes(buf, o, SOURCE_MAC);
  o = writeU16(buf, o, family === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);

  o = family === 4 ? writeIpv4Header(buf, o, src, dst, ipPacketLength) : writeIpv6Header(buf, o, src, dst, udpLength);

  const udpStart = o;
  o = writeU16(buf, o, src.port);
  o = writeU16(buf, o, dst.port);
  o = writeU16(buf, o, udpLength);
  const checksumOffset = o;
  o = writeU16(buf, o, 0); // placeholder: the checksum covers this field as zero
  buf.set(payload, o);

  // Pseudo-header: both addresses, protocol 17 and the UDP length. IPv4 (RFC 768) uses a 16-bit
  // length and IPv6 (RFC 8200 §8.1) a 32-bit one, but as ones'-complement sums they are equal.
  let acc = sumAddress(src.bytes, 0);
  acc = sumAddress(dst.bytes, acc);
  acc += IP_PROTOCOL_UDP + udpLength;
  acc = sumWords(buf, udpStart, buf.length, acc);
  const checksum = finishChecksum(acc);
  writeU16(buf, checksumOffset, checksum === 0 ? 0xffff : checksum);
  return buf;
}

function writeIpv4Header(buf: Buffer, offset: number, src: ParsedEndpoint, dst: ParsedEndpoint, totalLength: number): number {
  const start = offset;
  let o = writeU8(buf, offset, 0x45); // version 4, IHL 5 (no options)
  o = writeU8(buf, o, 0); // DSCP/ECN
  o = writeU16(buf, o, totalLength);
  o = writeU16(buf, o, 0); // identification
  o = writeU16(buf, o, 0x4000); // flags: DF; fragment offset 0
  o = writeU8(buf, o, DEFAULT_HOP_LIMIT);
  o = writeU8(buf, o, IP_PROTOCOL_UDP);
  const checksumOffset = o;
  o = writeU16(buf, o, 0);
  o = writeBytes(buf, o, src.bytes);
  o = writeBytes(buf, o, dst.bytes);
  writeU16(buf, checksumOffset, finishChecksum(sumWords(buf, start, o, 0)));
  return o;
}

function writeIpv6Header(buf: Buffer, offset: number, src: ParsedEndpoint, dst: ParsedEndpoint, payloadLength: number): number {
  let o = writeU32(buf, offset, 0x60000000); // version 6, traffic class 0, flow label 0
  o = writeU16(buf, o, payloadLength);
  o = writeU8(buf, o, IP_PROTOCOL_UDP);
  o = writeU8(buf, o, DEFAULT_HOP_LIMIT);
  o = writeBytes(buf, o, src.bytes);
  return writeBytes(buf, o, dst.bytes);
}
