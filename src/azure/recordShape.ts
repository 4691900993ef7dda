import { excerpt, type ParseProblem, type ProblemContext, type SkipReason } from './problems.js';

/** Small guards for walking untrusted JSON without trusting its types. */

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asArray(value: unknown): readonly unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

/** A string field, '' when absent or of another type (Azure ids are informative, never required). */
export function asString(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

export function recordProblem(reason: SkipReason, detail: string, context: ProblemContext, offending: unknown): ParseProblem {
  return { reason, detail, skipped: 1, unit: 'record', context: { ...context, excerpt: excerpt(offending) } };
}

export function tupleProblem(reason: SkipReason, detail: string, context: ProblemContext): ParseProblem {
  return { reason, detail, skipped: 1, unit: 'tuple', context };
}

/**
 * `table[key]` for the table's own keys only: a tuple field like `toString` or `constructor` must
 * not find Object.prototype's members and pass as a protocol or direction.
 */
export function lookup<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
