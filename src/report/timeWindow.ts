/**
 * `--since` / `--until`: an ISO 8601 time (`2025-06-12T09:00:00Z`, `2025-06-12`), or a duration
 * back from now (`90m`, `24h`, `7d`, `2w`). Pure: the caller passes the clock.
 */

const DURATION = /^(\d+)\s*(m|min|h|d|w)$/i;
const UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
/** A date at least: a bare number or word must not pass as a time through Date.parse's leniency. */
const ISO_START = /^\d{4}-\d{2}-\d{2}(?:$|T)/;

/** Epoch ms of `text`, or undefined when it is neither an ISO 8601 time nor a duration. */
export function parseTimeBound(text: string, nowMs: number): number | undefined {
  const trimmed = text.trim().replace(/^(\d{4}-\d{2}-\d{2}) (?=\d)/, '$1T');
  const duration = DURATION.exec(trimmed);
  if (duration !== null) return nowMs - Number(duration[1]) * UNIT_MS[duration[2]!.toLowerCase()]!;
  if (!ISO_START.test(trimmed)) return undefined;
  // A date and time without a zone is read as UTC (Azure's times are UTC), not as local time.
  const zoned = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(trimmed) ? `${trimmed}Z` : trimmed;
  const ms = Date.parse(zoned);
  return Number.isNaN(ms) ? undefined : ms;
}
