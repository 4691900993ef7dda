import { ADDRESS_WORDS, DENIED, FlowColumns, IPV6, STATE_CODES } from '../flow/flowColumns.js';
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
 * The key is read from the row's columns as 32-bit words, hashed twice, and the tables are
 * open-addressing hash tables over typed arrays: no key string and no Map entry is allocated per
 * tuple (this stage used to cost more than parsing the tuple).
 */
export class FlowStartTimes {
  private young = new FlowTable();
  private old = new FlowTable();
  private readonly generationSize: number;
  /** The last row's AzureContext and its NIC number: consecutive rows share their context. */
  private lastAzure: AzureContext | undefined;
  private lastNic = 0;
  private single: FlowColumns | undefined;

  constructor(maxFlows = DEFAULT_FLOW_TABLE_SIZE) {
    this.generationSize = Math.max(1, Math.floor(maxFlows / 2));
  }

  get size(): number {
    return this.young.count + this.old.count;
  }

  /** Writes the start of rows [from, to) of `flows` into `flows.starts`, in order. */
  fill(flows: FlowColumns, from: number, to: number): void {
    const { contexts, flags, states, times, ports, protocols, addresses, starts } = flows;
    for (let i = from; i < to; i++) {
      const azure = contexts[i]!;
      let nic = this.lastNic;
      if (azure !== this.lastAzure) {
        nic = nicId(azure);
        this.lastAzure = azure;
        this.lastNic = nic;
      }
      const rowFlags = flags[i]!;
      const a = i * ADDRESS_WORDS;
      const portPair = (ports[i * 2]! << 16) | ports[i * 2 + 1]!;
      // Word 1 keeps the address lengths the key of a FlowRecord had (4 or 16 bytes each).
      const ipv6 = (rowFlags & IPV6) !== 0;
      const shape = protocols[i]! | (ipv6 ? LONG_ADDRESSES : SHORT_ADDRESSES);
      const h = keyHash(SEED_1, 0, nic, shape, portPair, addresses, a, ipv6);
      const g = keyHash(SEED_2, SALT, nic, shape, portPair, addresses, a, ipv6);
      starts[i] = this.startOf(h === 0 ? 1 : h, g, times[i]!, states[i] === STATE_CODES.end || (rowFlags & DENIED) !== 0);
    }
  }

  /** The start of one flow, as fill gives it (tests, and callers with a single record). */
  startFor(flow: FlowRecord): number {
    const single = (this.single ??= new FlowColumns(1));
    single.clear();
    single.append(flow);
    this.fill(single, 0, 1);
    return single.starts[0]!;
  }

  /** The table step for one flow whose key hashes to `hash` and `second`: its start time. */
  private startOf(hash: number, second: number, timeMs: number, closes: boolean): number {
    const young = this.young;
    let previous = 0;
    let found = false;
    const inYoung = young.find(hash, second);
    if (inYoung >= 0) {
      previous = young.valueAt(inYoung);
      found = true;
    } else {
      const old = this.old;
      const inOld = old.find(hash, second);
      if (inOld >= 0) {
        previous = old.valueAt(inOld);
        found = true;
        old.removeAt(inOld);
      }
    }
    const start = found && previous <= timeMs ? previous : timeMs;
    if (closes) {
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
    this.young.insert(hash, second, timeMs);
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
 * A flow's key is (NIC, protocol and address lengths, ports, source and destination address
 * words), hashed twice with independent seeds (see FlowTable).
 */
const SHORT_ADDRESSES = (4 << 8) | (4 << 16);
const LONG_ADDRESSES = (16 << 8) | (16 << 16);
const SEED_1 = 0x9747b28c;
const SEED_2 = 0x1b873593;
const SALT = 0x5bd1e995;

function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * One of the key's two hashes (`salt` 0 or SALT tells which), from the row's words. One call per
 * hash: the mixing steps are inlined here, where a call per step from fill (too big for TurboFan to
 * inline them into) cost more than the hashing itself.
 */
function keyHash(seed: number, salt: number, nic: number, shape: number, portPair: number, addresses: Int32Array, a: number, ipv6: boolean): number {
  let h = mix(mix(mix(mix(mix(seed, nic ^ salt), shape ^ salt), portPair ^ salt), addresses[a]! ^ salt), addresses[a + 4]! ^ salt);
  if (ipv6) {
    for (let w = 1; w < 4; w++) h = mix(h, addresses[a + w]! ^ salt);
    for (let w = 5; w < 8; w++) h = mix(h, addresses[a + w]! ^ salt);
  }
  return finish(h);
}

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
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

  /** Slot of the key whose hashes are `hash` and `second`, or -1. */
  find(hash: number, second: number): number {
    const slots = this.slots;
    const mask = this.mask;
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

  /** Adds the key whose hashes are `hash` and `second`, known to be absent. */
  insert(hash: number, second: number, value: number): void {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    const slots = this.slots;
    const mask = this.mask;
    let slot = hash & mask;
    while (slots[slot * SLOT_INTS] !== 0) slot = (slot + 1) & mask;
    slots[slot * SLOT_INTS] = hash;
    slots[slot * SLOT_INTS + 1] = second;
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
