import type { WordKeyTable } from './wordKeyTable.js';

/** The values of a KeyRunCounter's entries. */
export const RUN_DENIED = 0;
export const RUN_BYTES = 1;
export const RUN_PACKETS = 2;

/**
 * Counts flows, denied flows, bytes and packets into a WordKeyTable keyed by one number (a rule
 * number, an hour). Tuples come in runs of one key (the tuples of a rule group together, a record's
 * minutes one after the other), so the entry is looked up only when the key changes or entries
 * moved; within a run the count goes straight to the entry. The number is the last key word; the
 * words before it hold 1, so that word 0 is never 0 (WordKeyTable) even for hour 0.
 */
export class KeyRunCounter {
  private readonly keyAt: number;
  private lastKey = 0;
  private lastId = -1;
  private lastEpoch = -1;

  constructor(readonly table: WordKeyTable) {
    this.keyAt = table.keyWords - 1;
  }

  /** One flow of key `number`; weight = flows. */
  add(number: number, denied: number, bytes: number, packets: number): void {
    const table = this.table;
    let id = this.lastId;
    if (number === this.lastKey && id >= 0 && table.epoch === this.lastEpoch && !table.approximate) table.addToWeight(id, 1);
    else {
      const key = table.key;
      key[0] = 1;
      key[this.keyAt] = number;
      id = table.add(1);
      this.lastKey = number;
      this.lastId = id;
      this.lastEpoch = table.epoch;
      if (id < 0) return;
    }
    const data = table.data;
    const v = id * table.stride + table.valueStart;
    data[v + RUN_DENIED] = data[v + RUN_DENIED]! + denied;
    data[v + RUN_BYTES] = data[v + RUN_BYTES]! + bytes;
    data[v + RUN_PACKETS] = data[v + RUN_PACKETS]! + packets;
  }
}
