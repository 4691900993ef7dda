import { FlowColumns } from '../flow/flowColumns.js';
import type { FlowRecord } from '../flow/flowRecord.js';
import type { ParseProblem } from './problems.js';

/** Where parsed flows and skipped input go: the parse stage's only output. */
export interface FlowSink {
  flow(record: FlowRecord): void;
  problem(problem: ParseProblem): void;
  /**
   * Columns the fast path appends rows to directly (see columnSink): no FlowRecord per tuple. A
   * sink without them gets every flow through `flow`.
   */
  readonly columns?: FlowColumns;
}

/** A sink that collects every flow into `columns`: what the sources use. */
export function columnSink(columns: FlowColumns, onProblem: (problem: ParseProblem) => void): FlowSink {
  return { columns, flow: (record) => columns.append(record), problem: onProblem };
}

/**
 * The columns the fast path writes a record's rows to for `sink`: its own, or `scratch`, whose
 * rows `deliverRows` then hands to `flow` one by one.
 */
export function rowTarget(sink: FlowSink, scratch: FlowColumns): FlowColumns {
  return sink.columns ?? scratch;
}

export function deliverRows(sink: FlowSink, target: FlowColumns): void {
  if (target === sink.columns) return;
  for (let i = 0; i < target.length; i++) sink.flow(target.recordAt(i));
  target.clear();
}
