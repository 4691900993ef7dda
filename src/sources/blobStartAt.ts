import type { Logger } from 'pino';
import { emptyState, type SourceState, type StateStore } from '../state/sourceState.js';
import { floorHour } from './blobPaths.js';

/** Where the Blob Storage source starts (`--start-at`). */
export type StartAt = { readonly kind: 'resume' } | { readonly kind: 'now' } | { readonly kind: 'beginning' } | { readonly kind: 'time'; readonly ms: number };

/** Parses `--start-at`: resume, now, beginning or an ISO 8601 time. */
export function parseStartAt(text: string): StartAt | undefined {
  const value = text.trim().toLowerCase();
  if (value === 'resume' || value === 'now' || value === 'beginning') return { kind: value };
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const ms = Date.parse(text.trim());
  return Number.isNaN(ms) ? undefined : { kind: 'time', ms };
}

/**
 * The state a run starts from: the stored one when resuming, else a fresh one for the start
 * policy, which is stored at once — before anything is read — so a restart with `resume` goes on
 * from the same starting point even when this run is killed before its first cursor moved (a run
 * from the beginning killed early would otherwise restart "now" and skip everything before).
 */
export async function startingState(store: StateStore, startAt: StartAt, nowMs: number, lateWindowMs: number, logger: Logger): Promise<SourceState> {
  const stored = await store.load();
  if (startAt.kind === 'resume' && stored !== undefined) {
    logger.info(
      {
        state: store.description,
        blobs: Object.keys(stored.blobs).length,
        scanFrom: new Date(stored.scanFromMs).toISOString(),
        positioning: stored.positioning,
      },
      'resuming from stored cursors',
    );
    return stored;
  }
  if (stored !== undefined) logger.info({ state: store.description, startAt: startAt.kind }, 'stored cursors are replaced (--start-at)');
  let state: SourceState;
  switch (startAt.kind) {
    case 'resume':
    case 'now':
      // Blobs seen before the first complete pass are positioned at their end (kept in the
      // state, so a restart before that pass completes goes on positioning).
      state = { ...emptyState(floorHour(nowMs - lateWindowMs)), positioning: true };
      logger.info(
        { state: store.description },
        startAt.kind === 'resume' ? 'no stored cursors: starting now (existing blocks are skipped)' : 'starting now (existing blocks are skipped)',
      );
      break;
    case 'beginning':
      state = emptyState(0);
      logger.info({ state: store.description }, 'starting from the oldest blobs');
      break;
    case 'time':
      state = { ...emptyState(floorHour(startAt.ms)), notBeforeMs: startAt.ms };
      logger.info({ state: store.description, from: new Date(startAt.ms).toISOString() }, 'starting from the given time');
      break;
  }
  await store.save(state);
  return state;
}
