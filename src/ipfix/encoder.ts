import { type FlowColumns, IPV6 } from '../flow/flowColumns.js';
import type { EncodedMessage, FlowEncoder } from '../flow/flowEncoder.js';
import type { AzureContext } from '../flow/flowRecord.js';
import { formatMac, normalizeMac } from '../flow/mac.js';
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
import { type DomainState, MessagePacker, type ProtocolSpec, SET_HEADER_BYTES } from './packer.js';
import { CachedViewStrings, truncateUtf8 } from './viewStrings.js';
import { variableLengthSize, writeU16, writeU32, writeVariableLength } from './writers.js';

/** RFC 7011 section 3.1. */
export const IPFIX_VERSION = 10;
export const MESSAGE_HEADER_BYTES = 16;
const TEMPLATE_SET_ID = 2;
const OPTIONS_TEMPLATE_SET_ID = 3;

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

const MAX_INTERFACES_PER_DOMAIN = 4096;
/** Options-record key of a domain's own name (interface indexes are never negative). */
const DOMAIN_NAME_KEY = -1;

/** IPFIX's part of the message packer: a 16-byte header, sequence numbers counting data records. */
function ipfixSpec(templateSets: Buffer, templateRecords: number): ProtocolSpec {
  return {
    headerBytes: MESSAGE_HEADER_BYTES,
    setAlignment: 1,
    templateSets,
    templateRecords,
    writeHeader(bytes, message, nowMs) {
      writeMessageHeader(bytes, bytes.length, nowMs, message.domain.sequence, message.domain.id);
      // Sequence numbers count data records, not messages (RFC 7011 section 3.1), modulo 2^32.
      return message.domain.sequence + message.dataRecords;
    },
  };
}

/**
 * IPFIX (RFC 7011) encoder: flow records written from FlowColumns rows by a compiled row loop,
 * packed into messages by the shared MessagePacker. Pure: no sockets, clock or logging.
 */
export class IpfixEncoder implements FlowEncoder {
  readonly declined = new Map<string, number>();
  private flowRecords = 0;
  private readonly options: Required<IpfixEncoderOptions>;
  private readonly optionsTemplates: { interfaces: OptionsTemplate; domain: OptionsTemplate };
  private readonly strings: CachedViewStrings;
  private readonly rowLoop: RowLoop;
  private readonly maxStringBytes: number;
  // Read and called by the compiled row loop (compileRowLoop), which TypeScript does not see.
  /** @internal */ readonly packer: MessagePacker;
  /** @internal */ readonly blocks: ContextBlocks;

  constructor(options: IpfixEncoderOptions, emit: (message: EncodedMessage) => void) {
    this.options = { ...IPFIX_DEFAULTS, ...definedOnly(options) };
    const templates = flowTemplates(this.options.biflow, this.options.enterpriseNumber);
    this.optionsTemplates = optionsTemplates();
    const withOptions = this.options.optionsRecords;
    const templateSets = encodeTemplateSets(
      [templates.ipv4, templates.ipv6],
      withOptions ? [this.optionsTemplates.interfaces, this.optionsTemplates.domain] : [],
    );
    this.packer = new MessagePacker(ipfixSpec(templateSets, 2 + (withOptions ? 2 : 0)), this.options, emit);
    // Three strings share what is left of an empty message after the fixed part: cap each so any
    // record fits, whatever the configured size.
    const room =
      this.options.maxMessageSizeInBytes - MESSAGE_HEADER_BYTES - SET_HEADER_BYTES - Math.max(templates.ipv4.fixedLength, templates.ipv6.fixedLength);
    this.maxStringBytes = Math.min(254, Math.floor(room / 3) - 1);
    this.strings = new CachedViewStrings(this.maxStringBytes);
    // The IPv4 and IPv6 layouts share their context elements: one block serves both.
    this.blocks = new ContextBlocks(templates.ipv4, this.strings);
    this.rowLoop = compileRowLoop(templates, this.options.biflow === 'split', withOptions);
  }

  get counters(): { readonly flowRecords: number; readonly optionsRecords: number } {
    return { flowRecords: this.flowRecords, optionsRecords: this.packer.optionsRecords };
  }

  addRows(flows: FlowColumns, from: number, to: number, nowMs: number): void {
    this.flowRecords += this.rowLoop(this, this.packer, flows, from, to, nowMs);
  }

  reuseBuffers(): void {
    this.packer.reuseBuffers();
  }

  refreshTemplates(): void {
    this.packer.refreshTemplates();
  }

  flush(nowMs: number): void {
    this.packer.flush(nowMs);
  }

  /** @internal The domain of a flow of `context`, named after its NSG / flow log when it is new. */
  domainFor(id: number, context: AzureContext, nowMs: number): DomainState {
    if (!this.options.optionsRecords || !this.options.describeDomains) return this.packer.domainFor(id, nowMs);
    return this.packer.domainFor(id, nowMs, (domain) => {
      const name = truncateUtf8(Buffer.from(context.resourceId, 'utf8'), this.maxStringBytes * 2);
      const bytes = Buffer.alloc(4 + variableLengthSize(name));
      writeVariableLength(bytes, writeU32(bytes, 0, id), name);
      domain.options.set(DOMAIN_NAME_KEY, { setId: this.optionsTemplates.domain.id, bytes });
    });
  }

  /** @internal Names the NIC behind interface `index` with an options record (interfaceName = MAC). */
  announceInterface(domain: DomainState, index: number, context: AzureContext, nowMs: number): void {
    if (domain.options.size >= MAX_INTERFACES_PER_DOMAIN) return;
    const mac = normalizeMac(context.mac);
    const resourceName = context.resourceId.split('/').filter(Boolean).pop() ?? '';
    const name = this.strings.utf8(mac === '' ? `nic-${index}` : formatMac(mac));
    const description = this.strings.utf8(resourceName === '' ? 'Azure NIC' : `Azure NIC behind ${resourceName}`);
    const bytes = Buffer.alloc(4 + variableLengthSize(name) + variableLengthSize(description));
    writeVariableLength(bytes, writeVariableLength(bytes, writeU32(bytes, 0, index), name), description);
    this.packer.announce(domain, index, { setId: this.optionsTemplates.interfaces.id, bytes }, nowMs);
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
type RowLoop = (encoder: IpfixEncoder, packer: MessagePacker, flows: FlowColumns, from: number, to: number, nowMs: number) => number;

/**
 * The encoder's hot loop, compiled once per encoder from its templates: every record is written
 * field by field in place (recordStatements), without a call per record, and the message, domain
 * and context of the previous row are taken again whenever they still fit.
 */
function compileRowLoop(templates: FlowTemplates, split: boolean, optionsRecords: boolean): RowLoop {
  const variant = (template: FlowTemplate) => `
      const length = ${template.rowLength} + block.length;
      let open = p.open;
      if (open === undefined || open.domain !== domain || open.setId !== ${template.id} || open.offset + length > open.limit) open = p.reserve(domain, ${template.id}, length, nowMs);
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
          open = p.reserve(domain, ${template.id}, length, nowMs);
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
  const ipv6Row = compileWithHelpers<(p: MessagePacker, f: FlowColumns, i: number, domain: unknown, block: Uint8Array, nowMs: number) => number>(
    ['p', 'f', 'i', 'domain', 'block', 'nowMs'],
    `const s = f.starts[i], u = 0;
    ${rowLocals}
    let records = 0;
    ${variant(templates.ipv6)}
    return records;`,
  );
  const body = `
    return function rowLoop(encoder, p, f, from, to, nowMs) {
    const contexts = f.contexts, domains = f.domains, starts = f.starts, interfaces = f.interfaces, blocks = encoder.blocks;
    let records = 0;
    for (let i = from; i < to; i++) {
      const context = contexts[i];
      const domainId = domains[i];
      let domain = p.lastDomain;
      if (domain === undefined || domain.id !== domainId) domain = encoder.domainFor(domainId, context, nowMs);
      ${optionsRecords ? 'const nic = interfaces[i]; if (nic !== 0 && !domain.options.has(nic)) encoder.announceInterface(domain, nic, context, nowMs);' : ''}
      const block = blocks.blockFor(context);
      if ((f.flags[i] & ${IPV6}) !== 0) {
        records += ipv6Row(p, f, i, domain, block, nowMs);
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
