import { heapify, replaceRoot, siftDown } from './slotHeap.js';

/**
 * Counters keyed by a few 32-bit words (an address, an address pair, a port and protocol), for
 * the report's aggregation: exact while the keys fit, a Space-Saving summary past that.
 *
 * Keys are the address words of the FlowColumns rows, never strings: a string built and hashed per
 * tuple would cost more than parsing the tuple. The table is open addressing with linear probing,
 * and an entry (key words, key hash, weight, error, values) lies inline in its slot, so an update
 * touches one or two cache lines: with an index apart from the entries, and worse with an array
 * per field, cache misses made updates of a table of a quarter million keys several times
 * slower. Word 0 of every key must not be 0 (callers put a tag there: the address family, or 1);
 * a slot whose word 0 is 0 is empty.
 *
 * An entry's id is its slot. Slots move when the table grows and when Space-Saving removes an
 * entry (backward-shift deletion, no tombstones): `epoch` changes then, and a caller that keeps an
 * id between updates must check it.
 *
 * Each entry has a weight (the measure the report ranks by: bytes, packets or flows) and
 * `valueCount` further values the caller adds to directly: `data[id * stride + valueStart + k]`.
 *
 * Exact mode holds up to `maxKeys` distinct keys. The first new key past that switches the table
 * for good to Filtered Space-Saving (Homem and Carvalho, "Finding top-k elements in data streams",
 * 2010), Space-Saving (Metwally, Agrawal, El Abbadi, 2005) with a filter in front: it keeps
 * `maxKeys` entries, and an array of bucket counts `alpha` (by key hash) bounds the keys it does
 * not hold. A new key adds its weight to its bucket while that stays at or below the smallest
 * entry's weight; past that it takes the place of the smallest entry, with its bucket's count as
 * its `error` and bucket + weight as its weight, and the entry it evicts leaves its weight in its
 * own bucket. Invariants: for every key held, true weight <= weight <= true weight + error; for a
 * key not held, true weight <= its bucket <= the smallest weight held (`threshold`). Plain
 * Space-Saving replaces an entry for every new key; with the filter, keys seen once or twice with
 * little weight (most of a month of logs) only touch their bucket. The other values of an entry
 * only count the updates since the key last entered the table (lower bounds).
 */
export class WordKeyTable {
  /** The key of the next `add`: the caller writes its words here. */
  readonly key: Int32Array;
  /** Float64 slots per entry in `data`. */
  readonly stride: number;
  /** Where an entry's values start, from `id * stride`. */
  readonly valueStart: number;
  /** Entries in use. */
  size = 0;
  /** Changes whenever entries move: ids kept from before are stale. */
  epoch = 0;
  /** True once the table holds more keys than `maxKeys` would allow exactly. */
  approximate = false;
  /** Updates not stored once approximate: new keys of weight 0, and new keys whose weight went to their filter bucket. */
  droppedUpdates = 0;
  /** The slots: key words and hash (as int32, see `words`), weight, values. */
  data: Float64Array;
  /** `data` as int32 words (slot `id`'s key words start at `id * stride * 2`). */
  words: Int32Array;

  /** Where the weight lies from `id * stride` (after the key words and hash). */
  private readonly weightStart: number;
  /** The most slots the table grows to: at most MAX_FULL_LOAD full at `maxKeys` entries. */
  private readonly maxSlots: number;
  /** Space-Saving's error per slot, only once approximate (memory first touched costs time). */
  private errors: Float64Array | undefined;
  private mask: number;
  /** Space-Saving: a min-heap of slots by weight, and each slot's place in it (slotHeap.ts). */
  private heap: Int32Array | undefined;
  /** Filtered Space-Saving's bucket counts (see the class comment). */
  private alphas: Float64Array | undefined;
  /** The weights of the heap's entries, in heap order. */
  private heapWeights: Float64Array | undefined;
  private heapPlace: Int32Array | undefined;
  /** Staging tables only: the slots filled since the last drain, in order. */
  private filled: Int32Array | undefined;
  /** Staging tables only: scratch for the drain order. */
  private drainOrder: Float64Array | undefined;

  constructor(
    readonly keyWords: number,
    readonly valueCount: number,
    readonly maxKeys: number,
    initialSlots = 1024,
  ) {
    if (maxKeys < 1) throw new RangeError('maxKeys must be at least 1');
    this.key = new Int32Array(keyWords);
    this.weightStart = Math.ceil((keyWords + 1) / 2);
    this.valueStart = this.weightStart + 1;
    this.stride = this.valueStart + valueCount;
    this.maxSlots = powerOfTwoAtLeast(maxKeys / MAX_FULL_LOAD);
    const slots = Math.min(powerOfTwoAtLeast(initialSlots), this.maxSlots);
    this.data = new Float64Array(slots * this.stride);
    this.words = new Int32Array(this.data.buffer);
    this.mask = slots - 1;
  }

  /**
   * Adds `weight` to the entry of `key` and returns its id, for the caller to add its values to;
   * -1 when the update was not stored (a new key of weight 0 once approximate).
   */
  add(weight: number): number {
    return this.addHashed(this.hashKey(), weight);
  }

  /** `add`, for a key whose hash the caller has (a staging table hashes keys the same way). */
  private addHashed(hash: number, weight: number): number {
    const found = this.find(hash);
    if (found >= 0) {
      const data = this.data;
      const at = found * this.stride + this.weightStart;
      // The heap is not touched: its copy of this weight is now low, which settleRoot repairs
      // when (and only if) the entry reaches the root.
      data[at] = data[at]! + weight;
      return found;
    }
    if (this.size < this.maxKeys) {
      // Never reached once approximate: entries are only ever replaced, so the table stays full.
      if ((this.size + 1) * 2 > this.mask + 1 && this.mask + 1 < this.maxSlots) {
        this.grow();
        return this.fill(this.find(hash), hash, weight, 0);
      }
      return this.fill(found, hash, weight, 0);
    }
    if (!this.approximate) this.becomeApproximate();
    if (weight === 0) {
      this.droppedUpdates++;
      return -1;
    }
    this.settleRoot();
    const alphas = this.alphas!;
    const bucket = alphaBucket(hash);
    const alpha = alphas[bucket]!;
    if (alpha + weight <= this.weightOf(this.heap![0]!)) {
      alphas[bucket] = alpha + weight;
      this.droppedUpdates++;
      return -1;
    }
    return this.replaceSmallest(hash, weight, alpha);
  }

  /**
   * A small table of fixed size in front of a large one (see drainInto): it never grows and
   * remembers which slots it filled, so a drain visits and clears only those.
   */
  static staging(keyWords: number, valueCount: number, maxKeys: number): WordKeyTable {
    // The drain order packs an entry's index into 16 bits.
    if (maxKeys > 65_536) throw new RangeError('a staging table holds at most 65,536 keys');
    const table = new WordKeyTable(keyWords, valueCount, maxKeys, Infinity);
    table.filled = new Int32Array(maxKeys);
    return table;
  }

  /** Adds to the weight of entry `id` without a lookup (an id from `add`, same epoch, exact table). */
  addToWeight(id: number, weight: number): void {
    const data = this.data;
    const at = id * this.stride + this.weightStart;
    data[at] = data[at]! + weight;
  }

  weightOf(id: number): number {
    return this.data[id * this.stride + this.weightStart]!;
  }

  /** How much entry `id`'s weight may overstate the truth (0 while exact). */
  errorOf(id: number): number {
    return this.errors === undefined ? 0 : this.errors[id]!;
  }

  valueOf(id: number, k: number): number {
    return this.data[id * this.stride + this.valueStart + k]!;
  }

  /** Word `w` of entry `id`'s key. */
  keyWord(id: number, w: number): number {
    return this.words[id * this.stride * 2 + w]!;
  }

  /**
   * Adds every entry of this table (weight and values) to `target`, as `add` would one by one, and
   * empties this one. Used as a small staging table in front of a large one: repeated keys of a
   * batch (the same hosts and pairs minute after minute) then cost the large table one update.
   */
  drainInto(target: WordKeyTable): void {
    const words = this.words;
    const data = this.data;
    const stride = this.stride;
    const step = stride * 2;
    const key = target.key;
    const filled = this.filled!;
    const size = this.size;
    // In the order of their home slots in the target: the large table is then swept from start to
    // end instead of hit at random, which spares most cache and TLB misses.
    const order = (this.drainOrder ??= new Float64Array(this.maxKeys)).subarray(0, size);
    const targetMask = target.mask;
    for (let n = 0; n < size; n++) order[n] = (words[filled[n]! * step + this.keyWords]! & targetMask) * 65_536 + n;
    order.sort();
    for (let k = 0; k < size; k++) {
      const slot = filled[order[k]! % 65_536]!;
      const base = slot * step;
      for (let w = 0; w < this.keyWords; w++) key[w] = words[base + w]!;
      const id = target.addHashed(words[base + this.keyWords]!, data[slot * stride + this.weightStart]!);
      if (id >= 0) {
        const from = slot * stride + this.valueStart;
        const to = id * target.stride + target.valueStart;
        const values = target.data;
        for (let v = 0; v < this.valueCount; v++) values[to + v] = values[to + v]! + data[from + v]!;
      }
      data.fill(0, slot * stride, (slot + 1) * stride);
    }
    this.size = 0;
    this.epoch++;
  }

  /** The ids of all entries. */
  ids(): number[] {
    // Once approximate the table is full and its heap lists every entry: no scan of the slots.
    if (this.heap !== undefined) return Array.from(this.heap);
    const ids: number[] = [];
    const words = this.words;
    const step = this.stride * 2;
    for (let slot = 0; slot <= this.mask; slot++) if (words[slot * step] !== 0) ids.push(slot);
    return ids;
  }

  /** The smallest weight a key outside the table may have had (0 while exact). */
  get threshold(): number {
    if (this.heap === undefined || this.size === 0) return 0;
    this.settleRoot();
    return this.weightOf(this.heap[0]!);
  }

  /** The largest `error` of any entry. */
  get maxError(): number {
    let max = 0;
    // Errors exist only once approximate, and then the heap lists every entry.
    if (this.heap !== undefined) for (const id of this.heap) max = Math.max(max, this.errorOf(id));
    return max;
  }

  private hashKey(): number {
    const key = this.key;
    let h = 0x9747b28c;
    for (let w = 0; w < key.length; w++) {
      let k = Math.imul(key[w]!, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      h ^= Math.imul(k, 0x1b873593);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 16);
  }

  /** The slot holding `key`, or ~(the empty slot where it would go). */
  private find(hash: number): number {
    const words = this.words;
    const key = this.key;
    const keyWords = this.keyWords;
    const step = this.stride * 2;
    const mask = this.mask;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const base = slot * step;
      if (words[base] === 0) return ~slot;
      if (words[base + keyWords] !== hash) continue;
      let w = 0;
      while (w < keyWords && words[base + w] === key[w]) w++;
      if (w === keyWords) return slot;
    }
  }

  /** Puts `key` into the empty slot ~`free` with this weight and error; returns the slot. */
  private fill(free: number, hash: number, weight: number, error: number): number {
    const slot = ~free;
    const base = slot * this.stride * 2;
    this.words.set(this.key, base);
    this.words[base + this.keyWords] = hash;
    this.data[slot * this.stride + this.weightStart] = weight;
    if (this.errors !== undefined) this.errors[slot] = error;
    if (this.filled !== undefined) this.filled[this.size] = slot;
    this.size++;
    return slot;
  }

  private grow(): void {
    const old = this.data;
    const oldWords = this.words;
    const stride = this.stride;
    // Four times as many: every slot array is fresh memory whose pages cost time when first
    // touched (about 25 us a page on this project's VMs), so fewer, larger steps touch less in all.
    const slots = Math.min(this.maxSlots, (this.mask + 1) * 4);
    this.data = new Float64Array(slots * stride);
    this.words = new Int32Array(this.data.buffer);
    this.mask = slots - 1;
    this.epoch++;
    const words = this.words;
    const mask = this.mask;
    const step = stride * 2;
    for (let from = 0; from * stride < old.length; from++) {
      if (oldWords[from * step] === 0) continue;
      let to = oldWords[from * step + this.keyWords]! & mask;
      while (words[to * step] !== 0) to = (to + 1) & mask;
      // Word by word: key words read as a float64 may form a NaN, which need not survive a copy.
      for (let k = 0; k < step; k++) words[to * step + k] = oldWords[from * step + k]!;
    }
  }

  private becomeApproximate(): void {
    const ids = this.ids();
    this.approximate = true;
    this.heap = Int32Array.from(ids);
    this.heapWeights = Float64Array.from(ids, (id) => this.weightOf(id));
    this.heapPlace = new Int32Array(this.mask + 1);
    this.errors = new Float64Array(this.mask + 1);
    this.alphas = new Float64Array(ALPHA_BUCKETS);
    heapify(this.heap, this.heapWeights, this.heapPlace);
  }

  /** Space-Saving: the lightest entry gives its place to the new key, its weight becoming the error. */
  private replaceSmallest(hash: number, weight: number, alpha: number): number {
    const victim = this.heap![0]!;
    const floor = this.weightOf(victim);
    const victimBucket = alphaBucket(this.words[victim * this.stride * 2 + this.keyWords]!);
    this.alphas![victimBucket] = Math.max(this.alphas![victimBucket]!, floor);
    this.remove(victim);
    const slot = this.fill(this.find(hash), hash, alpha + weight, alpha);
    replaceRoot(this.heap!, this.heapWeights!, this.heapPlace!, slot, alpha + weight);
    return slot;
  }

  /** Empties `slot`, moving later entries of its probe run back (their heap places follow). */
  private remove(slot: number): void {
    const data = this.data;
    const words = this.words;
    const stride = this.stride;
    const step = stride * 2;
    const mask = this.mask;
    const heap = this.heap!;
    const where = this.heapPlace!;
    const errors = this.errors!;
    let hole = slot;
    for (let next = (hole + 1) & mask; words[next * step] !== 0; next = (next + 1) & mask) {
      const home = words[next * step + this.keyWords]! & mask;
      // The entry at `next` stays when its home slot lies cyclically in (hole, next].
      const stays = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (stays) continue;
      data.copyWithin(hole * stride, next * stride, (next + 1) * stride);
      errors[hole] = errors[next]!;
      const place = where[next]!;
      heap[place] = hole;
      where[hole] = place;
      hole = next;
    }
    data.fill(0, hole * stride, (hole + 1) * stride);
    errors[hole] = 0;
    this.size--;
    this.epoch++;
  }

  /**
   * Makes the root the entry of smallest weight. Weights only grow, and the heap keeps the weight
   * each entry had when it was last placed: every copy is at most the entry's weight, so a root
   * whose copy is current is the true minimum; a stale root is re-placed with its weight, and the
   * next one looked at. Updates of monitored keys (most of them) then cost the heap nothing.
   */
  private settleRoot(): void {
    const heap = this.heap!;
    const weights = this.heapWeights!;
    for (;;) {
      const weight = this.weightOf(heap[0]!);
      if (weights[0] === weight) return;
      weights[0] = weight;
      siftDown(heap, weights, this.heapPlace!, 0);
    }
  }
}

/**
 * Slots are at most half full. At three quarters (tried, to fit more keys in the same memory) the
 * probe runs grew long enough that Space-Saving's replacements, each a removal that shifts the run
 * back and an insertion that walks one, cost a third more in a long approximate report.
 */
const MAX_FULL_LOAD = 0.5;

/** Filter buckets: 512 KB of counts, within the CPU caches. */
const ALPHA_BUCKETS = 1 << 16;

/** A key's filter bucket, from other bits of its hash than its slot's. */
function alphaBucket(hash: number): number {
  return (hash >>> 16) ^ (hash & 0xffff);
}

function powerOfTwoAtLeast(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}
