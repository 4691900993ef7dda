import { type FlowColumns, IPV6 } from '../flow/flowColumns.js';
import type { EncodedMessage, FlowEncoder } from '../flow/flowEncoder.js';
import type { AzureContext } from '../flow/flowRecord.js';
import { formatMac, normalizeMac } from '../enrich/interfaceIndex.js';
import { DEFAULT_ENTERPRISE_NUMBER } from './informationElements.js';
import {
  compileWithHelpers,
  ContextBlocks,
  fieldSpecifierSize,
  flowTemplates,
  type FlowTemplate,
  type FlowTemplates,
  optionsTemplates,
  type OptionsTemplate,
  recordStatements,
  rowLocals,
  writeFieldSpecifier,
} from './templates.js';
import { MessageBuffers } from './messageBuffers.js';
import { CachedViewStrings, truncateUtf8 } from './viewStrings.js';
import { variableLengthSize, writeU16, writeU32, writeVariableLength } from './writers.js';

/** RFC 7011 section 3.1. */
export const IPFIX_VERSION = 10;
export const MESSAGE_HEADER_BYTES = 16;
export const SET_HEADER_BYTES = 4;
const TEMPLATE_SET_ID = 2;
const OPTIONS_TEMPLATE_SET_ID = 3;

/** Smallest message size we accept: go-ipfix's floor, enough for any record we write. */
export const MIN_MESSAGE_BYTES = 512;
/** The largest IPFIX message: the length field is 16 bits (RFC 7011 section 3.1). */
export const MAX_MESSAGE_BYTES = 65_535;

export interface IpfixEncoderOptions {
  /** Largest message, header included. Default 1400: fits a 1500-byte MTU with IPv6 + UDP headers. */
  readonly maxMessageSizeInBytes?: number;
  /** `split` (default): reverse traffic as a second uniflow record; `rfc5103`: reverse IEs (PEN 29305). */
  readonly biflow?: 'split' | 'rfc5103';
  /** PEN of the Azure elements (rule name, ACL id, encryption, NIC MAC). Default 32473 (documentation PEN). */
  readonly enterpriseNumber?: number;
  /** Templates are re-sent when this much time passed since the last send. Default 60 s. */
  readonly templateRefreshIntervalMs?: number;
  /** ...or when this many data messages went out in the domain since. Default 500. */
  readonly templateRefreshPackets?: number;
  /** Template messages sent back to back when a domain first appears. Default 3. */
  readonly templateRepeatsAtStart?: number;
  /**
   * Export options records naming each NIC (interfaceName, interfaceDescription) and each domain
   * (observationDomainName = the Azure resource id). Off by default: nfdump 1.7 does not count
   * options data records it has no use for in its sequence check and reports every message after
   * one as a sequence failure, although RFC 7011 counts them (tshark agrees).
   */
  readonly optionsRecords?: boolean;
  /** Name domains in the options records; off when every flow is forced into one domain. */
  readonly describeDomains?: boolean;
}

export const IPFIX_DEFAULTS = {
  maxMessageSizeInBytes: 1400,
  biflow: 'split',
  enterpriseNumber: DEFAULT_ENTERPRISE_NUMBER,
  templateRefreshIntervalMs: 60_000,
  templateRefreshPackets: 500,
  templateRepeatsAtStart: 3,
  optionsRecords: false,
  describeDomains: true,
} as const satisfies Required<IpfixEncoderOptions>;

/** Per observation domain state: RFC 7011 scopes templates and sequence numbers by domain. */
interface DomainState {
  readonly id: number;
  /** Data records sent in this domain before the next message (RFC 7011 section 3.1). */
  sequence: number;
  dataMessagesSinceTemplates: number;
  templatesSentAtMs: number;
  resourceId: string;
  /** Interfaces announced with an options record, re-announced with every template refresh. */
  readonly interfaces: Map<number, { name: Uint8Array; description: Uint8Array }>;
}

/** A message being filled, at slab offsets (see MessageBuffers). */
interface OpenMessage {
  readonly buf: Buffer;
  readonly view: DataView;
  readonly domain: DomainState;
  /** Where the message starts in `buf`. */
  readonly start: number;
  /** Where it may end at most. */
  readonly limit: number;
  offset: number;
  dataRecords: number;
  /** Template id of the set being filled, or -1. */
  setId: number;
  setStart: number;
}

const MAX_INTERFACES_PER_DOMAIN = 4096;
const MAX_DOMAINS = 65_536;

/**
 * IPFIX (RFC 7011) encoder: packs flow records into messages no larger than the configured size,
 * templates first, per observation domain. Pure: no sockets, clock or logging.
 */
export class IpfixEncoder implements FlowEncoder {
  readonly declined = new Map<string, number>();
  readonly counters = { flowRecords: 0, optionsRecords: 0 };
  private readonly options: Required<IpfixEncoderOptions>;
  private readonly templates: FlowTemplates;
  private readonly options_: { interfaces: OptionsTemplate; domain: OptionsTemplate };
  private readonly templateSets: Buffer;
  private readonly strings: CachedViewStrings;
  private readonly domains = new Map<number, DomainState>();
  private readonly rowLoop: RowLoop;
  // Read and called by the compiled row loop (compileRowLoop), which TypeScript does not see.
  /** @internal */ readonly blocks: ContextBlocks;
  /** @internal */ open: OpenMessage | undefined;
  /** The domain of the previous flow: consecutive flows nearly always share one. */
  /** @internal */ lastDomain: DomainState | undefined;
  private readonly buffers: MessageBuffers;
  private readonly maxStringBytes: number;
  private readonly templateRecordsPerMessage: number;

  constructor(
    options: IpfixEncoderOptions,
    private readonly emit: (message: EncodedMessage) => void,
  ) {
    this.options = { ...IPFIX_DEFAULTS, ...definedOnly(options) };
    const size = this.options.maxMessageSizeInBytes;
    if (!Number.isInteger(size) || size < MIN_MESSAGE_BYTES || size > MAX_MESSAGE_BYTES) {
      throw new RangeError(`maximum message size must be ${MIN_MESSAGE_BYTES}..${MAX_MESSAGE_BYTES} bytes, got ${size}`);
    }
    this.buffers = new MessageBuffers(size);
    this.templates = flowTemplates(this.options.biflow, this.options.enterpriseNumber);
    this.options_ = optionsTemplates();
    this.templateSets = encodeTemplateSets(
      [this.templates.ipv4, this.templates.ipv6],
      this.options.optionsRecords ? [this.options_.interfaces, this.options_.domain] : [],
    );
    this.templateRecordsPerMessage = 2 + (this.options.optionsRecords ? 2 : 0);
    // Three strings share what is left of an empty message after the fixed part: cap each so any
    // record fits, whatever the configured size.
    const room = size - MESSAGE_HEADER_BYTES - SET_HEADER_BYTES - Math.max(this.templates.ipv4.fixedLength, this.templates.ipv6.fixedLength);
    this.maxStringBytes = Math.min(254, Math.floor(room / 3) - 1);
    this.strings = new CachedViewStrings(this.maxStringBytes);
    // The IPv4 and IPv6 layouts share their context elements: one block serves both.
    this.blocks = new ContextBlocks(this.templates.ipv4, this.strings);
    this.rowLoop = compileRowLoop(this.templates, this.options.biflow === 'split', this.options.optionsRecords);
  }

  addRows(flows: FlowColumns, from: number, to: number, nowMs: number): void {
    this.counters.flowRecords += this.rowLoop(this, flows, from, to, nowMs);
  }

  reuseBuffers(): void {
    this.buffers.reuse();
  }

  refreshTemplates(): void {
    for (const state of this.domains.values()) state.templatesSentAtMs = -Infinity;
  }

  flush(nowMs: number): void {
    const open = this.open;
    if (open === undefined) return;
    this.open = undefined;
    if (open.setId >= 0) writeU16(open.buf, open.setStart + 2, open.offset - open.setStart);
    const domain = open.domain;
    const bytes = this.buffers.finish(open.offset - open.start);
    writeMessageHeader(bytes, bytes.length, nowMs, domain.sequence, domain.id);
    // Sequence numbers count data records, not messages (RFC 7011 section 3.1), modulo 2^32.
    domain.sequence = (domain.sequence + open.dataRecords) >>> 0;
    domain.dataMessagesSinceTemplates++;
    this.emit({ bytes, observationDomainId: domain.id, dataRecords: open.dataRecords, templateRecords: 0 });
  }

  /** @internal */ domainFor(id: number, resourceId: string, nowMs: number): DomainState {
    const last = this.lastDomain;
    if (last !== undefined && last.id === id) return last;
    let domain = this.domains.get(id);
    if (domain === undefined) {
      if (this.domains.size >= MAX_DOMAINS) this.domains.clear();
      domain = { id, sequence: 0, dataMessagesSinceTemplates: 0, templatesSentAtMs: nowMs, resourceId, interfaces: new Map() };
      this.domains.set(id, domain);
      this.sendTemplates(domain, nowMs, this.options.templateRepeatsAtStart);
    }
    this.lastDomain = domain;
    return domain;
  }

  /**
   * Templates travel in messages of their own, ahead of any data that needs them; the options
   * records that name the domain and its NICs follow in the next data message.
   */
  private sendTemplates(domain: DomainState, nowMs: number, copies: number): void {
    this.flush(nowMs);
    const length = MESSAGE_HEADER_BYTES + this.templateSets.length;
    for (let i = 0; i < copies; i++) {
      const buf = Buffer.allocUnsafe(length);
      this.templateSets.copy(buf, MESSAGE_HEADER_BYTES);
      writeMessageHeader(buf, length, nowMs, domain.sequence, domain.id);
      this.emit({ bytes: buf, observationDomainId: domain.id, dataRecords: 0, templateRecords: this.templateRecordsPerMessage });
    }
    domain.templatesSentAtMs = nowMs;
    domain.dataMessagesSinceTemplates = 0;
    if (!this.options.optionsRecords) return;
    if (this.options.describeDomains) this.appendDomainName(domain, nowMs);
    for (const [index, names] of domain.interfaces) this.appendInterfaceOption(domain, index, names, nowMs);
  }

  private templatesDue(domain: DomainState, nowMs: number): boolean {
    return (
      domain.dataMessagesSinceTemplates >= this.options.templateRefreshPackets || nowMs - domain.templatesSentAtMs >= this.options.templateRefreshIntervalMs
    );
  }

  /** @internal */ announceInterface(domain: DomainState, index: number, context: AzureContext, nowMs: number): void {
    if (domain.interfaces.size >= MAX_INTERFACES_PER_DOMAIN) return;
    const mac = normalizeMac(context.mac);
    const resourceName = context.resourceId.split('/').filter(Boolean).pop() ?? '';
    const names = {
      name: this.strings.utf8(mac === '' ? `nic-${index}` : formatMac(mac)),
      description: this.strings.utf8(resourceName === '' ? 'Azure NIC' : `Azure NIC behind ${resourceName}`),
    };
    domain.interfaces.set(index, names);
    this.appendInterfaceOption(domain, index, names, nowMs);
  }

  private appendInterfaceOption(domain: DomainState, index: number, names: { name: Uint8Array; description: Uint8Array }, nowMs: number): void {
    const length = 4 + variableLengthSize(names.name) + variableLengthSize(names.description);
    const open = this.reserve(domain, this.options_.interfaces.id, length, nowMs);
    let offset = writeU32(open.buf, open.offset, index);
    offset = writeVariableLength(open.buf, offset, names.name);
    open.offset = writeVariableLength(open.buf, offset, names.description);
    open.dataRecords++;
    this.counters.optionsRecords++;
  }

  private appendDomainName(domain: DomainState, nowMs: number): void {
    const name = truncateUtf8(Buffer.from(domain.resourceId, 'utf8'), this.maxStringBytes * 2);
    const open = this.reserve(domain, this.options_.domain.id, 4 + variableLengthSize(name), nowMs);
    const offset = writeU32(open.buf, open.offset, domain.id);
    open.offset = writeVariableLength(open.buf, offset, name);
    open.dataRecords++;
    this.counters.optionsRecords++;
  }

  /** @internal Makes room for one record of `length` bytes in a set of `setId`, starting a message or set as needed. */
  reserve(domain: DomainState, setId: number, length: number, nowMs: number): OpenMessage {
    let open = this.open;
    if (open !== undefined && !this.fits(open, domain, setId, length)) {
      this.flush(nowMs);
      open = undefined;
    }
    if (open === undefined) {
      // Refresh at a message boundary, so no data message is cut short for it.
      if (this.templatesDue(domain, nowMs)) {
        this.sendTemplates(domain, nowMs, 1);
        open = this.open;
        if (open !== undefined && !this.fits(open, domain, setId, length)) {
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
          domain,
          start,
          limit: start + this.options.maxMessageSizeInBytes,
          offset: start + MESSAGE_HEADER_BYTES,
          dataRecords: 0,
          setId: -1,
          setStart: 0,
        };
        this.open = open;
      }
    }
    if (open.setId !== setId) {
      if (open.setId >= 0) writeU16(open.buf, open.setStart + 2, open.offset - open.setStart);
      open.setId = setId;
      open.setStart = open.offset;
      writeU16(open.buf, open.offset, setId);
      open.offset += SET_HEADER_BYTES;
    }
    if (open.offset + length > open.limit) {
      throw new RangeError(`a ${length}-byte record cannot fit a ${this.options.maxMessageSizeInBytes}-byte message`);
    }
    return open;
  }

  private fits(message: OpenMessage, domain: DomainState, setId: number, length: number): boolean {
    return message.domain === domain && message.offset + length + (message.setId === setId ? 0 : SET_HEADER_BYTES) <= message.limit;
  }
}

/** RFC 7011 section 3.1: version, length, export time (s), sequence number, observation domain id. */
export function writeMessageHeader(buf: Buffer, length: number, exportTimeMs: number, sequence: number, domainId: number): void {
  writeU16(buf, 0, IPFIX_VERSION);
  writeU16(buf, 2, length);
  writeU32(buf, 4, Math.floor(exportTimeMs / 1000));
  writeU32(buf, 8, sequence);
  writeU32(buf, 12, domainId);
}

/** One template set (id 2) with the data templates and one options template set (id 3). */
export function encodeTemplateSets(dataTemplates: readonly FlowTemplate[], options: readonly OptionsTemplate[]): Buffer {
  const templateSetLength = SET_HEADER_BYTES + dataTemplates.reduce((sum, t) => sum + 4 + t.fields.reduce((s, f) => s + fieldSpecifierSize(f.element), 0), 0);
  const optionsSetLength =
    options.length === 0
      ? 0
      : SET_HEADER_BYTES + options.reduce((sum, t) => sum + 6 + [...t.scope, ...t.fields].reduce((s, f) => s + fieldSpecifierSize(f.element), 0), 0);
  const buf = Buffer.alloc(templateSetLength + optionsSetLength);
  let offset = writeU16(buf, 0, TEMPLATE_SET_ID);
  offset = writeU16(buf, offset, templateSetLength);
  for (const template of dataTemplates) {
    offset = writeU16(buf, offset, template.id);
    offset = writeU16(buf, offset, template.fields.length);
    for (const field of template.fields) offset = writeFieldSpecifier(buf, offset, field.element);
  }
  if (options.length === 0) return buf;
  offset = writeU16(buf, offset, OPTIONS_TEMPLATE_SET_ID);
  offset = writeU16(buf, offset, optionsSetLength);
  for (const template of options) {
    offset = writeU16(buf, offset, template.id);
    offset = writeU16(buf, offset, template.scope.length + template.fields.length);
    offset = writeU16(buf, offset, template.scope.length);
    for (const field of [...template.scope, ...template.fields]) offset = writeFieldSpecifier(buf, offset, field.element);
  }
  return buf;
}

/** Adds rows [from, to) to the encoder's messages; returns the records written. */
type RowLoop = (encoder: IpfixEncoder, flows: FlowColumns, from: number, to: number, nowMs: number) => number;

/**
 * The encoder's hot loop, compiled once per encoder from its templates: every record is written
 * field by field in place (recordStatements), without a call per record, and the message, domain
 * and context of the previous row are taken again whenever they still fit.
 */
function compileRowLoop(templates: FlowTemplates, split: boolean, optionsRecords: boolean): RowLoop {
  const variant = (template: FlowTemplate) => `
      const length = ${template.rowLength} + block.length;
      let open = encoder.open;
      if (open === undefined || open.domain !== domain || open.setId !== ${template.id} || open.offset + length > open.limit) open = encoder.reserve(domain, ${template.id}, length, nowMs);
      let b = open.buf, d = open.view, o = open.offset;
      ${recordStatements(template.fields, 'forward')}
      open.offset = o;
      open.dataRecords++;
      records++;
      ${
        // Split mode: the forward record always goes out (denies and zero-count starts stay
        // visible); the reverse one only when the tuple reports reverse traffic.
        split
          ? `if (f.counts[k + 2] > 0 || f.counts[k + 3] > 0) {
        if (o + length > open.limit) {
          open = encoder.reserve(domain, ${template.id}, length, nowMs);
          b = open.buf; d = open.view; o = open.offset;
        }
        ${recordStatements(template.fields, 'reverse')}
        open.offset = o;
        open.dataRecords++;
        records++;
      }`
          : ''
      }`;
  // IPv6 rows, the rare ones, are written by a function of their own: TurboFan's compile time grows
  // with the size of a function, and the first rows of a replay wait for the loop to be compiled.
  const ipv6Row = compileWithHelpers<(encoder: IpfixEncoder, f: FlowColumns, i: number, domain: unknown, block: Uint8Array, nowMs: number) => number>(
    ['encoder', 'f', 'i', 'domain', 'block', 'nowMs'],
    `const s = f.starts[i], u = 0;
    ${rowLocals}
    let records = 0;
    ${variant(templates.ipv6)}
    return records;`,
  );
  const body = `
    return function rowLoop(encoder, f, from, to, nowMs) {
    const contexts = f.contexts, domains = f.domains, starts = f.starts, interfaces = f.interfaces, blocks = encoder.blocks;
    let records = 0;
    for (let i = from; i < to; i++) {
      const context = contexts[i];
      const domainId = domains[i];
      let domain = encoder.lastDomain;
      if (domain === undefined || domain.id !== domainId) domain = encoder.domainFor(domainId, context.resourceId, nowMs);
      ${optionsRecords ? 'const nic = interfaces[i]; if (nic !== 0 && !domain.interfaces.has(nic)) encoder.announceInterface(domain, nic, context, nowMs);' : ''}
      const block = blocks.blockFor(context);
      if ((f.flags[i] & ${IPV6}) !== 0) {
        records += ipv6Row(encoder, f, i, domain, block, nowMs);
        continue;
      }
      const s = starts[i], u = 0;
      ${rowLocals}
      ${variant(templates.ipv4)}
    }
    return records;
  };`;
  return compileWithHelpers<(ipv6Row: unknown) => RowLoop>(['ipv6Row'], body)(ipv6Row);
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
