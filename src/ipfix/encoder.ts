import { type FlowColumns, IPV6, OUTBOUND } from '../flow/flowColumns.js';
import type { EncodedMessage } from '../flow/flowEncoder.js';
import type { AzureContext } from '../flow/flowRecord.js';
import { interfaceLabels, type NamedEntity, type NameEncoding } from '../flow/interfaceNames.js';
import { DEFAULT_ENTERPRISE_NUMBER, type InformationElement } from './informationElements.js';
import { BlockCache } from './blockCache.js';
import { INTERFACE_DESCRIPTION_BYTES, optionsTemplates, type OptionsTemplate } from './optionsTemplates.js';
import { compileWithHelpers, flowTemplates, type FlowTemplate, type FlowTemplates, recordStatements, rowLocals } from './templates.js';
import { DOMAIN_KEY, type DomainState, MessagePacker, PackedEncoder, type ProtocolSpec, SET_HEADER_BYTES, type TemplateRecord } from './packer.js';
import { CachedViewStrings, truncateUtf8 } from './viewStrings.js';
import { fieldSpecifierSize, variableLengthSize, writeFieldSpecifier, writeU16, writeU32, writeVariableLength } from './writers.js';

/** RFC 7011 section 3.1. */
export const IPFIX_VERSION = 10;
export const MESSAGE_HEADER_BYTES = 16;
const TEMPLATE_SET_ID = 2;
const OPTIONS_TEMPLATE_SET_ID = 3;
/** The longest string written with a one-byte length (RFC 7011 section 7: 255 announces a 3-byte length). */
const MAX_ONE_BYTE_LENGTH = 254;
/** Azure resource ids stay well below this; a message has room for more, a collector's column may not. */
const MAX_DOMAIN_NAME_BYTES = 1024;

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
  /** Names of both endpoints in every data record (enrichment); none by default. */
  readonly names?: NameEncoding;
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
} as const satisfies Required<Omit<IpfixEncoderOptions, 'names'>>;

/** IPFIX's part of the message packer: a 16-byte header, sequence numbers counting data records. */
function ipfixSpec(templates: readonly TemplateRecord[]): ProtocolSpec {
  return {
    headerBytes: MESSAGE_HEADER_BYTES,
    setAlignment: 1,
    templates,
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
export class IpfixEncoder extends PackedEncoder {
  private readonly options: Required<Omit<IpfixEncoderOptions, 'names'>>;
  private readonly optionsTemplates: ReturnType<typeof optionsTemplates>;
  private readonly strings: CachedViewStrings;
  private readonly rowLoop: RowLoop;
  private readonly domainNameBytes: number;
  // Read and called by the compiled row loop (compileRowLoop), which TypeScript does not see.
  /** @internal */ readonly blocks: BlockCache<AzureContext>;
  /** @internal */ readonly nameBlocks: BlockCache<NamedEntity>;

  constructor(options: IpfixEncoderOptions, emit: (message: EncodedMessage) => void) {
    const resolved = { ...IPFIX_DEFAULTS, ...definedOnly(options) };
    const names = options.names;
    const templates = flowTemplates(resolved.biflow, resolved.enterpriseNumber, names);
    const optionTemplates = optionsTemplates();
    const withOptions = resolved.optionsRecords;
    const records = templateRecords(
      [templates.ipv4, templates.ipv6],
      withOptions ? [optionTemplates.descriptions, optionTemplates.names, optionTemplates.domain] : [],
    );
    super(new MessagePacker(ipfixSpec(records), resolved, emit));
    this.options = resolved;
    this.optionsTemplates = optionTemplates;
    // The strings share what is left of an empty message after the fixed part, so any record fits
    // whatever the configured size: the context's strings and each endpoint's names get a budget in
    // proportion to their number, which the longest of them give way to (fitStrings).
    const maxMessage = this.options.maxMessageSizeInBytes;
    const room = maxMessage - MESSAGE_HEADER_BYTES - SET_HEADER_BYTES - Math.max(templates.ipv4.fixedLength, templates.ipv6.fixedLength);
    // The IPv4 and IPv6 layouts share their context and name elements: one block serves both.
    const template = templates.ipv4;
    const share = Math.floor(room / template.variableFields);
    const contextBudget = share * template.contextStrings;
    const namesBudget = share * (names?.fields.length ?? 0);
    this.strings = new CachedViewStrings(MAX_ONE_BYTE_LENGTH);
    // An options record's string has a message to itself: the domain's name (a resource id) whole.
    this.domainNameBytes = Math.min(MAX_DOMAIN_NAME_BYTES, maxMessage - MESSAGE_HEADER_BYTES - SET_HEADER_BYTES - 4 - 3);
    this.blocks = new BlockCache((context: AzureContext) => template.contextBlock(context, this.strings, contextBudget));
    this.nameBlocks = new BlockCache(
      (entity: NamedEntity) => template.namesBlock(entity, this.strings, namesBudget),
      template.namesBlock(undefined, this.strings, namesBudget),
    );
    this.rowLoop = compileRowLoop(templates, this.options.biflow === 'split', withOptions, names !== undefined);
  }

  addRows(flows: FlowColumns, from: number, to: number, nowMs: number): void {
    this.flowRecords += this.rowLoop(this, this.packer, flows, from, to, nowMs);
  }

  /** @internal The domain of a flow of `context`, named after its NSG / flow log when it is new. */
  domainFor(id: number, context: AzureContext, nowMs: number): DomainState {
    if (!this.options.optionsRecords || !this.options.describeDomains) return this.packer.domainFor(id, nowMs);
    return this.packer.domainFor(id, nowMs, (domain) => {
      const name = truncateUtf8(Buffer.from(context.resourceId, 'utf8'), this.domainNameBytes);
      const bytes = Buffer.alloc(4 + variableLengthSize(name));
      writeVariableLength(bytes, writeU32(bytes, 0, id), name);
      domain.options.set(DOMAIN_KEY, { parts: [{ setId: this.optionsTemplates.domain.id, bytes }] });
    });
  }

  /** @internal Names the NIC behind interface `index` with options records (interfaceLabels). */
  announceInterface(domain: DomainState, index: number, context: AzureContext, local: NamedEntity | undefined, nowMs: number): void {
    const labels = interfaceLabels(index, context.mac, context.resourceId, local?.names);
    // observationDomainId, ingressInterface, interfaceDescription (fixed length, zero-padded).
    const description = Buffer.alloc(8 + INTERFACE_DESCRIPTION_BYTES);
    writeU32(description, writeU32(description, 0, domain.id), index);
    description.set(truncateUtf8(Buffer.from(labels.description, 'utf8'), INTERFACE_DESCRIPTION_BYTES - 1), 8);
    const name = this.strings.utf8(labels.name);
    const named = Buffer.alloc(4 + variableLengthSize(name));
    writeVariableLength(named, writeU32(named, 0, index), name);
    const parts = [
      { setId: this.optionsTemplates.descriptions.id, bytes: description },
      { setId: this.optionsTemplates.names.id, bytes: named },
    ];
    this.packer.announce(domain, index, { parts, ...(local === undefined ? {} : { owner: local }) }, nowMs);
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

/** The data templates (set 2) and the options templates (set 3) as template records. */
export function templateRecords(dataTemplates: readonly FlowTemplate[], options: readonly OptionsTemplate[]): TemplateRecord[] {
  const record = (setId: number, header: readonly number[], fields: readonly { readonly element: InformationElement }[]): TemplateRecord => {
    const bytes = Buffer.alloc(2 * header.length + fields.reduce((sum, f) => sum + fieldSpecifierSize(f.element), 0));
    let offset = 0;
    for (const value of header) offset = writeU16(bytes, offset, value);
    for (const field of fields) offset = writeFieldSpecifier(bytes, offset, field.element);
    return { setId, bytes };
  };
  return [
    ...dataTemplates.map((t) => record(TEMPLATE_SET_ID, [t.id, t.fields.length], t.fields)),
    ...options.map((t) => record(OPTIONS_TEMPLATE_SET_ID, [t.id, t.scope.length + t.fields.length, t.scope.length], [...t.scope, ...t.fields])),
  ];
}

/** Adds rows [from, to) to the encoder's messages; returns the records written. */
type RowLoop = (encoder: IpfixEncoder, packer: MessagePacker, flows: FlowColumns, from: number, to: number, nowMs: number) => number;

/**
 * The encoder's hot loop, compiled once per encoder from its templates: every record is written
 * field by field in place (recordStatements), without a call per record, and the message, domain
 * and context of the previous row are taken again whenever they still fit.
 */
function compileRowLoop(templates: FlowTemplates, split: boolean, optionsRecords: boolean, named: boolean): RowLoop {
  const variant = (template: FlowTemplate) => `
      const length = ${template.rowLength} + block.length${named ? ' + sb.length + db.length' : ''};
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
  const ipv6Row = compileWithHelpers<
    (p: MessagePacker, f: FlowColumns, i: number, domain: unknown, block: Uint8Array, sb: Uint8Array, db: Uint8Array, nowMs: number) => number
  >(
    ['p', 'f', 'i', 'domain', 'block', 'sb', 'db', 'nowMs'],
    `const s = f.starts[i], u = 0;
    ${rowLocals}
    let records = 0;
    ${variant(templates.ipv6)}
    return records;`,
  );
  const body = `
    return function rowLoop(encoder, p, f, from, to, nowMs) {
    const contexts = f.contexts, domains = f.domains, starts = f.starts, interfaces = f.interfaces, blocks = encoder.blocks, nameBlocks = encoder.nameBlocks;
    const sources = f.sourceEntities, destinations = f.destinationEntities;
    let records = 0;
    for (let i = from; i < to; i++) {
      const context = contexts[i];
      const domainId = domains[i];
      let domain = p.lastDomain;
      if (domain === undefined || domain.id !== domainId) domain = encoder.domainFor(domainId, context, nowMs);
      ${
        optionsRecords
          ? `const nic = interfaces[i];
      if (nic !== 0) {
        const local = ${named ? `(f.flags[i] & ${OUTBOUND}) !== 0 ? sources[i] : destinations[i]` : 'undefined'};
        if (p.shouldAnnounce(domain, nic, local)) encoder.announceInterface(domain, nic, context, local, nowMs);
      }`
          : ''
      }
      const block = blocks.blockFor(context);
      ${named ? 'const sb = nameBlocks.blockFor(sources[i]), db = nameBlocks.blockFor(destinations[i]);' : 'const sb = block, db = block;'}
      if ((f.flags[i] & ${IPV6}) !== 0) {
        records += ipv6Row(p, f, i, domain, block, sb, db, nowMs);
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
