import { describe, expect, it } from 'vitest';
import { WordKeyTable } from '../../src/report/wordKeyTable.js';

/** A small deterministic PRNG (mulberry32): the same stream every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function setKey(table: WordKeyTable, key: number): void {
  table.key.fill(0);
  table.key[0] = 4;
  table.key[1] = key;
}

/** Every entry is found again from its own key (the index and the moved entries agree). */
function expectConsistent(table: WordKeyTable): void {
  const ids = table.ids();
  expect(ids).toHaveLength(table.size);
  for (const id of ids) {
    for (let w = 0; w < table.keyWords; w++) table.key[w] = table.keyWord(id, w);
    const before = table.weightOf(id);
    expect(table.add(0)).toBe(id);
    expect(table.weightOf(id)).toBe(before);
  }
}

describe('WordKeyTable', () => {
  it('counts exactly while the distinct keys fit, through many growth steps', () => {
    const table = new WordKeyTable(5, 2, 100_000, 16);
    const truth = new Map<number, number>();
    const next = random(1);
    for (let i = 0; i < 60_000; i++) {
      const key = Math.floor(next() * 20_000) - 10_000;
      const weight = Math.floor(next() * 1000);
      setKey(table, key);
      const id = table.add(weight);
      table.data[id * table.stride + table.valueStart + 1]! += 1;
      truth.set(key, (truth.get(key) ?? 0) + weight);
    }
    expect(table.approximate).toBe(false);
    expect(table.size).toBe(truth.size);
    for (const id of table.ids()) {
      const key = table.keyWord(id, 1);
      expect(table.weightOf(id)).toBe(truth.get(key));
      expect(table.errorOf(id)).toBe(0);
    }
    expectConsistent(table);
  });

  it('becomes a Space-Saving summary past maxKeys, within the proven bounds', () => {
    const maxKeys = 64;
    const table = new WordKeyTable(5, 1, maxKeys);
    const truth = new Map<number, number>();
    const next = random(7);
    let total = 0;
    for (let i = 0; i < 50_000; i++) {
      // Skewed: a few heavy keys among many light ones.
      const key = next() < 0.3 ? Math.floor(next() * 8) : 1000 + Math.floor(next() * 5000);
      const weight = 1 + Math.floor(next() * 100);
      setKey(table, key);
      table.add(weight);
      truth.set(key, (truth.get(key) ?? 0) + weight);
      total += weight;
    }
    expect(table.approximate).toBe(true);
    expect(table.size).toBe(maxKeys);
    const monitored = new Set<number>();
    for (const id of table.ids()) {
      const key = table.keyWord(id, 1);
      monitored.add(key);
      const trueWeight = truth.get(key)!;
      // true <= estimate <= true + error
      expect(table.weightOf(id)).toBeGreaterThanOrEqual(trueWeight);
      expect(table.weightOf(id) - table.errorOf(id)).toBeLessThanOrEqual(trueWeight);
    }
    // Keys not monitored weigh at most the threshold (their filter bucket is at most that).
    expect(table.threshold).toBeLessThan(total);
    for (const [key, weight] of truth) if (!monitored.has(key)) expect(weight).toBeLessThanOrEqual(table.threshold);
    // The heavy keys are all there.
    for (let key = 0; key < 8; key++) expect(monitored.has(key)).toBe(true);
    expect(table.maxError).toBeGreaterThan(0);
    expectConsistent(table);
  });

  it('once approximate, drops new zero-weight keys and filters light new keys into their bucket', () => {
    const table = new WordKeyTable(5, 0, 2);
    for (const key of [1, 2]) {
      setKey(table, key);
      table.add(5);
    }
    setKey(table, 3);
    expect(table.add(0)).toBe(-1);
    expect(table.droppedUpdates).toBe(1);
    expect(table.approximate).toBe(true);
    // Bucket 0 + 4 <= 5, the smallest weight held: the weight goes to the key's bucket.
    setKey(table, 3);
    expect(table.add(4)).toBe(-1);
    expect(table.droppedUpdates).toBe(2);
    // Bucket 4 + 4 > 5: the key replaces the smallest entry, its bucket count as its error.
    setKey(table, 3);
    const id = table.add(4);
    expect(table.weightOf(id)).toBe(8);
    expect(table.errorOf(id)).toBe(4);
    expect(table.size).toBe(2);
  });
});
