import { parentPort, workerData } from 'node:worker_threads';
import { type AggregatorOptions, ReportAggregator } from './reportAggregator.js';
import { reportResult, type ResultOptions } from './reportResult.js';
import { type RuleName, viewRows } from './reportRows.js';

/**
 * The aggregating thread of `report` (see aggregatorThread.ts): counts the rows the reading thread
 * packs, hands each buffer back for reuse, and at the end answers with the report.
 */

export type ToAggregator =
  | { readonly kind: 'rows'; readonly buffer: ArrayBuffer; readonly length: number; readonly names: readonly (readonly [number, RuleName])[] }
  | { readonly kind: 'finish'; readonly result: ResultOptions; readonly input: { files: number; inputBytes: number; records: number } };

export type FromAggregator =
  { readonly kind: 'done'; readonly buffer: ArrayBuffer } | { readonly kind: 'report'; readonly report: ReturnType<typeof reportResult> };

const port = parentPort!;
const aggregator = new ReportAggregator((workerData as { options: AggregatorOptions }).options);

port.on('message', (message: ToAggregator) => {
  if (message.kind === 'rows') {
    aggregator.nameRules(message.names);
    aggregator.addReportRows(viewRows(message.buffer, message.length));
    port.postMessage({ kind: 'done', buffer: message.buffer } satisfies FromAggregator, [message.buffer]);
    return;
  }
  aggregator.files = message.input.files;
  aggregator.inputBytes = message.input.inputBytes;
  aggregator.records = message.input.records;
  port.postMessage({ kind: 'report', report: reportResult(aggregator, message.result) } satisfies FromAggregator);
});
