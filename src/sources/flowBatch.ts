import type { FlowRecord } from '../flow/flowRecord.js';

/**
 * What every source yields: flows parsed from one piece of input, and how to acknowledge them.
 * The pipeline calls `ack` only after every datagram built from these flows (and from all
 * earlier batches) was handed to the transport, so a checkpoint never runs ahead of the data.
 */
/**
 * Flows by index: an array of FlowRecords, or FlowColumns (whose `at` reuses one record object:
 * read a flow, use it, move on).
 */
export interface FlowList {
  readonly length: number;
  at(index: number): FlowRecord | undefined;
}

export interface FlowBatch {
  readonly records: FlowList;
  /** Where the records came from, for logs and progress. */
  readonly source: string;
  /** Azure records (not tuples) read into this batch. */
  readonly azureRecords: number;
  /** Input bytes consumed by this batch, for progress. */
  readonly inputBytes: number;
  readonly ack?: () => void | Promise<void>;
}
