import { FastRecordReader } from './fastFlowLog.js';
import { FlowColumns } from '../flow/flowColumns.js';
import type { ProblemContext } from './problems.js';
import { isNsgRecord, readNsgRecord } from './nsgFlowLog.js';
import { isObject, recordProblem } from './recordShape.js';
import { RecordSplitter } from './recordSplitter.js';
import { deliverRows, rowTarget, type FlowSink } from './tupleSink.js';
import { isVnetRecord, readVnetRecord } from './vnetFlowLog.js';

/**
 * Reads one parsed Azure flow log record of any supported kind into the sink. The kind is decided
 * per record (a forwarder may mix NSG and VNet records in one body).
 */
export function readFlowLogRecord(record: unknown, context: ProblemContext, sink: FlowSink): void {
  if (!isObject(record)) {
    sink.problem(recordProblem('not-a-record', 'record is not a JSON object', context, record));
    return;
  }
  if (isVnetRecord(record)) readVnetRecord(record, context, sink);
  else if (isNsgRecord(record)) readNsgRecord(record, context, sink);
  else {
    const category = typeof record['category'] === 'string' ? `category '${record['category']}'` : 'no category';
    sink.problem(recordProblem('unknown-record', `not an NSG or VNet flow log record (${category})`, context, record));
  }
}

export interface FlowLogReaderOptions {
  /**
   * Read records with the byte-level fast path (fastFlowLog.ts) first; default true. The fast
   * path gives up on any record it cannot prove it reads exactly as JSON.parse + the record
   * readers do, so turning it off changes speed only (tests compare both).
   */
  readonly fastPath?: boolean;
}

/**
 * Streams a flow log document (file, blob blocks, event body) chunk by chunk into FlowRecords.
 * Each record is parsed on its own, so bad JSON costs one record, never the file. Every source
 * (files, blobs, event bodies) goes through here, so all of them get the fast path.
 */
export class FlowLogReader {
  private readonly splitter: RecordSplitter;
  private readonly fast: FastRecordReader | undefined;
  /** Rows of one record for a sink without columns of its own. */
  private readonly scratch = new FlowColumns();
  /** Records cut from the input so far, parsed or not. */
  recordsRead = 0;
  /** Records the fast path read (the others went through JSON.parse). */
  fastRecords = 0;

  constructor(
    private readonly source: string,
    private readonly sink: FlowSink,
    maxRecordBytes?: number,
    options: FlowLogReaderOptions = {},
  ) {
    this.fast = options.fastPath === false ? undefined : new FastRecordReader();
    this.splitter = new RecordSplitter(
      {
        record: (bytes, recordIndex) => this.parseRecord(bytes, recordIndex),
        recordAt: this.fast === undefined ? undefined : (chunk, start, _recordIndex, maxBytes) => this.readFastAt(chunk, start, maxBytes),
        problem: (reason, detail, recordIndex) =>
          this.sink.problem({
            reason,
            detail,
            skipped: reason === 'empty-input' ? 0 : 1,
            unit: 'record',
            context: { source: this.source, recordIndex },
          }),
      },
      maxRecordBytes,
    );
  }

  /** Reads what `chunk` completes; nothing of it is kept after this returns (the caller may reuse it). */
  push(chunk: Buffer): void {
    this.splitter.push(chunk);
  }

  end(): void {
    this.splitter.end();
  }

  /**
   * A record read in place from the chunk, when it lies wholly inside it: no copy, no second scan
   * by the splitter. Anything else (-1) is cut by the splitter and comes to parseRecord.
   */
  private readFastAt(chunk: Buffer, start: number, maxBytes: number): number {
    const fast = this.fast!;
    const target = rowTarget(this.sink, this.scratch);
    if (!fast.readAt(chunk, start, Math.min(chunk.length, start + maxBytes), target)) return -1;
    this.recordsRead++;
    this.fastRecords++;
    deliverRows(this.sink, target);
    return fast.recordEnd;
  }

  private parseRecord(bytes: Buffer, recordIndex: number): void {
    this.recordsRead++;
    if (this.fast !== undefined) {
      const target = rowTarget(this.sink, this.scratch);
      if (this.fast.read(bytes, target)) {
        this.fastRecords++;
        deliverRows(this.sink, target);
        return;
      }
    }
    let record: unknown;
    try {
      record = JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      this.sink.problem({
        reason: 'invalid-json',
        detail: (error as Error).message,
        skipped: 1,
        unit: 'record',
        context: { source: this.source, recordIndex, excerpt: bytes.subarray(0, 160).toString('utf8') },
      });
      return;
    }
    readFlowLogRecord(record, { source: this.source, recordIndex }, this.sink);
  }
}

/** Convenience for whole documents already in memory (tests, small event bodies). */
export function readFlowLogDocument(document: Buffer | string, source: string, sink: FlowSink): void {
  const reader = new FlowLogReader(source, sink);
  reader.push(typeof document === 'string' ? Buffer.from(document, 'utf8') : document);
  reader.end();
}
