import type { FlowColumns } from '../flow/flowColumns.js';
import type { EncodedMessage, FlowEncoder } from '../flow/flowEncoder.js';
import { MessageBuffers } from './messageBuffers.js';
import { writeU16 } from './writers.js';

/**
 * Messages of IPFIX (RFC 7011) and NetFlow v9 (RFC 3954) are packed the same way, here: per
 * observation domain (v9: source id) a sequence number and template state; templates in messages
 * of their own ahead of any data that needs them, three times when a domain first appears and again
 * on a timer or after so many data messages (a collector may have restarted); options records
 * (interface and domain names) remembered per domain and sent again after each template refresh;
 * records packed into sets until the next would not fit the message. Each protocol is a small spec
 * (ipfixSpec in encoder.ts, netflow9Spec in ../netflow/v9.ts): its header, how its sequence
 * advances, and its set padding. Pure: the clock comes in as `nowMs`, messages go out via `emit`.
 */

/** RFC 7011 section 3.3.2 / RFC 3954 section 5.2: a set (flowset) header is an id and a length. */
export const SET_HEADER_BYTES = 4;

/** Smallest message size we accept: go-ipfix's floor, enough for any record we write. */
export const MIN_MESSAGE_BYTES = 512;
/** The largest message: both length fields are 16 bits. */
export const MAX_MESSAGE_BYTES = 65_535;

/** One template record and the set (flowset) it belongs in: 2 / 3 in IPFIX, 0 / 1 in NetFlow v9. */
export interface TemplateRecord {
  readonly setId: number;
  readonly bytes: Uint8Array;
}

/** Options records about one thing (a NIC, a domain), each written into a set of its template. */
export interface OptionsRecord {
  readonly parts: readonly { readonly setId: number; readonly bytes: Uint8Array }[];
  /** What the records describe (a named NIC): records of another owner replace them. */
  readonly owner?: object;
}

/** Per observation domain: RFC 7011 scopes templates and sequence numbers by domain. */
export interface DomainState {
  readonly id: number;
  /** The sequence number the next message of this domain carries. */
  sequence: number;
  dataMessagesSinceTemplates: number;
  templatesSentAtMs: number;
  /** Options records announced in this domain, by key (an interface index...), in order. */
  readonly options: Map<number, OptionsRecord>;
}

/** A message being filled, at slab offsets (see MessageBuffers). */
export interface OpenMessage {
  readonly buf: Buffer;
  readonly view: DataView;
  readonly domain: DomainState;
  /** Where the message starts in `buf`. */
  readonly start: number;
  /** Where it may end at most. */
  readonly limit: number;
  offset: number;
  /** Records of every kind (the v9 header's count). */
  records: number;
  /** Flow and options data records (what IPFIX sequence numbers count). */
  dataRecords: number;
  /** Flow records only. */
  flows: number;
  /** Template id of the set being filled, or -1. */
  setId: number;
  setStart: number;
}

/** A message header to write, with what the protocol's sequence rule needs. */
export interface MessageSummary {
  readonly domain: DomainState;
  readonly records: number;
  readonly dataRecords: number;
}

/** What differs between IPFIX and NetFlow v9. */
export interface ProtocolSpec {
  readonly headerBytes: number;
  /** Sets are padded to a multiple of this many bytes (v9: 4; IPFIX: 1, no padding). */
  readonly setAlignment: number;
  /** Every template, in the order collectors should learn them; packed into as few messages as fit. */
  readonly templates: readonly TemplateRecord[];
  /**
   * Writes the header of the finished message `bytes` and returns the domain's next sequence
   * number (IPFIX counts data records, v9 counts messages).
   */
  writeHeader(bytes: Buffer, message: MessageSummary, nowMs: number): number;
  /** A data message opens (v9 starts its uptime clock). */
  opened?(nowMs: number): void;
}

export interface PackerOptions {
  readonly maxMessageSizeInBytes: number;
  /** Templates are re-sent when this much time passed since the last send... */
  readonly templateRefreshIntervalMs: number;
  /** ...or when this many data messages went out in the domain since. */
  readonly templateRefreshPackets: number;
  /** Template messages sent back to back when a domain first appears. */
  readonly templateRepeatsAtStart: number;
}

const MAX_DOMAINS = 65_536;
const MAX_OPTIONS_PER_DOMAIN = 4096;
/** Options-record key of a domain's own name (interface indexes are never negative). */
export const DOMAIN_KEY = -1;

export class MessagePacker {
  /** The message being filled, if any. */
  open: OpenMessage | undefined;
  /** The domain of the previous record: consecutive records nearly always share one. */
  lastDomain: DomainState | undefined;
  private readonly domains = new Map<number, DomainState>();
  private readonly buffers: MessageBuffers;
  private readonly maxMessageBytes: number;
  /** The template messages (their sets, after the header), built once. */
  private readonly templateMessages: readonly { readonly sets: Buffer; readonly records: number }[];
  /** Set while a domain's options records are re-sent: the messages they fill must not call for templates again. */
  private resendingOptions = false;
  /** Options records written, re-sends included. */
  optionsRecords = 0;

  constructor(
    private readonly spec: ProtocolSpec,
    private readonly options: PackerOptions,
    private readonly emit: (message: EncodedMessage) => void,
  ) {
    const size = options.maxMessageSizeInBytes;
    if (!Number.isInteger(size) || size < MIN_MESSAGE_BYTES || size > MAX_MESSAGE_BYTES) {
      throw new RangeError(`maximum message size must be ${MIN_MESSAGE_BYTES}..${MAX_MESSAGE_BYTES} bytes, got ${size}`);
    }
    this.maxMessageBytes = size;
    this.buffers = new MessageBuffers(size);
    this.templateMessages = packTemplates(spec, size);
  }

  /**
   * The state of domain `id`; a new domain gets its templates at once, after `describe` named it
   * (options records registered there follow the templates).
   */
  domainFor(id: number, nowMs: number, describe?: (domain: DomainState) => void): DomainState {
    const last = this.lastDomain;
    if (last !== undefined && last.id === id) return last;
    let domain = this.domains.get(id);
    if (domain === undefined) {
      if (this.domains.size >= MAX_DOMAINS) this.domains.clear();
      domain = { id, sequence: 0, dataMessagesSinceTemplates: 0, templatesSentAtMs: nowMs, options: new Map() };
      this.domains.set(id, domain);
      describe?.(domain);
      this.sendTemplates(domain, nowMs, this.options.templateRepeatsAtStart);
    }
    this.lastDomain = domain;
    return domain;
  }

  /** Sends templates again before the next data of every domain. */
  refreshTemplates(): void {
    for (const domain of this.domains.values()) domain.templatesSentAtMs = -Infinity;
  }

  /** Every message emitted so far was copied out: their bytes may be written over. */
  reuseBuffers(): void {
    this.buffers.reuse();
  }

  /**
   * Whether the thing `key` names (a NIC) must be announced in the domain: it never was, or it now
   * has another owner (a NIC enrichment named since). An unknown owner never replaces a known one,
   * and a domain announces at most MAX_OPTIONS_PER_DOMAIN things.
   */
  shouldAnnounce(domain: DomainState, key: number, owner: object | undefined): boolean {
    const known = domain.options.get(key);
    // The domain's own name (a negative key) is not one of the things counted.
    if (known === undefined) return key < 0 || domain.options.size - (domain.options.has(DOMAIN_KEY) ? 1 : 0) < MAX_OPTIONS_PER_DOMAIN;
    return owner !== undefined && known.owner !== owner;
  }

  /** Remembers an options record of the domain (sent again with every template refresh) and sends it now. */
  announce(domain: DomainState, key: number, record: OptionsRecord, nowMs: number): void {
    domain.options.set(key, record);
    this.appendOptionsRecord(domain, record, nowMs);
  }

  /** Emits the partly filled message, if any. */
  flush(nowMs: number): void {
    const open = this.open;
    if (open === undefined) return;
    this.open = undefined;
    this.closeSet(open);
    const domain = open.domain;
    const bytes = this.buffers.finish(open.offset - open.start);
    domain.sequence = this.spec.writeHeader(bytes, open, nowMs) >>> 0;
    domain.dataMessagesSinceTemplates++;
    this.emit({ bytes, observationDomainId: domain.id, dataRecords: open.dataRecords, templateRecords: 0 });
  }

  /** Makes room for one record of `length` bytes in a set of `setId`, starting a message or set as needed. */
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
      open ??= this.openMessage(domain, nowMs);
    }
    if (open.setId !== setId) {
      this.closeSet(open);
      open.setId = setId;
      open.setStart = open.offset;
      writeU16(open.buf, open.offset, setId);
      open.offset += SET_HEADER_BYTES;
    }
    if (open.offset + length > open.limit) throw new RangeError(`a ${length}-byte record cannot fit a ${this.maxMessageBytes}-byte message`);
    return open;
  }

  private openMessage(domain: DomainState, nowMs: number): OpenMessage {
    const buffers = this.buffers;
    buffers.take();
    const start = buffers.start;
    // A literal of one shape, not a spread: the row loops read this object for every record.
    const open: OpenMessage = {
      buf: buffers.slab,
      view: buffers.view,
      domain,
      start,
      limit: start + this.maxMessageBytes,
      offset: start + this.spec.headerBytes,
      records: 0,
      dataRecords: 0,
      flows: 0,
      setId: -1,
      setStart: 0,
    };
    this.open = open;
    this.spec.opened?.(nowMs);
    return open;
  }

  /** Worst case: a new set header, and padding to the set alignment after this record. */
  private fits(message: OpenMessage, domain: DomainState, setId: number, length: number): boolean {
    return (
      message.domain === domain && message.offset + length + (message.setId === setId ? 0 : SET_HEADER_BYTES) + (this.spec.setAlignment - 1) <= message.limit
    );
  }

  /** Pads the set to the protocol's alignment (RFC 3954 section 5.3; the length includes the padding). */
  private closeSet(open: OpenMessage): void {
    if (open.setId < 0) return;
    const alignment = this.spec.setAlignment;
    while ((open.offset - open.setStart) % alignment !== 0) open.buf[open.offset++] = 0;
    writeU16(open.buf, open.setStart + 2, open.offset - open.setStart);
    open.setId = -1;
  }

  private templatesDue(domain: DomainState, nowMs: number): boolean {
    return (
      !this.resendingOptions &&
      (domain.dataMessagesSinceTemplates >= this.options.templateRefreshPackets || nowMs - domain.templatesSentAtMs >= this.options.templateRefreshIntervalMs)
    );
  }

  /**
   * Templates travel in messages of their own, ahead of any data that needs them; the domain's
   * options records follow in the next data message.
   */
  private sendTemplates(domain: DomainState, nowMs: number, copies: number): void {
    this.flush(nowMs);
    const spec = this.spec;
    for (let i = 0; i < copies; i++) {
      for (const message of this.templateMessages) {
        const bytes = Buffer.allocUnsafe(spec.headerBytes + message.sets.length);
        message.sets.copy(bytes, spec.headerBytes);
        domain.sequence = spec.writeHeader(bytes, { domain, records: message.records, dataRecords: 0 }, nowMs) >>> 0;
        this.emit({ bytes, observationDomainId: domain.id, dataRecords: 0, templateRecords: message.records });
      }
    }
    domain.templatesSentAtMs = nowMs;
    // A domain with more options than fit between two refreshes must not refresh while re-sending them.
    this.resendingOptions = true;
    try {
      for (const record of domain.options.values()) this.appendOptionsRecord(domain, record, nowMs);
    } finally {
      this.resendingOptions = false;
    }
    domain.dataMessagesSinceTemplates = 0;
  }

  private appendOptionsRecord(domain: DomainState, record: OptionsRecord, nowMs: number): void {
    for (const part of record.parts) {
      const open = this.reserve(domain, part.setId, part.bytes.length, nowMs);
      open.buf.set(part.bytes, open.offset);
      open.offset += part.bytes.length;
      open.records++;
      open.dataRecords++;
      this.optionsRecords++;
    }
  }
}

/**
 * The templates in as few messages of at most `maxMessageBytes` as they fit: consecutive records of
 * one set id share a set, padded to the protocol's alignment. With all the names and options
 * templates they pass 512 bytes, the smallest message size accepted.
 */
function packTemplates(spec: ProtocolSpec, maxMessageBytes: number): { sets: Buffer; records: number }[] {
  const pad = (length: number) => length + ((spec.setAlignment - (length % spec.setAlignment)) % spec.setAlignment);
  const groups: TemplateRecord[][] = [];
  let group: TemplateRecord[] = [];
  const setsLength = (records: readonly TemplateRecord[]): number => {
    let length = 0;
    let set = 0;
    for (let i = 0; i < records.length; i++) {
      if (i === 0 || records[i]!.setId !== records[i - 1]!.setId) {
        length += pad(set);
        set = SET_HEADER_BYTES;
      }
      set += records[i]!.bytes.length;
    }
    return length + pad(set);
  };
  for (const record of spec.templates) {
    if (spec.headerBytes + setsLength([record]) > maxMessageBytes)
      throw new RangeError(`a template of ${record.bytes.length} bytes cannot fit a ${maxMessageBytes}-byte message`);
    if (group.length > 0 && spec.headerBytes + setsLength([...group, record]) > maxMessageBytes) {
      groups.push(group);
      group = [];
    }
    group.push(record);
  }
  if (group.length > 0) groups.push(group);
  return groups.map((records) => {
    const sets = Buffer.alloc(setsLength(records));
    let offset = 0;
    let setStart = 0;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (i === 0 || record.setId !== records[i - 1]!.setId) {
        if (i > 0) {
          offset = pad(offset - setStart) + setStart;
          writeU16(sets, setStart + 2, offset - setStart);
        }
        setStart = offset;
        writeU16(sets, offset, record.setId);
        offset += SET_HEADER_BYTES;
      }
      sets.set(record.bytes, offset);
      offset += record.bytes.length;
    }
    offset = pad(offset - setStart) + setStart;
    writeU16(sets, setStart + 2, offset - setStart);
    return { sets, records: records.length };
  });
}

/** What the IPFIX and NetFlow v9 encoders share around their packer: the FlowEncoder plumbing. */
export abstract class PackedEncoder implements FlowEncoder {
  readonly declined = new Map<string, number>();
  /** Flow data records written (a split biflow tuple counts twice). */
  protected flowRecords = 0;

  protected constructor(readonly packer: MessagePacker) {}

  abstract addRows(flows: FlowColumns, from: number, to: number, nowMs: number): void;

  get counters(): { readonly flowRecords: number; readonly optionsRecords: number } {
    return { flowRecords: this.flowRecords, optionsRecords: this.packer.optionsRecords };
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
}
