import { parentPort, workerData } from 'node:worker_threads';
import type { FlowReport } from './flowReport.js';
import { type AggregatorOptions, ReportAggregator } from './reportAggregator.js';
import { reportResult, type ResultOptions } from './reportResult.js';
import { type RuleName, viewRows } from './reportRows.js';

/**
 * An aggregating thread of `report` (see aggregatorThread.ts): counts the rows the reading thread
 * packs into shared buffers, says when it is done with each, and at the end answers with the
 * report of its tables.
 */

export type ToAggregator =
  | {
      readonly kind: 'rows';
      readonly buffer: SharedArrayBuffer;
      readonly index: number;
      readonly length: number;
      readonly names: readonly (readonly [number, RuleName])[];
    }
  | { readonly kind: 'finish'; readonly result: ResultOptions; readonly input: { files: number; inputBytes: number; records: number } };

export type FromAggregator = { readonly kind: 'done'; readonly index: number } | { readonly kind: 'report'; readonly report: FlowReport };

const port = parentPort!;
const aggregator = new ReportAggregator((workerData as { options: AggregatorOptions }).options);

port.on('message', (message: ToAggregator) => {
  if (message.kind === 'rows') {
    aggregator.nameRules(message.names);
    aggregator.addReportRows(viewRows(message.buffer, message.length));
    port.postMessage({ kind: 'done', index: message.index } satisfies FromAggregator);
    return;
  }
  aggregator.files = message.input.files;
  aggregator.inputBytes = message.input.inputBytes;
  aggregator.records = message.input.records;
  port.postMessage({ kind: 'report', report: reportResult(aggregator, message.result) } satisfies FromAggregator);
});
