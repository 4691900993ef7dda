import { FlowColumns } from '../flow/flowColumns.js';
import type { FlowRecord } from '../flow/flowRecord.js';
import type { GridEvent } from './blobCreatedEvent.js';
import type { ParseProblem, ProblemContext } from './problems.js';

/** Where parsed flows and skipped input go: the parse stage's only output. */
export interface FlowSink {
  flow(record: FlowRecord): void;
  problem(problem: ParseProblem): void;
  /**
   * Columns the fast path appends rows to directly (see columnSink): no FlowRecord per tuple. A
   * sink without them gets every flow through `flow`.
   */
  readonly columns?: FlowColumns;
  /** Event Grid events found among the records; without it they are skipped as problems. */
  gridEvent?(event: GridEvent): void;
  /** A bug of the fast path (it threw): the record was read the reference way; counted, logged at debug. */
  fastPathError?(error: unknown, context: ProblemContext): void;
}

/** What a source reports besides flows (ProblemReporter implements it). */
export interface ParseReports {
  problem(problem: ParseProblem): void;
  fastPathError?(error: unknown, context: ProblemContext): void;
}

/** A sink that collects every flow into `columns`: what the sources use. */
export function columnSink(columns: FlowColumns, reports: ParseReports | ((problem: ParseProblem) => void)): FlowSink {
  if (typeof reports === 'function') return { columns, flow: (record) => columns.append(record), problem: reports };
  return {
    columns,
    flow: (record) => columns.append(record),
    problem: (problem) => reports.problem(problem),
    fastPathError: (error, context) => reports.fastPathError?.(error, context),
  };
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
