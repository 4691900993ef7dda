import { ADDRESS_WORDS, DENIED, FlowColumns, IPV6, KIND_CODES, OUTBOUND, STATE_CODES } from '../flow/flowColumns.js';
import type { AzureContext, FlowRecord } from '../flow/flowRecord.js';
import { readNsgTuple } from './nsgFlowLog.js';
import type { ParseProblem } from './problems.js';
import { asString } from './recordShape.js';
import type { FlowSink } from './tupleSink.js';
import { readVnetTuple } from './vnetFlowLog.js';

/**
 * The fast path of FlowLogReader: reads one record's bytes straight into FlowColumns, without
 * JSON.parse, without a string per tuple and without splitting tuples into field strings.
 *
 * It is an optimisation only, never a second definition of the format. It accepts a record only
 * when it can prove that the reference path (JSON.parse + nsgFlowLog.ts / vnetFlowLog.ts) would
 * produce exactly the same FlowRecords and no problem at all; for anything else it returns null
 * before a single flow went out, and the caller parses the record the reference way, which also
 * writes every problem and skip reason. So:
 *
 * - the whole record is validated as JSON (strings, escapes, numbers, nesting, whitespace), also the
 *   values of keys it does not use, because the reference path rejects the record for any syntax
 *   error anywhere in it;
 * - keys may come in any order; a repeated scalar key counts with its last value, as in JSON.parse;
 *   a repeated key that holds flows, or a key spelled with escapes, sends the record to the
 *   reference path;
 * - scalar values it needs (category, ids, MACs, rule names, Version) are decoded exactly as
 *   JSON.parse decodes them (JSON.parse of the raw value when it is not a plain string);
 * - a tuple it cannot read itself (another address notation, a field it does not know, escapes) is
 *   handed as a string to the reference tuple reader; if that reports a problem, the record goes to
 *   the reference path.
 *
 * Tuples go straight into FlowColumns (typed arrays reused from record to record): nothing is
 * allocated per tuple, not even address bytes. Strings that repeat from record to record (rule
 * names, MACs, ids) are decoded once and shared.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const DOT = 0x2e;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** Nesting beyond this goes to the reference path (JSON.parse has no such limit; we need none). */
const MAX_DEPTH = 64;
/** Same threshold as tupleFields.parseTimestampMs: at or above, epoch ms; below, epoch seconds. */
const MILLISECONDS_THRESHOLD = 100_000_000_000;
/** Digits a number may have to be read exactly by accumulation (Number.isSafeInteger holds). */
const MAX_EXACT_DIGITS = 15;

const NSG_CATEGORY = 'NetworkSecurityGroupFlowEvent';
const VNET_CATEGORY = 'FlowLogFlowEvent';

// ---------------------------------------------------------------------------------------------
// JSON syntax

function skipWhitespace(buf: Buffer, i: number, end: number): number {
  while (i < end) {
    const c = buf[i]!;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

/** buf[i], or -1 at and past `end` (never an out-of-bounds read: those deoptimize the reader). */
function byteAt(buf: Buffer, i: number, end: number): number {
  return i < end ? buf[i]! : -1;
}

/** Set by scanString: the string held at least one escape. */
let stringEscaped = false;

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= DIGIT_0 && c <= DIGIT_9) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46));
}

/** `i` at an opening quote: the index of the closing quote, or -1 when the string is not valid JSON. */
function scanString(buf: Buffer, i: number, end: number): number {
  stringEscaped = false;
  i++;
  while (i < end) {
    const c = buf[i]!;
    if (c === QUOTE) return i;
    if (c === BACKSLASH) {
      stringEscaped = true;
      if (i + 1 >= end) return -1;
      const n = buf[i + 1];
      if (n === 0x75) {
        if (i + 5 >= end || !(isHex(buf[i + 2]) && isHex(buf[i + 3]) && isHex(buf[i + 4]) && isHex(buf[i + 5]))) return -1;
        i += 6;
        continue;
      }
      // " \ / b f n r t
      if (n === QUOTE || n === BACKSLASH || n === 0x2f || n === 0x62 || n === 0x66 || n === 0x6e || n === 0x72 || n === 0x74) {
        i += 2;
        continue;
      }
      return -1;
    }
    if (c < 0x20) return -1;
    i++;
  }
  return -1;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= DIGIT_0 && c <= DIGIT_9;
}

/** A JSON number from `i`: the index after it, or -1. */
function skipNumber(buf: Buffer, i: number, end: number): number {
  if (byteAt(buf, i, end) === 0x2d) i++;
  const first = byteAt(buf, i, end);
  if (first === DIGIT_0) i++;
  else if (first !== undefined && first >= 0x31 && first <= DIGIT_9) {
    i++;
    while (i < end && isDigit(byteAt(buf, i, end))) i++;
  } else return -1;
  if (i < end && byteAt(buf, i, end) === DOT) {
    const from = ++i;
    while (i < end && isDigit(byteAt(buf, i, end))) i++;
    if (i === from) return -1;
  }
  if (i < end && (byteAt(buf, i, end) === 0x65 || byteAt(buf, i, end) === 0x45)) {
    i++;
    if (i < end && (byteAt(buf, i, end) === 0x2b || byteAt(buf, i, end) === 0x2d)) i++;
    const from = i;
    while (i < end && isDigit(byteAt(buf, i, end))) i++;
    if (i === from) return -1;
  }
  return i > end ? -1 : i;
}

function skipLiteral(buf: Buffer, i: number, end: number, literal: string): number {
  if (i + literal.length > end) return -1;
  for (let k = 0; k < literal.length; k++) if (buf[i + k] !== literal.charCodeAt(k)) return -1;
  return i + literal.length;
}

/** Any JSON value from `i` (no leading whitespace): the index after it, or -1 when it is not valid. */
function skipValue(buf: Buffer, i: number, end: number, depth: number): number {
  if (depth > MAX_DEPTH || i >= end) return -1;
  const c = byteAt(buf, i, end);
  if (c === QUOTE) {
    const close = scanString(buf, i, end);
    return close < 0 ? -1 : close + 1;
  }
  if (c === OPEN_BRACE) {
    i = skipWhitespace(buf, i + 1, end);
    if (byteAt(buf, i, end) === CLOSE_BRACE) return i + 1;
    for (;;) {
      if (byteAt(buf, i, end) !== QUOTE) return -1;
      const close = scanString(buf, i, end);
      if (close < 0) return -1;
      i = skipWhitespace(buf, close + 1, end);
      if (byteAt(buf, i, end) !== COLON) return -1;
      i = skipValue(buf, skipWhitespace(buf, i + 1, end), end, depth + 1);
      if (i < 0) return -1;
      i = skipWhitespace(buf, i, end);
      const next = byteAt(buf, i, end);
      if (next === COMMA) i = skipWhitespace(buf, i + 1, end);
      else if (next === CLOSE_BRACE) return i + 1;
      else return -1;
    }
  }
  if (c === OPEN_BRACKET) {
    i = skipWhitespace(buf, i + 1, end);
    if (byteAt(buf, i, end) === CLOSE_BRACKET) return i + 1;
    for (;;) {
      i = skipValue(buf, i, end, depth + 1);
      if (i < 0) return -1;
      i = skipWhitespace(buf, i, end);
      const next = byteAt(buf, i, end);
      if (next === COMMA) i = skipWhitespace(buf, i + 1, end);
      else if (next === CLOSE_BRACKET) return i + 1;
      else return -1;
    }
  }
  if (c === 0x74) return skipLiteral(buf, i, end, 'true');
  if (c === 0x66) return skipLiteral(buf, i, end, 'false');
  if (c === 0x6e) return skipLiteral(buf, i, end, 'null');
  if (c === 0x2d || (c >= DIGIT_0 && c <= DIGIT_9)) return skipNumber(buf, i, end);
  return -1;
}

/** Whether the key at buf[start, start + length) is `name` (ASCII). */
function keyIs(buf: Buffer, start: number, length: number, name: string): boolean {
  if (length !== name.length) return false;
  for (let k = 0; k < length; k++) if (buf[start + k] !== name.charCodeAt(k)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// strings that repeat from record to record

/** Slots of the string cache (a power of two); strings longer than STRING_CACHE_MAX_BYTES are not kept. */
const STRING_CACHE_SLOTS = 1024;
const STRING_CACHE_MAX_BYTES = 1024;

/**
 * Decoded strings by their raw bytes: rule names, MACs and ids repeat in every record, so they are
 * decoded once and the same string object goes into every AzureContext (later stages key maps by
 * them). Direct-mapped by a hash of the bytes: one comparison per lookup, where a list searched
 * in turn compared each of the many same-length MACs of a file.
 */
class StringCache {
  private readonly bytes: (Buffer | undefined)[] = new Array<Buffer | undefined>(STRING_CACHE_SLOTS).fill(undefined);
  private readonly texts: string[] = new Array<string>(STRING_CACHE_SLOTS).fill('');

  get(buf: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length > STRING_CACHE_MAX_BYTES) return buf.toString('utf8', start, end);
    let hash = 0x811c9dc5;
    for (let k = start; k < end; k++) hash = Math.imul(hash ^ buf[k]!, 0x01000193);
    const slot = (hash ^ (hash >>> 16)) & (STRING_CACHE_SLOTS - 1);
    const candidate = this.bytes[slot];
    if (candidate !== undefined && candidate.length === length) {
      let same = true;
      for (let k = 0; k < length; k++) {
        if (candidate[k] !== buf[start + k]) {
          same = false;
          break;
        }
      }
      if (same) return this.texts[slot]!;
    }
    const text = buf.toString('utf8', start, end);
    this.bytes[slot] = Buffer.from(buf.subarray(start, end));
    this.texts[slot] = text;
    return text;
  }
}

const strings = new StringCache();

/** A raw JSON value (validated) as a JS value, exactly as JSON.parse gives it inside the record. */
function rawValue(buf: Buffer, start: number, end: number): unknown {
  if (buf[start] === QUOTE && !hasBackslash(buf, start + 1, end - 1)) return strings.get(buf, start + 1, end - 1);
  return JSON.parse(buf.toString('utf8', start, end));
}

function hasBackslash(buf: Buffer, start: number, end: number): boolean {
  for (let k = start; k < end; k++) if (buf[k] === BACKSLASH) return true;
  return false;
}

/** recordShape.asString of a raw JSON value; '' when absent (start < 0). */
function rawString(buf: Buffer, start: number, end: number): string {
  return start < 0 ? '' : asString(rawValue(buf, start, end));
}

// ---------------------------------------------------------------------------------------------
// tuple fields

function hexValue(c: number): number {
  if (c >= DIGIT_0 && c <= DIGIT_9) return c - DIGIT_0;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

const groups = new Uint16Array(8);

/**
 * The IPv6 subset ipaddr.js reads the same way (checked by test/azure/fastFlowLog.test.ts), from
 * `p` up to the next comma, as four big-endian words at words[at...]: the comma's index, or -1.
 */
function readIpv6(buf: Buffer, p: number, words: Int32Array, at: number): number {
  let i = p;
  let count = 0;
  let gap = -1;
  if (buf[i] === COLON) {
    if (buf[i + 1] !== COLON) return -1;
    gap = 0;
    i += 2;
  }
  if (buf[i] !== COMMA || gap < 0) {
    for (;;) {
      let value = 0;
      let digits = 0;
      let c = buf[i]!;
      for (;;) {
        const h = hexValue(c);
        if (h < 0) break;
        value = value * 16 + h;
        if (++digits > 4) return -1;
        c = buf[++i]!;
      }
      if (digits === 0 || count === 8) return -1;
      groups[count++] = value;
      if (c === COMMA) break;
      if (c !== COLON) return -1;
      i++;
      if (buf[i] === COLON) {
        if (gap >= 0) return -1;
        gap = count;
        i++;
        if (buf[i] === COMMA) break;
      }
    }
  }
  if (gap < 0 ? count !== 8 : count > 7) return -1;
  // Groups after the gap move to the end; the gap is zeros.
  const zeros = gap < 0 ? 0 : 8 - count;
  let previous = 0;
  for (let g = 0; g < 8; g++) {
    let value = 0;
    if (gap < 0 || g < gap) value = groups[g]!;
    else if (g >= gap + zeros) value = groups[g - zeros]!;
    if ((g & 1) === 0) previous = value;
    else words[at + (g >> 1)] = (previous << 16) | value;
  }
  return i;
}

/**
 * The fast tuple readers stop at the first byte that does not fit the field they read (a quote
 * does not fit any) and give up after more bytes than any field of theirs can hold, so they read at
 * most this many bytes past a tuple's opening quote. Closer than this to the end of the buffer, a
 * tuple is read fast only if a quote follows within the buffer: the readers never read out of
 * bounds (which would cost a deoptimization each time a record is cut by a chunk boundary).
 */
const TUPLE_READ_LIMIT = 512;

function hasQuote(buf: Buffer, from: number, end: number): boolean {
  for (let k = from; k < end; k++) if (buf[k] === QUOTE) return true;
  return false;
}

/** Tuples of each field count read in the current properties (checked against Version after it). */
let nsgV1Tuples = 0;
let nsgV2Tuples = 0;

/**
 * The fields every tuple starts with (time, source, destination, ports) into row `row` of `out`:
 * the index of the comma after the destination port, or -1. One function with every field read in
 * place: this loop runs for every tuple of every file, and calls or shared state per field cost
 * more than the reading. Only plain forms are read (dotted quads without leading zeros, IPv6 hex
 * groups); anything else goes to the reference reader.
 */
function readTupleHead(buf: Buffer, p: number, out: FlowColumns, row: number): number {
  let c = buf[p]!;
  let time = 0;
  let digits = 0;
  while (c >= DIGIT_0 && c <= DIGIT_9) {
    time = time * 10 + (c - DIGIT_0);
    if (++digits > MAX_EXACT_DIGITS) return -1;
    c = buf[++p]!;
  }
  if (c !== COMMA || digits === 0 || time === 0) return -1;
  out.times[row] = time >= MILLISECONDS_THRESHOLD ? time : time * 1000;

  const addresses = out.addresses;
  const at = row * ADDRESS_WORDS;
  let ipv6 = false;
  for (let side = 0; side < 2; side++) {
    const from = ++p;
    let word = 0;
    let part = 0;
    let value = 0;
    digits = 0;
    c = buf[p]!;
    for (;;) {
      if (c >= DIGIT_0 && c <= DIGIT_9) {
        if (digits > 0 && value === 0) break;
        value = value * 10 + (c - DIGIT_0);
        if (++digits > 3) break;
      } else if (c === DOT) {
        if (digits === 0 || value > 255 || part === 3) break;
        word = (word << 8) | value;
        part++;
        value = 0;
        digits = 0;
      } else break;
      c = buf[++p]!;
    }
    if (c === COMMA && part === 3 && digits > 0 && value <= 255) {
      if (ipv6) return -1;
      addresses[at + side * 4] = (word << 8) | value;
    } else {
      if (side === 1 && !ipv6) return -1;
      p = readIpv6(buf, from, addresses, at + side * 4);
      if (p < 0) return -1;
      ipv6 = true;
    }
  }

  const ports = out.ports;
  for (let side = 0; side < 2; side++) {
    let port = 0;
    digits = 0;
    c = buf[++p]!;
    while (c >= DIGIT_0 && c <= DIGIT_9) {
      port = port * 10 + (c - DIGIT_0);
      if (++digits > 5) return -1;
      c = buf[++p]!;
    }
    if (c !== COMMA || digits === 0 || port > 0xffff) return -1;
    ports[row * 2 + side] = port;
  }
  out.flags[row] = ipv6 ? IPV6 : 0;
  return p;
}

/**
 * The four counts of a tuple from the comma at `p`, the last one ending at the closing quote, into
 * row `row`: the quote's index, or -1. A blank count is NaN (see FlowColumns.counts).
 */
function readCounts(buf: Buffer, p: number, out: FlowColumns, row: number): number {
  const counts = out.counts;
  const base = row * 4;
  for (let k = 0; k < 4; k++) {
    let value = 0;
    let digits = 0;
    let c = buf[++p]!;
    while (c >= DIGIT_0 && c <= DIGIT_9) {
      value = value * 10 + (c - DIGIT_0);
      if (++digits > MAX_EXACT_DIGITS) return -1;
      c = buf[++p]!;
    }
    if (c !== (k === 3 ? QUOTE : COMMA)) return -1;
    counts[base + k] = digits === 0 ? NaN : value;
  }
  return p;
}

/**
 * One NSG tuple from `p` (just after its opening quote) into a new row of `out`: the index of its
 * closing quote, or -1 when it is not in the plain form (no row is added then).
 */
function readNsgTupleFast(buf: Buffer, p: number, azure: AzureContext, out: FlowColumns): number {
  const row = out.addRow();
  const close = readNsgTupleInto(buf, p, out, row);
  if (close < 0) {
    out.length = row;
    return -1;
  }
  out.contexts[row] = azure;
  return close;
}

function readNsgTupleInto(buf: Buffer, p: number, out: FlowColumns, row: number): number {
  p = readTupleHead(buf, p, out, row);
  if (p < 0) return -1;
  let c = buf[++p];
  const protocol = c === 0x54 ? 6 : c === 0x55 ? 17 : 0;
  if (protocol === 0 || buf[++p] !== COMMA) return -1;
  c = buf[++p];
  const outbound = c === 0x4f;
  if ((!outbound && c !== 0x49) || buf[++p] !== COMMA) return -1;
  c = buf[++p];
  const denied = c === 0x44;
  if (!denied && c !== 0x41) return -1;
  out.protocols[row] = protocol;
  out.flags[row] = out.flags[row]! | (outbound ? OUTBOUND : 0) | (denied ? DENIED : 0);
  c = buf[++p];
  if (c === QUOTE) {
    nsgV1Tuples++;
    out.kinds[row] = KIND_CODES['nsg-v1'];
    out.states[row] = STATE_CODES.none;
    const counts = out.counts;
    const k = row * 4;
    counts[k] = counts[k + 1] = counts[k + 2] = counts[k + 3] = NaN;
    return p;
  }
  if (c !== COMMA) return -1;
  c = buf[++p];
  const state = c === 0x42 ? STATE_CODES.begin : c === 0x43 ? STATE_CODES.continue : c === 0x45 ? STATE_CODES.end : STATE_CODES.none;
  if (state === STATE_CODES.none || buf[++p] !== COMMA) return -1;
  p = readCounts(buf, p, out, row);
  if (p < 0) return -1;
  nsgV2Tuples++;
  out.kinds[row] = KIND_CODES['nsg-v2'];
  out.states[row] = state;
  return p;
}

/** Longer encryption words (none is) go through the reference reader. */
const MAX_ENCRYPTION_BYTES = 64;

function isEncryptionByte(c: number): boolean {
  return (c >= DIGIT_0 && c <= DIGIT_9) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c === 0x5f;
}

/** One VNet tuple, as readNsgTupleFast; `group` gives the AzureContext of its encryption. */
function readVnetTupleFast(buf: Buffer, p: number, group: VnetGroup, out: FlowColumns): number {
  const row = out.addRow();
  const close = readVnetTupleInto(buf, p, group, out, row);
  if (close < 0) {
    out.length = row;
    return -1;
  }
  return close;
}

function readVnetTupleInto(buf: Buffer, p: number, group: VnetGroup, out: FlowColumns, row: number): number {
  p = readTupleHead(buf, p, out, row);
  if (p < 0) return -1;
  let protocol = 0;
  let digits = 0;
  let c = buf[++p]!;
  while (c >= DIGIT_0 && c <= DIGIT_9) {
    protocol = protocol * 10 + (c - DIGIT_0);
    if (++digits > 3) return -1;
    c = buf[++p]!;
  }
  if (c !== COMMA || digits === 0 || protocol > 255) return -1;
  c = buf[++p]!;
  const outbound = c === 0x4f;
  if ((!outbound && c !== 0x49) || buf[++p] !== COMMA) return -1;
  c = buf[++p]!;
  const state =
    c === 0x42 ? STATE_CODES.begin : c === 0x43 ? STATE_CODES.continue : c === 0x45 ? STATE_CODES.end : c === 0x44 ? STATE_CODES.deny : STATE_CODES.none;
  if (state === STATE_CODES.none || buf[++p] !== COMMA) return -1;
  const start = ++p;
  c = buf[p]!;
  while (c !== COMMA) {
    if (!isEncryptionByte(c) || p - start >= MAX_ENCRYPTION_BYTES) return -1;
    c = buf[++p]!;
  }
  const encryptionEnd = p;
  p = readCounts(buf, p, out, row);
  if (p < 0) return -1;
  out.kinds[row] = KIND_CODES.vnet;
  out.protocols[row] = protocol;
  out.flags[row] = out.flags[row]! | (outbound ? OUTBOUND : 0) | (state === STATE_CODES.deny ? DENIED : 0);
  out.states[row] = state;
  out.contexts[row] = group.contextFor(buf, start, encryptionEnd);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Azure contexts, completed when the record is read (their keys may come after the tuples)

type MutableContext = { -readonly [K in keyof AzureContext]: AzureContext[K] };

function newNsgContext(): MutableContext {
  return { rule: '', mac: '', resourceId: '', aclId: '', encryption: '', flowLogGuid: '' };
}

/** One VNet flow group: one context per encryption value, as vnetFlowLog.ts shares them. */
class VnetGroup {
  readonly contexts: MutableContext[] = [];
  private last: MutableContext | undefined;

  constructor(private readonly all: MutableContext[]) {}

  contextFor(buf: Buffer, start: number, end: number): AzureContext {
    const last = this.last;
    if (last !== undefined && sameAscii(buf, start, end, last.encryption)) return last;
    for (const context of this.contexts) {
      if (sameAscii(buf, start, end, context.encryption)) {
        this.last = context;
        return context;
      }
    }
    return this.add(strings.get(buf, start, end));
  }

  contextForText(encryption: string): AzureContext {
    for (const context of this.contexts) if (context.encryption === encryption) return context;
    return this.add(encryption);
  }

  private add(encryption: string): MutableContext {
    const context: MutableContext = { rule: '', mac: '', resourceId: '', aclId: '', flowLogGuid: '', encryption };
    this.contexts.push(context);
    this.all.push(context);
    this.last = context;
    return context;
  }
}

function sameAscii(buf: Buffer, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) return false;
  for (let k = 0; k < text.length; k++) if (buf[start + k] !== text.charCodeAt(k)) return false;
  return true;
}

const INTERNED_CONTEXTS = 4096;
const STRING_IDS = 65_536;

/**
 * Contexts by the numbers of their six strings. The strings come from the StringCache, so the same
 * value is nearly always the same string object, whose hash V8 keeps: a number per string is one
 * cheap lookup, where a key string joining all six was built and hashed anew for every group of
 * every record (the costliest step of a file of small records).
 */
const stringIds = new Map<string, number>();
let nextStringId = 1;

function stringId(text: string): number {
  let id = stringIds.get(text);
  if (id === undefined) {
    if (stringIds.size >= STRING_IDS) stringIds.clear();
    // A counter, not the map's size: a number handed out before a clear is never reused.
    id = nextStringId++;
    stringIds.set(text, id);
  }
  return id;
}

function sameContext(a: AzureContext, b: AzureContext): boolean {
  return (
    a.resourceId === b.resourceId &&
    a.mac === b.mac &&
    a.rule === b.rule &&
    a.aclId === b.aclId &&
    a.encryption === b.encryption &&
    a.flowLogGuid === b.flowLogGuid
  );
}

/**
 * The contexts of one kind of record. NSG and VNet contexts are kept apart: equal values (empty
 * ones, say) in objects whose keys come in another order are not the same to a reader of the
 * object, and the fast path must give exactly what the record readers give.
 */
const internedNsgContexts = new Map<number, AzureContext>();
const internedVnetContexts = new Map<number, AzureContext>();

/** The first context seen in `interned` with the same values as `context`, or `context` itself. */
function internedContext(interned: Map<number, AzureContext>, context: AzureContext): AzureContext {
  let key = 0x2545f491;
  key = Math.imul(key ^ stringId(context.resourceId), 0x9e3779b1);
  key = Math.imul(key ^ stringId(context.mac), 0x9e3779b1);
  key = Math.imul(key ^ stringId(context.rule), 0x9e3779b1);
  key = Math.imul(key ^ stringId(context.aclId), 0x9e3779b1);
  key = Math.imul(key ^ stringId(context.encryption), 0x9e3779b1);
  key = Math.imul(key ^ stringId(context.flowLogGuid), 0x9e3779b1);
  key ^= key >>> 15;
  const shared = interned.get(key);
  if (shared !== undefined) {
    // Two different contexts with one key (rare): this one just stays unshared.
    return sameContext(shared, context) ? shared : context;
  }
  if (interned.size >= INTERNED_CONTEXTS) interned.clear();
  interned.set(key, context);
  return context;
}

// ---------------------------------------------------------------------------------------------
// records

/** Collects what the reference tuple readers hand back for a tuple the fast path passed on. */
class CaptureSink implements FlowSink {
  private record: FlowRecord | undefined;
  flow(record: FlowRecord): void {
    this.record = record;
  }
  /** The record handed over since the last call, if any. */
  take(): FlowRecord | undefined {
    const record = this.record;
    this.record = undefined;
    return record;
  }
  problem(_problem: ParseProblem): void {
    // The reference reader returns the reason as well; the caller gives up on the record.
  }
}

/** The object lists of a record, from the outside in, and its tuple lists (see readItem). */
const NSG_RULE_GROUPS = 0;
const NSG_MAC_GROUPS = 1;
const VNET_ACLS = 2;
const VNET_GROUPS = 3;
const NSG_TUPLES = 4;
const VNET_TUPLES = 5;
type ObjectList = typeof NSG_RULE_GROUPS | typeof NSG_MAC_GROUPS | typeof VNET_ACLS | typeof VNET_GROUPS;
type TupleList = typeof NSG_TUPLES | typeof VNET_TUPLES;

const NO_VNET_SHARED = { rule: '', mac: '', resourceId: '', aclId: '', flowLogGuid: '' };
/** VNet tuples take their context from their group (per encryption value). */
const NO_CONTEXT: AzureContext = { ...NO_VNET_SHARED, encryption: '' };

/**
 * Reads one record at a time: a slice RecordSplitter cut (read), or in place in the chunk when the
 * record lies wholly inside it (readAt, via RecordSliceSink.recordAt: no copy and no splitter scan).
 * Not re-entrant; one per FlowLogReader.
 */
export class FastRecordReader {
  private buf: Buffer = Buffer.alloc(0);
  private end = 0;
  /** Where the record's flows go, and its row count before the record (rolled back on failure). */
  private out = new FlowColumns(1);
  private firstRow = 0;
  private readonly nsgContexts: MutableContext[] = [];
  /** Per NSG context: whether it takes the record's macAddress (its group has no mac). */
  private readonly nsgNeedsRecordMac: boolean[] = [];
  private readonly vnetContexts: MutableContext[] = [];
  private readonly capture = new CaptureSink();

  // Raw value ranges of the record's scalar keys (-1: absent).
  private resourceIdStart = -1;
  private resourceIdEnd = -1;
  private macStart = -1;
  private macEnd = -1;
  private flowLogResourceIdStart = -1;
  private flowLogResourceIdEnd = -1;
  private targetResourceIdStart = -1;
  private targetResourceIdEnd = -1;
  private flowLogGuidStart = -1;
  private flowLogGuidEnd = -1;
  /** `category` as JSON.parse gives it, once read. */
  private category: unknown = undefined;
  private sawCategory = false;
  private sawProperties = false;
  private sawFlowRecords = false;
  /** properties / flowRecords were read as flows (not just skipped). */
  private nsgRead = false;
  private vnetRead = false;

  /**
   * Appends the record's flows to `out`, in the order the reference path emits them, and returns
   * true; or returns false, with `out` as it was, when the record must go through the reference path.
   */
  read(bytes: Buffer, out: FlowColumns): boolean {
    return this.readAt(bytes, 0, bytes.length, out, true);
  }

  /** Index after the record of the last successful readAt. */
  recordEnd = 0;

  /**
   * The record whose opening brace is at buf[start], if it ends before `end`: its flows as for
   * read(), with recordEnd set to the index after its closing brace; null otherwise. With `whole`,
   * buf[start, end) must hold the record and nothing but whitespace.
   */
  readAt(buf: Buffer, start: number, end: number, out: FlowColumns, whole = false): boolean {
    this.buf = buf;
    this.end = end;
    this.out = out;
    this.firstRow = out.length;
    this.reset();
    let read = false;
    try {
      read = this.readRecord(start, whole);
    } catch {
      read = false;
    }
    if (!read) out.truncate(this.firstRow);
    this.reset();
    this.buf = EMPTY;
    this.out = NO_OUTPUT;
    return read;
  }

  private reset(): void {
    this.nsgContexts.length = 0;
    this.nsgNeedsRecordMac.length = 0;
    this.vnetContexts.length = 0;
    this.resourceIdStart = this.macStart = this.flowLogResourceIdStart = this.targetResourceIdStart = this.flowLogGuidStart = -1;
    this.category = undefined;
    this.sawCategory = this.sawProperties = this.sawFlowRecords = this.nsgRead = this.vnetRead = false;
    this.capture.take();
  }

  private readRecord(start: number, whole: boolean): boolean {
    const buf = this.buf;
    const end = this.end;
    let i = whole ? skipWhitespace(buf, start, end) : start;
    if (byteAt(buf, i, end) !== OPEN_BRACE) return false;
    i = skipWhitespace(buf, i + 1, end);
    if (byteAt(buf, i, end) !== CLOSE_BRACE) {
      for (;;) {
        if (byteAt(buf, i, end) !== QUOTE) return false;
        const close = scanString(buf, i, end);
        if (close < 0 || stringEscaped) return false;
        const keyStart = i + 1;
        const keyLength = close - keyStart;
        i = skipWhitespace(buf, close + 1, end);
        if (byteAt(buf, i, end) !== COLON) return false;
        i = skipWhitespace(buf, i + 1, end);
        const valueStart = i;
        if (keyIs(buf, keyStart, keyLength, 'properties')) {
          if (this.sawProperties) return false;
          this.sawProperties = true;
          // Read as NSG flows unless the category already says otherwise.
          if (byteAt(buf, i, end) === OPEN_BRACE && (!this.sawCategory || this.category === NSG_CATEGORY)) {
            i = this.readNsgProperties(i);
            this.nsgRead = true;
          } else i = skipValue(buf, i, end, 1);
        } else if (keyIs(buf, keyStart, keyLength, 'flowRecords')) {
          if (this.sawFlowRecords) return false;
          this.sawFlowRecords = true;
          if (byteAt(buf, i, end) === OPEN_BRACE && (!this.sawCategory || this.category === VNET_CATEGORY)) {
            i = this.readVnetFlowRecords(i);
            this.vnetRead = true;
          } else i = skipValue(buf, i, end, 1);
        } else {
          i = skipValue(buf, i, end, 1);
          if (i < 0) return false;
          if (keyIs(buf, keyStart, keyLength, 'category')) {
            if (this.sawCategory) return false;
            this.sawCategory = true;
            this.category = rawValue(buf, valueStart, i);
          } else if (keyIs(buf, keyStart, keyLength, 'resourceId')) {
            this.resourceIdStart = valueStart;
            this.resourceIdEnd = i;
          } else if (keyIs(buf, keyStart, keyLength, 'macAddress')) {
            this.macStart = valueStart;
            this.macEnd = i;
          } else if (keyIs(buf, keyStart, keyLength, 'flowLogResourceID')) {
            this.flowLogResourceIdStart = valueStart;
            this.flowLogResourceIdEnd = i;
          } else if (keyIs(buf, keyStart, keyLength, 'targetResourceID')) {
            this.targetResourceIdStart = valueStart;
            this.targetResourceIdEnd = i;
          } else if (keyIs(buf, keyStart, keyLength, 'flowLogGUID')) {
            this.flowLogGuidStart = valueStart;
            this.flowLogGuidEnd = i;
          }
        }
        if (i < 0) return false;
        i = skipWhitespace(buf, i, end);
        const next = byteAt(buf, i, end);
        if (next === COMMA) i = skipWhitespace(buf, i + 1, end);
        else if (next === CLOSE_BRACE) break;
        else return false;
      }
    }
    // Values are read up to their delimiters, which may lie past `end` in the buffer: the record
    // counts only if it ends within the limit.
    if (i >= end) return false;
    this.recordEnd = i + 1;
    if (whole && skipWhitespace(buf, i + 1, end) !== end) return false;

    // The kind, decided as flowLogReader.readFlowLogRecord decides it.
    const category = this.sawCategory ? this.category : undefined;
    if (category === VNET_CATEGORY || (category === undefined && this.sawFlowRecords)) {
      if (!this.vnetRead || this.nsgRead) return false;
      const resourceId =
        rawString(buf, this.flowLogResourceIdStart, this.flowLogResourceIdEnd) || rawString(buf, this.targetResourceIdStart, this.targetResourceIdEnd);
      const mac = rawString(buf, this.macStart, this.macEnd);
      const flowLogGuid = rawString(buf, this.flowLogGuidStart, this.flowLogGuidEnd);
      for (const context of this.vnetContexts) {
        context.resourceId = resourceId;
        context.mac = mac;
        context.flowLogGuid = flowLogGuid;
      }
      this.internContexts(this.vnetContexts, true);
      return true;
    }
    if (category === NSG_CATEGORY || (category === undefined && this.sawProperties)) {
      if (!this.nsgRead || this.vnetRead) return false;
      const resourceId = rawString(buf, this.resourceIdStart, this.resourceIdEnd);
      const recordMac = rawString(buf, this.macStart, this.macEnd);
      const contexts = this.nsgContexts;
      for (let c = 0; c < contexts.length; c++) {
        const context = contexts[c]!;
        context.resourceId = resourceId;
        if (this.nsgNeedsRecordMac[c]) context.mac = recordMac;
      }
      this.internContexts(contexts, false);
      return true;
    }
    return false;
  }

  private shared: AzureContext[] = [];
  /** The contexts of the NSG (VNet) record before, after interning: records repeat their groups. */
  private previousNsg: AzureContext[] = [];
  private previousVnet: AzureContext[] = [];

  /**
   * Gives the record's rows the contexts of earlier records where they are equal: every record
   * repeats the same rule groups, and the later stages key their per-context work (NIC numbers,
   * domains, encoded strings) by the context object.
   */
  private internContexts(contexts: readonly MutableContext[], vnet: boolean): void {
    const interned = vnet ? internedVnetContexts : internedNsgContexts;
    const previous = vnet ? this.previousVnet : this.previousNsg;
    const shared = this.shared;
    shared.length = 0;
    let replaced = false;
    for (let c = 0; c < contexts.length; c++) {
      const context = contexts[c]!;
      // The group in the same place in the record before is nearly always the same one, and its
      // strings the same objects: compared by reference, it spares the lookup by value.
      const before = previous[c];
      const sharedContext = before !== undefined && sameContext(before, context) ? before : internedContext(interned, context);
      shared.push(sharedContext);
      if (sharedContext !== context) replaced = true;
    }
    // The record's contexts become the ones to compare the next record of its kind with.
    if (vnet) this.previousVnet = shared;
    else this.previousNsg = shared;
    this.shared = previous;
    if (!replaced) return;
    const rows = this.out.contexts;
    // A row's context is found by its place in `contexts`: rows of one group come together, so the
    // search starts at the previous row's.
    let c = 0;
    let from: AzureContext | undefined;
    let to: AzureContext | undefined;
    for (let i = this.firstRow; i < this.out.length; i++) {
      const context = rows[i]!;
      if (context !== from) {
        from = context;
        let k = 0;
        while (k < contexts.length && contexts[(c + k) % contexts.length] !== context) k++;
        if (k === contexts.length) {
          to = context;
        } else {
          c = (c + k) % contexts.length;
          to = shared[c]!;
        }
      }
      rows[i] = to!;
    }
  }

  /**
   * A key of an object whose values the caller reads: returns the index of the value (whitespace
   * skipped) and sets keyStart / keyLength, or -1. `i` is at the key's opening quote.
   */
  private keyStart = 0;
  private keyLength = 0;

  private readKey(i: number): number {
    const buf = this.buf;
    const end = this.end;
    if (byteAt(buf, i, end) !== QUOTE) return -1;
    const close = scanString(buf, i, this.end);
    if (close < 0 || stringEscaped) return -1;
    this.keyStart = i + 1;
    this.keyLength = close - i - 1;
    i = skipWhitespace(buf, close + 1, this.end);
    if (byteAt(buf, i, end) !== COLON) return -1;
    return skipWhitespace(buf, i + 1, this.end);
  }

  /** After a member's value: the index of the next key, `end` + 1 encoded as -2 for the closing brace, or -1. */
  private afterMember(i: number): number {
    const buf = this.buf;
    const end = this.end;
    i = skipWhitespace(buf, i, this.end);
    const next = byteAt(buf, i, end);
    if (next === COMMA) return skipWhitespace(buf, i + 1, this.end);
    if (next === CLOSE_BRACE) return -2 - i;
    return -1;
  }

  // ---- NSG: properties { Version, flows: [ { rule, flows: [ { mac, flowTuples: [..] } ] } ] }

  private readNsgProperties(i: number): number {
    const buf = this.buf;
    const end = this.end;
    nsgV1Tuples = 0;
    nsgV2Tuples = 0;
    let versionStart = -1;
    let versionEnd = -1;
    let lowerVersionStart = -1;
    let lowerVersionEnd = -1;
    let sawFlows = false;
    i = skipWhitespace(buf, i + 1, end);
    if (byteAt(buf, i, end) === CLOSE_BRACE) return -1; // no flows: a problem for the reference path
    for (;;) {
      i = this.readKey(i);
      if (i < 0) return -1;
      const valueStart = i;
      if (keyIs(buf, this.keyStart, this.keyLength, 'flows')) {
        if (sawFlows || byteAt(buf, i, end) !== OPEN_BRACKET) return -1;
        sawFlows = true;
        i = this.readNsgRuleGroups(i);
      } else {
        const isVersion = keyIs(buf, this.keyStart, this.keyLength, 'Version');
        const isLowerVersion = !isVersion && keyIs(buf, this.keyStart, this.keyLength, 'version');
        i = skipValue(buf, i, end, 2);
        if (isVersion) {
          versionStart = valueStart;
          versionEnd = i;
        } else if (isLowerVersion) {
          lowerVersionStart = valueStart;
          lowerVersionEnd = i;
        }
      }
      if (i < 0) return -1;
      i = this.afterMember(i);
      if (i === -1) return -1;
      if (i < -1) {
        i = -2 - i;
        break;
      }
    }
    if (!sawFlows) return -1;
    // As nsgFlowLog.readNsgRecord: Number(properties['Version'] ?? properties['version']).
    const upper = versionStart < 0 ? undefined : rawValue(buf, versionStart, versionEnd);
    const lower = lowerVersionStart < 0 ? undefined : rawValue(buf, lowerVersionStart, lowerVersionEnd);
    const declared = Number(upper ?? lower);
    if (declared === 1 && nsgV2Tuples > 0) return -1;
    if (declared === 2 && nsgV1Tuples > 0) return -1;
    return i + 1;
  }

  /** The tuple list being read belongs to this NSG context, or (VNet) to this group. */
  private tupleContext: AzureContext = NO_CONTEXT;
  private tupleGroup: VnetGroup | undefined;

  /**
   * One element of an object list. A switch over the list's kind, not a callback: no closure is
   * made per group, and the calls stay direct (a file of small records has a group every few tuples).
   */
  private readItem(items: ObjectList, i: number): number {
    switch (items) {
      case NSG_RULE_GROUPS:
        return this.readNsgRuleGroup(i);
      case NSG_MAC_GROUPS:
        return this.readNsgMacGroup(i);
      case VNET_ACLS:
        return this.readVnetAcl(i);
      default:
        return this.readVnetGroup(i);
    }
  }

  /** A list of objects (`[` at i), each read by `readItem` from its `{`. Index after `]`, or -1. */
  private readObjectList(i: number, items: ObjectList): number {
    const buf = this.buf;
    const end = this.end;
    i = skipWhitespace(buf, i + 1, end);
    if (byteAt(buf, i, end) === CLOSE_BRACKET) return i + 1;
    for (;;) {
      if (byteAt(buf, i, end) !== OPEN_BRACE) return -1;
      i = this.readItem(items, i);
      if (i < 0) return -1;
      i = skipWhitespace(buf, i, end);
      const next = byteAt(buf, i, end);
      if (next === COMMA) i = skipWhitespace(buf, i + 1, end);
      else if (next === CLOSE_BRACKET) return i + 1;
      else return -1;
    }
  }

  /** Raw bounds of the label string the last readListOwner found (set as it returns). */
  private labelStart = -1;
  private labelEnd = -1;
  /** The label is a JSON string without escapes. */
  private labelPlain = false;

  /** The label the last readListOwner found, as recordShape.asString gives it ('' when absent). */
  private label(): string {
    return this.labelPlain ? strings.get(this.buf, this.labelStart + 1, this.labelEnd - 1) : rawString(this.buf, this.labelStart, this.labelEnd);
  }

  /**
   * An object (`{` at i) with one required list of kind `list` under `listKey`, and an
   * optional string under `labelKey` (its raw bounds left in labelStart / labelEnd); other members
   * are validated and skipped at nesting `depth`. Index after `}`, or -1 to give up.
   */
  private readListOwner(i: number, listKey: string, list: ObjectList | TupleList, labelKey: string, depth: number): number {
    const buf = this.buf;
    const end = this.end;
    let labelStart = -1;
    let labelEnd = -1;
    let labelPlain = false;
    let sawList = false;
    i = skipWhitespace(buf, i + 1, end);
    if (byteAt(buf, i, end) === CLOSE_BRACE) return -1;
    for (;;) {
      i = this.readKey(i);
      if (i < 0) return -1;
      const valueStart = i;
      if (keyIs(buf, this.keyStart, this.keyLength, listKey)) {
        if (sawList || byteAt(buf, i, end) !== OPEN_BRACKET) return -1;
        sawList = true;
        i =
          list === NSG_TUPLES || list === VNET_TUPLES
            ? this.readTupleList(i, this.tupleContext, list === VNET_TUPLES ? this.tupleGroup : undefined)
            : this.readObjectList(i, list);
      } else {
        const isLabel = keyIs(buf, this.keyStart, this.keyLength, labelKey);
        i = skipValue(buf, i, end, depth);
        if (isLabel) {
          labelStart = valueStart;
          labelEnd = i;
          // skipValue scanned it: a string without escapes is decoded from its bytes at once.
          labelPlain = buf[valueStart] === QUOTE && !stringEscaped;
        }
      }
      if (i < 0) return -1;
      i = this.afterMember(i);
      if (i === -1) return -1;
      if (i < -1) {
        i = -2 - i;
        break;
      }
    }
    if (!sawList) return -1;
    // Set last: the lists read above run nested readListOwner calls of their own.
    this.labelStart = labelStart;
    this.labelEnd = labelEnd;
    this.labelPlain = labelPlain;
    return i + 1;
  }

  private readNsgRuleGroups(i: number): number {
    return this.readObjectList(i, NSG_RULE_GROUPS);
  }

  private readNsgRuleGroup(i: number): number {
    const firstContext = this.nsgContexts.length;
    i = this.readListOwner(i, 'flows', NSG_MAC_GROUPS, 'rule', 4);
    if (i < 0) return -1;
    const rule = this.label();
    const contexts = this.nsgContexts;
    for (let c = firstContext; c < contexts.length; c++) contexts[c]!.rule = rule;
    return i;
  }

  private readNsgMacGroup(i: number): number {
    const context = newNsgContext();
    this.tupleContext = context;
    i = this.readListOwner(i, 'flowTuples', NSG_TUPLES, 'mac', 6);
    if (i < 0) return -1;
    // As nsgFlowLog: asString(macGroup['mac']) || recordMac (the record's mac is known at its end).
    context.mac = this.label();
    this.nsgContexts.push(context);
    this.nsgNeedsRecordMac.push(context.mac === '');
    return i;
  }

  /**
   * The tuple list whose `[` is at `i`: each tuple read straight from bytes, or (a form the fast
   * reader passes on) by the reference reader. Returns the index after `]`, or -1 to give up.
   */
  private readTupleList(i: number, azure: AzureContext, group: VnetGroup | undefined): number {
    const buf = this.buf;
    const end = this.end;
    const out = this.out;
    i = skipWhitespace(buf, i + 1, end);
    if (byteAt(buf, i, end) === CLOSE_BRACKET) return i + 1;
    for (;;) {
      if (byteAt(buf, i, end) !== QUOTE) return -1;
      // Direct calls, no reader passed in: this loop runs for every tuple and must stay monomorphic.
      let close = -1;
      if (end - i > TUPLE_READ_LIMIT || hasQuote(buf, i + 1, end)) {
        close = group === undefined ? readNsgTupleFast(buf, i + 1, azure, out) : readVnetTupleFast(buf, i + 1, group, out);
      }
      if (close < 0) {
        close = group === undefined ? this.readNsgTupleSlow(i, azure) : this.readVnetTupleSlow(i, group);
        if (close < 0) return -1;
      }
      i = close + 1;
      let next = byteAt(buf, i, end);
      if (next === COMMA) {
        i++;
        if (byteAt(buf, i, end) !== QUOTE) i = skipWhitespace(buf, i, end);
        continue;
      }
      if (next === CLOSE_BRACKET) return i + 1;
      i = skipWhitespace(buf, i, end);
      next = byteAt(buf, i, end);
      if (next === COMMA) i = skipWhitespace(buf, i + 1, end);
      else if (next === CLOSE_BRACKET) return i + 1;
      else return -1;
    }
  }

  /** A tuple string the fast reader passed on, through nsgFlowLog.readNsgTuple. */
  private readNsgTupleSlow(quote: number, azure: AzureContext): number {
    const text = this.tupleText(quote);
    if (text === undefined) return -1;
    const capture = this.capture;
    capture.take();
    // Version may come after the flows: read with "1 or 2 by field count", checked at the end.
    const reason = readNsgTuple(text.value, undefined, azure, capture);
    const record = capture.take();
    if (reason !== undefined || record === undefined) return -1;
    if (record.kind === 'nsg-v1') nsgV1Tuples++;
    else nsgV2Tuples++;
    this.out.append(record);
    return text.close;
  }

  /** The JSON string at `quote` as JSON.parse decodes it, and its closing quote; undefined if invalid. */
  private tupleText(quote: number): { value: string; close: number } | undefined {
    const buf = this.buf;
    const close = scanString(buf, quote, this.end);
    if (close < 0) return undefined;
    const value = stringEscaped ? (JSON.parse(buf.toString('utf8', quote, close + 1)) as string) : buf.toString('utf8', quote + 1, close);
    return { value, close };
  }

  // ---- VNet: flowRecords { flows: [ { aclID, flowGroups: [ { rule, flowTuples: [..] } ] } ] }

  private readVnetFlowRecords(i: number): number {
    const buf = this.buf;
    const end = this.end;
    let sawFlows = false;
    i = skipWhitespace(buf, i + 1, end);
    if (byteAt(buf, i, end) === CLOSE_BRACE) return -1;
    for (;;) {
      i = this.readKey(i);
      if (i < 0) return -1;
      if (keyIs(buf, this.keyStart, this.keyLength, 'flows')) {
        if (sawFlows || byteAt(buf, i, end) !== OPEN_BRACKET) return -1;
        sawFlows = true;
        i = this.readVnetAcls(i);
      } else i = skipValue(buf, i, end, 2);
      if (i < 0) return -1;
      i = this.afterMember(i);
      if (i === -1) return -1;
      if (i < -1) {
        i = -2 - i;
        break;
      }
    }
    return sawFlows ? i + 1 : -1;
  }

  private readVnetAcls(i: number): number {
    return this.readObjectList(i, VNET_ACLS);
  }

  private readVnetAcl(i: number): number {
    const firstContext = this.vnetContexts.length;
    i = this.readListOwner(i, 'flowGroups', VNET_GROUPS, 'aclID', 4);
    if (i < 0) return -1;
    const aclId = this.label();
    const contexts = this.vnetContexts;
    for (let c = firstContext; c < contexts.length; c++) contexts[c]!.aclId = aclId;
    return i;
  }

  private readVnetGroup(i: number): number {
    const group = new VnetGroup(this.vnetContexts);
    this.tupleContext = NO_CONTEXT;
    this.tupleGroup = group;
    i = this.readListOwner(i, 'flowTuples', VNET_TUPLES, 'rule', 6);
    if (i < 0) return -1;
    const rule = this.label();
    for (const context of group.contexts) context.rule = rule;
    return i;
  }

  /** A tuple string the fast reader passed on, through vnetFlowLog.readVnetTuple. */
  private readVnetTupleSlow(quote: number, group: VnetGroup): number {
    const text = this.tupleText(quote);
    if (text === undefined) return -1;
    const capture = this.capture;
    capture.take();
    const reason = readVnetTuple(text.value, NO_VNET_SHARED, new Map(), capture);
    const r = capture.take();
    if (reason !== undefined || r === undefined) return -1;
    this.out.append({ ...r, azure: group.contextForText(r.azure.encryption) });
    return text.close;
  }
}

const EMPTY = Buffer.alloc(0);
const NO_OUTPUT = new FlowColumns(1);

/**
 * The fast address reader on its own, for tests: the address, or undefined when the fast path
 * would hand the tuple to the reference reader instead.
 */
export function fastParseAddress(text: string): { readonly family: 4 | 6; readonly bytes: Uint8Array } | undefined {
  const buf = Buffer.from(`1,${text},${text},1,1,"`, 'utf8');
  const out = new FlowColumns(1);
  const row = out.addRow();
  if (readTupleHead(buf, 0, out, row) !== buf.length - 2) return undefined;
  const flow = out.recordAt(row);
  return { family: flow.family, bytes: flow.sourceAddress };
}
