import { Worker } from 'node:worker_threads';
import type { FlowColumns } from '../flow/flowColumns.js';
import type { FromAggregator, ToAggregator } from './aggregatorWorker.js';
import type { FlowReport } from './flowReport.js';
import type { AggregatorOptions } from './reportAggregator.js';
import type { ResultOptions } from './reportResult.js';
import { packRows, RuleNumbers } from './reportRows.js';

/**
 * The report's counting on a thread of its own: this thread reads and parses the logs and packs
 * each batch's rows into a shared buffer (a few memory copies); the aggregating thread counts.
 * Parsing and counting then take two cores instead of one after the other, as `replay` parses on
 * one thread and encodes on another. (Two counting threads, pairs on one and the rest on the
 * other, were slower on the project's 2-core machines: a third busy thread and a second isolate's
 * memory cost more than they saved.)
 */

/**
 * Under vitest this module runs from src/*.ts, which a worker cannot load: the worker is then the
 * compiled dist/ file (the test setup builds dist/ first).
 */
const WORKER_URL = import.meta.url.endsWith('.ts')
  ? new URL('../../dist/report/aggregatorWorker.js', import.meta.url)
  : new URL('./aggregatorWorker.js', import.meta.url);

/** Buffers handed over and not yet counted: enough to keep both threads busy, few enough to bound memory. */
const MAX_IN_FLIGHT = 4;

export class AggregatorThread {
  /** Tuples handed over so far (for progress). */
  tuples = 0;
  private readonly rules = new RuleNumbers();
  private readonly buffers: SharedArrayBuffer[] = [];
  /** Per buffer: whether the aggregating thread still reads it. */
  private readonly busy: boolean[] = [];
  private readonly waiting: (() => void)[] = [];
  private failure: Error | undefined;
  private onReport: ((report: FlowReport) => void) | undefined;
  private onFailure: ((error: Error) => void) | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (message: FromAggregator) => {
      if (message.kind === 'done') {
        this.busy[message.index] = false;
        this.waiting.shift()?.();
      } else this.onReport?.(message.report);
    });
    const fail = (error: Error) => {
      this.failure ??= error;
      for (const wake of this.waiting.splice(0)) wake();
      this.onFailure?.(error);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the aggregating thread stopped (exit code ${code})`)));
  }

  static start(options: AggregatorOptions): AggregatorThread {
    return new AggregatorThread(new Worker(WORKER_URL, { workerData: { options } }));
  }

  /** Hands the rows of `flows` over; resolves once the columns may be reused. */
  async add(flows: FlowColumns): Promise<void> {
    if (flows.length === 0) return;
    let index = this.busy.indexOf(false);
    while (index < 0 && this.buffers.length >= MAX_IN_FLIGHT && this.failure === undefined) {
      await new Promise<void>((wake) => this.waiting.push(wake));
      index = this.busy.indexOf(false);
    }
    if (this.failure !== undefined) throw this.failure;
    if (index < 0) index = this.buffers.push(new SharedArrayBuffer(0)) - 1;
    const { buffer, length } = packRows(flows, 0, flows.length, this.rules, this.buffers[index]);
    this.buffers[index] = buffer;
    this.busy[index] = true;
    this.tuples += length;
    this.worker.postMessage({ kind: 'rows', buffer, index, length, names: this.rules.takeNew() } satisfies ToAggregator);
  }

  /** The report, once every row handed over is counted; the thread then ends. */
  async finish(result: ResultOptions, input: { files: number; inputBytes: number; records: number }): Promise<FlowReport> {
    if (this.failure !== undefined) throw this.failure;
    const report = new Promise<FlowReport>((resolve, reject) => {
      this.onReport = resolve;
      this.onFailure = reject;
    });
    this.worker.postMessage({ kind: 'finish', result, input } satisfies ToAggregator);
    try {
      return await report;
    } finally {
      await this.close();
    }
  }

  /** Stops the thread (idempotent). */
  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
