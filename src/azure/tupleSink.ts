import type { FlowColumns } from '../flow/flowColumns.js';
import type { FlowRecord } from '../flow/flowRecord.js';
import type { ParseProblem } from './problems.js';

/** Where parsed flows and skipped input go: the parse stage's only output. */
export interface FlowSink {
  flow(record: FlowRecord): void;
  /**
   * A record's flows as the fast path read them, in bulk; the columns are reused after the call.
   * A sink without it gets each flow through `flow`, as a FlowRecord of its own.
   */
  rows?(rows: FlowColumns): void;
  problem(problem: ParseProblem): void;
}

/** Hands the fast path's rows to a sink, in bulk where it takes them so. */
export function emitRows(sink: FlowSink, rows: FlowColumns): void {
  if (sink.rows !== undefined) sink.rows(rows);
  else for (let i = 0; i < rows.length; i++) sink.flow(rows.recordAt(i));
}
