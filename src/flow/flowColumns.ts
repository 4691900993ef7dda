import type { AzureContext, FlowDecision, FlowDirection, FlowLogKind, FlowRecord, FlowState } from './flowRecord.js';
import type { NamedEntity } from './interfaceNames.js';

/**
 * Flows stored column by column in typed arrays: what every source yields, the enrich stage
 * completes and the encoders read. A replay allocates nothing per tuple: a FlowRecord object and
 * its address arrays per tuple made the garbage collector the largest cost after parsing, and
 * reading typed arrays row by row lets the encoders write records with a few word stores each.
 *
 * `at(i)` loads row i into one reused FlowRecord (read a flow, use it, move on); `recordAt(i)`
 * makes a record to keep. Both are for tests and the rare consumer that wants objects.
 */

export const KIND_CODES: Readonly<Record<FlowLogKind, number>> = { 'nsg-v1': 0, 'nsg-v2': 1, vnet: 2 };
/** State codes: 0 none (NSG v1), then B, C, E, D. */
export const STATE_CODES = { none: 0, begin: 1, continue: 2, end: 3, deny: 4 } as const;
/** Flag bits of a row. */
export const OUTBOUND = 1;
export const DENIED = 2;
export const IPV6 = 4;

/** Address words per row: source in 0-3, destination in 4-7 (IPv4: words 0 and 4 only). */
export const ADDRESS_WORDS = 8;
const INITIAL_CAPACITY = 1024;

/**
 * The record `at` rewrites for every row. Fields start with a value of the kind they will hold
 * (timeMs a non-integer number): a field V8 first sees as a small integer and then gets an epoch
 * millisecond sent `at` into a deoptimization loop.
 */
class ReusedFlowRecord implements FlowRecord {
  kind: FlowLogKind = 'nsg-v2';
  timeMs = NaN;
  family: 4 | 6 = 4;
  sourceAddress: Uint8Array = new Uint8Array(4);
  destinationAddress: Uint8Array = new Uint8Array(4);
  sourcePort = 0;
  destinationPort = 0;
  protocol = 0;
  direction: FlowDirection = 'inbound';
  decision: FlowDecision = 'allow';
  state: FlowState | undefined = undefined;
  packetsForward: number | undefined = undefined;
  bytesForward: number | undefined = undefined;
  packetsReverse: number | undefined = undefined;
  bytesReverse: number | undefined = undefined;
  azure: AzureContext = { rule: '', mac: '', resourceId: '', aclId: '', encryption: '', flowLogGuid: '' };
}

/**
 * The columns of a row, defined here once: FlowColumns, the exporting thread's batch buffers and
 * their views all follow from this table. Order matters for batch buffers (8-byte columns first,
 * so every column is aligned).
 */
const COLUMNS = {
  /** Tuple time, epoch ms: the flow's end on the wire. */
  times: { type: Float64Array, perRow: 1 },
  /** Flow start, epoch ms (enrich stage). */
  starts: { type: Float64Array, perRow: 1 },
  /** packets forward, bytes forward, packets reverse, bytes reverse; NaN where Azure left it blank. */
  counts: { type: Float64Array, perRow: 4 },
  /** Addresses as big-endian 32-bit words (see ADDRESS_WORDS). */
  addresses: { type: Int32Array, perRow: ADDRESS_WORDS },
  /** IPFIX observation domain / NetFlow source id (enrich stage). */
  domains: { type: Uint32Array, perRow: 1 },
  /** The NIC's interface index: ingress for inbound traffic, egress for outbound (enrich stage). */
  interfaces: { type: Uint32Array, perRow: 1 },
  /** source port, destination port. */
  ports: { type: Uint16Array, perRow: 2 },
  /** KIND_CODES. */
  kinds: { type: Uint8Array, perRow: 1 },
  protocols: { type: Uint8Array, perRow: 1 },
  /** OUTBOUND | DENIED | IPV6. */
  flags: { type: Uint8Array, perRow: 1 },
  /** STATE_CODES. */
  states: { type: Uint8Array, perRow: 1 },
} as const;

export type ColumnName = keyof typeof COLUMNS;
/** The typed-array columns of FlowColumns, one entry per COLUMNS row. */
export type ColumnArrays = { -readonly [K in ColumnName]: ArrayOf<(typeof COLUMNS)[K]['type']> };
type ArrayOf<T> = T extends Float64ArrayConstructor
  ? Float64Array
  : T extends Int32ArrayConstructor
    ? Int32Array
    : T extends Uint32ArrayConstructor
      ? Uint32Array
      : T extends Uint16ArrayConstructor
        ? Uint16Array
        : Uint8Array;
export const COLUMN_NAMES = Object.keys(COLUMNS) as readonly ColumnName[];

/** Elements per row and bytes per element of a column. */
export function columnShape(name: ColumnName): { readonly perRow: number; readonly bytesPerElement: number } {
  const column = COLUMNS[name];
  return { perRow: column.perRow, bytesPerElement: column.type.BYTES_PER_ELEMENT };
}

/** A column of `rows` rows, over `buffer` at `byteOffset` or newly allocated. */
export function makeColumn<K extends ColumnName>(name: K, rows: number, buffer?: ArrayBuffer, byteOffset = 0): ColumnArrays[K] {
  const { type, perRow } = COLUMNS[name];
  return (buffer === undefined ? new type(rows * perRow) : new type(buffer, byteOffset, rows * perRow)) as ColumnArrays[K];
}

export class FlowColumns implements ColumnArrays {
  length = 0;
  private capacity = 0;
  // The typed-array columns (see COLUMNS), declared with a value of their type: V8 then knows each
  // field's kind in the hot loops that read them.
  times: Float64Array = new Float64Array(0);
  starts: Float64Array = new Float64Array(0);
  counts: Float64Array = new Float64Array(0);
  addresses: Int32Array = new Int32Array(0);
  domains: Uint32Array = new Uint32Array(0);
  interfaces: Uint32Array = new Uint32Array(0);
  ports: Uint16Array = new Uint16Array(0);
  kinds: Uint8Array = new Uint8Array(0);
  protocols: Uint8Array = new Uint8Array(0);
  flags: Uint8Array = new Uint8Array(0);
  states: Uint8Array = new Uint8Array(0);
  contexts: AzureContext[] = [];
  /**
   * The named endpoints of each row (enrich stage, when names are configured; undefined: unknown),
   * as the source and destination of the flow Azure logged.
   */
  sourceEntities: (NamedEntity | undefined)[] = [];
  destinationEntities: (NamedEntity | undefined)[] = [];

  private readonly row = new ReusedFlowRecord();
  private readonly source4 = new Uint8Array(4);
  private readonly destination4 = new Uint8Array(4);
  private readonly source6 = new Uint8Array(16);
  private readonly destination6 = new Uint8Array(16);

  constructor(capacity = INITIAL_CAPACITY) {
    this.resize(Math.max(1, capacity));
  }

  clear(): void {
    this.length = 0;
  }

  /**
   * Makes `arrays` these columns, holding `length` rows (the export thread reads a batch buffer
   * this way, without a copy). Contexts are the caller's to fill.
   */
  adopt(arrays: ColumnArrays, length: number): void {
    const columns = this as unknown as Record<ColumnName, unknown>;
    for (const name of COLUMN_NAMES) columns[name] = arrays[name];
    this.capacity = arrays.times.length;
    if (length > this.capacity) throw new RangeError(`${length} rows in columns of ${this.capacity}`);
    this.length = length;
  }

  /** Drops the rows from `length` on (a record the fast reader gave up on). */
  truncate(length: number): void {
    if (length < this.length) this.length = length;
  }

  /** Makes room for one more row and returns its index; the caller fills every column. */
  addRow(): number {
    if (this.length === this.capacity) this.resize(this.capacity * 2);
    return this.length++;
  }

  append(record: FlowRecord): void {
    const family = record.family;
    if (record.sourceAddress.length !== (family === 4 ? 4 : 16) || record.destinationAddress.length !== record.sourceAddress.length) {
      throw new RangeError(`an IPv${family} flow needs ${family === 4 ? 4 : 16}-byte addresses`);
    }
    const i = this.addRow();
    this.times[i] = record.timeMs;
    const c = i * 4;
    const counts = this.counts;
    counts[c] = record.packetsForward ?? NaN;
    counts[c + 1] = record.bytesForward ?? NaN;
    counts[c + 2] = record.packetsReverse ?? NaN;
    counts[c + 3] = record.bytesReverse ?? NaN;
    this.ports[i * 2] = record.sourcePort;
    this.ports[i * 2 + 1] = record.destinationPort;
    const a = i * ADDRESS_WORDS;
    const words = family === 4 ? 1 : 4;
    for (let w = 0; w < words; w++) {
      this.addresses[a + w] = wordAt(record.sourceAddress, w * 4);
      this.addresses[a + 4 + w] = wordAt(record.destinationAddress, w * 4);
    }
    this.kinds[i] = KIND_CODES[record.kind];
    this.protocols[i] = record.protocol;
    this.flags[i] = (record.direction === 'outbound' ? OUTBOUND : 0) | (record.decision === 'deny' ? DENIED : 0) | (family === 6 ? IPV6 : 0);
    this.states[i] = record.state === undefined ? STATE_CODES.none : STATE_CODES[record.state];
    this.contexts[i] = record.azure;
    this.sourceEntities[i] = undefined;
    this.destinationEntities[i] = undefined;
  }

  /** Appends every row of `other` (gathering small batches into one send). */
  appendAll(other: FlowColumns): void {
    const from = this.length;
    const total = from + other.length;
    if (total > this.capacity) this.resize(Math.max(total, this.capacity * 2));
    const columns = this as unknown as Record<ColumnName, Float64Array>;
    const source = other as unknown as Record<ColumnName, Float64Array>;
    for (const name of COLUMN_NAMES) {
      const perRow = COLUMNS[name].perRow;
      columns[name].set(source[name].subarray(0, other.length * perRow), from * perRow);
    }
    for (let i = 0; i < other.length; i++) {
      this.contexts[from + i] = other.contexts[i]!;
      this.sourceEntities[from + i] = other.sourceEntities[i];
      this.destinationEntities[from + i] = other.destinationEntities[i];
    }
    this.length = total;
  }

  /** Keeps only the rows whose tuple time is at or after `timeMs`, in order. */
  dropBefore(timeMs: number): void {
    let kept = 0;
    for (let i = 0; i < this.length; i++) {
      if (this.times[i]! < timeMs) continue;
      if (kept !== i) this.moveRow(i, kept);
      kept++;
    }
    this.length = kept;
  }

  /** Keeps only the rows whose `keep` entry is not 0, in order. */
  keepRows(keep: Uint8Array): void {
    let kept = 0;
    for (let i = 0; i < this.length; i++) {
      if (keep[i] === 0) continue;
      if (kept !== i) this.moveRow(i, kept);
      kept++;
    }
    this.length = kept;
  }

  /** Row `i` as a FlowRecord: the same object every call, valid until the next. */
  at(i: number): FlowRecord | undefined {
    if (i < 0 || i >= this.length) return undefined;
    const row = this.row;
    const flags = this.flags[i]!;
    // Conditionals, not lookups in constant arrays: those sent `at` into a deoptimization loop.
    const kind = this.kinds[i]!;
    row.kind = kind === 1 ? 'nsg-v2' : kind === 2 ? 'vnet' : 'nsg-v1';
    row.timeMs = this.times[i]!;
    row.protocol = this.protocols[i]!;
    row.direction = (flags & OUTBOUND) === 0 ? 'inbound' : 'outbound';
    row.decision = (flags & DENIED) === 0 ? 'allow' : 'deny';
    const state = this.states[i]!;
    row.state = state === 1 ? 'begin' : state === 2 ? 'continue' : state === 3 ? 'end' : state === 4 ? 'deny' : undefined;
    const counts = this.counts;
    const c = i * 4;
    const packetsForward = counts[c]!;
    const bytesForward = counts[c + 1]!;
    const packetsReverse = counts[c + 2]!;
    const bytesReverse = counts[c + 3]!;
    // x === x is false only for NaN: a blank count.
    row.packetsForward = packetsForward === packetsForward ? packetsForward : undefined;
    row.bytesForward = bytesForward === bytesForward ? bytesForward : undefined;
    row.packetsReverse = packetsReverse === packetsReverse ? packetsReverse : undefined;
    row.bytesReverse = bytesReverse === bytesReverse ? bytesReverse : undefined;
    row.sourcePort = this.ports[i * 2]!;
    row.destinationPort = this.ports[i * 2 + 1]!;
    row.azure = this.contexts[i]!;
    const a = i * ADDRESS_WORDS;
    const v6 = (flags & IPV6) !== 0;
    const source = v6 ? this.source6 : this.source4;
    const destination = v6 ? this.destination6 : this.destination4;
    const words = v6 ? 4 : 1;
    for (let w = 0; w < words; w++) {
      putWord(source, w * 4, this.addresses[a + w]!);
      putWord(destination, w * 4, this.addresses[a + 4 + w]!);
    }
    row.family = v6 ? 6 : 4;
    row.sourceAddress = source;
    row.destinationAddress = destination;
    return row;
  }

  /** Row `i` as a FlowRecord of its own, to keep. */
  recordAt(i: number): FlowRecord {
    const row = this.at(i);
    if (row === undefined) throw new RangeError(`row ${i} of ${this.length}`);
    return { ...row, sourceAddress: row.sourceAddress.slice(), destinationAddress: row.destinationAddress.slice() };
  }

  private moveRow(from: number, to: number): void {
    for (const name of COLUMN_NAMES) {
      const perRow = COLUMNS[name].perRow;
      this[name].copyWithin(to * perRow, from * perRow, from * perRow + perRow);
    }
    this.contexts[to] = this.contexts[from]!;
    this.sourceEntities[to] = this.sourceEntities[from];
    this.destinationEntities[to] = this.destinationEntities[from];
  }

  private resize(capacity: number): void {
    const keep = this.length;
    const columns = this as unknown as Record<ColumnName, Float64Array>;
    for (const name of COLUMN_NAMES) {
      const next = makeColumn(name, capacity) as Float64Array;
      next.set(columns[name].subarray(0, keep * COLUMNS[name].perRow));
      columns[name] = next;
    }
    this.capacity = capacity;
  }
}

/** Four bytes from `offset` as one big-endian word. */
function wordAt(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
}

function putWord(bytes: Uint8Array, offset: number, word: number): void {
  bytes[offset] = word >>> 24;
  bytes[offset + 1] = word >>> 16;
  bytes[offset + 2] = word >>> 8;
  bytes[offset + 3] = word;
}
