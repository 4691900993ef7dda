/**
 * Streams Azure flow log JSON and cuts it into one byte slice per record, without ever holding
 * the whole document in memory or parsing it as one value.
 *
 * Why not `JSON.parse(file)`: a PT1H.json blob can exceed V8's maximum string length, one broken
 * record would cost the whole file, and a blob read block by block arrives in pieces. Each slice is
 * parsed on its own, so a corrupt record is skipped and the rest of the file still goes out.
 *
 * Accepted shapes, also concatenated one after another (JSON Lines, event bodies):
 * - `{"records":[ {...}, {...} ]}` (the blob format; other top-level keys are ignored),
 * - `[ {...}, {...} ]` (an array of records),
 * - `{...}` (a single record).
 */

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;

const RECORDS_KEY = Buffer.from('records');
const BOM = [0xef, 0xbb, 0xbf];

/** Default cap on one record's size: a minute of one NIC's flows is far below it. */
export const DEFAULT_MAX_RECORD_BYTES = 256 * 1024 * 1024;

export interface RecordSliceSink {
  /** One record's bytes (valid JSON unless the input was corrupt inside the record). */
  record(bytes: Buffer, recordIndex: number): void;
  /** Input that could not be cut into records. */
  problem(reason: 'invalid-json' | 'truncated-json' | 'empty-input' | 'oversized-record', detail: string, recordIndex: number): void;
  /**
   * Optional shortcut for an element of the records array that starts with `{` at chunk[start]:
   * the sink may take the whole record itself, if it is valid JSON that ends inside the chunk
   * within `maxBytes`, instead of having it cut and handed to record(). Returns the index after the
   * record's closing brace, or -1 to leave the record to the splitter (nothing consumed). A record
   * taken this way counts exactly as if record() had been called with its bytes.
   */
  recordAt?(chunk: Buffer, start: number, recordIndex: number, maxBytes: number): number;
}

type Mode =
  /** Before a top-level value. */
  | 'top'
  /** Inside a top-level object: it may be the `{"records":[...]}` wrapper or a single record. */
  | 'object'
  /** Inside the array that holds records (top-level array, or the value of "records"). */
  | 'elements'
  /** After the records array of a wrapper, until the wrapper closes. */
  | 'tail'
  /** Unrecoverable syntax error: ignore the rest. */
  | 'broken';

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

export class RecordSplitter {
  private mode: Mode = 'top';
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Depth at which the elements (records) of the current array live. */
  private elementDepth = 0;
  /** Bytes of the value being collected from earlier chunks. */
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private collecting = false;
  /** Collecting a scalar element (not an object): ends at the next comma or bracket. */
  private collectingScalar = false;
  /** Inside a top-level object: key capture to recognise "records". */
  private expectKey = false;
  private keyStart = -1;
  private keyMatches = false;
  private lastKeyWasRecords = false;
  private awaitingValue = false;
  private recordIndex = 0;
  private sawInput = false;
  /** Bytes of a leading UTF-8 BOM seen so far (it may be split across chunks); -1 once decided. */
  private bomBytes = 0;
  private oversized = false;

  constructor(
    private readonly sink: RecordSliceSink,
    private readonly maxRecordBytes = DEFAULT_MAX_RECORD_BYTES,
  ) {}

  /** Feeds the next chunk; record slices are handed to the sink as they complete. */
  push(chunk: Buffer): void {
    let start = 0;
    if (this.bomBytes >= 0) {
      while (start < chunk.length && this.bomBytes < 3) {
        if (chunk[start] !== BOM[this.bomBytes]) break;
        this.bomBytes++;
        start++;
      }
      if (this.bomBytes === 3) this.bomBytes = -1;
      else if (start < chunk.length) {
        // Not a BOM after all: the bytes taken for one are input, and input cannot start with them.
        if (this.bomBytes > 0) {
          this.failOnFirstBomByte();
          return;
        }
        this.bomBytes = -1;
      }
    }
    let collectFrom = this.collecting ? start : -1;
    const length = chunk.length;
    // The first backslash at or after the current string's start (length: none): positions only
    // grow within a chunk, so without backslashes one search serves the whole chunk.
    let nextBackslash = -1;
    for (let i = start; i < length; i++) {
      let byte = chunk[i]!;
      if (this.mode === 'broken') return;
      if (this.inString) {
        if (!this.escaped && this.keyStart < 0) {
          // Most of a flow log is string content (the tuples): jump to the next quote or backslash
          // with indexOf (memchr), several times faster than looking at each byte here.
          if (nextBackslash < i) {
            nextBackslash = chunk.indexOf(BACKSLASH, i);
            if (nextBackslash < 0) nextBackslash = length;
          }
          let quote = chunk.indexOf(QUOTE, i);
          if (quote < 0) quote = length;
          i = quote < nextBackslash ? quote : nextBackslash;
          if (i === length) break;
          byte = chunk[i]!;
        }
        if (this.escaped) this.escaped = false;
        else if (byte === BACKSLASH) {
          this.escaped = true;
          // A key with an escape is never read as "records" (keyLength does not see escaped
          // bytes, so going on matching would depend on where the chunks end).
          this.keyMatches = false;
        } else if (byte === QUOTE) {
          this.inString = false;
          if (this.keyStart >= 0) this.finishKey(chunk, i);
        } else if (this.keyStart >= 0 && this.keyMatches) {
          const position = this.keyLength(chunk, i);
          if (position >= RECORDS_KEY.length || RECORDS_KEY[position] !== byte) this.keyMatches = false;
        }
        continue;
      }
      if (isWhitespace(byte)) continue;
      this.sawInput = true;

      switch (this.mode) {
        case 'top':
          if (byte === OPEN_BRACKET) {
            this.mode = 'elements';
            this.depth = 1;
            this.elementDepth = 1;
          } else if (byte === OPEN_BRACE) {
            this.mode = 'object';
            this.depth = 1;
            this.expectKey = true;
            this.awaitingValue = false;
            this.lastKeyWasRecords = false;
            this.collecting = true;
            collectFrom = i;
          } else {
            this.fail('invalid-json', `unexpected byte '${String.fromCharCode(byte)}' where a record or a list of records should start`);
            return;
          }
          break;

        case 'object':
          if (this.depth === 1) {
            if (byte === QUOTE && this.expectKey) {
              this.inString = true;
              this.expectKey = false;
              this.beginKey(chunk, i);
              break;
            }
            if (byte === COLON) {
              this.awaitingValue = true;
              break;
            }
            if (byte === COMMA) {
              this.expectKey = true;
              break;
            }
            if (this.awaitingValue) {
              this.awaitingValue = false;
              if (byte === OPEN_BRACKET && this.lastKeyWasRecords) {
                // The wrapper: drop what was kept in case it was a single record, collect elements.
                this.dropCarry();
                this.collecting = false;
                collectFrom = -1;
                this.mode = 'elements';
                this.depth = 2;
                this.elementDepth = 2;
                break;
              }
            }
            if (byte === CLOSE_BRACE) {
              this.depth = 0;
              this.emitCollected(chunk, collectFrom, i + 1);
              collectFrom = -1;
              this.mode = 'top';
              break;
            }
          }
          if (byte === QUOTE) this.inString = true;
          else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.depth++;
          else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) this.depth--;
          break;

        case 'elements':
          if (this.collecting) {
            if (this.collectingScalar) {
              if (this.depth === this.elementDepth && (byte === COMMA || byte === CLOSE_BRACKET)) {
                this.emitCollected(chunk, collectFrom, i);
                collectFrom = -1;
                this.collectingScalar = false;
                if (byte === CLOSE_BRACKET) this.closeElements();
                break;
              }
            }
            if (byte === QUOTE) this.inString = true;
            else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.depth++;
            else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
              this.depth--;
              if (this.depth === this.elementDepth && !this.collectingScalar) {
                this.emitCollected(chunk, collectFrom, i + 1);
                collectFrom = -1;
              }
            }
            break;
          }
          if (byte === COMMA) break;
          if (byte === CLOSE_BRACKET) {
            this.closeElements();
            break;
          }
          if (byte === OPEN_BRACE && this.sink.recordAt !== undefined) {
            const after = this.sink.recordAt(chunk, i, this.recordIndex, this.maxRecordBytes);
            if (after > i) {
              this.recordIndex++;
              i = after - 1;
              break;
            }
          }
          this.collecting = true;
          collectFrom = i;
          if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
            this.collectingScalar = false;
            this.depth++;
          } else {
            this.collectingScalar = true;
            if (byte === QUOTE) this.inString = true;
          }
          break;

        case 'tail':
          if (byte === QUOTE) this.inString = true;
          else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.depth++;
          else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
            this.depth--;
            if (this.depth === 0) this.mode = 'top';
          }
          break;
      }
    }
    if (this.collecting && collectFrom >= 0) this.keep(chunk.subarray(collectFrom));
  }

  /** Signals the end of input: an unfinished record is reported as truncated. */
  end(): void {
    if (this.mode === 'broken') return;
    if (this.bomBytes > 0) {
      this.failOnFirstBomByte();
      return;
    }
    if (!this.sawInput) {
      this.sink.problem('empty-input', 'no JSON in the input', this.recordIndex);
      return;
    }
    // A records list left open is normal for a blob still being written; only a record cut
    // in half loses data.
    if (this.collecting) {
      this.sink.problem('truncated-json', `record cut off after ${this.carryBytes} bytes`, this.recordIndex);
      this.dropCarry();
      this.collecting = false;
      this.mode = 'broken';
    }
  }

  /** What reading a partial BOM as input leads to: its first byte cannot start a value. */
  private failOnFirstBomByte(): void {
    this.bomBytes = -1;
    this.sawInput = true;
    this.fail('invalid-json', `unexpected byte '${String.fromCharCode(BOM[0]!)}' where a record or a list of records should start`);
  }

  private closeElements(): void {
    this.depth = this.elementDepth - 1;
    if (this.depth === 0) this.mode = 'top';
    else this.mode = 'tail';
  }

  private keyChunkStart: Buffer | null = null;
  private keyBytesBeforeChunk = 0;

  private beginKey(chunk: Buffer, quoteIndex: number): void {
    this.keyStart = quoteIndex + 1;
    this.keyMatches = true;
    this.keyBytesBeforeChunk = 0;
    this.keyChunkStart = chunk;
  }

  /** Position of byte `i` inside the key being read (keys may span chunks). */
  private keyLength(chunk: Buffer, i: number): number {
    if (this.keyChunkStart !== chunk) {
      if (this.keyChunkStart !== null) this.keyBytesBeforeChunk += this.keyChunkStart.length - this.keyStart;
      this.keyStart = 0;
      this.keyChunkStart = chunk;
    }
    return this.keyBytesBeforeChunk + (i - this.keyStart);
  }

  private finishKey(chunk: Buffer, closingQuote: number): void {
    const length = this.keyLength(chunk, closingQuote);
    this.lastKeyWasRecords = this.keyMatches && length === RECORDS_KEY.length;
    this.keyStart = -1;
    this.keyChunkStart = null;
  }

  private keep(part: Buffer): void {
    // Counted even once oversized: the problem reports the record's real size.
    this.carryBytes += part.length;
    if (this.oversized) return;
    if (this.carryBytes > this.maxRecordBytes) {
      this.oversized = true;
      this.carry = [];
      return;
    }
    // Copy: the caller may reuse its chunk buffer after push() returns.
    this.carry.push(Buffer.from(part));
  }

  private emitCollected(chunk: Buffer, from: number, to: number): void {
    const index = this.recordIndex++;
    this.collecting = false;
    if (this.oversized || this.carryBytes + (to - Math.max(from, 0)) > this.maxRecordBytes) {
      const size = this.carryBytes + (to - Math.max(from, 0));
      this.dropCarry();
      this.sink.problem('oversized-record', `record of ${size} bytes exceeds the ${this.maxRecordBytes}-byte limit`, index);
      return;
    }
    let bytes: Buffer;
    const tail = from >= 0 ? chunk.subarray(from, to) : chunk.subarray(0, to);
    if (this.carry.length === 0) bytes = tail;
    else bytes = Buffer.concat([...this.carry, tail]);
    this.dropCarry();
    this.sink.record(bytes, index);
  }

  private dropCarry(): void {
    this.carry = [];
    this.carryBytes = 0;
    this.oversized = false;
  }

  private fail(reason: 'invalid-json', detail: string): void {
    this.mode = 'broken';
    this.collecting = false;
    this.dropCarry();
    this.sink.problem(reason, detail, this.recordIndex);
  }
}
