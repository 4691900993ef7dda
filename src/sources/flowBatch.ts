import type { FlowColumns } from '../flow/flowColumns.js';

/**
 * What every source yields: flows parsed from one piece of input, and how to acknowledge them.
 * The pipeline calls `ack` only after every datagram built from these flows (and from all
 * earlier batches) was handed to the transport, so a checkpoint never runs ahead of the data.
 */
export interface FlowBatch {
  /** The flows, column by column; the pipeline completes their enrich columns. */
  readonly records: FlowColumns;
  /** Where the records came from, for logs and progress. */
  readonly source: string;
  /** Azure records (not tuples) read into this batch. */
  readonly azureRecords: number;
  /** Input bytes consumed by this batch, for progress. */
  readonly inputBytes: number;
  readonly ack?: () => void | Promise<void>;
}
