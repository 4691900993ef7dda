import { StateError, type SourceState, type StateStore } from './sourceState.js';

export interface StateWriterOptions {
  /** Least time between the starts of two writes. Default 1 s. */
  readonly minIntervalMs?: number;
  readonly now?: () => number;
  /** After each write that succeeded (checkpoint age). */
  readonly onSaved?: () => void;
  /** A write failed; its changes stay pending and go with the next write. */
  readonly onError?: (error: StateError) => void;
}

export const DEFAULT_STATE_WRITE_INTERVAL_MS = 1000;

/**
 * Batches the state writes of a source. Acknowledgements only mark what changed; the changes
 * are written together at most once per `minIntervalMs` (and on `flush`, at stop), so the cost
 * of keeping cursors no longer grows with the number of batches. The price, by design: after a
 * crash, the batches acknowledged since the last write (at most about a second's worth) are read
 * and sent again. Nothing is ever skipped: a cursor is written only after its batch was sent.
 */
export class StateWriter {
  private readonly pendingBlobs = new Set<string>();
  private headerPending = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private lastStartMs = Number.NEGATIVE_INFINITY;
  private readonly minIntervalMs: number;
  private readonly now: () => number;
  /** The last write's failure, until a write succeeds. */
  failure: StateError | undefined;
  writes = 0;

  constructor(
    private readonly store: StateStore,
    private readonly state: SourceState,
    private readonly options: StateWriterOptions = {},
  ) {
    this.minIntervalMs = options.minIntervalMs ?? DEFAULT_STATE_WRITE_INTERVAL_MS;
    this.now = options.now ?? Date.now;
  }

  /** The cursor of `key` changed, or it was removed from the state. */
  blobChanged(key: string): void {
    this.pendingBlobs.add(key);
    this.schedule();
  }

  /** A field other than the cursors changed. */
  headerChanged(): void {
    this.headerPending = true;
    this.schedule();
  }

  get pending(): boolean {
    return this.pendingBlobs.size > 0 || this.headerPending;
  }

  /** Writes what is pending now (after the write in progress). Rejects with the write's StateError. */
  async flush(): Promise<void> {
    this.cancelTimer();
    while (this.writing !== undefined) await this.writing;
    this.cancelTimer();
    if (this.pending) await this.write();
    if (this.failure !== undefined) throw this.failure;
  }

  /** Flushes, then stops: later changes are not written. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.cancelTimer();
      await this.store.close?.();
    }
  }

  private schedule(): void {
    if (this.timer !== undefined || this.writing !== undefined) return;
    const delayMs = Math.max(0, this.lastStartMs + this.minIntervalMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, delayMs);
    // A pending write never keeps the process alive: stopping flushes explicitly.
    this.timer.unref();
  }

  private cancelTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private write(): Promise<void> {
    const changes = { blobs: new Set(this.pendingBlobs), header: this.headerPending };
    this.pendingBlobs.clear();
    this.headerPending = false;
    this.lastStartMs = this.now();
    const writing = (async () => {
      try {
        await this.store.save(this.state, changes);
        this.writes++;
        this.failure = undefined;
        this.options.onSaved?.();
      } catch (error) {
        for (const key of changes.blobs) this.pendingBlobs.add(key);
        if (changes.header) this.headerPending = true;
        this.failure = error instanceof StateError ? error : new StateError(`cannot write state: ${(error as Error).message}`, { cause: error });
        this.options.onError?.(this.failure);
      } finally {
        this.writing = undefined;
        if (this.pending) this.schedule();
      }
    })();
    this.writing = writing;
    return writing;
  }
}
