import { FlowColumns } from '../flow/flowColumns.js';

/**
 * What every source yields: flows parsed from one piece of input, and how to acknowledge them.
 * The pipeline calls `ack` only after every datagram built from these flows (and from all
 * earlier batches) was handed to the transport, so a checkpoint never runs ahead of the data.
 */
export interface FlowBatch extends ParsedFlows {
  /** Where the records came from, for logs and progress. */
  readonly source: string;
  readonly ack?: () => void | Promise<void>;
}

/** How much input a piece of work took, for progress and summaries. */
export interface InputCounts {
  /** Azure records (not tuples) read. */
  readonly azureRecords: number;
  /** Input bytes consumed. */
  readonly inputBytes: number;
}

/** Flows parsed from a piece of input (a batch, a read step of a blob), with what they took. */
export interface ParsedFlows extends InputCounts {
  /** The flows, column by column; the pipeline completes their enrich columns. */
  readonly records: FlowColumns;
}

/**
 * Several batches as one: their rows in order, one send and one flush; the acknowledgement
 * acknowledges each in order (all of them, even after one failed; the first failure is thrown).
 */
export function mergeBatches(batches: readonly FlowBatch[], rows: number): FlowBatch {
  const records = new FlowColumns(rows);
  let azureRecords = 0;
  let inputBytes = 0;
  for (const batch of batches) {
    records.appendAll(batch.records);
    azureRecords += batch.azureRecords;
    inputBytes += batch.inputBytes;
  }
  return {
    records,
    source: `${batches.length} batches`,
    azureRecords,
    inputBytes,
    ack: async () => {
      let failure: { error: unknown } | undefined;
      for (const batch of batches) {
        try {
          await batch.ack?.();
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure !== undefined) throw failure.error;
    },
  };
}
