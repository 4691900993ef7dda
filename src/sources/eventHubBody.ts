import { readBinaryCloudEvent, readGridEvent, type BlobCreatedNotification, type GridEvent } from '../azure/blobCreatedEvent.js';
import { ConnectorRecordReader, isConnectorRecord } from '../azure/connectorRecord.js';
import { FastRecordReader } from '../azure/fastFlowLog.js';
import { readFlowLogRecord } from '../azure/flowLogReader.js';
import { isNsgRecord } from '../azure/nsgFlowLog.js';
import { excerpt as cutExcerpt, type ParseProblem } from '../azure/problems.js';
import { isObject } from '../azure/recordShape.js';
import { RecordSplitter } from '../azure/recordSplitter.js';
import { deliverRows, rowTarget, type FlowSink } from '../azure/tupleSink.js';
import { FlowColumns } from '../flow/flowColumns.js';
import { isVnetRecord } from '../azure/vnetFlowLog.js';

/**
 * What an Event Hubs message body holds, decided per event (one hub may carry several kinds):
 *
 * 1. flow log payloads pushed by a forwarder: `{"records":[...]}`, one record, or an array of
 *    records (NSG v1/v2 or VNet), as bytes, a string or already-decoded JSON;
 * 2. the NSG flow logs connector's denormalized records (connectorRecord.ts), in the same wrappers;
 * 3. Event Grid `Microsoft.Storage.BlobCreated` notifications (Event Grid or CloudEvents schema,
 *    one event or an array), which name a blob whose new blocks are read separately.
 *
 * Byte and string bodies are cut into records by the RecordSplitter and each record is read by
 * the byte-level fast path when it can, so one bad record costs only itself. A body in which
 * nothing is recognised is reported as such (the caller counts and logs the event once) and its
 * parse problems are dropped: they would only say the same thing again.
 */

export type BodyKind = 'flow-log' | 'connector' | 'blob-created' | 'other-event';

export interface DecodedBody {
  /** False: none of the supported kinds. */
  readonly recognized: boolean;
  /** Kinds seen in the body (usually one). */
  readonly kinds: ReadonlySet<BodyKind>;
  /** Flow log and connector records read (including skipped ones). */
  readonly azureRecords: number;
  readonly notifications: readonly BlobCreatedNotification[];
  /** Event Grid events of other types: recognised, nothing to read. */
  readonly otherEvents: readonly string[];
  /** Why the body was not recognised, for the log line. */
  readonly why?: string;
  /** The start of the body, for the log line of an unrecognised event. */
  readonly excerpt?: string;
}

const WRAPPER_PATTERN = /^\s*\{\s*"records"\s*:/;
const UTF8_BOM = '\ufeff';

/** One per source; not re-entrant (records are handed to the sink as they are read). */
export class EventBodyDecoder {
  private readonly fast = new FastRecordReader();
  private readonly connector = new ConnectorRecordReader();

  /**
   * Reads one event body. Flows go to the sink at once; problems go to it only if the body was
   * recognised.
   */
  decode(body: unknown, properties: Record<string, unknown> | undefined, source: string, sink: FlowSink): DecodedBody {
    const run = new BodyRun(source, sink, this.fast, this.connector);
    const binary = readBinaryCloudEvent(properties, () => (typeof body === 'string' || isBytes(body) ? tryParse(body) : body));
    if (binary !== undefined) run.gridEvent(binary);
    else if (isBytes(body)) run.bytes(Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    else if (typeof body === 'string') run.bytes(Buffer.from(body.startsWith(UTF8_BOM) ? body.slice(1) : body, 'utf8'));
    else run.value(body, 0, true);
    return run.finish(body);
  }
}

class BodyRun {
  readonly kinds = new Set<BodyKind>();
  readonly notifications: BlobCreatedNotification[] = [];
  readonly otherEvents: string[] = [];
  azureRecords = 0;
  private wrapper = false;
  private readonly problems: ParseProblem[] = [];
  private unrecognizedWhy: string | undefined;
  private readonly bufferingSink: FlowSink;
  /** Rows of one record for a sink without columns of its own. */
  private readonly scratch = new FlowColumns();

  constructor(
    private readonly source: string,
    private readonly sink: FlowSink,
    private readonly fast: FastRecordReader,
    private readonly connector: ConnectorRecordReader,
  ) {
    this.bufferingSink = { flow: (record) => sink.flow(record), problem: (problem) => this.problems.push(problem) };
  }

  bytes(bytes: Buffer): void {
    const head = bytes
      .subarray(0, 256)
      .toString('utf8')
      .replace(/^\ufeff/, '');
    if (WRAPPER_PATTERN.test(head)) this.wrapper = true;
    const splitter = new RecordSplitter({
      record: (slice, recordIndex) => this.slice(slice, recordIndex),
      problem: (reason, detail, recordIndex) => {
        this.unrecognizedWhy ??= detail;
        this.problems.push({ reason, detail, skipped: reason === 'empty-input' ? 0 : 1, unit: 'record', context: { source: this.source, recordIndex } });
      },
    });
    splitter.push(bytes);
    splitter.end();
  }

  private slice(bytes: Buffer, recordIndex: number): void {
    const target = rowTarget(this.sink, this.scratch);
    if (this.fast.read(bytes, target)) {
      this.kinds.add('flow-log');
      this.azureRecords++;
      deliverRows(this.sink, target);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      this.unrecognizedWhy ??= `invalid JSON: ${(error as Error).message}`;
      this.problems.push({
        reason: 'invalid-json',
        detail: (error as Error).message,
        skipped: 1,
        unit: 'record',
        context: { source: this.source, recordIndex, excerpt: excerpt(bytes.subarray(0, 160).toString('utf8')) },
      });
      return;
    }
    this.value(value, recordIndex, false);
  }

  /** A decoded value: a record, an event, or (when `top`) a wrapper or list of them. */
  value(value: unknown, recordIndex: number, top: boolean): void {
    if (typeof value === 'string' && top) {
      this.bytes(Buffer.from(value, 'utf8'));
      return;
    }
    if (isBytes(value) && top) {
      this.bytes(Buffer.from(value));
      return;
    }
    if (Array.isArray(value) && top) {
      value.forEach((element, index) => this.value(element, index, false));
      return;
    }
    if (!isObject(value)) {
      this.unknown(value, recordIndex, 'not a JSON object');
      return;
    }
    if (top && Array.isArray(value['records'])) {
      this.wrapper = true;
      (value['records'] as unknown[]).forEach((element, index) => this.value(element, index, false));
      return;
    }
    const grid = readGridEvent(value);
    if (grid !== undefined) {
      this.gridEvent(grid);
      return;
    }
    const context = { source: this.source, recordIndex };
    if (isConnectorRecord(value)) {
      this.kinds.add('connector');
      this.azureRecords++;
      this.connector.read(value, context, this.bufferingSink);
      return;
    }
    if (isVnetRecord(value) || isNsgRecord(value)) {
      this.kinds.add('flow-log');
      this.azureRecords++;
      readFlowLogRecord(value, context, this.bufferingSink);
      return;
    }
    this.unknown(value, recordIndex, 'not a flow log record, connector record or Event Grid event');
  }

  gridEvent(event: GridEvent): void {
    if (event.kind === 'blob-created') {
      this.kinds.add('blob-created');
      this.notifications.push(event.notification);
    } else {
      this.kinds.add('other-event');
      this.otherEvents.push(event.eventType);
    }
  }

  private unknown(value: unknown, recordIndex: number, why: string): void {
    this.unrecognizedWhy ??= why;
    const category = isObject(value) && typeof value['category'] === 'string' ? ` (category '${value['category']}')` : '';
    this.problems.push({
      reason: 'unknown-record',
      detail: `${why}${category}`,
      skipped: 1,
      unit: 'record',
      context: { source: this.source, recordIndex, excerpt: excerpt(value) },
    });
  }

  finish(body: unknown): DecodedBody {
    const recognized = this.wrapper || this.kinds.size > 0;
    if (recognized) {
      for (const problem of this.problems) this.sink.problem(problem);
      return { recognized, kinds: this.kinds, azureRecords: this.azureRecords, notifications: this.notifications, otherEvents: this.otherEvents };
    }
    return {
      recognized,
      kinds: this.kinds,
      azureRecords: 0,
      notifications: [],
      otherEvents: [],
      why: this.unrecognizedWhy ?? 'empty body',
      excerpt: excerpt(isBytes(body) ? Buffer.from(body).subarray(0, 200).toString('utf8') : body),
    };
  }
}

/** excerpt() that survives hostile values (String() of an array nested 100,000 deep overflows the stack). */
function excerpt(value: unknown): string {
  try {
    return cutExcerpt(value);
  } catch {
    return Array.isArray(value) ? '[deeply nested array]' : '[unprintable value]';
  }
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

/** For binary CloudEvents only: the body is then the event's data, a small JSON object. */
function tryParse(body: string | Uint8Array): unknown {
  try {
    return JSON.parse(typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
  } catch {
    return undefined;
  }
}
