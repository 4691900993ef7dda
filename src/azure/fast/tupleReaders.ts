import * as columns from '../../flow/flowColumns.js';
import type { FlowColumns } from '../../flow/flowColumns.js';
import type { AzureContext } from '../../flow/flowRecord.js';
import * as format from '../format.js';
import type { VnetGroup } from './contexts.js';

// Module constants, not imported bindings: V8 folds a module's own constants into its hot loops,
// while every read of an imported binding is a load and a hole check (27% more instructions to
// parse a file when these loops read them through imports).
// prettier-ignore
const QUOTE = 0x22, COMMA = 0x2c, COLON = 0x3a, DOT = 0x2e, DIGIT_0 = 0x30, DIGIT_9 = 0x39;
const { ADDRESS_WORDS, DENIED, IPV6, KIND_CODES, OUTBOUND, STATE_CODES } = columns;
const { DENIED_BY_BYTE, isEncryptionByte, MAX_ENCRYPTION_BYTES, MILLISECONDS_THRESHOLD } = format;
const { NSG_PROTOCOL_BY_BYTE, NSG_STATE_BY_BYTE, OUTBOUND_BY_BYTE, VNET_STATE_BY_BYTE } = format;
const NSG_V1 = KIND_CODES['nsg-v1'];
const NSG_V2 = KIND_CODES['nsg-v2'];
const VNET = KIND_CODES.vnet;

/**
 * Tuple strings read straight from bytes into a row of FlowColumns: no string per tuple, no
 * split into fields. Only the plain forms are read (dotted quads without leading zeros, IPv6 hex
 * groups, the documented letters); anything else returns -1 and the tuple goes to the reference
 * reader. Each reader adds no row when it returns -1.
 */

/** Digits a number may have to be read exactly by accumulation (Number.isSafeInteger holds). */
const MAX_EXACT_DIGITS = 15;

/**
 * The readers stop at the first byte that does not fit the field they read (a quote does not fit
 * any) and give up after more bytes than any field of theirs can hold, so they read at most this
 * many bytes past a tuple's opening quote. Closer than this to the end of the buffer, a tuple is
 * read only if a quote follows within the buffer (tupleFitsIn): the readers never read out of
 * bounds (which would cost a deoptimization each time a record is cut by a chunk boundary).
 */
const TUPLE_READ_LIMIT = 512;

/** Whether the tuple whose opening quote is at `quote` can be read without reading past `end`. */
export function tupleFitsIn(buf: Buffer, quote: number, end: number): boolean {
  if (end - quote > TUPLE_READ_LIMIT) return true;
  for (let k = quote + 1; k < end; k++) if (buf[k] === QUOTE) return true;
  return false;
}

function hexValue(c: number): number {
  if (c >= DIGIT_0 && c <= DIGIT_9) return c - DIGIT_0;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/**
 * The IPv6 subset ipaddr.js reads the same way (checked by test/azure/fastFlowLog.test.ts), from
 * `p` up to the next comma, as four big-endian words at words[at...]: the comma's index, or -1.
 * `groups` is scratch space of eight.
 */
function readIpv6(buf: Buffer, p: number, words: Int32Array, at: number, groups: Uint16Array): number {
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
 * The fields every tuple starts with (time, source, destination, ports) into row `row` of `out`:
 * the index of the comma after the destination port, or -1. One function with every field read in
 * place: this loop runs for every tuple of every file, and calls or shared state per field cost
 * more than the reading.
 */
export function readTupleHead(buf: Buffer, p: number, out: FlowColumns, row: number, groups: Uint16Array): number {
  let c = buf[p]!;
  let time = 0;
  let digits = 0;
  while (c >= DIGIT_0 && c <= DIGIT_9) {
    time = time * 10 + (c - DIGIT_0);
    if (++digits > MAX_EXACT_DIGITS) return -1;
    c = buf[++p]!;
  }
  if (c !== COMMA || digits === 0 || time === 0) return -1;
  // format.tupleTimeMs, inlined: this runs for every tuple.
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
      p = readIpv6(buf, from, addresses, at + side * 4, groups);
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
 * closing quote, or -1 when it is not in the plain form (no row is added then). The row's kind
 * says whether it was a version 1 or 2 tuple.
 */
export function readNsgTuple(buf: Buffer, p: number, azure: AzureContext, out: FlowColumns, groups: Uint16Array): number {
  const row = out.addRow();
  const close = readNsgTupleInto(buf, p, out, row, groups);
  if (close < 0) {
    out.length = row;
    return -1;
  }
  out.contexts[row] = azure;
  return close;
}

function readNsgTupleInto(buf: Buffer, p: number, out: FlowColumns, row: number, groups: Uint16Array): number {
  p = readTupleHead(buf, p, out, row, groups);
  if (p < 0) return -1;
  const protocol = NSG_PROTOCOL_BY_BYTE[buf[++p]!]!;
  if (protocol === 0 || buf[++p] !== COMMA) return -1;
  const outbound = OUTBOUND_BY_BYTE[buf[++p]!]!;
  if (outbound === 255 || buf[++p] !== COMMA) return -1;
  const denied = DENIED_BY_BYTE[buf[++p]!]!;
  if (denied === 255) return -1;
  out.protocols[row] = protocol;
  out.flags[row] = out.flags[row]! | (outbound === 1 ? OUTBOUND : 0) | (denied === 1 ? DENIED : 0);
  let c = buf[++p];
  if (c === QUOTE) {
    out.kinds[row] = NSG_V1;
    out.states[row] = STATE_CODES.none;
    const counts = out.counts;
    const k = row * 4;
    counts[k] = counts[k + 1] = counts[k + 2] = counts[k + 3] = NaN;
    return p;
  }
  if (c !== COMMA) return -1;
  c = buf[++p]!;
  const state = NSG_STATE_BY_BYTE[c]!;
  if (state === STATE_CODES.none || buf[++p] !== COMMA) return -1;
  p = readCounts(buf, p, out, row);
  if (p < 0) return -1;
  out.kinds[row] = NSG_V2;
  out.states[row] = state;
  return p;
}

/** One VNet tuple, as readNsgTuple; `group` gives the AzureContext of its encryption value. */
export function readVnetTuple(buf: Buffer, p: number, group: VnetGroup, out: FlowColumns, groups: Uint16Array): number {
  const row = out.addRow();
  const close = readVnetTupleInto(buf, p, group, out, row, groups);
  if (close < 0) {
    out.length = row;
    return -1;
  }
  return close;
}

function readVnetTupleInto(buf: Buffer, p: number, group: VnetGroup, out: FlowColumns, row: number, groups: Uint16Array): number {
  p = readTupleHead(buf, p, out, row, groups);
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
  const outbound = OUTBOUND_BY_BYTE[buf[++p]!]!;
  if (outbound === 255 || buf[++p] !== COMMA) return -1;
  const state = VNET_STATE_BY_BYTE[buf[++p]!]!;
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
  out.kinds[row] = VNET;
  out.protocols[row] = protocol;
  out.flags[row] = out.flags[row]! | (outbound === 1 ? OUTBOUND : 0) | (state === STATE_CODES.deny ? DENIED : 0);
  out.states[row] = state;
  out.contexts[row] = group.contextFor(buf, start, encryptionEnd);
  return p;
}
