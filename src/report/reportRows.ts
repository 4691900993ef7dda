import type { FlowColumns } from '../flow/flowColumns.js';
import type { AzureContext } from '../flow/flowRecord.js';

/**
 * The columns the report counts, as the aggregator reads them: FlowColumns' own arrays (same
 * layout), with each row's rule as a number instead of its AzureContext object, so the rows can be
 * copied into one buffer and handed to the aggregating thread (see aggregatorThread.ts).
 */
export interface ReportRows {
  readonly length: number;
  readonly times: Float64Array;
  /** 4 a row: packets forward, bytes forward, packets reverse, bytes reverse (NaN = blank). */
  readonly counts: Float64Array;
  /** 8 a row (see FlowColumns.addresses). */
  readonly addresses: Int32Array;
  /** The row's (resource, rule): see RuleNumbers. */
  readonly ruleNumbers: Int32Array;
  /** 2 a row: source port, destination port. */
  readonly ports: Uint16Array;
  readonly flags: Uint8Array;
  readonly states: Uint8Array;
  readonly protocols: Uint8Array;
}

export interface RuleName {
  readonly resource: string;
  readonly rule: string;
}

/**
 * Numbers for (resource id, rule name) pairs, from 1. The tuples of one rule group share one
 * AzureContext object, so a row's number is a comparison with the previous row's context nearly
 * always, a Map lookup per context otherwise, and a string only per new context. Rule names are
 * bounded by Azure (rules per NSG, NSGs and flow logs per subscription): every name is kept.
 */
export class RuleNumbers {
  readonly names = new Map<number, RuleName>();
  private readonly numbers = new Map<string, number>();
  private readonly byContext = new Map<AzureContext, number>();
  private lastContext: AzureContext | undefined;
  private lastNumber = 0;
  /** Names numbered since the last `takeNew`. */
  private fresh: [number, RuleName][] = [];

  numberOf(context: AzureContext): number {
    if (context === this.lastContext) return this.lastNumber;
    let number = this.byContext.get(context);
    if (number === undefined) {
      const key = `${context.resourceId}\n${context.rule}`;
      number = this.numbers.get(key);
      if (number === undefined) {
        number = this.numbers.size + 1;
        this.numbers.set(key, number);
        const name = { resource: context.resourceId, rule: context.rule };
        this.names.set(number, name);
        this.fresh.push([number, name]);
      }
      // Contexts are per rule group and record: forget them now and then, the names stay.
      if (this.byContext.size >= 65_536) this.byContext.clear();
      this.byContext.set(context, number);
    }
    this.lastContext = context;
    this.lastNumber = number;
    return number;
  }

  /** The names numbered since the last call (for the aggregating thread). */
  takeNew(): [number, RuleName][] {
    const fresh = this.fresh;
    this.fresh = [];
    return fresh;
  }
}

/** Bytes a row takes in a packed buffer. */
const ROW_BYTES = 8 + 32 + 32 + 4 + 4 + 3;

/**
 * Copies rows [from, to) of `flows` into one shared buffer (reusing `spare` when it is large
 * enough), which other threads then read; their rule numbers too when `rules` is given.
 */
export function packRows(
  flows: FlowColumns,
  from: number,
  to: number,
  rules: RuleNumbers | undefined,
  spare?: SharedArrayBuffer,
): { buffer: SharedArrayBuffer; length: number } {
  const length = to - from;
  const buffer = spare !== undefined && spare.byteLength >= length * ROW_BYTES ? spare : new SharedArrayBuffer(Math.max(length, 1024) * ROW_BYTES);
  const rows = viewRows(buffer, length);
  rows.times.set(flows.times.subarray(from, to));
  rows.counts.set(flows.counts.subarray(from * 4, to * 4));
  rows.addresses.set(flows.addresses.subarray(from * 8, to * 8));
  rows.ports.set(flows.ports.subarray(from * 2, to * 2));
  rows.flags.set(flows.flags.subarray(from, to));
  rows.states.set(flows.states.subarray(from, to));
  rows.protocols.set(flows.protocols.subarray(from, to));
  if (rules !== undefined) {
    const contexts = flows.contexts;
    const ruleNumbers = rows.ruleNumbers;
    for (let i = from; i < to; i++) ruleNumbers[i - from] = rules.numberOf(contexts[i]!);
  }
  return { buffer, length };
}

/** The rows of a buffer packRows filled (capacity from its size). */
export function viewRows(buffer: ArrayBufferLike, length: number): ReportRows {
  const capacity = Math.floor(buffer.byteLength / ROW_BYTES);
  let offset = 0;
  const take = <T>(make: (offset: number, count: number) => T, count: number, bytesEach: number): T => {
    const view = make(offset, count);
    offset += count * bytesEach;
    return view;
  };
  return {
    length,
    times: take((o, n) => new Float64Array(buffer, o, n), capacity, 8),
    counts: take((o, n) => new Float64Array(buffer, o, n), capacity * 4, 8),
    addresses: take((o, n) => new Int32Array(buffer, o, n), capacity * 8, 4),
    ruleNumbers: take((o, n) => new Int32Array(buffer, o, n), capacity, 4),
    ports: take((o, n) => new Uint16Array(buffer, o, n), capacity * 2, 2),
    flags: take((o, n) => new Uint8Array(buffer, o, n), capacity, 1),
    states: take((o, n) => new Uint8Array(buffer, o, n), capacity, 1),
    protocols: take((o, n) => new Uint8Array(buffer, o, n), capacity, 1),
  };
}
