/**
 * An open-addressing hash table from an address (1 word for IPv4, 4 for IPv6, as FlowColumns stores
 * them) to a non-zero int32 value. Lookups read the words where they lie and allocate nothing:
 * they run once per flow endpoint, a million times a second in a replay. Built once, never resized
 * (the NameMap that owns it is immutable).
 */
export class AddressTable {
  private constructor(
    private readonly wordsPerKey: 1 | 4,
    private readonly keys: Int32Array,
    /** 0 = empty slot. */
    private readonly values: Int32Array,
    readonly size: number,
  ) {
    this.mask = values.length - 1;
  }

  private readonly mask: number;

  /** A table of `entries` (address words, value), 1 or 4 words a key. */
  static of(wordsPerKey: 1 | 4, entries: ReadonlyArray<readonly [Int32Array, number]>): AddressTable {
    const capacity = capacityFor(entries.length);
    const table = new AddressTable(wordsPerKey, new Int32Array(capacity * wordsPerKey), new Int32Array(capacity), entries.length);
    for (const [words, value] of entries) table.insert(words, value);
    return table;
  }

  /** A table of IPv4 addresses from parallel arrays: no tuple per entry, since a map of 10,000 NICs is built at every refresh. */
  static ofIpv4(words: readonly number[], values: readonly number[]): AddressTable {
    const capacity = capacityFor(words.length);
    const table = new AddressTable(1, new Int32Array(capacity), new Int32Array(capacity), words.length);
    for (let i = 0; i < words.length; i++) table.insert1(words[i]!, values[i]!);
    return table;
  }

  /** The value of an IPv4 address, 0 when absent. */
  get1(word: number): number {
    const { keys, values, mask } = this;
    let slot = mix(word) & mask;
    for (;;) {
      const value = values[slot]!;
      if (value === 0 || keys[slot] === word) return value;
      slot = (slot + 1) & mask;
    }
  }

  /** The value of the IPv6 address in words[at..at+3], 0 when absent. */
  get4(words: Int32Array, at: number): number {
    const { keys, values, mask } = this;
    const w0 = words[at]!;
    const w1 = words[at + 1]!;
    const w2 = words[at + 2]!;
    const w3 = words[at + 3]!;
    let slot = mix4(w0, w1, w2, w3) & mask;
    for (;;) {
      const value = values[slot]!;
      if (value === 0) return 0;
      const k = slot * 4;
      if (keys[k] === w0 && keys[k + 1] === w1 && keys[k + 2] === w2 && keys[k + 3] === w3) return value;
      slot = (slot + 1) & mask;
    }
  }

  private insert1(word: number, value: number): void {
    if (value === 0) throw new Error('AddressTable values must be non-zero');
    const { keys, values, mask } = this;
    let slot = mix(word) & mask;
    while (values[slot] !== 0 && keys[slot] !== word) slot = (slot + 1) & mask;
    keys[slot] = word;
    values[slot] = value;
  }

  private insert(words: Int32Array, value: number): void {
    if (value === 0) throw new Error('AddressTable values must be non-zero');
    const { keys, values, mask } = this;
    let slot = (this.wordsPerKey === 1 ? mix(words[0]!) : mix4(words[0]!, words[1]!, words[2]!, words[3]!)) & mask;
    for (;;) {
      const k = slot * this.wordsPerKey;
      let same = values[slot] !== 0;
      for (let w = 0; same && w < this.wordsPerKey; w++) same = keys[k + w] === words[w];
      if (values[slot] === 0 || same) {
        for (let w = 0; w < this.wordsPerKey; w++) keys[k + w] = words[w]!;
        values[slot] = value;
        return;
      }
      slot = (slot + 1) & mask;
    }
  }
}

/** At most half full, so a miss ends after a probe or two. */
function capacityFor(entries: number): number {
  let capacity = 16;
  while (capacity < entries * 2) capacity *= 2;
  return capacity;
}

/** Spreads the low bits: addresses of one subnet differ only in their last bits. */
function mix(word: number): number {
  const h = Math.imul(word ^ (word >>> 16), 0x45d9f3b);
  return h ^ (h >>> 16);
}

function mix4(w0: number, w1: number, w2: number, w3: number): number {
  return mix(w3 ^ Math.imul(mix(w2 ^ Math.imul(mix(w1 ^ Math.imul(mix(w0), 31)), 31)), 31));
}
