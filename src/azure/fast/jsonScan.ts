/**
 * JSON syntax over bytes, for the fast reader: each function validates exactly what JSON.parse
 * would accept and returns the index after what it read, or -1. Pure functions over (buffer,
 * index, end): no state between calls, so any number of readers can use them at once.
 */

// Each fast module keeps its own byte constants: V8 folds a module's own constants into its loops,
// not imported ones (see tupleReaders.ts).
// prettier-ignore
const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a, DOT = 0x2e, DIGIT_0 = 0x30, DIGIT_9 = 0x39;
// prettier-ignore
const OPEN_BRACE = 0x7b, CLOSE_BRACE = 0x7d, OPEN_BRACKET = 0x5b, CLOSE_BRACKET = 0x5d;

/** Nesting beyond this goes to the reference path (JSON.parse has no such limit; we need none). */
const MAX_DEPTH = 64;

export function skipWhitespace(buf: Buffer, i: number, end: number): number {
  while (i < end) {
    const c = buf[i]!;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

/** buf[i], or -1 at and past `end` (never an out-of-bounds read: those deoptimize the reader). */
export function byteAt(buf: Buffer, i: number, end: number): number {
  return i < end ? buf[i]! : -1;
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= DIGIT_0 && c <= DIGIT_9) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46));
}

/** `i` at an opening quote: the index of the closing quote, or -1 when the string is not valid JSON. */
export function scanString(buf: Buffer, i: number, end: number): number {
  i++;
  while (i < end) {
    const c = buf[i]!;
    if (c === QUOTE) return i;
    if (c === BACKSLASH) {
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

/**
 * `i` at the opening quote of a key: the index of its closing quote, or -1 when the key is not a
 * plain string (an escape sends the record to the reference path, which decodes keys itself).
 */
export function scanPlainString(buf: Buffer, i: number, end: number): number {
  i++;
  while (i < end) {
    const c = buf[i]!;
    if (c === QUOTE) return i;
    if (c === BACKSLASH || c < 0x20) return -1;
    i++;
  }
  return -1;
}

/** Whether buf[start, end) holds a backslash: a string with escapes is decoded by JSON.parse, not from its bytes. */
export function hasBackslash(buf: Buffer, start: number, end: number): boolean {
  for (let k = start; k < end; k++) if (buf[k] === BACKSLASH) return true;
  return false;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= DIGIT_0 && c <= DIGIT_9;
}

/** A JSON number from `i`: the index after it, or -1. */
function skipNumber(buf: Buffer, i: number, end: number): number {
  if (byteAt(buf, i, end) === 0x2d) i++;
  const first = byteAt(buf, i, end);
  if (first === DIGIT_0) i++;
  else if (first >= 0x31 && first <= DIGIT_9) {
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

/**
 * After an element of an array or a member of an object that `close` ends (`i` past its value, or
 * -1 when the value was not valid): the index of the next one (past the comma and whitespace),
 * ~(the index of `close`) when the array or object ends there, or -1. Never ~0: `close` follows
 * its opening bracket.
 */
export function afterItem(buf: Buffer, i: number, end: number, close: number): number {
  if (i < 0) return -1;
  i = skipWhitespace(buf, i, end);
  const next = byteAt(buf, i, end);
  if (next === COMMA) return skipWhitespace(buf, i + 1, end);
  return next === close ? ~i : -1;
}

/** Any JSON value from `i` (no leading whitespace): the index after it, or -1 when it is not valid. */
export function skipValue(buf: Buffer, i: number, end: number, depth: number): number {
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
      i = afterItem(buf, skipValue(buf, skipWhitespace(buf, i + 1, end), end, depth + 1), end, CLOSE_BRACE);
      if (i < 0) return i === -1 ? -1 : ~i + 1;
    }
  }
  if (c === OPEN_BRACKET) {
    i = skipWhitespace(buf, i + 1, end);
    if (byteAt(buf, i, end) === CLOSE_BRACKET) return i + 1;
    for (;;) {
      i = afterItem(buf, skipValue(buf, i, end, depth + 1), end, CLOSE_BRACKET);
      if (i < 0) return i === -1 ? -1 : ~i + 1;
    }
  }
  if (c === 0x74) return skipLiteral(buf, i, end, 'true');
  if (c === 0x66) return skipLiteral(buf, i, end, 'false');
  if (c === 0x6e) return skipLiteral(buf, i, end, 'null');
  if (c === 0x2d || (c >= DIGIT_0 && c <= DIGIT_9)) return skipNumber(buf, i, end);
  return -1;
}

/** Whether the key at buf[start, start + length) is `name` (ASCII). */
export function keyIs(buf: Buffer, start: number, length: number, name: string): boolean {
  if (length !== name.length) return false;
  for (let k = 0; k < length; k++) if (buf[start + k] !== name.charCodeAt(k)) return false;
  return true;
}
