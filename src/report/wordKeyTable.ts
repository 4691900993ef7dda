/**
 * Counters keyed by a few 32-bit words (an address, an address pair, a port and protocol), for
 * the report's aggregation: exact while the keys fit, a Space-Saving summary past that.
 *
 * Keys are the address words of the FlowColumns rows, never strings: a string built and hashed per
 * tuple would cost more than parsing the tuple. Entries live in arrays indexed by entry id; an
 * open-addressing index (linear probing, the key's hash beside each id) finds them. Word 0 of
 * every key must not be 0 (callers put a tag there: the address family, or 1).
 *
 * Each entry has a weight (the measure the report ranks by: bytes, packets or flows) and
 * `valueCount` further values the caller adds to directly (`values[id * valueCount + k]`).
 *
 * Exact mode holds up to `maxKeys` distinct keys. The first new key past that switches the table
 * for good to Space-Saving (Metwally, Agrawal, El Abbadi, "Efficient computation of frequent and
 * top-k elements in data streams", 2005), which keeps `maxKeys` entries: a new key takes the place
 * of the entry with the smallest weight and inherits that weight as its `error`. For every key
 * monitored, true weight <= weight <= true weight + error; a key not monitored has a true weight of
 * at most the smallest monitored weight (`threshold`), which is at most total weight / maxKeys, so
 * every key heavier than that is in the table. The other values of an entry only count the
 * updates since the key last entered the table (lower bounds).
 */
export class WordKeyTable {
  /** The key of the next `add`: the caller writes its words here. */
  readonly key: Int32Array;
  /** Entries in use: ids 0 .. size - 1. */
  size = 0;
  /** True once the table holds more keys than `maxKeys` would allow exactly. */
  approximate = false;
  /** Weight of updates not stored (new zero-weight keys once approximate: they change no weight). */
  droppedUpdates = 0;
  keys: Int32Array;
  /** Each entry's key hash (to find its index slot when Space-Saving replaces it). */
  hashes: Int32Array;
  weights: Float64Array;
  /** Overstatement bound of each weight (Space-Saving); all 0 while exact. */
  errors: Float64Array;
  values: Float64Array;

  private capacity: number;
  /** Per index slot: hash, entry id + 1 (0 = empty). */
  private index: Int32Array;
  private indexMask: number;
  /** Space-Saving: a min-heap of entry ids by weight, and each id's place in it. */
  private heap: Int32Array | undefined;
  private heapPlace: Int32Array | undefined;

  constructor(
    readonly keyWords: number,
    readonly valueCount: number,
    readonly maxKeys: number,
    initialCapacity = 256,
  ) {
    if (maxKeys < 1) throw new RangeError('maxKeys must be at least 1');
    this.key = new Int32Array(keyWords);
    this.capacity = Math.min(maxKeys, Math.max(1, initialCapacity));
    this.keys = new Int32Array(this.capacity * keyWords);
    this.hashes = new Int32Array(this.capacity);
    this.weights = new Float64Array(this.capacity);
    this.errors = new Float64Array(this.capacity);
    this.values = new Float64Array(this.capacity * valueCount);
    const slots = indexSlotsFor(this.capacity);
    this.index = new Int32Array(slots * 2);
    this.indexMask = slots - 1;
  }

  /**
   * Adds `weight` to the entry of `key` and returns its id, for the caller to add its values to;
   * -1 when the update was not stored (a new key of weight 0 once approximate).
   */
  add(weight: number): number {
    const hash = this.hashKey();
    let id = this.find(hash);
    if (id >= 0) {
      const weights = this.weights;
      weights[id] = weights[id]! + weight;
      if (this.heap !== undefined && weight !== 0) this.siftDown(this.heapPlace![id]!);
      return id;
    }
    if (this.size < this.maxKeys) {
      // Never reached once approximate: entries are only ever replaced, so the table stays full.
      id = this.insert(hash);
      this.weights[id] = weight;
      return id;
    }
    if (!this.approximate) this.becomeApproximate();
    if (weight === 0) {
      this.droppedUpdates++;
      return -1;
    }
    return this.replaceSmallest(hash, weight);
  }

  /** The smallest weight a key outside the table may have had (0 while exact). */
  get threshold(): number {
    return this.heap === undefined || this.size === 0 ? 0 : this.weights[this.heap[0]!]!;
  }

  /** The largest `error` of any entry. */
  get maxError(): number {
    let max = 0;
    for (let id = 0; id < this.size; id++) if (this.errors[id]! > max) max = this.errors[id]!;
    return max;
  }

  /** Word `w` of entry `id`'s key. */
  keyWord(id: number, w: number): number {
    return this.keys[id * this.keyWords + w]!;
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

  private find(hash: number): number {
    const index = this.index;
    const mask = this.indexMask;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const stored = index[slot * 2 + 1]!;
      if (stored === 0) return -1;
      if (index[slot * 2] === hash && this.keyEquals(stored - 1)) return stored - 1;
    }
  }

  private keyEquals(id: number): boolean {
    const key = this.key;
    const keys = this.keys;
    const base = id * key.length;
    for (let w = 0; w < key.length; w++) if (keys[base + w] !== key[w]) return false;
    return true;
  }

  private insert(hash: number): number {
    if (this.size === this.capacity) this.grow();
    const id = this.size++;
    this.keys.set(this.key, id * this.keyWords);
    this.hashes[id] = hash;
    this.place(hash, id);
    if (this.size * 2 > this.indexMask + 1) this.rebuildIndex(indexSlotsFor(this.size * 2));
    return id;
  }

  private place(hash: number, id: number): void {
    const index = this.index;
    const mask = this.indexMask;
    let slot = hash & mask;
    while (index[slot * 2 + 1] !== 0) slot = (slot + 1) & mask;
    index[slot * 2] = hash;
    index[slot * 2 + 1] = id + 1;
  }

  /** Removes `id` from the index, shifting later entries of its probe run back (no tombstones). */
  private unplace(id: number): void {
    const index = this.index;
    const mask = this.indexMask;
    let hole = this.hashes[id]! & mask;
    while (index[hole * 2 + 1] !== id + 1) hole = (hole + 1) & mask;
    for (let next = (hole + 1) & mask; index[next * 2 + 1] !== 0; next = (next + 1) & mask) {
      const home = index[next * 2]! & mask;
      // The entry at `next` stays when its home slot lies cyclically in (hole, next].
      const stays = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (stays) continue;
      index[hole * 2] = index[next * 2]!;
      index[hole * 2 + 1] = index[next * 2 + 1]!;
      hole = next;
    }
    index[hole * 2] = 0;
    index[hole * 2 + 1] = 0;
  }

  private grow(): void {
    const capacity = Math.min(this.maxKeys, this.capacity * 2);
    const keys = new Int32Array(capacity * this.keyWords);
    keys.set(this.keys);
    const hashes = new Int32Array(capacity);
    hashes.set(this.hashes);
    const weights = new Float64Array(capacity);
    weights.set(this.weights);
    const errors = new Float64Array(capacity);
    errors.set(this.errors);
    const values = new Float64Array(capacity * this.valueCount);
    values.set(this.values);
    this.keys = keys;
    this.hashes = hashes;
    this.weights = weights;
    this.errors = errors;
    this.values = values;
    this.capacity = capacity;
  }

  private rebuildIndex(slots: number): void {
    const old = this.index;
    this.index = new Int32Array(slots * 2);
    this.indexMask = slots - 1;
    for (let s = 0; s < old.length; s += 2) if (old[s + 1] !== 0) this.place(old[s]!, old[s + 1]! - 1);
  }

  private becomeApproximate(): void {
    this.approximate = true;
    this.heap = new Int32Array(this.maxKeys);
    this.heapPlace = new Int32Array(this.maxKeys);
    for (let id = 0; id < this.size; id++) {
      this.heap[id] = id;
      this.heapPlace[id] = id;
    }
    for (let place = (this.size >> 1) - 1; place >= 0; place--) this.siftDown(place);
  }

  /** Space-Saving: the lightest entry becomes the new key's, keeping its weight as the error. */
  private replaceSmallest(hash: number, weight: number): number {
    const id = this.heap![0]!;
    this.unplace(id);
    const floor = this.weights[id]!;
    this.keys.set(this.key, id * this.keyWords);
    this.hashes[id] = hash;
    this.weights[id] = floor + weight;
    this.errors[id] = floor;
    this.values.fill(0, id * this.valueCount, (id + 1) * this.valueCount);
    this.place(hash, id);
    this.siftDown(0);
    return id;
  }

  private siftDown(place: number): void {
    const heap = this.heap!;
    const where = this.heapPlace!;
    const weights = this.weights;
    const size = this.size;
    const id = heap[place]!;
    const weight = weights[id]!;
    for (;;) {
      let child = place * 2 + 1;
      if (child >= size) break;
      if (child + 1 < size && weights[heap[child + 1]!]! < weights[heap[child]!]!) child++;
      const childId = heap[child]!;
      if (weights[childId]! >= weight) break;
      heap[place] = childId;
      where[childId] = place;
      place = child;
    }
    heap[place] = id;
    where[id] = place;
  }
}

/** Index slots for `entries`: a power of two at least twice as many, so probe runs stay short. */
function indexSlotsFor(entries: number): number {
  let slots = 16;
  while (slots < entries * 2) slots *= 2;
  return slots;
}
