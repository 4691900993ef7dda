import ipaddr from 'ipaddr.js';
import type { AzureContext, FlowDecision, FlowDirection, FlowLogKind, FlowRecord, FlowState } from '../flow/flowRecord.js';
import { tupleTimeMs } from './format.js';
import { excerpt, type SkipReason } from './problems.js';

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

/** The fields every tuple starts with, as the reference readers parse them. */
export interface TupleHead {
  readonly timeMs: number;
  readonly source: ParsedAddress;
  readonly destination: ParsedAddress;
  readonly sourcePort: number;
  readonly destinationPort: number;
}

/**
 * Addresses and ports of a tuple (its time comes parsed: NSG and VNet tuples, and connector
 * records, write it differently), or why it is skipped. `names` prefixes each detail with the
 * field's name, for records whose fields have names (the connector's).
 */
export function parseTupleHead(
  timeMs: number | FieldError,
  texts: readonly [source: string, destination: string, sourcePort: string, destinationPort: string],
  names: readonly string[] = ['', '', '', ''],
): TupleHead | [SkipReason, string] {
  if (timeMs instanceof FieldError) return ['bad-timestamp', timeMs.detail];
  const source = parseAddress(texts[0]);
  if (source instanceof FieldError) return ['bad-address', `${names[0]}${source.detail}`];
  const destination = parseAddress(texts[1]);
  if (destination instanceof FieldError) return ['bad-address', `${names[1]}${destination.detail}`];
  if (source.family !== destination.family) return ['bad-address', 'source and destination address families differ'];
  const sourcePort = parsePort(texts[2]);
  if (sourcePort instanceof FieldError) return ['bad-port', `${names[2]}${sourcePort.detail}`];
  const destinationPort = parsePort(texts[3]);
  if (destinationPort instanceof FieldError) return ['bad-port', `${names[3]}${destinationPort.detail}`];
  return { timeMs, source, destination, sourcePort, destinationPort };
}

/** The FlowRecord of a tuple the reference readers parsed; counts: packets and bytes forward, then reverse. */
export function tupleRecord(
  kind: FlowLogKind,
  head: TupleHead,
  what: { readonly protocol: number; readonly direction: FlowDirection; readonly decision: FlowDecision; readonly state: FlowState | undefined },
  counts: readonly (number | undefined)[],
  azure: AzureContext,
): FlowRecord {
  return {
    kind,
    timeMs: head.timeMs,
    family: head.source.family,
    sourceAddress: head.source.bytes,
    destinationAddress: head.destination.bytes,
    sourcePort: head.sourcePort,
    destinationPort: head.destinationPort,
    protocol: what.protocol,
    direction: what.direction,
    decision: what.decision,
    state: what.state,
    packetsForward: counts[0],
    bytesForward: counts[1],
    packetsReverse: counts[2],
    bytesReverse: counts[3],
    azure,
  };
}

/** The four counts of a tuple (blank: undefined), or why it is skipped; `names` as for parseTupleHead. */
export function parseCounts(
  texts: readonly string[],
  names: readonly string[] = ['', '', '', ''],
): { readonly counts: (number | undefined)[] } | [SkipReason, string] {
  const counts: (number | undefined)[] = [];
  for (let i = 0; i < 4; i++) {
    const count = parseCount(texts[i]!);
    if (count instanceof FieldError) return ['bad-count', `${names[i]}${count.detail}`];
    counts.push(count);
  }
  return { counts };
}
