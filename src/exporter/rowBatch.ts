import { ADDRESS_WORDS, FlowColumns, type ColumnArrays } from '../flow/flowColumns.js';
import type { AzureContext } from '../flow/flowRecord.js';

/**
 * Enriched rows on their way to the exporting thread: every column of up to ROWS_PER_BATCH rows in
 * one ArrayBuffer that is transferred (not copied) between the threads and reused, plus the
 * AzureContexts the other side has not seen yet. Contexts travel once each and are named by
 * number afterwards.
 */

/** Rows in one batch buffer: the pipeline enriches and hands over this many at a time. */
export const ROWS_PER_BATCH = 2048;

/** Byte offsets of the columns in a batch buffer (8-byte columns first, so each is aligned). */
const LAYOUT = (() => {
  let at = 0;
  const take = (bytesPerRow: number) => {
    const offset = at;
    at += bytesPerRow * ROWS_PER_BATCH;
    return offset;
  };
  return {
    times: take(8),
    starts: take(8),
    counts: take(32),
    addresses: take(4 * ADDRESS_WORDS),
    domains: take(4),
    interfaces: take(4),
    contextIds: take(4),
    ports: take(4),
    kinds: take(1),
    protocols: take(1),
    flags: take(1),
    states: take(1),
    bytes: at,
  };
})();

export const BATCH_BYTES = LAYOUT.bytes;

/** The columns of a batch buffer, as typed arrays over it. */
export interface BatchViews extends ColumnArrays {
  readonly contextIds: Int32Array;
}

export function batchViews(buffer: ArrayBuffer): BatchViews {
  const n = ROWS_PER_BATCH;
  return {
    times: new Float64Array(buffer, LAYOUT.times, n),
    starts: new Float64Array(buffer, LAYOUT.starts, n),
    counts: new Float64Array(buffer, LAYOUT.counts, 4 * n),
    addresses: new Int32Array(buffer, LAYOUT.addresses, ADDRESS_WORDS * n),
    domains: new Uint32Array(buffer, LAYOUT.domains, n),
    interfaces: new Uint32Array(buffer, LAYOUT.interfaces, n),
    contextIds: new Int32Array(buffer, LAYOUT.contextIds, n),
    ports: new Uint16Array(buffer, LAYOUT.ports, 2 * n),
    kinds: new Uint8Array(buffer, LAYOUT.kinds, n),
    protocols: new Uint8Array(buffer, LAYOUT.protocols, n),
    flags: new Uint8Array(buffer, LAYOUT.flags, n),
    states: new Uint8Array(buffer, LAYOUT.states, n),
  };
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
    views.times.set(flows.times.subarray(from, to));
    views.starts.set(flows.starts.subarray(from, to));
    views.counts.set(flows.counts.subarray(from * 4, to * 4));
    views.addresses.set(flows.addresses.subarray(from * ADDRESS_WORDS, to * ADDRESS_WORDS));
    views.domains.set(flows.domains.subarray(from, to));
    views.interfaces.set(flows.interfaces.subarray(from, to));
    views.ports.set(flows.ports.subarray(from * 2, to * 2));
    views.kinds.set(flows.kinds.subarray(from, to));
    views.protocols.set(flows.protocols.subarray(from, to));
    views.flags.set(flows.flags.subarray(from, to));
    views.states.set(flows.states.subarray(from, to));
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
