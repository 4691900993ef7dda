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
  /** Id of the 2-byte `]}` tail block last seen, so an unchanged tail is not downloaded again. */
  tailBlockId?: string;
  /** Blob creation time (epoch ms): a different one means it was deleted and written again. */
  createdOnMs?: number;
  /** ETag of the blob version whose blocks were all processed: the same ETag in a listing means nothing new. */
  doneEtag?: string;
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
  /** ISO time of the last write, for operators. */
  updatedAt?: string;
}

export class StateError extends Error {}

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

export function serializeSourceState(state: SourceState): string {
  return `${JSON.stringify({ ...state, updatedAt: new Date().toISOString() }, null, 1)}\n`;
}

/** A durable home for the state: a local directory or a blob. */
export interface StateStore {
  /** For logs: never contains secrets. */
  readonly description: string;
  /** The stored state, or undefined when none was ever written. */
  load(): Promise<SourceState | undefined>;
  /** Replaces the stored state atomically: a crash leaves the old or the new document, never half. */
  save(state: SourceState): Promise<void>;
}
