import { COLUMN_NAMES, columnShape, type ColumnArrays, type ColumnName, type FlowColumns, makeColumn } from '../flow/flowColumns.js';
import type { AzureContext } from '../flow/flowRecord.js';
import type { NamedEntity } from '../flow/interfaceNames.js';

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
 * largest elements first so each column is aligned; the object numbers come last.
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
  const ids = (index: number) => at + index * 4 * ROWS_PER_BATCH;
  return { offsets, contextIds: ids(0), sourceEntityIds: ids(1), destinationEntityIds: ids(2), bytes: ids(3) };
})();

export const BATCH_BYTES = LAYOUT.bytes;

/** The columns of a batch buffer, as typed arrays over it, and the numbers of the objects rows point to. */
export interface BatchViews extends ColumnArrays {
  readonly contextIds: Int32Array;
  readonly sourceEntityIds: Int32Array;
  readonly destinationEntityIds: Int32Array;
}

export function batchViews(buffer: ArrayBuffer): BatchViews {
  const views: Record<string, unknown> = {
    contextIds: new Int32Array(buffer, LAYOUT.contextIds, ROWS_PER_BATCH),
    sourceEntityIds: new Int32Array(buffer, LAYOUT.sourceEntityIds, ROWS_PER_BATCH),
    destinationEntityIds: new Int32Array(buffer, LAYOUT.destinationEntityIds, ROWS_PER_BATCH),
  };
  for (const name of COLUMN_NAMES) views[name] = makeColumn(name, ROWS_PER_BATCH, buffer, LAYOUT.offsets[name]);
  return views as unknown as BatchViews;
}

/** Most objects numbered before both sides start over (a long run sees new ones all the time). */
const MAX_OBJECT_IDS = 1 << 16;

/** Objects numbered for the first time in a batch (numbers `firstId`, `firstId + 1`...). */
export interface FreshObjects<T> {
  readonly objects: T[];
  readonly firstId: number;
  /** The receiver forgets every earlier number first. */
  readonly restart: boolean;
}

/**
 * The sending side's numbering of the objects rows point to (AzureContexts, named endpoints): each
 * crosses to the exporting thread once, rows carry its number. Number 0 stands for "none" when
 * `withNone`; objects are then numbered from 1.
 */
export class ObjectNumbers<T extends object> {
  private ids = new WeakMap<T, number>();
  private next: number;
  private restart = false;
  private readonly first: number;

  constructor(
    withNone: boolean,
    private readonly maxIds = MAX_OBJECT_IDS,
  ) {
    this.first = withNone ? 1 : 0;
    this.next = this.first;
  }

  /** Makes room for `count` new numbers; starts over (forgetting every number) when they would run out. */
  prepare(count: number): void {
    if (this.next + count <= this.maxIds) return;
    this.ids = new WeakMap();
    this.next = this.first;
    this.restart = true;
  }

  /** The objects numbered since the last take (numbers `firstId`...), and whether numbering started over first. */
  take(firstId: number, objects: T[]): FreshObjects<T> {
    const restart = this.restart;
    this.restart = false;
    return { objects, firstId, restart };
  }

  /** The number the next new object gets. */
  get nextId(): number {
    return this.next;
  }

  /** Numbers objects[from, to) into ids[0...], appending the objects numbered for the first time to `fresh`. */
  number(objects: readonly (T | undefined)[], from: number, to: number, ids: Int32Array, fresh: T[]): void {
    let last: T | undefined;
    let lastId = 0;
    for (let i = from; i < to; i++) {
      const object = objects[i];
      if (object !== last) {
        last = object;
        if (object === undefined) lastId = 0;
        else {
          let id = this.ids.get(object);
          if (id === undefined) {
            id = this.next++;
            this.ids.set(object, id);
            fresh.push(object);
          }
          lastId = id;
        }
      }
      ids[i - from] = lastId;
    }
  }
}

/** The receiving side: objects by number. */
export class ObjectTable<T> {
  private readonly objects: (T | undefined)[];

  constructor(private readonly withNone: boolean) {
    this.objects = withNone ? [undefined] : [];
  }

  /** Learns the objects a batch brought; throws when they do not follow the numbers known. */
  learn(fresh: FreshObjects<T>): void {
    if (fresh.restart) this.objects.length = this.withNone ? 1 : 0;
    if (fresh.objects.length === 0) return;
    if (fresh.firstId !== this.objects.length) throw new Error(`object numbers out of step: got ${fresh.firstId}, expected ${this.objects.length}`);
    for (const object of fresh.objects) this.objects.push(object);
  }

  /** Fills into[0, rows) with the objects the ids name. */
  resolve(ids: Int32Array, rows: number, into: (T | undefined)[]): void {
    const objects = this.objects;
    for (let i = 0; i < rows; i++) {
      const id = ids[i]!;
      if (id >= objects.length) throw new Error(`unknown object number ${id}`);
      into[i] = objects[id];
    }
  }
}

/** What one batch brings besides its rows: the contexts and named endpoints seen for the first time. */
export interface BatchObjects {
  readonly contexts: FreshObjects<AzureContext>;
  /** Only when the rows carry names (enrichment on). */
  readonly names?: FreshObjects<NamedEntity>;
}

/** Packs rows into batch buffers: the sending side. */
export class BatchPacker {
  private readonly contexts = new ObjectNumbers<AzureContext>(false);
  private readonly names = new ObjectNumbers<NamedEntity>(true);

  /** @param named rows carry source and destination names (enrichment on) */
  constructor(private readonly named: boolean) {}

  /** Copies rows [from, to) of `flows` into `views` and numbers the objects they point to. */
  pack(flows: FlowColumns, from: number, to: number, views: BatchViews): BatchObjects {
    const n = to - from;
    if (n > ROWS_PER_BATCH) throw new RangeError(`${n} rows do not fit a batch of ${ROWS_PER_BATCH}`);
    for (const name of COLUMN_NAMES) {
      const perRow = columnShape(name).perRow;
      (views[name] as Float64Array).set((flows[name] as Float64Array).subarray(from * perRow, to * perRow));
    }
    const contexts = this.numberOf(this.contexts, n, (fresh) => this.contexts.number(flows.contexts, from, to, views.contextIds, fresh));
    if (!this.named) return { contexts };
    // One numbering for both ends: an endpoint is often the source of one row and the destination of another.
    const names = this.numberOf(this.names, 2 * n, (fresh) => {
      this.names.number(flows.sourceEntities, from, to, views.sourceEntityIds, fresh);
      this.names.number(flows.destinationEntities, from, to, views.destinationEntityIds, fresh);
    });
    return { contexts, names };
  }

  private numberOf<T extends object>(numbers: ObjectNumbers<T>, room: number, number: (fresh: T[]) => void): FreshObjects<T> {
    numbers.prepare(room);
    const firstId = numbers.nextId;
    const fresh: T[] = [];
    number(fresh);
    return numbers.take(firstId, fresh);
  }
}

/** The receiving side: the rows of a batch as FlowColumns over its buffer (no copy), objects resolved. */
export class BatchUnpacker {
  private readonly contexts = new ObjectTable<AzureContext>(false);
  private readonly names = new ObjectTable<NamedEntity>(true);

  columns(views: BatchViews, rows: number, objects: BatchObjects, into: FlowColumns): FlowColumns {
    into.adopt(views, rows);
    this.contexts.learn(objects.contexts);
    this.contexts.resolve(views.contextIds, rows, into.contexts);
    if (objects.names === undefined) return into;
    this.names.learn(objects.names);
    this.names.resolve(views.sourceEntityIds, rows, into.sourceEntities);
    this.names.resolve(views.destinationEntityIds, rows, into.destinationEntities);
    return into;
  }
}
