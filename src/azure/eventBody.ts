import { gunzipSync } from 'node:zlib';
import { readBinaryCloudEvent, type BlobCreatedNotification, type GridEvent } from './blobCreatedEvent.js';
import { FlowLogReader, type RecordKindCounts } from './flowLogReader.js';
import type { ParseCache } from './parseCache.js';
import { excerpt as cutExcerpt, type ParseProblem } from './problems.js';
import type { FlowSink } from './tupleSink.js';

/**
 * What an Event Hubs message body holds, decided here and nowhere else. Producers put flow logs on
 * the wire in many shapes (checked against each SDK's encoder; shared/INTEROP.md):
 *
 * | section | body | sent by |
 * | --- | --- | --- |
 * | data | UTF-8 JSON bytes | .NET, Python and Java SDKs, Azure Monitor, Logstash, the JS SDK for a Buffer / Uint8Array |
 * | data | a JSON *string* holding the text (`"{\"records\":...`) | the JS SDK for a string body (it JSON.stringifies every non-binary body) |
 * | data | JSON of an object or array | the JS SDK for an object or array body |
 * | data | gzip of any of these | forwarders that compress (recognised by the magic bytes 1f 8b) |
 * | value | a string, map, list or binary | AMQP clients and SDKs sending an AMQP value |
 * | sequence | a list of such values | AMQP clients sending sequence sections |
 *
 * A UTF-8 BOM is dropped wherever text starts. Whatever text or values come out go through the one
 * FlowLogReader (the same as files and blobs), which tells flow log records, connector records and
 * Event Grid events apart record by record.
 */

/** The AMQP body section an event arrived in (the SDK's `getRawAmqpMessage().bodyType`). */
export type AmqpBodyType = 'data' | 'value' | 'sequence';

/** Largest body after gzip: a minute of a busy NIC is a few MB; more is a zip bomb, refused. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

export interface EventBodyOptions {
  readonly cache: ParseCache;
  readonly maxDecompressedBytes?: number;
}

export interface BodyOutcome {
  /** False: none of the supported kinds (the caller counts and logs the event once). */
  readonly recognized: boolean;
  /** Records of each kind read from the body. */
  readonly kinds: RecordKindCounts;
  /** Flow log and connector records read (skipped ones included). */
  readonly azureRecords: number;
  readonly notifications: readonly BlobCreatedNotification[];
  /** Event Grid events of other types: recognised, nothing to read. */
  readonly otherEvents: readonly string[];
  /** Why the body was not recognised, for the log line. */
  readonly why?: string;
  /** The start of the decoded body text, for the log line of an unrecognised event. */
  readonly excerpt?: string;
}

type BodyPart = { readonly text: Buffer } | { readonly value: unknown } | { readonly refused: string };

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;
const WRAPPER_PATTERN = /^\s*\{\s*"records"\s*:/;
const EXCERPT_BYTES = 200;

/**
 * Reads one event body: flows go to the sink at once; problems only if the body was recognised
 * (for an unrecognised one they would only repeat the one line its caller logs).
 */
export function readEventBody(
  body: unknown,
  bodyType: AmqpBodyType | undefined,
  properties: Record<string, unknown> | undefined,
  source: string,
  sink: FlowSink,
  options: EventBodyOptions,
): BodyOutcome {
  const run = new BodyRun(source, sink, options.cache);
  const binary = readBinaryCloudEvent(properties, () => firstValue(body, bodyType, options));
  if (binary !== undefined) run.binaryCloudEvent(binary);
  else
    for (const part of bodyParts(body, bodyType ?? (isBytes(body) ? 'data' : 'value'), options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES))
      run.read(part);
  return run.finish(body);
}

/** The text and values inside a body, unwrapped from every layer a producer may have added. */
function* bodyParts(body: unknown, section: AmqpBodyType, maxBytes: number): Generator<BodyPart> {
  if (section === 'sequence' && Array.isArray(body)) {
    for (const element of body) yield* bodyParts(element, 'value', maxBytes);
    return;
  }
  if (isBytes(body)) {
    yield bytesPart(Buffer.from(body.buffer, body.byteOffset, body.byteLength), maxBytes);
    return;
  }
  if (typeof body === 'string') {
    // As bytes are: a JSON string holding the text (a forwarder that encoded twice) is unwrapped too.
    yield bytesPart(Buffer.from(withoutBom(body), 'utf8'), maxBytes);
    return;
  }
  if (section === 'value' && Array.isArray(body) && body.some((element) => typeof element === 'string' || isBytes(element))) {
    // A list of texts (one document each), not a list of records.
    for (const element of body) yield* bodyParts(element, 'value', maxBytes);
    return;
  }
  yield { value: body };
}

/** Bytes as they came: gunzipped when gzip, a JSON string unwrapped (JS SDK), a BOM dropped. */
function bytesPart(bytes: Buffer, maxBytes: number, depth = 0): BodyPart {
  if (bytes.length >= 2 && bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1) {
    if (depth > 0) return { refused: 'gzip inside gzip' };
    let inflated: Buffer;
    try {
      inflated = gunzipSync(bytes, { maxOutputLength: maxBytes });
    } catch (error) {
      const tooLarge = (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      return { refused: tooLarge ? `gzip body inflates past ${maxBytes} bytes: refused` : `gzip body cannot be decompressed: ${(error as Error).message}` };
    }
    return bytesPart(inflated, maxBytes, depth + 1);
  }
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let first = start;
  while (first < bytes.length && (bytes[first] === 0x20 || bytes[first] === 0x0a || bytes[first] === 0x0d || bytes[first] === 0x09)) first++;
  if (bytes[first] === 0x22) {
    // The JS SDK sends a string body as JSON.stringify(string): the text is inside the quotes.
    try {
      const text: unknown = JSON.parse(bytes.toString('utf8', first));
      if (typeof text === 'string') return { text: Buffer.from(withoutBom(text), 'utf8') };
    } catch {
      // Not one JSON string after all: the reader reports what is wrong with the bytes.
    }
  }
  return { text: start === 0 ? bytes : bytes.subarray(start) };
}

function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** For binary CloudEvents only: the body is then the event's data, a small JSON object. */
function firstValue(body: unknown, bodyType: AmqpBodyType | undefined, options: EventBodyOptions): unknown {
  for (const part of bodyParts(body, bodyType ?? (isBytes(body) ? 'data' : 'value'), options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES)) {
    if ('value' in part) return part.value;
    if ('text' in part) {
      try {
        return JSON.parse(part.text.toString('utf8'));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

class BodyRun {
  readonly kinds: RecordKindCounts = { flowLog: 0, connector: 0, blobCreated: 0, otherEvent: 0 };
  private readonly notifications: BlobCreatedNotification[] = [];
  private readonly otherEvents: string[] = [];
  private readonly problems: ParseProblem[] = [];
  private readonly bufferingSink: FlowSink;
  private wrapper = false;
  private refused = false;
  private firstText: Buffer | undefined;
  private firstValue: unknown;

  constructor(
    private readonly source: string,
    private readonly sink: FlowSink,
    private readonly cache: ParseCache,
  ) {
    const columns = sink.columns;
    this.bufferingSink = {
      ...(columns === undefined ? {} : { columns }),
      flow: (record) => sink.flow(record),
      problem: (problem) => this.problems.push(problem),
      gridEvent: (event) => this.gridEvent(event),
      fastPathError: (error, context) => sink.fastPathError?.(error, context),
    };
  }

  read(part: BodyPart): void {
    if ('refused' in part) {
      this.refused = true;
      this.sink.problem({ reason: 'refused-body', detail: part.refused, skipped: 1, unit: 'record', context: { source: this.source } });
      return;
    }
    const reader = new FlowLogReader(this.source, this.bufferingSink, undefined, { cache: this.cache });
    if ('text' in part) {
      this.firstText ??= part.text;
      if (WRAPPER_PATTERN.test(part.text.subarray(0, 256).toString('utf8'))) this.wrapper = true;
      reader.push(part.text);
      reader.end();
    } else {
      if (this.firstText === undefined && this.firstValue === undefined) this.firstValue = part.value;
      if (typeof part.value === 'object' && part.value !== null && Array.isArray((part.value as { records?: unknown }).records)) this.wrapper = true;
      reader.readValue(part.value);
    }
    for (const key of Object.keys(this.kinds) as (keyof RecordKindCounts)[]) this.kinds[key] += reader.kinds[key];
  }

  /** An event found by the reader (which counts it in its kinds). */
  gridEvent(event: GridEvent): void {
    if (event.kind === 'blob-created') this.notifications.push(event.notification);
    else this.otherEvents.push(event.eventType);
  }

  /** A binary-mode CloudEvent: its attributes came in the properties, so no reader saw it. */
  binaryCloudEvent(event: GridEvent): void {
    if (event.kind === 'blob-created') this.kinds.blobCreated++;
    else this.kinds.otherEvent++;
    this.gridEvent(event);
  }

  finish(body: unknown): BodyOutcome {
    const kinds = this.kinds;
    const recognized = this.refused || this.wrapper || kinds.flowLog + kinds.connector + kinds.blobCreated + kinds.otherEvent > 0;
    const shared = { kinds, notifications: this.notifications, otherEvents: this.otherEvents };
    if (recognized) {
      for (const problem of this.problems) this.sink.problem(problem);
      return { recognized, ...shared, azureRecords: kinds.flowLog + kinds.connector };
    }
    return {
      recognized,
      kinds,
      azureRecords: 0,
      notifications: [],
      otherEvents: [],
      why: this.problems[0]?.detail ?? 'empty body',
      excerpt: this.excerpt(body),
    };
  }

  private excerpt(body: unknown): string {
    if (this.firstText !== undefined) return cutExcerpt(this.firstText.subarray(0, EXCERPT_BYTES).toString('utf8'));
    try {
      return cutExcerpt(this.firstValue === undefined ? body : this.firstValue);
    } catch {
      // String() of an array nested 100,000 deep overflows the stack.
      return Array.isArray(body) ? '[deeply nested array]' : '[unprintable value]';
    }
  }
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}
