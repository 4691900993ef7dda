import { COLUMN_NAMES, columnShape, type ColumnArrays, type ColumnName, type FlowColumns, makeColumn } from '../flow/flowColumns.js';
import type { AzureContext } from '../flow/flowRecord.js';

/**
 * Enriched rows on their way to the exporting thread: every column of up to ROWS_PER_BATCH rows in
 * one ArrayBuffer that is transferred (not copied) between the threads and reused, plus the
 * AzureContexts the other side has not seen yet. Contexts travel once each and are named by
 * number afterwards.
 */

/** Rows in one batch buffer: the pipeline enriches and hands over this many at a time. */
export const ROWS_PER_BATCH = 2048;

/**
 * Byte offsets of the columns in a batch buffer, from the column table (flow/flowColumns.ts),
 * largest elements first so each column is aligned; the context numbers come last.
 */
const LAYOUT = (() => {
  let at = 0;
  const offsets = {} as Record<ColumnName, number>;
  const names = [...COLUMN_NAMES].sort((a, b) => columnShape(b).bytesPerElement - columnShape(a).bytesPerElement);
  for (const name of names) {
    const { perRow, bytesPerElement } = columnShape(name);
    offsets[name] = at;
    at += perRow * bytesPerElement * ROWS_PER_BATCH;
  }
  const contextIds = at;
  return { offsets, contextIds, bytes: at + 4 * ROWS_PER_BATCH };
})();

export const BATCH_BYTES = LAYOUT.bytes;

/** The columns of a batch buffer, as typed arrays over it. */
export interface BatchViews extends ColumnArrays {
  readonly contextIds: Int32Array;
}

export function batchViews(buffer: ArrayBuffer): BatchViews {
  const views = { contextIds: new Int32Array(buffer, LAYOUT.contextIds, ROWS_PER_BATCH) } as Record<string, unknown>;
  for (const name of COLUMN_NAMES) views[name] = makeColumn(name, ROWS_PER_BATCH, buffer, LAYOUT.offsets[name]);
  return views as unknown as BatchViews;
}

/** Most contexts numbered before both sides start over (a long run sees new ones all the time). */
const MAX_CONTEXT_IDS = 1 << 16;

/** The sending side's numbering of contexts. */
export class ContextNumbers {
  private ids = new WeakMap<AzureContext, number>();
  private next = 0;
  private restart = false;

  constructor(private readonly maxIds = MAX_CONTEXT_IDS) {}

  /**
   * Copies rows [from, to) of `flows` into `views` and numbers their contexts. Returns the contexts
   * numbered for the first time (numbers `firstId`, `firstId + 1`...), and whether the receiver must
   * forget every earlier number first.
   */
  pack(flows: FlowColumns, from: number, to: number, views: BatchViews): { contexts: AzureContext[]; firstId: number; restart: boolean } {
    const n = to - from;
    if (n > ROWS_PER_BATCH) throw new RangeError(`${n} rows do not fit a batch of ${ROWS_PER_BATCH}`);
    for (const name of COLUMN_NAMES) {
      const perRow = columnShape(name).perRow;
      (views[name] as Float64Array).set((flows[name] as Float64Array).subarray(from * perRow, to * perRow));
    }
    if (this.next + n > this.maxIds) {
      this.ids = new WeakMap();
      this.next = 0;
      this.restart = true;
    }
    const firstId = this.next;
    const fresh: AzureContext[] = [];
    const contexts = flows.contexts;
    const ids = views.contextIds;
    let last: AzureContext | undefined;
    let lastId = -1;
    for (let i = from; i < to; i++) {
      const context = contexts[i]!;
      if (context !== last) {
        last = context;
        let id = this.ids.get(context);
        if (id === undefined) {
          id = this.next++;
          this.ids.set(context, id);
          fresh.push(context);
        }
        lastId = id;
      }
      ids[i - from] = lastId;
    }
    const restart = this.restart;
    this.restart = false;
    return { contexts: fresh, firstId, restart };
  }
}

/** The receiving side: contexts by number, and the rows of a batch as FlowColumns. */
export class ContextTable {
  private readonly contexts: AzureContext[] = [];

  /** Learns the contexts a batch brought; throws when they do not follow the numbers known. */
  learn(contexts: readonly AzureContext[], firstId: number, restart: boolean): void {
    if (restart) this.contexts.length = 0;
    if (contexts.length === 0) return;
    if (firstId !== this.contexts.length) throw new Error(`context numbers out of step: got ${firstId}, expected ${this.contexts.length}`);
    for (const context of contexts) this.contexts.push(context);
  }

  /** The batch's `rows` rows as FlowColumns over its buffer (no copy), contexts resolved. */
  columns(views: BatchViews, rows: number, into: FlowColumns): FlowColumns {
    into.adopt(views, rows);
    const contexts = into.contexts;
    const ids = views.contextIds;
    for (let i = 0; i < rows; i++) {
      const context = this.contexts[ids[i]!];
      if (context === undefined) throw new Error(`unknown context number ${ids[i]}`);
      contexts[i] = context;
    }
    return into;
  }
}
