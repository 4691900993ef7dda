import { stateHeader, type BlobCursor, type SourceState, type StateChanges } from './sourceState.js';

/**
 * The journal of a file state store: what changed since the snapshot, one JSON object per line,
 * appended (and fsynced) once per batch of changes, so a write costs what changed, not the number
 * of blobs followed. Recovery reads the snapshot, then applies the journal's lines in order.
 *
 *   {"journal":1,"generation":7}          first line: the snapshot generation it continues
 *   {"b":"container/name","c":{...}}       a blob's cursor as it is now
 *   {"b":"container/name"}                 a blob dropped from the state
 *   {"h":{"scanFromMs":...}}               the other fields of the state
 *
 * Every line carries a whole value, never a delta: a line lost (torn by a crash, skipped as
 * unreadable) only makes a cursor older, so its blocks are sent again, never skipped.
 */

export const JOURNAL_FORMAT = 1;

export function journalHeaderLine(generation: number): string {
  return `${JSON.stringify({ journal: JOURNAL_FORMAT, generation })}\n`;
}

/** The lines recording `changes` as `state` holds them now. */
export function journalLines(state: SourceState, changes: StateChanges): string {
  let text = '';
  if (changes.header) text += `${JSON.stringify({ h: stateHeader(state) })}\n`;
  for (const key of changes.blobs) {
    const cursor = state.blobs[key];
    text += cursor === undefined ? `${JSON.stringify({ b: key })}\n` : `${JSON.stringify({ b: key, c: cursor })}\n`;
  }
  return text;
}

export interface JournalReplay {
  /** False when the journal continues another snapshot (a compaction was cut short): nothing applied. */
  readonly matched: boolean;
  readonly applied: number;
  /** Lines that could not be read (a torn last line after a crash): ignored. */
  readonly skipped: number;
}

/** Applies a journal to the snapshot it continues (`generation`), in place. */
export function applyJournal(state: SourceState, text: string, generation: number): JournalReplay {
  const lines = text.split('\n');
  const header = parseLine(lines[0] ?? '') as { journal?: unknown; generation?: unknown } | undefined;
  if (header?.journal !== JOURNAL_FORMAT || header.generation !== generation) return { matched: false, applied: 0, skipped: 0 };
  let applied = 0;
  let skipped = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const entry = parseLine(line) as { b?: unknown; c?: unknown; h?: unknown } | undefined;
    if (entry !== undefined && typeof entry.b === 'string') {
      if (entry.c === undefined) delete state.blobs[entry.b];
      else if (isCursor(entry.c)) state.blobs[entry.b] = entry.c;
      else {
        skipped++;
        continue;
      }
      applied++;
    } else if (entry !== undefined && isHeader(entry.h)) {
      state.scanFromMs = entry.h.scanFromMs;
      if (typeof entry.h.notBeforeMs === 'number') state.notBeforeMs = entry.h.notBeforeMs;
      else delete state.notBeforeMs;
      if (entry.h.positioning === true) state.positioning = true;
      else delete state.positioning;
      applied++;
    } else skipped++;
  }
  return { matched: true, applied, skipped };
}

function parseLine(line: string): unknown {
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' ? value : undefined;
  } catch {
    return undefined;
  }
}

function isCursor(value: unknown): value is BlobCursor {
  return value !== null && typeof value === 'object' && typeof (value as BlobCursor).hourMs === 'number';
}

function isHeader(value: unknown): value is { scanFromMs: number; notBeforeMs?: unknown; positioning?: unknown } {
  return value !== null && typeof value === 'object' && typeof (value as { scanFromMs?: unknown }).scanFromMs === 'number';
}
