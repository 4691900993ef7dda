import { FlowColumns } from '../flow/flowColumns.js';
import { readGridEvent } from './blobCreatedEvent.js';
import { ConnectorRecordReader, isConnectorRecord } from './connectorRecord.js';
import { FastRecordReader } from './fast/recordReader.js';
import { ParseCache } from './parseCache.js';
import { recordKind } from './format.js';
import { readNsgRecord } from './nsgFlowLog.js';
import { excerpt, type ParseProblem, type ProblemContext } from './problems.js';
import { isObject, recordProblem } from './recordShape.js';
import { RecordSplitter } from './recordSplitter.js';
import { deliverRows, rowTarget, type FlowSink } from './tupleSink.js';
import { readVnetRecord } from './vnetFlowLog.js';

/** What the records read so far were: the Event Hubs source tells bodies apart by it. */
export interface RecordKindCounts {
  /** NSG and VNet flow log records. */
  flowLog: number;
  /** The NSG flow logs connector's denormalized records. */
  connector: number;
  blobCreated: number;
  /** Event Grid events of other types. */
  otherEvent: number;
}

export interface FlowLogReaderOptions {
  /**
   * Read NSG and VNet records with the byte-level fast path (fast/) first; default true. The fast
   * path gives up on any record it cannot prove it reads exactly as JSON.parse + the record
   * readers do, so turning it off changes speed only (tests compare both).
   */
  readonly fastPath?: boolean;
  /**
   * Strings and contexts remembered across documents: one per source, so the blocks of a blob or
   * the files of a replay share them (later stages key their work by the context objects).
   */
  readonly cache?: ParseCache;
}

/**
 * The one reader of Azure flow data. Every source hands it what it reads (files, blob blocks, the
 * text or values found in Event Hubs bodies), chunk by chunk; it cuts records out of the
 * `{"records":[...]}` wrapper, an array, single records or records one per line, and reads each
 * on its own, so bad JSON costs one record, never the document. A record is, by its own shape:
 *
 * - an NSG (v1/v2) or VNet flow log record: read by the byte-level fast path when it can, else by
 *   JSON.parse and nsgFlowLog.ts / vnetFlowLog.ts;
 * - a record of Microsoft's NSG flow logs connector (one tuple, denormalized): connectorRecord.ts;
 * - an Event Grid / CloudEvents event (a BlobCreated notification): handed to the sink's
 *   `gridEvent`, or skipped as a problem where nothing can follow it (a replay).
 */
export class FlowLogReader {
  private readonly splitter: RecordSplitter;
  private readonly fast: FastRecordReader | undefined;
  private readonly connector: ConnectorRecordReader;
  /** Rows of one record for a sink without columns of its own. */
  private readonly scratch = new FlowColumns();
  /** Records cut from the input so far, parsed or not. */
  recordsRead = 0;
  /** Records the fast path read (the others went through JSON.parse). */
  fastRecords = 0;
  readonly kinds: RecordKindCounts = { flowLog: 0, connector: 0, blobCreated: 0, otherEvent: 0 };

  constructor(
    private readonly source: string,
    private readonly sink: FlowSink,
    maxRecordBytes?: number,
    options: FlowLogReaderOptions = {},
  ) {
    const cache = options.cache ?? new ParseCache();
    this.connector = cache.connector;
    this.fast = options.fastPath === false ? undefined : new FastRecordReader(cache);
    this.splitter = new RecordSplitter(
      {
        record: (bytes, recordIndex) => this.parseRecord(bytes, recordIndex),
        recordAt: this.fast === undefined ? undefined : (chunk, start, recordIndex, maxBytes) => this.readFastAt(chunk, start, recordIndex, maxBytes),
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
   * A value already decoded (an AMQP map or list, a JSON body the SDK parsed): a record, an event,
   * or at the top a `{"records":[...]}` wrapper or a list of them.
   */
  readValue(value: unknown, top = true): void {
    if (top && Array.isArray(value)) {
      for (const element of value) this.readValue(element, false);
      return;
    }
    if (top && isObject(value) && Array.isArray(value['records'])) {
      for (const element of value['records'] as unknown[]) this.readValue(element, false);
      return;
    }
    this.readRecordValue(value, { source: this.source, recordIndex: this.recordsRead++ });
  }

  /**
   * A record read in place from the chunk, when it lies wholly inside it: no copy, no second scan
   * by the splitter. Anything else (-1) is cut by the splitter and comes to parseRecord.
   */
  private readFastAt(chunk: Buffer, start: number, recordIndex: number, maxBytes: number): number {
    const fast = this.fast!;
    const target = rowTarget(this.sink, this.scratch);
    let read = false;
    try {
      read = fast.readAt(chunk, start, Math.min(chunk.length, start + maxBytes), target);
    } catch (error) {
      this.fastPathFailed(error, recordIndex);
    }
    if (!read) return -1;
    this.recordsRead++;
    this.fastRecords++;
    this.kinds.flowLog++;
    deliverRows(this.sink, target);
    return fast.recordEnd;
  }

  /** A fast-path bug (it threw): counted, and the record goes the reference way. */
  private fastPathFailed(error: unknown, recordIndex: number): void {
    this.sink.fastPathError?.(error, { source: this.source, recordIndex });
  }

  private parseRecord(bytes: Buffer, recordIndex: number): void {
    const fast = this.fast;
    if (fast !== undefined) {
      const target = rowTarget(this.sink, this.scratch);
      let read = false;
      try {
        read = fast.read(bytes, target);
      } catch (error) {
        this.fastPathFailed(error, recordIndex);
      }
      if (read) {
        this.recordsRead++;
        this.fastRecords++;
        this.kinds.flowLog++;
        deliverRows(this.sink, target);
        return;
      }
    }
    this.recordsRead++;
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
    this.readRecordValue(record, { source: this.source, recordIndex });
  }

  /** One parsed record of any kind, decided by its own shape (a body may mix kinds). */
  private readRecordValue(record: unknown, context: ProblemContext): void {
    const sink = this.sink;
    if (!isObject(record)) {
      sink.problem(recordProblem('not-a-record', 'record is not a JSON object', context, record));
      return;
    }
    // A `{"records":[...]}` wrapper inside a list (forwarders batch whole blobs): its records, one
    // level deep. No flow log record, connector record or event has a `records` array of its own.
    if (Array.isArray(record['records']) && !('category' in record)) {
      for (const inner of record['records'] as unknown[]) {
        if (Array.isArray(inner) || (isObject(inner) && Array.isArray(inner['records']))) {
          sink.problem(recordProblem('not-a-record', 'a records list nested in a records list', context, inner));
          continue;
        }
        this.readRecordValue(inner, context);
      }
      return;
    }
    // Connector records carry the NSG category too: their tuple keys tell them apart first.
    if (isConnectorRecord(record)) {
      this.kinds.connector++;
      this.connector.read(record, context, sink);
      return;
    }
    const kind = recordKind(record['category'], 'flowRecords' in record, 'properties' in record);
    if (kind === 'vnet') {
      this.kinds.flowLog++;
      readVnetRecord(record, context, sink);
      return;
    }
    if (kind === 'nsg') {
      this.kinds.flowLog++;
      readNsgRecord(record, context, sink);
      return;
    }
    const event = readGridEvent(record);
    if (event !== undefined) {
      if (event.kind === 'blob-created') this.kinds.blobCreated++;
      else this.kinds.otherEvent++;
      if (sink.gridEvent !== undefined) sink.gridEvent(event);
      else
        sink.problem(
          gridEventProblem(event.kind === 'blob-created' ? 'a BlobCreated notification' : `an Event Grid event (${event.eventType})`, context, record),
        );
      return;
    }
    const category = typeof record['category'] === 'string' ? `category '${record['category']}'` : 'no category';
    sink.problem(
      recordProblem('unknown-record', `not an NSG or VNet flow log record, a connector record or an Event Grid event (${category})`, context, record),
    );
  }
}

function gridEventProblem(what: string, context: ProblemContext, record: unknown): ParseProblem {
  return {
    reason: 'unfollowed-event',
    detail: `${what}: only the eventhub command follows notifications to their blobs`,
    skipped: 1,
    unit: 'record',
    context: { ...context, excerpt: excerpt(record) },
  };
}

/** Convenience for whole documents already in memory (tests, small event bodies). */
export function readFlowLogDocument(document: Buffer | string, source: string, sink: FlowSink): void {
  const reader = new FlowLogReader(source, sink);
  reader.push(typeof document === 'string' ? Buffer.from(document, 'utf8') : document);
  reader.end();
}
