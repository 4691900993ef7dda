import { Worker } from 'node:worker_threads';
import type { FlowColumns } from '../flow/flowColumns.js';
import type { FromAggregator, ToAggregator } from './aggregatorWorker.js';
import type { FlowReport } from './flowReport.js';
import { type AggregatorOptions, ReportAggregator } from './reportAggregator.js';
import { reportResult, type ResultOptions } from './reportResult.js';
import { packRows } from './reportRows.js';

/**
 * The report's counting on two threads: the address pairs (the largest table, with the most
 * updates) on a thread of their own, everything else (hosts, denies, rules, hours, totals) here,
 * between reading batches. Each batch's rows are copied into a shared buffer for the pairs thread
 * (a few memory copies). Counting costs more than parsing (hash table updates in tables too large
 * for the CPU caches): counting all of it on one other thread left this one idle most of the time
 * and the report slower than `replay`, which parses here and encodes on another thread; a third
 * thread cost more than it saved on the project's 2-core machines.
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
  /** Tuples counted so far (for progress). */
  tuples = 0;
  private readonly local: ReportAggregator;
  private readonly buffers: SharedArrayBuffer[] = [];
  /** Per buffer: whether the pairs thread still reads it. */
  private readonly busy: boolean[] = [];
  private readonly waiting: (() => void)[] = [];
  private failure: Error | undefined;
  private onReport: ((report: FlowReport) => void) | undefined;
  private onFailure: ((error: Error) => void) | undefined;

  private constructor(
    private readonly worker: Worker,
    options: AggregatorOptions,
  ) {
    this.local = new ReportAggregator({ ...options, tables: 'others' });
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
    return new AggregatorThread(new Worker(WORKER_URL, { workerData: { options: { ...options, tables: 'pairs' } } }), options);
  }

  /** Counts the rows of `flows`; resolves once the columns may be reused. */
  async add(flows: FlowColumns): Promise<void> {
    if (flows.length === 0) return;
    let index = this.busy.indexOf(false);
    while (index < 0 && this.buffers.length >= MAX_IN_FLIGHT && this.failure === undefined) {
      await new Promise<void>((wake) => this.waiting.push(wake));
      index = this.busy.indexOf(false);
    }
    if (this.failure !== undefined) throw this.failure;
    if (index < 0) index = this.buffers.push(new SharedArrayBuffer(0)) - 1;
    const { buffer, length } = packRows(flows, 0, flows.length, undefined, this.buffers[index]);
    this.buffers[index] = buffer;
    this.busy[index] = true;
    this.worker.postMessage({ kind: 'rows', buffer, index, length, names: [] } satisfies ToAggregator);
    this.local.addRows(flows);
    this.tuples += length;
  }

  /** The report, once every row is counted; the pairs thread then ends. */
  async finish(result: ResultOptions, input: { files: number; inputBytes: number; records: number }): Promise<FlowReport> {
    if (this.failure !== undefined) throw this.failure;
    const pairs = new Promise<FlowReport>((resolve, reject) => {
      this.onReport = resolve;
      this.onFailure = reject;
    });
    this.worker.postMessage({ kind: 'finish', result, input } satisfies ToAggregator);
    this.local.files = input.files;
    this.local.inputBytes = input.inputBytes;
    this.local.records = input.records;
    const others = reportResult(this.local, result);
    try {
      return mergeReports(await pairs, others);
    } finally {
      await this.close();
    }
  }

  /** Stops the pairs thread (idempotent). */
  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

/** The top talkers of the pairs thread into the report of the rest. */
function mergeReports(pairs: FlowReport, others: FlowReport): FlowReport {
  const approximations = [...pairs.approximations.filter((a) => a.list === 'topTalkers'), ...others.approximations.filter((a) => a.list !== 'topTalkers')];
  return { ...others, topTalkers: pairs.topTalkers, approximate: approximations.length > 0, approximations };
}
