import { type FlowColumns, IPV6, OUTBOUND } from '../flow/flowColumns.js';
import { type EncodedMessage, hasReverseTraffic } from '../flow/flowEncoder.js';
import type { AzureContext } from '../flow/flowRecord.js';
import { interfaceLabels, type NamedEntity } from '../flow/interfaceNames.js';
import { IPFIX_DEFAULTS } from '../ipfix/encoder.js';
import { IANA_ELEMENTS } from '../ipfix/informationElements.js';
import { INTERFACE_DESCRIPTION_BYTES, INTERFACE_NAME_BYTES } from '../ipfix/optionsTemplates.js';
import { netflow9Templates, TEMPLATE_IDS, type FlowTemplate, type FlowTemplates, type RecordWriter } from '../ipfix/templates.js';
import { type DomainState, MessagePacker, PackedEncoder, type ProtocolSpec, type TemplateRecord } from '../ipfix/packer.js';
import { writeU16, writeU32 } from '../ipfix/writers.js';
import { clampStartMs, UPTIME_SLACK_MS, UptimeClock } from './uptimeClock.js';

/** NetFlow v9 templates have no context elements. */
const NO_BLOCK = new Uint8Array(0);

/** RFC 3954 section 5.1. */
export const NETFLOW9_VERSION = 9;
const HEADER_BYTES = 20;
const TEMPLATE_FLOWSET_ID = 0;
const OPTIONS_TEMPLATE_FLOWSET_ID = 1;
/** RFC 3954 section 6.1 scope type "Interface". */
const SCOPE_INTERFACE = 2;
/** RFC 3954 section 6.1 scope type "System". */
const SCOPE_SYSTEM = 1;

export interface NetflowV9EncoderOptions {
  readonly maxMessageSizeInBytes?: number;
  readonly templateRefreshIntervalMs?: number;
  readonly templateRefreshPackets?: number;
  readonly templateRepeatsAtStart?: number;
  /** Export an options record naming each NIC (IF_NAME = MAC, IF_DESC). Default off. */
  readonly optionsRecords?: boolean;
}

/**
 * NetFlow v9's part of the message packer: a 20-byte header with the count of every record and
 * sysUptime times, sequence numbers counting packets (templates included), flowsets padded to 4.
 */
function netflow9Spec(templates: readonly TemplateRecord[], clock: UptimeClock): ProtocolSpec {
  return {
    headerBytes: HEADER_BYTES,
    setAlignment: 4,
    templates,
    writeHeader(bytes, message, nowMs) {
      const times = message.dataRecords > 0 ? clock.header(nowMs) : templateOnlyTimes(nowMs);
      writeV9Header(bytes, message.records, times.sysUptimeMs, times.unixSeconds, message.domain.sequence, message.domain.id);
      return message.domain.sequence + 1;
    },
    opened: (nowMs) => clock.open(nowMs),
  };
}

/**
 * NetFlow v9 (RFC 3954) encoder on the shared MessagePacker; flow times are sysUptime-relative
 * (see UptimeClock): a flow whose times the open packet's base cannot express starts a new packet.
 * Biflows are always split into two uniflow records: v9 has no reverse elements, and OUT_BYTES /
 * OUT_PKTS (23/24) mean something else to most collectors. Pure: no I/O, clock or logging.
 */
export class NetflowV9Encoder extends PackedEncoder {
  private readonly options: Required<NetflowV9EncoderOptions>;
  private readonly templates: FlowTemplates;
  private readonly clock: UptimeClock;

  constructor(options: NetflowV9EncoderOptions, emit: (message: EncodedMessage) => void) {
    const resolved: Required<NetflowV9EncoderOptions> = {
      maxMessageSizeInBytes: options.maxMessageSizeInBytes ?? IPFIX_DEFAULTS.maxMessageSizeInBytes,
      templateRefreshIntervalMs: options.templateRefreshIntervalMs ?? IPFIX_DEFAULTS.templateRefreshIntervalMs,
      templateRefreshPackets: options.templateRefreshPackets ?? IPFIX_DEFAULTS.templateRefreshPackets,
      templateRepeatsAtStart: options.templateRepeatsAtStart ?? IPFIX_DEFAULTS.templateRepeatsAtStart,
      optionsRecords: options.optionsRecords ?? false,
    };
    const templates = netflow9Templates();
    const clock = new UptimeClock();
    super(new MessagePacker(netflow9Spec(v9TemplateRecords([templates.ipv4, templates.ipv6], resolved.optionsRecords), clock), resolved, emit));
    this.options = resolved;
    this.templates = templates;
    this.clock = clock;
  }

  addRows(flows: FlowColumns, from: number, to: number, nowMs: number): void {
    const { domains, interfaces, contexts, flags, starts, times, sourceEntities, destinationEntities } = flows;
    const packer = this.packer;
    for (let i = from; i < to; i++) {
      const source = packer.domainFor(domains[i]!, nowMs);
      const nic = interfaces[i]!;
      if (this.options.optionsRecords && nic !== 0) {
        // The NIC is the source of outbound traffic and the destination of inbound.
        const local = (flags[i]! & OUTBOUND) !== 0 ? sourceEntities[i] : destinationEntities[i];
        if (packer.shouldAnnounce(source, nic, local)) this.announceInterface(source, nic, contexts[i]!, local, nowMs);
      }
      const template = (flags[i]! & IPV6) === 0 ? this.templates.ipv4 : this.templates.ipv6;
      const endMs = times[i]!;
      const startMs = clampStartMs(starts[i]!, endMs);
      this.appendFlow(source, template, flows, i, startMs, endMs, nowMs, template.writeForward);
      if (hasReverseTraffic(flows, i)) this.appendFlow(source, template, flows, i, startMs, endMs, nowMs, template.writeReverse);
    }
  }

  /** Names the NIC behind interface `index` (interfaceLabels), in fixed-size fields: v9 has no variable length. */
  private announceInterface(source: DomainState, index: number, context: AzureContext, local: NamedEntity | undefined, nowMs: number): void {
    const labels = interfaceLabels(index, context.mac, context.resourceId, local?.names);
    // System scope (the source id), INPUT_SNMP, IF_DESC; then interface scope, IF_NAME. Zero-padded.
    const description = Buffer.alloc(8 + INTERFACE_DESCRIPTION_BYTES);
    writeU32(description, writeU32(description, 0, source.id), index);
    description.write(labels.description, 8, INTERFACE_DESCRIPTION_BYTES - 1, 'utf8');
    const name = Buffer.alloc(4 + INTERFACE_NAME_BYTES);
    writeU32(name, 0, index);
    name.write(labels.name, 4, INTERFACE_NAME_BYTES - 1, 'utf8');
    const parts = [
      { setId: TEMPLATE_IDS.netflow9InterfaceDescriptions, bytes: description },
      { setId: TEMPLATE_IDS.netflow9InterfaceNames, bytes: name },
    ];
    this.packer.announce(source, index, { parts, ...(local === undefined ? {} : { owner: local }) }, nowMs);
  }

  private appendFlow(
    source: DomainState,
    template: FlowTemplate,
    flows: FlowColumns,
    i: number,
    startMs: number,
    endMs: number,
    nowMs: number,
    write: RecordWriter,
  ): void {
    const packer = this.packer;
    // A packet's uptime base must cover the times of every flow in it.
    const current = packer.open;
    if (current !== undefined && current.domain === source && current.flows > 0 && !this.clock.fits(startMs, endMs)) packer.flush(nowMs);
    const open = packer.reserve(source, template.id, template.rowLength, nowMs);
    if (open.flows === 0) this.clock.open(startMs);
    open.offset = write(open.buf, open.view, open.offset, flows, i, startMs, this.clock.baseMs, NO_BLOCK);
    this.clock.wrote(endMs);
    open.records++;
    open.dataRecords++;
    open.flows++;
    this.flowRecords++;
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

/** An options template: id, scopes and fields as [type, length] pairs (RFC 3954 section 6.1). */
type V9OptionsTemplate = readonly [id: number, scopes: readonly (readonly [number, number])[], fields: readonly (readonly [number, number])[]];

/**
 * The two options templates naming NICs (as for IPFIX, see ipfix/templates.ts optionsTemplates):
 * the description in nfdump's layout (a System scope, then INPUT_SNMP and IF_DESC as fields), and
 * the name scoped on the interface.
 */
const V9_OPTIONS_TEMPLATES: readonly V9OptionsTemplate[] = [
  [
    TEMPLATE_IDS.netflow9InterfaceDescriptions,
    [[SCOPE_SYSTEM, 4]],
    [
      [IANA_ELEMENTS.ingressInterface.id, 4],
      [IANA_ELEMENTS.interfaceDescription.id, INTERFACE_DESCRIPTION_BYTES],
    ],
  ],
  [TEMPLATE_IDS.netflow9InterfaceNames, [[SCOPE_INTERFACE, 4]], [[IANA_ELEMENTS.interfaceName.id, INTERFACE_NAME_BYTES]]],
];

/** The data templates (flowset 0) and, with options, the options templates (flowset 1) as template records. */
function v9TemplateRecords(templates: readonly FlowTemplate[], withOptions: boolean): TemplateRecord[] {
  const record = (setId: number, header: readonly number[], fields: readonly (readonly [number, number])[]): TemplateRecord => {
    const bytes = Buffer.alloc(2 * header.length + 4 * fields.length);
    let offset = 0;
    for (const value of header) offset = writeU16(bytes, offset, value);
    for (const [type, length] of fields) offset = writeU16(bytes, writeU16(bytes, offset, type), length);
    return { setId, bytes };
  };
  const data = templates.map((t) =>
    record(
      TEMPLATE_FLOWSET_ID,
      [t.id, t.fields.length],
      t.fields.map((f) => [f.element.id, f.element.length] as const),
    ),
  );
  if (!withOptions) return data;
  // Scope and option lengths are in bytes of field specifiers.
  return [
    ...data,
    ...V9_OPTIONS_TEMPLATES.map(([id, scopes, fields]) =>
      record(OPTIONS_TEMPLATE_FLOWSET_ID, [id, 4 * scopes.length, 4 * fields.length], [...scopes, ...fields]),
    ),
  ];
}
