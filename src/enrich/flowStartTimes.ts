import type { AzureContext, FlowRecord } from '../flow/flowRecord.js';

/** Default bound of the flow table: about 100 bytes an entry, so roughly 25 MB when full. */
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
 * The key is packed into 32-bit words and the tables are open-addressing hash tables over typed
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
      previous = young.values[inYoung]!;
      found = true;
    } else {
      const old = this.old;
      const inOld = old.find(hash);
      if (inOld >= 0) {
        previous = old.values[inOld]!;
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
      young.values[inYoung] = timeMs;
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

/** Packs the flow into `key` and returns its hash (never 0: 0 marks an empty slot). */
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
  let h = mix(0x9747b28c, k[0]!);
  h = mix(h, k[1]!);
  h = mix(h, k[2]!);
  h = mix(h, k[3]!);
  h = mix(h, k[4]!);
  if (longKey) {
    for (let i = SHORT_KEY_WORDS; i < KEY_WORDS; i++) h = mix(h, k[i]!);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h === 0 ? 1 : h;
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

/**
 * Open addressing with linear probing over typed arrays; deletion shifts the following entries
 * back (no tombstones), so probe sequences stay short however many flows come and go.
 */
class FlowTable {
  count = 0;
  private mask = INITIAL_CAPACITY - 1;
  /** The key's hash per slot, 0 when empty. */
  private hashes = new Int32Array(INITIAL_CAPACITY);
  private keys = new Int32Array(INITIAL_CAPACITY * KEY_WORDS);
  values = new Float64Array(INITIAL_CAPACITY);

  /** Slot of the key packed in `key`, or -1. */
  find(hash: number): number {
    const hashes = this.hashes;
    const keys = this.keys;
    const mask = this.mask;
    const k = key;
    const long = longKey;
    let slot = hash & mask;
    for (;;) {
      const h = hashes[slot]!;
      if (h === 0) return -1;
      if (h === hash) {
        const base = slot * KEY_WORDS;
        if (
          keys[base] === k[0] &&
          keys[base + 1] === k[1] &&
          keys[base + 2] === k[2] &&
          keys[base + 3] === k[3] &&
          keys[base + 4] === k[4] &&
          (!long || sameTail(keys, base))
        ) {
          return slot;
        }
      }
      slot = (slot + 1) & mask;
    }
  }

  /** Adds the key packed in `key`, known to be absent. */
  insert(hash: number, value: number): void {
    if ((this.count + 1) * 2 > this.hashes.length) this.grow();
    const hashes = this.hashes;
    const mask = this.mask;
    let slot = hash & mask;
    while (hashes[slot] !== 0) slot = (slot + 1) & mask;
    hashes[slot] = hash;
    this.keys.set(key, slot * KEY_WORDS);
    this.values[slot] = value;
    this.count++;
  }

  removeAt(slot: number): void {
    const hashes = this.hashes;
    const keys = this.keys;
    const values = this.values;
    const mask = this.mask;
    let hole = slot;
    let next = slot;
    for (;;) {
      next = (next + 1) & mask;
      const h = hashes[next]!;
      if (h === 0) break;
      const home = h & mask;
      // The entry at `next` may move into the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      hashes[hole] = h;
      keys.copyWithin(hole * KEY_WORDS, next * KEY_WORDS, next * KEY_WORDS + KEY_WORDS);
      values[hole] = values[next]!;
      hole = next;
    }
    hashes[hole] = 0;
    this.count--;
  }

  clear(): void {
    this.hashes.fill(0);
    this.count = 0;
  }

  private grow(): void {
    const oldHashes = this.hashes;
    const oldKeys = this.keys;
    const oldValues = this.values;
    const capacity = oldHashes.length * 2;
    const hashes = new Int32Array(capacity);
    const keys = new Int32Array(capacity * KEY_WORDS);
    const values = new Float64Array(capacity);
    const mask = capacity - 1;
    for (let i = 0; i < oldHashes.length; i++) {
      const h = oldHashes[i]!;
      if (h === 0) continue;
      let slot = h & mask;
      while (hashes[slot] !== 0) slot = (slot + 1) & mask;
      hashes[slot] = h;
      keys.set(oldKeys.subarray(i * KEY_WORDS, i * KEY_WORDS + KEY_WORDS), slot * KEY_WORDS);
      values[slot] = oldValues[i]!;
    }
    this.hashes = hashes;
    this.keys = keys;
    this.values = values;
    this.mask = mask;
  }
}

function sameTail(keys: Int32Array, base: number): boolean {
  const k = key;
  for (let i = SHORT_KEY_WORDS; i < KEY_WORDS; i++) if (keys[base + i] !== k[i]) return false;
  return true;
}
