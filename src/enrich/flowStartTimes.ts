import type { AzureContext, FlowRecord } from '../flow/flowRecord.js';

/** Default bound of the flow table: about 32 bytes an entry (two half-full tables of 16-byte slots), so 8 MB when full. */
export const DEFAULT_FLOW_TABLE_SIZE = 262_144;

/**
 * Gives each tuple a flow start time. Azure tuples carry one timestamp, and the counts of a C or
 * E tuple are deltas since the same flow's previous tuple, so the honest interval for those
 * counts is [previous tuple time, this tuple time]. A flow the table has not seen (first tuple,
 * forgotten, or the exporter started mid-flow) starts at its tuple time.
 *
 * Bounded by two generations instead of an exact LRU: new entries go to the young table; when it
 * holds half the bound, it becomes the old one and the previous old one is dropped. Flows seen
 * again are copied forward, so only flows idle for a whole generation are forgotten, and no
 * per-tuple delete/re-insert is needed. End and deny tuples close the flow.
 *
 * A flow is (NIC, protocol, source address, source port, destination address, destination port).
 * The key is packed into 32-bit words, hashed twice, and the tables are open-addressing hash tables over typed
 * arrays: no key string and no Map entry is allocated per tuple (this stage used to cost more than
 * parsing the tuple).
 */
export class FlowStartTimes {
  private young = new FlowTable();
  private old = new FlowTable();
  private readonly generationSize: number;
  /** The last tuple's AzureContext and its NIC number: consecutive tuples share their context. */
  private lastAzure: AzureContext | undefined;
  private lastNic = 0;

  constructor(maxFlows = DEFAULT_FLOW_TABLE_SIZE) {
    this.generationSize = Math.max(1, Math.floor(maxFlows / 2));
  }

  get size(): number {
    return this.young.count + this.old.count;
  }

  startFor(flow: FlowRecord): number {
    const azure = flow.azure;
    let nic: number;
    if (azure === this.lastAzure) nic = this.lastNic;
    else {
      nic = nicId(azure);
      this.lastAzure = azure;
      this.lastNic = nic;
    }
    const hash = packKey(flow, nic);
    const timeMs = flow.timeMs;
    const young = this.young;
    let previous = 0;
    let found = false;
    const inYoung = young.find(hash);
    if (inYoung >= 0) {
      previous = young.valueAt(inYoung);
      found = true;
    } else {
      const old = this.old;
      const inOld = old.find(hash);
      if (inOld >= 0) {
        previous = old.valueAt(inOld);
        found = true;
        old.removeAt(inOld);
      }
    }
    const start = found && previous <= timeMs ? previous : timeMs;
    if (flow.state === 'end' || flow.decision === 'deny') {
      if (inYoung >= 0) young.removeAt(inYoung);
      return start;
    }
    if (inYoung >= 0) {
      young.setValueAt(inYoung, timeMs);
      return start;
    }
    if (!found && young.count >= this.generationSize) {
      const dropped = this.old;
      this.old = young;
      dropped.clear();
      this.young = dropped;
    }
    this.young.insert(hash, timeMs);
    return start;
  }
}

/**
 * Flows are per NIC (resource id + MAC). Each rule group's AzureContext object is shared by its
 * tuples, so the NIC's number is looked up once per context, not built as a string per tuple.
 */
const nicIdByContext = new WeakMap<AzureContext, number>();
const nicIdByName = new Map<string, number>();
let nextNicId = 1;

function nicId(azure: AzureContext): number {
  let id = nicIdByContext.get(azure);
  if (id === undefined) {
    const name = `${azure.resourceId}|${azure.mac}`;
    id = nicIdByName.get(name);
    if (id === undefined) {
      if (nicIdByName.size >= 1_000_000) nicIdByName.clear();
      // A counter, not the map's size: numbers handed out before a clear are never reused.
      id = nextNicId++;
      nicIdByName.set(name, id);
    }
    nicIdByContext.set(azure, id);
  }
  return id;
}

/**
 * Key layout, 11 words: NIC, protocol | source length << 8 | destination length << 16, source
 * port << 16 | destination port, source word 0, destination word 0, source words 1-3,
 * destination words 1-3. Addresses of up to 4 bytes (IPv4) need only the first 5 words.
 */
const KEY_WORDS = 11;
const SHORT_KEY_WORDS = 5;
/** Marks a key of a flow whose fields are not the usual numbers (see oddKeyId). */
const ODD_KEY = -1;
// Int32, not Uint32: words above 2^31 would leave the small-integer range and cost a heap number.
const key = new Int32Array(KEY_WORDS);
/** Whether the packed key uses all 11 words (an address longer than 4 bytes). */
let longKey = false;
/** Set by packKey: a second, independent hash of the key (see FlowTable). */
let secondHash = 0;

/** Packs the flow into `key` and returns its hash (never 0: 0 marks an empty slot); sets secondHash. */
function packKey(flow: FlowRecord, nic: number): number {
  const protocol = flow.protocol;
  const sourcePort = flow.sourcePort;
  const destinationPort = flow.destinationPort;
  const source = flow.sourceAddress;
  const destination = flow.destinationAddress;
  const k = key;
  k[0] = nic;
  if (
    protocol >>> 0 === protocol && protocol <= 0xff &&
    sourcePort >>> 0 === sourcePort && sourcePort <= 0xffff &&
    destinationPort >>> 0 === destinationPort && destinationPort <= 0xffff &&
    source.length <= 16 && destination.length <= 16
  ) {
    k[1] = protocol | (source.length << 8) | (destination.length << 16);
    k[2] = (sourcePort << 16) | destinationPort;
    longKey = source.length > 4 || destination.length > 4;
    if (!longKey) {
      k[3] = word(source, 0);
      k[4] = word(destination, 0);
      k[5] = k[6] = k[7] = k[8] = k[9] = k[10] = 0;
    } else {
      k[3] = word(source, 0);
      k[4] = word(destination, 0);
      k[5] = word(source, 4);
      k[6] = word(source, 8);
      k[7] = word(source, 12);
      k[8] = word(destination, 4);
      k[9] = word(destination, 8);
      k[10] = word(destination, 12);
    }
  } else {
    longKey = false;
    k[1] = ODD_KEY;
    k[2] = oddKeyId(flow, nic);
    k[3] = k[4] = k[5] = k[6] = k[7] = k[8] = k[9] = k[10] = 0;
  }
  const words = longKey ? KEY_WORDS : SHORT_KEY_WORDS;
  let h = 0x9747b28c;
  let g = 0x1b873593;
  for (let i = 0; i < words; i++) {
    h = mix(h, k[i]!);
    g = mix(g, k[i]! ^ 0x5bd1e995);
  }
  secondHash = finish(g);
  h = finish(h);
  return h === 0 ? 1 : h;
}

function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Four address bytes from `offset` as one word, missing bytes as 0. */
function word(bytes: Uint8Array, offset: number): number {
  if (offset + 4 <= bytes.length) {
    return (bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
  }
  let value = 0;
  for (let i = 0; i < 4; i++) value = (value << 8) | (offset + i < bytes.length ? bytes[offset + i]! : 0);
  return value | 0;
}

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/**
 * Flows whose protocol or ports are not small whole numbers, or whose addresses are longer than
 * 16 bytes, never come out of the Azure readers; they are keyed by the text key this table used to
 * build for every flow, numbered here.
 */
const oddKeyIds = new Map<string, number>();
let nextOddKeyId = 1;

function oddKeyId(flow: FlowRecord, nic: number): number {
  const text = `${nic}|${String(flow.protocol)}|${textAddress(flow.sourceAddress)}|${String(flow.sourcePort)}|${textAddress(flow.destinationAddress)}|${String(flow.destinationPort)}`;
  let id = oddKeyIds.get(text);
  if (id === undefined) {
    if (oddKeyIds.size >= 1_000_000) oddKeyIds.clear();
    id = nextOddKeyId++ | 0;
    oddKeyIds.set(text, id);
  }
  return id;
}

function textAddress(bytes: Uint8Array): string {
  let text = `${bytes.length}:`;
  for (let i = 0; i < bytes.length; i++) text += `${bytes[i]},`;
  return text;
}

const INITIAL_CAPACITY = 1024;
/** Per slot: hash, second hash (int32 each), value (float64): 16 bytes, four slots a cache line. */
const SLOT_INTS = 4;

/**
 * Open addressing with linear probing; deletion shifts the following entries back (no
 * tombstones), so probe sequences stay short however many flows come and go.
 *
 * A slot keeps two independent 32-bit hashes of the key, not the key: 16 bytes instead of 60, so
 * a table of a quarter million flows fits the CPU cache far better and a lookup costs one cache
 * miss, not three (this table was the slowest stage after parsing). Two different flows agree on
 * both hashes with a probability of about 2^-64 per comparison; the price would be one flow start
 * time taken from another flow.
 */
class FlowTable {
  count = 0;
  private mask = INITIAL_CAPACITY - 1;
  private slots = new Int32Array(INITIAL_CAPACITY * SLOT_INTS);
  private values = new Float64Array(this.slots.buffer);

  /** Slot of the key whose hashes are `hash` and secondHash, or -1. */
  find(hash: number): number {
    const slots = this.slots;
    const mask = this.mask;
    const second = secondHash;
    let slot = hash & mask;
    for (;;) {
      const base = slot * SLOT_INTS;
      const h = slots[base]!;
      if (h === 0) return -1;
      if (h === hash && slots[base + 1] === second) return slot;
      slot = (slot + 1) & mask;
    }
  }

  valueAt(slot: number): number {
    return this.values[slot * 2 + 1]!;
  }

  setValueAt(slot: number, value: number): void {
    this.values[slot * 2 + 1] = value;
  }

  /** Adds the key whose hashes are `hash` and secondHash, known to be absent. */
  insert(hash: number, value: number): void {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    const slots = this.slots;
    const mask = this.mask;
    let slot = hash & mask;
    while (slots[slot * SLOT_INTS] !== 0) slot = (slot + 1) & mask;
    slots[slot * SLOT_INTS] = hash;
    slots[slot * SLOT_INTS + 1] = secondHash;
    this.values[slot * 2 + 1] = value;
    this.count++;
  }

  removeAt(slot: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let hole = slot;
    let next = slot;
    for (;;) {
      next = (next + 1) & mask;
      const h = slots[next * SLOT_INTS]!;
      if (h === 0) break;
      const home = h & mask;
      // The entry at `next` may move into the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      slots.copyWithin(hole * SLOT_INTS, next * SLOT_INTS, next * SLOT_INTS + SLOT_INTS);
      hole = next;
    }
    slots[hole * SLOT_INTS] = 0;
    this.count--;
  }

  clear(): void {
    this.slots.fill(0);
    this.count = 0;
  }

  private grow(): void {
    const old = this.slots;
    const capacity = (this.mask + 1) * 2;
    const slots = new Int32Array(capacity * SLOT_INTS);
    const mask = capacity - 1;
    for (let base = 0; base < old.length; base += SLOT_INTS) {
      const h = old[base]!;
      if (h === 0) continue;
      let slot = h & mask;
      while (slots[slot * SLOT_INTS] !== 0) slot = (slot + 1) & mask;
      slots.set(old.subarray(base, base + SLOT_INTS), slot * SLOT_INTS);
    }
    this.slots = slots;
    this.values = new Float64Array(slots.buffer);
    this.mask = mask;
  }
}
