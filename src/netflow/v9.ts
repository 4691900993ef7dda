import { type FlowColumns, IPV6 } from '../flow/flowColumns.js';
import { type EncodedMessage, type FlowEncoder, hasReverseTraffic } from '../flow/flowEncoder.js';
import type { AzureContext } from '../flow/flowRecord.js';
import { formatMac, normalizeMac } from '../enrich/interfaceIndex.js';
import { IPFIX_DEFAULTS, MIN_MESSAGE_BYTES, MAX_MESSAGE_BYTES } from '../ipfix/encoder.js';
import { IANA_ELEMENTS } from '../ipfix/informationElements.js';
import { netflow9Templates, TEMPLATE_IDS, type FlowTemplate, type FlowTemplates, type RecordWriter } from '../ipfix/templates.js';
import { MessageBuffers } from '../ipfix/messageBuffers.js';
import { writeU16, writeU32 } from '../ipfix/writers.js';
import { clampStartMs, UPTIME_SLACK_MS, UptimeClock } from './uptimeClock.js';

/** NetFlow v9 templates have no context elements. */
const NO_BLOCK = new Uint8Array(0);

/** RFC 3954 section 5.1. */
export const NETFLOW9_VERSION = 9;
const HEADER_BYTES = 20;
const FLOWSET_HEADER_BYTES = 4;
const TEMPLATE_FLOWSET_ID = 0;
const OPTIONS_TEMPLATE_FLOWSET_ID = 1;
/** RFC 3954 section 6.1 scope type "Interface". */
const SCOPE_INTERFACE = 2;
/** v9 has no variable-length fields: interface names travel in fixed-size, zero-padded fields. */
const INTERFACE_NAME_BYTES = 32;
const INTERFACE_DESCRIPTION_BYTES = 64;
const INTERFACE_OPTION_RECORD_BYTES = 4 + INTERFACE_NAME_BYTES + INTERFACE_DESCRIPTION_BYTES;

export interface NetflowV9EncoderOptions {
  readonly maxMessageSizeInBytes?: number;
  readonly templateRefreshIntervalMs?: number;
  readonly templateRefreshPackets?: number;
  readonly templateRepeatsAtStart?: number;
  /** Export an options record naming each NIC (IF_NAME = MAC, IF_DESC). Default off. */
  readonly optionsRecords?: boolean;
}

interface SourceState {
  readonly id: number;
  /** Export packets sent from this source id (RFC 3954 counts packets, templates included). */
  sequence: number;
  dataPacketsSinceTemplates: number;
  templatesSentAtMs: number;
  readonly interfaces: Map<number, { name: Buffer; description: Buffer }>;
}

/** A packet being filled, at slab offsets (see MessageBuffers). */
interface OpenPacket {
  readonly buf: Buffer;
  readonly view: DataView;
  readonly source: SourceState;
  /** Where the packet starts in `buf`. */
  readonly start: number;
  /** Where it may end at most. */
  readonly limit: number;
  offset: number;
  /** Records of every kind in the packet: the header Count (RFC 3954 section 5.1). */
  records: number;
  dataRecords: number;
  flows: number;
  flowsetId: number;
  flowsetStart: number;
}

/**
 * NetFlow v9 (RFC 3954) encoder. Same packing and template discipline as the IPFIX encoder; the
 * protocol differences are the header (Count of all records, sequence of packets, sysUptime),
 * flowset ids 0/1, padding to 4 bytes and sysUptime-relative flow times (see UptimeClock).
 * Biflows are always split into two uniflow records: v9 has no reverse elements, and OUT_BYTES /
 * OUT_PKTS (23/24) mean something else to most collectors. Pure: no I/O, clock or logging.
 */
export class NetflowV9Encoder implements FlowEncoder {
  readonly declined = new Map<string, number>();
  readonly counters = { flowRecords: 0, optionsRecords: 0 };
  private readonly options: Required<NetflowV9EncoderOptions>;
  private readonly templates: FlowTemplates;
  private readonly templateFlowsets: Buffer;
  private readonly templateRecordCount: number;
  private readonly clock = new UptimeClock();
  private readonly sources = new Map<number, SourceState>();
  private readonly buffers: MessageBuffers;
  private open: OpenPacket | undefined;

  constructor(
    options: NetflowV9EncoderOptions,
    private readonly emit: (message: EncodedMessage) => void,
  ) {
    this.options = {
      maxMessageSizeInBytes: options.maxMessageSizeInBytes ?? IPFIX_DEFAULTS.maxMessageSizeInBytes,
      templateRefreshIntervalMs: options.templateRefreshIntervalMs ?? IPFIX_DEFAULTS.templateRefreshIntervalMs,
      templateRefreshPackets: options.templateRefreshPackets ?? IPFIX_DEFAULTS.templateRefreshPackets,
      templateRepeatsAtStart: options.templateRepeatsAtStart ?? IPFIX_DEFAULTS.templateRepeatsAtStart,
      optionsRecords: options.optionsRecords ?? false,
    };
    const size = this.options.maxMessageSizeInBytes;
    if (!Number.isInteger(size) || size < MIN_MESSAGE_BYTES || size > MAX_MESSAGE_BYTES) {
      throw new RangeError(`maximum message size must be ${MIN_MESSAGE_BYTES}..${MAX_MESSAGE_BYTES} bytes, got ${size}`);
    }
    this.buffers = new MessageBuffers(size);
    this.templates = netflow9Templates();
    this.templateFlowsets = encodeV9TemplateFlowsets([this.templates.ipv4, this.templates.ipv6], this.options.optionsRecords);
    this.templateRecordCount = 2 + (this.options.optionsRecords ? 1 : 0);
  }

  addRows(flows: FlowColumns, from: number, to: number, nowMs: number): void {
    const { domains, interfaces, contexts, flags, starts, times } = flows;
    for (let i = from; i < to; i++) {
      const source = this.sourceFor(domains[i]!, nowMs);
      if (this.options.optionsRecords) {
        const nic = interfaces[i]!;
        if (nic !== 0 && !source.interfaces.has(nic)) this.announceInterface(source, nic, contexts[i]!, nowMs);
      }
      const template = (flags[i]! & IPV6) === 0 ? this.templates.ipv4 : this.templates.ipv6;
      const endMs = times[i]!;
      const startMs = clampStartMs(starts[i]!, endMs);
      this.appendFlow(source, template, flows, i, startMs, endMs, nowMs, template.writeForward);
      if (hasReverseTraffic(flows, i)) this.appendFlow(source, template, flows, i, startMs, endMs, nowMs, template.writeReverse);
    }
  }

  reuseBuffers(): void {
    this.buffers.reuse();
  }

  refreshTemplates(): void {
    for (const state of this.sources.values()) state.templatesSentAtMs = -Infinity;
  }

  flush(nowMs: number): void {
    const open = this.open;
    if (open === undefined) return;
    this.open = undefined;
    this.closeFlowset(open);
    const source = open.source;
    const times = open.dataRecords > 0 ? this.clock.header(nowMs) : templateOnlyTimes(nowMs);
    const bytes = this.buffers.finish(open.offset - open.start);
    writeV9Header(bytes, open.records, times.sysUptimeMs, times.unixSeconds, source.sequence, source.id);
    source.sequence = (source.sequence + 1) >>> 0;
    source.dataPacketsSinceTemplates++;
    this.emit({ bytes, observationDomainId: source.id, dataRecords: open.dataRecords, templateRecords: 0 });
  }

  private lastSource: SourceState | undefined;

  private sourceFor(id: number, nowMs: number): SourceState {
    const last = this.lastSource;
    if (last !== undefined && last.id === id) return last;
    let source = this.sources.get(id);
    if (source === undefined) {
      if (this.sources.size >= 65_536) this.sources.clear();
      source = { id, sequence: 0, dataPacketsSinceTemplates: 0, templatesSentAtMs: nowMs, interfaces: new Map() };
      this.sources.set(id, source);
      this.sendTemplates(source, nowMs, this.options.templateRepeatsAtStart);
    }
    this.lastSource = source;
    return source;
  }

  private sendTemplates(source: SourceState, nowMs: number, copies: number): void {
    this.flush(nowMs);
    const length = HEADER_BYTES + this.templateFlowsets.length;
    const times = templateOnlyTimes(nowMs);
    for (let i = 0; i < copies; i++) {
      const buf = Buffer.allocUnsafe(length);
      this.templateFlowsets.copy(buf, HEADER_BYTES);
      writeV9Header(buf, this.templateRecordCount, times.sysUptimeMs, times.unixSeconds, source.sequence, source.id);
      source.sequence = (source.sequence + 1) >>> 0;
      this.emit({ bytes: buf, observationDomainId: source.id, dataRecords: 0, templateRecords: this.templateRecordCount });
    }
    source.templatesSentAtMs = nowMs;
    source.dataPacketsSinceTemplates = 0;
    for (const [index, names] of source.interfaces) this.appendInterfaceOption(source, index, names, nowMs);
  }

  private templatesDue(source: SourceState, nowMs: number): boolean {
    return (
      source.dataPacketsSinceTemplates >= this.options.templateRefreshPackets || nowMs - source.templatesSentAtMs >= this.options.templateRefreshIntervalMs
    );
  }

  private announceInterface(source: SourceState, index: number, context: AzureContext, nowMs: number): void {
    if (source.interfaces.size >= 4096) return;
    const mac = normalizeMac(context.mac);
    const resourceName = context.resourceId.split('/').filter(Boolean).pop() ?? '';
    const names = {
      name: fixedString(mac === '' ? `nic-${index}` : formatMac(mac), INTERFACE_NAME_BYTES),
      description: fixedString(resourceName === '' ? 'Azure NIC' : `Azure NIC behind ${resourceName}`, INTERFACE_DESCRIPTION_BYTES),
    };
    source.interfaces.set(index, names);
    this.appendInterfaceOption(source, index, names, nowMs);
  }

  private appendInterfaceOption(source: SourceState, index: number, names: { name: Buffer; description: Buffer }, nowMs: number): void {
    const open = this.reserve(source, TEMPLATE_IDS.netflow9InterfaceOptions, INTERFACE_OPTION_RECORD_BYTES, nowMs, NaN, NaN);
    let offset = writeU32(open.buf, open.offset, index);
    offset += names.name.copy(open.buf, offset);
    open.offset = offset + names.description.copy(open.buf, offset);
    open.records++;
    open.dataRecords++;
    this.counters.optionsRecords++;
  }

  private appendFlow(
    source: SourceState,
    template: FlowTemplate,
    flows: FlowColumns,
    i: number,
    startMs: number,
    endMs: number,
    nowMs: number,
    write: RecordWriter,
  ): void {
    const open = this.reserve(source, template.id, template.rowLength, nowMs, startMs, endMs);
    open.offset = write(open.buf, open.view, open.offset, flows, i, startMs, this.clock.baseMs, NO_BLOCK);
    this.clock.wrote(endMs);
    open.records++;
    open.dataRecords++;
    open.flows++;
    this.counters.flowRecords++;
  }

  /**
   * Room for one record in a flowset of `flowsetId`; a flow record (its times not NaN) also needs
   * the open packet's uptime base to cover its times, else a new packet starts with a base of its own.
   */
  private reserve(source: SourceState, flowsetId: number, length: number, nowMs: number, startMs: number, endMs: number): OpenPacket {
    let open = this.open;
    if (open !== undefined && !this.fits(open, source, flowsetId, length, startMs, endMs)) {
      this.flush(nowMs);
      open = undefined;
    }
    if (open === undefined) {
      if (this.templatesDue(source, nowMs)) {
        this.sendTemplates(source, nowMs, 1);
        open = this.open;
        if (open !== undefined && !this.fits(open, source, flowsetId, length, startMs, endMs)) {
          this.flush(nowMs);
          open = undefined;
        }
      }
      if (open === undefined) {
        // A literal of one shape, not a spread: the row loop reads this object for every record.
        const buffers = this.buffers;
        buffers.take();
        const start = buffers.start;
        open = {
          buf: buffers.slab,
          view: buffers.view,
          source,
          start,
          limit: start + this.options.maxMessageSizeInBytes,
          offset: start + HEADER_BYTES,
          records: 0,
          dataRecords: 0,
          flows: 0,
          flowsetId: -1,
          flowsetStart: 0,
        };
        this.open = open;
        this.clock.open(nowMs);
      }
    }
    if (startMs === startMs && open.flows === 0) this.clock.open(startMs);
    if (open.flowsetId !== flowsetId) {
      this.closeFlowset(open);
      open.flowsetId = flowsetId;
      open.flowsetStart = open.offset;
      writeU16(open.buf, open.offset, flowsetId);
      open.offset += FLOWSET_HEADER_BYTES;
    }
    return open;
  }

  private fits(packet: OpenPacket, source: SourceState, flowsetId: number, length: number, startMs: number, endMs: number): boolean {
    // Worst case: a new flowset header and padding to 4 bytes after this record.
    return (
      packet.source === source &&
      packet.offset + length + (packet.flowsetId === flowsetId ? 0 : FLOWSET_HEADER_BYTES) + 3 <= packet.limit &&
      (startMs !== startMs || packet.flows === 0 || this.clock.fits(startMs, endMs))
    );
  }

  /** RFC 3954 section 5.3: pad the flowset to a 4-byte boundary; its length includes the padding. */
  private closeFlowset(open: OpenPacket): void {
    if (open.flowsetId < 0) return;
    while ((open.offset - open.flowsetStart) % 4 !== 0) open.buf[open.offset++] = 0;
    writeU16(open.buf, open.flowsetStart + 2, open.offset - open.flowsetStart);
    open.flowsetId = -1;
  }
}

/** Template-only packets carry no flow times; any consistent uptime will do. */
function templateOnlyTimes(nowMs: number): { sysUptimeMs: number; unixSeconds: number } {
  return { sysUptimeMs: UPTIME_SLACK_MS, unixSeconds: Math.floor(nowMs / 1000) };
}

/** RFC 3954 section 5.1: version, count, sysUptime, unix secs, sequence, source id. */
export function writeV9Header(buf: Buffer, count: number, sysUptimeMs: number, unixSeconds: number, sequence: number, sourceId: number): void {
  writeU16(buf, 0, NETFLOW9_VERSION);
  writeU16(buf, 2, count);
  writeU32(buf, 4, sysUptimeMs);
  writeU32(buf, 8, unixSeconds);
  writeU32(buf, 12, sequence);
  writeU32(buf, 16, sourceId);
}

/** Template flowset (id 0) and, with options, the options template flowset (id 1). */
function encodeV9TemplateFlowsets(templates: readonly FlowTemplate[], withOptions: boolean): Buffer {
  const templateLength = FLOWSET_HEADER_BYTES + templates.reduce((sum, t) => sum + 4 + 4 * t.fields.length, 0);
  // Options template: id, scope length, option length, 1 scope field, 2 option fields (RFC 3954 section 6.1).
  const optionsLength = withOptions ? FLOWSET_HEADER_BYTES + 6 + 4 + 8 + 2 : 0;
  const buf = Buffer.alloc(templateLength + optionsLength);
  let offset = writeU16(buf, 0, TEMPLATE_FLOWSET_ID);
  offset = writeU16(buf, offset, templateLength);
  for (const template of templates) {
    offset = writeU16(buf, offset, template.id);
    offset = writeU16(buf, offset, template.fields.length);
    for (const field of template.fields) {
      offset = writeU16(buf, offset, field.element.id);
      offset = writeU16(buf, offset, field.element.length);
    }
  }
  if (!withOptions) return buf;
  offset = writeU16(buf, offset, OPTIONS_TEMPLATE_FLOWSET_ID);
  offset = writeU16(buf, offset, optionsLength);
  offset = writeU16(buf, offset, TEMPLATE_IDS.netflow9InterfaceOptions);
  offset = writeU16(buf, offset, 4);
  offset = writeU16(buf, offset, 8);
  offset = writeU16(buf, offset, SCOPE_INTERFACE);
  offset = writeU16(buf, offset, 4);
  offset = writeU16(buf, offset, IANA_ELEMENTS.interfaceName.id);
  offset = writeU16(buf, offset, INTERFACE_NAME_BYTES);
  offset = writeU16(buf, offset, IANA_ELEMENTS.interfaceDescription.id);
  writeU16(buf, offset, INTERFACE_DESCRIPTION_BYTES);
  // The trailing 2 bytes are padding to a 4-byte boundary.
  return buf;
}

function fixedString(text: string, size: number): Buffer {
  const buf = Buffer.alloc(size);
  buf.write(text, 0, size - 1, 'utf8');
  return buf;
}
