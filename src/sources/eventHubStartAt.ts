import { earliestEventPosition, latestEventPosition, type EventPosition } from '@azure/event-hubs';

/** Where partitions without a checkpoint start (`--start-at`). */
export type StartAt = { readonly kind: 'earliest' } | { readonly kind: 'latest' } | { readonly kind: 'time'; readonly ms: number };

/** Parses `--start-at`: earliest, latest or an ISO 8601 time. */
export function parseEventHubStartAt(text: string): StartAt | undefined {
  const value = text.trim().toLowerCase();
  if (value === 'earliest' || value === 'latest') return { kind: value };
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const ms = Date.parse(text.trim());
  return Number.isNaN(ms) ? undefined : { kind: 'time', ms };
}

export function eventPositionFor(startAt: StartAt): EventPosition {
  switch (startAt.kind) {
    case 'earliest':
      return earliestEventPosition;
    case 'latest':
      return latestEventPosition;
    case 'time':
      return { enqueuedOn: new Date(startAt.ms) };
  }
}
