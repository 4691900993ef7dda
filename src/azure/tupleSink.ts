import type { FlowRecord } from '../flow/flowRecord.js';
import type { ParseProblem } from './problems.js';

/** Where parsed flows and skipped input go: the parse stage's only output. */
export interface FlowSink {
  flow(record: FlowRecord): void;
  problem(problem: ParseProblem): void;
}
