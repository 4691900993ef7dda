import { UserError } from '../flow/errors.js';

/**
 * What the Blob Storage source remembers between runs: one cursor per PT1H.json blob and the hour
 * from which discovery walks the `y=/m=/d=/h=` prefixes. It is plain JSON so an operator can read
 * (and, in an emergency, edit) it.
 */

export const SOURCE_STATE_VERSION = 1;

/** Where one blob has been read up to. The block id decides; the other fields are checks and hints. */
export interface BlobCursor {
  /** Start of the blob's hour (epoch ms, from its `y=/m=/d=/h=` path). */
  hourMs: number;
  /**
   * Base64 id of the last committed block whose records were handed to the transport (the head
   * block counts once read). Absent: nothing read yet.
   */
  lastBlockId?: string;
  /** Index of that block in the committed list: a hint to find it quickly; the id decides. */
  lastBlockIndex?: number;
  /** Byte offset just past that block: a different one means the blob was rewritten. */
  endOffset?: number;
  /**
   * Bytes handed to the transport up to here, past `endOffset`: read by the growth shortcut (one
   * ranged read, no block list), so the ids of those blocks are not known yet. The next block
   * list must have a block ending exactly here (after `lastBlockId`), or the blob was rewritten.
   */
  grownToOffset?: number;
  /**
   * `COUNT:HASH` of the (up to 256) bytes just before the read offset (`grownToOffset ?? endOffset`):
   * the growth shortcut reads them again and finds them unchanged, or the blob was rewritten
   * before that offset (Put Block List keeps the creation time) and the block list decides.
   */
  lastBytes?: string;
  /** Id of the 2-byte `]}` tail block last seen, so an unchanged tail is not downloaded again. */
  tailBlockId?: string;
  /** Blob creation time (epoch ms): a different one means it was deleted and written again. */
  createdOnMs?: number;
  /** ETag of the blob version whose blocks were all processed: the same ETag in a listing means nothing new. */
  doneEtag?: string;
  /**
   * Length of the `doneEtag` version. When it is the read offset plus the 2-byte `]}` tail, a
   * longer version with the same creation time can be read by the growth shortcut.
   */
  doneLength?: number;
  /** A blob written in one piece (Put Blob, no block list): read whole, once per ETag. */
  wholeBlob?: boolean;
  /** Consecutive failed reads; reset by a successful one. */
  failures?: number;
  /** Wall clock (epoch ms) before which a failed blob is not tried again. */
  retryAfterMs?: number;
  /** Set after too many failures: the blob is skipped so it cannot stall the others. */
  poisoned?: { atMs: number; reason: string };
  /**
   * Wall clock (epoch ms) until which the blob's hour is still listed although the discovery
   * window moved past it: a blob that just grew may grow again.
   */
  activeUntilMs?: number;
}

export interface SourceState {
  version: typeof SOURCE_STATE_VERSION;
  /** Discovery lists hour prefixes from this hour (epoch ms) up to the current one. */
  scanFromMs: number;
  /** Keyed by `container/blobName`. */
  blobs: Record<string, BlobCursor>;
  /** `--start-at <time>`: flows before it (epoch ms) are dropped from blobs read from their start. */
  notBeforeMs?: number;
  /** `--start-at now`: blobs first seen are positioned at their end until a pass completes. */
  positioning?: boolean;
  /** ISO time of the last write, for operators. */
  updatedAt?: string;
}

/** The state could not be read or written: the blob source stops (the CLI exits 2 with this message). */
export class StateError extends UserError {
  constructor(message: string, options: { readonly cause?: unknown } = {}) {
    super(message, { code: 'state', cause: options.cause });
  }
}

/** What changed since the last save, so a store can write only that. */
export interface StateChanges {
  /** Blobs whose cursor changed (stored as it is now) or was removed (absent from `blobs`). */
  readonly blobs: ReadonlySet<string>;
  /** Fields other than `blobs` changed (scanFromMs, notBeforeMs, positioning). */
  readonly header: boolean;
}

export function emptyState(scanFromMs: number): SourceState {
  return { version: SOURCE_STATE_VERSION, scanFromMs, blobs: {} };
}

export function blobKey(container: string, name: string): string {
  return `${container}/${name}`;
}

export function splitBlobKey(key: string): { container: string; name: string } {
  const slash = key.indexOf('/');
  return { container: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** Parses a stored state document; anything unexpected is an error, never silently a fresh start. */
export function parseSourceState(text: string, where: string): SourceState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new StateError(`state ${where} is not valid JSON (${(error as Error).message}): fix or remove it, or use --start-at`);
  }
  const state = value as Partial<SourceState> | null;
  if (
    state === null ||
    typeof state !== 'object' ||
    state.version !== SOURCE_STATE_VERSION ||
    typeof state.scanFromMs !== 'number' ||
    typeof state.blobs !== 'object' ||
    state.blobs === null
  ) {
    throw new StateError(`state ${where} is not an nsg2ipfix blob state (version ${SOURCE_STATE_VERSION}): fix or remove it, or use --start-at`);
  }
  return state as SourceState;
}

/**
 * The state as a JSON document, one blob's cursor per line: readable, diffable, and about half the
 * size of an indented document (10,000 blobs make a few MB). `extra` fields go after the header.
 */
export function serializeSourceState(state: SourceState, extra: Record<string, unknown> = {}): string {
  const head = JSON.stringify({ version: state.version, ...stateHeader(state), ...extra, updatedAt: new Date().toISOString() });
  const lines: string[] = [];
  for (const [key, cursor] of Object.entries(state.blobs)) lines.push(`${JSON.stringify(key)}:${JSON.stringify(cursor)}`);
  return `${head.slice(0, -1)},"blobs":{${lines.length === 0 ? '' : `\n${lines.join(',\n')}\n`}}}\n`;
}

/** The fields of a state other than its cursors (what a journal's header line carries). */
export function stateHeader(state: SourceState): Omit<SourceState, 'blobs' | 'version' | 'updatedAt'> {
  const { scanFromMs, notBeforeMs, positioning } = state;
  return { scanFromMs, ...(notBeforeMs === undefined ? {} : { notBeforeMs }), ...(positioning === undefined ? {} : { positioning }) };
}

/** A durable home for the state: a local directory or a blob. */
export interface StateStore {
  /** For logs: never contains secrets. */
  readonly description: string;
  /** The stored state, or undefined when none was ever written. */
  load(): Promise<SourceState | undefined>;
  /**
   * Makes `state` durable: a crash leaves the previous or the new state, never a torn one.
   * `changes` says what changed since the last save; without it (or when the store prefers) the
   * whole state is written. Callers batch changes (StateWriter): a save is not cheap.
   */
  save(state: SourceState, changes?: StateChanges): Promise<void>;
  /** Releases open files; a later save opens them again. */
  close?(): Promise<void>;
}
