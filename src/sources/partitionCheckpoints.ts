import type { PartitionContext, ReceivedEventData } from '@azure/event-hubs';
import type { Logger } from 'pino';
import { sleep } from '../flow/sleep.js';
import { scrubSecrets } from '../secrets.js';

/**
 * The events of one receive batch become units (a batch of records, a notified blob) that finish
 * in any order; a checkpoint may name an event only once every unit up to it was sent. A unit
 * dropped (stop, partition lost) holds the checkpoint back for the rest of the batch.
 */
export class CheckpointOrder<Event> {
  private readonly units: { done: boolean; sent: boolean; lastEvent: Event | undefined }[] = [];
  private head = 0;
  private blocked = false;

  constructor(private readonly checkpoint: (event: Event) => void) {}

  /** A unit, in event order; `lastEvent` is the event it completes, if any. */
  add(lastEvent: Event | undefined): number {
    this.units.push({ done: false, sent: false, lastEvent });
    return this.units.length - 1;
  }

  settle(unit: number, sent: boolean): void {
    const entry = this.units[unit]!;
    entry.done = true;
    entry.sent = sent;
    let newest: Event | undefined;
    while (!this.blocked && this.head < this.units.length && this.units[this.head]!.done) {
      const next = this.units[this.head++]!;
      if (!next.sent) this.blocked = true;
      else if (next.lastEvent !== undefined) newest = next.lastEvent;
    }
    if (newest !== undefined) this.checkpoint(newest);
  }
}

/** A partition as its checkpoints see it. */
export interface CheckpointedPartition {
  readonly id: string;
  readonly context: PartitionContext;
  /** Lost to another instance or released: its checkpoints are no longer ours to write. */
  closed: boolean;
  /** The newest event to checkpoint, not yet written. */
  nextCheckpoint?: ReceivedEventData;
  /** The checkpoint writer of this partition, while it runs. */
  writing?: Promise<void>;
  /** When this partition's last checkpoint write began (epoch ms). */
  lastCheckpointMs?: number;
}

export interface CheckpointWriterOptions {
  /** False with `--no-checkpoint`: nothing is written. */
  readonly enabled: boolean;
  /** Counted here: checkpoints written and failed. */
  readonly counters: { checkpoints: number; checkpointFailures: number };
  readonly logger: Logger;
  /** Once aborted (stopping), a pending checkpoint is written at once. */
  readonly stopSignal: AbortSignal;
  /** Called after each checkpoint written (checkpoint age on /metrics). */
  readonly onCheckpoint?: () => void;
  /** Least time between two writes of one partition. Default 1 s. */
  readonly minIntervalMs?: number;
}

const DEFAULT_MIN_INTERVAL_MS = 1000;
const ERROR_LOG_INTERVAL_MS = 60_000;

/**
 * Checkpoints are written in the background, one writer per partition, newest event wins: the
 * pipeline never waits for the checkpoint store, and a partition's checkpoints never go back.
 * At most one write a second per partition (and the last one at stop at once): a busy partition
 * acknowledges dozens of batches a second, and each write is a storage request to sign and pay.
 */
export class CheckpointWriter {
  /** Writers running, of every partition (closed ones included). */
  private readonly writers = new Set<Promise<void>>();
  private lastErrorLogMs = -Infinity;

  constructor(private readonly options: CheckpointWriterOptions) {}

  schedule(partition: CheckpointedPartition, event: ReceivedEventData): void {
    if (!this.options.enabled) return;
    partition.nextCheckpoint = event;
    if (partition.writing !== undefined) return;
    const minIntervalMs = this.options.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS;
    const writing = (async () => {
      try {
        while (partition.nextCheckpoint !== undefined) {
          const waitMs = (partition.lastCheckpointMs ?? -Infinity) + minIntervalMs - Date.now();
          if (waitMs > 0) await sleep(waitMs, this.options.stopSignal);
          const next = partition.nextCheckpoint;
          partition.nextCheckpoint = undefined;
          await this.write(partition, next);
        }
      } finally {
        // In the same tick as the loop's last check: a checkpoint scheduled later starts a new writer.
        partition.writing = undefined;
      }
    })();
    partition.writing = writing;
    this.writers.add(writing);
    void writing.then(() => this.writers.delete(writing));
  }

  /** Resolves once every checkpoint scheduled so far was written (or failed). */
  async drain(): Promise<void> {
    while (this.writers.size > 0) await Promise.all(this.writers);
  }

  private async write(partition: CheckpointedPartition, event: ReceivedEventData): Promise<void> {
    // A partition taken over meanwhile is checkpointed by its new owner, which re-reads from the
    // last checkpoint: writing ours now could move its checkpoint back.
    if (partition.closed) return;
    const { counters, logger } = this.options;
    try {
      partition.lastCheckpointMs = Date.now();
      await partition.context.updateCheckpoint(event);
      counters.checkpoints++;
      this.options.onCheckpoint?.();
    } catch (error) {
      counters.checkpointFailures++;
      const nowMs = Date.now();
      if (nowMs - this.lastErrorLogMs < ERROR_LOG_INTERVAL_MS) return;
      this.lastErrorLogMs = nowMs;
      logger.warn(
        {
          partition: partition.id,
          sequenceNumber: event.sequenceNumber,
          failures: counters.checkpointFailures,
          error: scrubSecrets(String((error as Error).message).split('\n', 1)[0] ?? ''),
        },
        'cannot write checkpoint: the next one covers these events (after a restart they would be read again)',
      );
    }
  }
}
