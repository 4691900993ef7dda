/**
 * Why a piece of input was skipped. Every skipped record or tuple is counted under exactly one of
 * these, so the summary and the metrics add up to what was read.
 */
export type SkipReason =
  | 'invalid-json'
  | 'truncated-json'
  | 'empty-input'
  | 'oversized-record'
  | 'not-a-record'
  | 'unknown-record'
  | 'unfollowed-event'
  | 'refused-body'
  | 'bad-properties'
  | 'bad-flows'
  | 'bad-tuple-type'
  | 'bad-field-count'
  | 'bad-timestamp'
  | 'bad-address'
  | 'bad-port'
  | 'bad-protocol'
  | 'bad-direction'
  | 'bad-decision'
  | 'bad-state'
  | 'bad-encryption'
  | 'bad-count'
  | 'ipv6-unsupported';

/** Where in the input a problem was found: enough for an operator to find the bytes again. */
export interface ProblemContext {
  /** File path, blob name or event position. */
  readonly source: string;
  readonly recordIndex?: number;
  readonly recordTime?: string;
  readonly resourceId?: string;
  readonly rule?: string;
  readonly mac?: string;
  readonly tupleIndex?: number;
  /** The offending text, cut short. */
  readonly excerpt?: string;
}

export interface ParseProblem {
  readonly reason: SkipReason;
  /** What is wrong, in words, e.g. "port 70000 out of range". */
  readonly detail: string;
  /** How many records or tuples this problem made us skip (a truncated record counts as one). */
  readonly skipped: number;
  /** 'record' when a whole record (or more) was lost, 'tuple' for one tuple. */
  readonly unit: 'record' | 'tuple';
  readonly context: ProblemContext;
}

const EXCERPT_LIMIT = 160;

/** Cuts input text for logs: a malformed 10 MB string must not become a 10 MB log line. */
export function excerpt(value: unknown): string {
  const text = typeof value === 'string' ? value : safeStringify(value);
  return text.length > EXCERPT_LIMIT ? `${text.slice(0, EXCERPT_LIMIT)}…(${text.length} chars)` : text;
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // Too deep to stringify (100k nested arrays) or circular: describe, never recurse again.
    return Array.isArray(value) ? '[array]' : Object.prototype.toString.call(value);
  }
}
