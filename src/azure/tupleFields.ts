import ipaddr from 'ipaddr.js';
import { tupleTimeMs } from './format.js';
import { excerpt } from './problems.js';

/**
 * Field parsers shared by the NSG and VNet tuple readers. Each returns the value, or a string
 * saying what is wrong (the caller turns it into a counted, logged skip).
 */

export type FieldResult<T> = T | FieldError;

export class FieldError {
  constructor(readonly detail: string) {}
}

/** Epoch seconds or milliseconds as Azure writes them, to epoch ms. */
export function parseTimestampMs(text: string): FieldResult<number> {
  if (!isDigits(text)) return new FieldError(`timestamp '${excerpt(text)}' is not a whole number`);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value === 0) return new FieldError(`timestamp '${excerpt(text)}' out of range`);
  return tupleTimeMs(value);
}

export function parsePort(text: string): FieldResult<number> {
  if (!isDigits(text) || text.length > 5) return new FieldError(`port '${excerpt(text)}' is not a number from 0 to 65535`);
  const value = Number(text);
  return value <= 0xffff ? value : new FieldError(`port ${value} out of range`);
}

/** A packet or byte count: blank means "not reported" (B and deny tuples), not zero. */
export function parseCount(text: string): FieldResult<number | undefined> {
  if (text.length === 0) return undefined;
  if (!isDigits(text)) return new FieldError(`count '${excerpt(text)}' is not a whole number`);
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : new FieldError(`count '${excerpt(text)}' too large`);
}

export interface ParsedAddress {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

/**
 * An IPv4 or IPv6 address. Plain dotted quads are read directly (the common case, millions of
 * times per file); everything else goes through ipaddr.js, which is strict about IPv6 forms.
 */
export function parseAddress(text: string): FieldResult<ParsedAddress> {
  const v4 = parseDottedQuad(text);
  if (v4 !== undefined) return { family: 4, bytes: v4 };
  if (text.includes(':') && ipaddr.IPv6.isValid(text)) {
    return { family: 6, bytes: Uint8Array.from(ipaddr.IPv6.parse(text).toByteArray()) };
  }
  return new FieldError(`'${excerpt(text)}' is not an IPv4 or IPv6 address`);
}

/** Strict a.b.c.d with 0..255 parts and no leading zeros (leading zeros are ambiguous: octal?). */
export function parseDottedQuad(text: string): Uint8Array | undefined {
  const bytes = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x2e) {
      if (digits === 0 || part === 3) return undefined;
      bytes[part++] = value;
      value = 0;
      digits = 0;
    } else if (code >= 0x30 && code <= 0x39) {
      if (digits > 0 && value === 0) return undefined;
      value = value * 10 + (code - 0x30);
      if (++digits > 3 || value > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (digits === 0 || part !== 3) return undefined;
  bytes[3] = value;
  return bytes;
}

export function isDigits(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return false;
  }
  return true;
}
