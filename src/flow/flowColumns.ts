import type { AzureContext, FlowDecision, FlowDirection, FlowLogKind, FlowRecord, FlowState } from './flowRecord.js';

/**
 * FlowRecords stored column by column in typed arrays: what the fast reader writes and the
 * pipeline reads, so a replay allocates nothing per tuple (a FlowRecord object and its address
 * arrays per tuple made the garbage collector the largest cost after parsing). `at(i)` loads row i
 * into one reused FlowRecord: read a flow, use it, move on; `recordAt(i)` makes a record to keep.
 */

export const KIND_CODES: Readonly<Record<FlowLogKind, number>> = { 'nsg-v1': 0, 'nsg-v2': 1, vnet: 2 };
/** State codes: 0 none (NSG v1), then B, C, E, D. */
export const STATE_CODES = { none: 0, begin: 1, continue: 2, end: 3, deny: 4 } as const;
/** Flag bits of a row. */
export const OUTBOUND = 1;
export const DENIED = 2;
export const IPV6 = 4;

const ADDRESS_BYTES = 32;
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

export class FlowColumns {
  length = 0;
  private capacity = 0;
  times = new Float64Array(0);
  /** packets forward, bytes forward, packets reverse, bytes reverse; NaN where Azure left it blank. */
  counts = new Float64Array(0);
  /** source port, destination port. */
  ports = new Uint16Array(0);
  /** Source address in bytes 0-15, destination in 16-31 (IPv4: the first 4 of each). */
  addresses = new Uint8Array(0);
  kinds = new Uint8Array(0);
  protocols = new Uint8Array(0);
  /** OUTBOUND | DENIED | IPV6. */
  flags = new Uint8Array(0);
  states = new Uint8Array(0);
  contexts: AzureContext[] = [];
  private readonly row = new ReusedFlowRecord();
  private readonly source4 = new Uint8Array(4);
  private readonly destination4 = new Uint8Array(4);
  private readonly source6 = new Uint8Array(16);
  private readonly destination6 = new Uint8Array(16);

  constructor(capacity = INITIAL_CAPACITY) {
    this.resize(capacity);
  }

  clear(): void {
    this.length = 0;
  }

  /** Makes room for one more row and returns its index; the caller fills every column. */
  addRow(): number {
    if (this.length === this.capacity) this.resize(Math.max(INITIAL_CAPACITY, this.capacity * 2));
    return this.length++;
  }

  append(record: FlowRecord): void {
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
    const a = i * ADDRESS_BYTES;
    this.addresses.set(record.sourceAddress, a);
    this.addresses.set(record.destinationAddress, a + 16);
    this.kinds[i] = KIND_CODES[record.kind];
    this.protocols[i] = record.protocol;
    this.flags[i] = (record.direction === 'outbound' ? OUTBOUND : 0) | (record.decision === 'deny' ? DENIED : 0) | (record.family === 6 ? IPV6 : 0);
    this.states[i] = record.state === undefined ? STATE_CODES.none : STATE_CODES[record.state];
    this.contexts[i] = record.azure;
  }

  /** Appends every row of `other` (a reader's output, about to be reused). */
  appendRows(other: FlowColumns): void {
    const n = other.length;
    if (n === 0) return;
    const at = this.length;
    let capacity = Math.max(INITIAL_CAPACITY, this.capacity);
    while (at + n > capacity) capacity *= 2;
    if (capacity !== this.capacity) this.resize(capacity);
    this.times.set(other.times.subarray(0, n), at);
    this.counts.set(other.counts.subarray(0, n * 4), at * 4);
    this.ports.set(other.ports.subarray(0, n * 2), at * 2);
    this.addresses.set(other.addresses.subarray(0, n * ADDRESS_BYTES), at * ADDRESS_BYTES);
    this.kinds.set(other.kinds.subarray(0, n), at);
    this.protocols.set(other.protocols.subarray(0, n), at);
    this.flags.set(other.flags.subarray(0, n), at);
    this.states.set(other.states.subarray(0, n), at);
    const contexts = this.contexts;
    const from = other.contexts;
    for (let k = 0; k < n; k++) contexts[at + k] = from[k]!;
    this.length = at + n;
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
    const addresses = this.addresses;
    const a = i * ADDRESS_BYTES;
    if ((flags & IPV6) === 0) {
      const source = this.source4;
      const destination = this.destination4;
      source[0] = addresses[a]!;
      source[1] = addresses[a + 1]!;
      source[2] = addresses[a + 2]!;
      source[3] = addresses[a + 3]!;
      destination[0] = addresses[a + 16]!;
      destination[1] = addresses[a + 17]!;
      destination[2] = addresses[a + 18]!;
      destination[3] = addresses[a + 19]!;
      row.family = 4;
      row.sourceAddress = source;
      row.destinationAddress = destination;
    } else {
      const source = this.source6;
      const destination = this.destination6;
      for (let k = 0; k < 16; k++) {
        source[k] = addresses[a + k]!;
        destination[k] = addresses[a + 16 + k]!;
      }
      row.family = 6;
      row.sourceAddress = source;
      row.destinationAddress = destination;
    }
    return row;
  }

  /** Row `i` as a FlowRecord of its own, to keep. */
  recordAt(i: number): FlowRecord {
    const row = this.at(i);
    if (row === undefined) throw new RangeError(`row ${i} of ${this.length}`);
    return { ...row, sourceAddress: row.sourceAddress.slice(), destinationAddress: row.destinationAddress.slice() };
  }

  private resize(capacity: number): void {
    const grow = <T extends Float64Array | Uint16Array | Uint8Array>(old: T, make: (n: number) => T, perRow: number): T => {
      const next = make(capacity * perRow);
      next.set(old.subarray(0, this.length * perRow));
      return next;
    };
    this.times = grow(this.times, (n) => new Float64Array(n), 1);
    this.counts = grow(this.counts, (n) => new Float64Array(n), 4);
    this.ports = grow(this.ports, (n) => new Uint16Array(n), 2);
    this.addresses = grow(this.addresses, (n) => new Uint8Array(n), ADDRESS_BYTES);
    this.kinds = grow(this.kinds, (n) => new Uint8Array(n), 1);
    this.protocols = grow(this.protocols, (n) => new Uint8Array(n), 1);
    this.flags = grow(this.flags, (n) => new Uint8Array(n), 1);
    this.states = grow(this.states, (n) => new Uint8Array(n), 1);
    this.capacity = capacity;
  }
}
