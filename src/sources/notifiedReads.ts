import type { Logger } from 'pino';
import type { BlobCreatedNotification } from '../azure/blobCreatedEvent.js';
import { scrubSecrets } from '../secrets.js';
import { blobKey } from '../state/sourceState.js';
import { Slots } from './concurrentJobs.js';
import { parseBlobUrl, type NotifiedBlobReader, type NotifiedStep } from './eventHubBlobs.js';

export interface NotifiedReadsOptions {
  readonly blobs: NotifiedBlobReader;
  /** Blobs read at the same time, across partitions. */
  readonly readConcurrency: number;
  /** Aborted when the source stops. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

/** Where a notification came from, for logs. */
export interface NotificationOrigin {
  readonly partition: string;
  readonly sequenceNumber: number;
}

/**
 * The reads of the blobs Event Grid notifications name, side by side: at most `readConcurrency`
 * storage reads at a time (a slot is held for a read, not for the wait while its step is sent),
 * each blob's steps in order, and the notifications of one blob one after the other.
 */
export class NotifiedReads {
  private readonly slots: Slots;
  /** Per blob (`container/name`): the end of the last read queued, so its notifications take turns. */
  private readonly turns = new Map<string, Promise<void>>();

  constructor(private readonly options: NotifiedReadsOptions) {
    this.slots = new Slots(options.readConcurrency);
  }

  /**
   * Reads the blocks `notification` announces, handing each step to `send` (which resolves true
   * once it was sent, false when it was dropped). True once the blob was read to its end (or given
   * up on, which the reader logged): the notification's event may then be checkpointed; false when
   * stopped, cancelled or dropped on the way, so the event is delivered again.
   */
  async read(
    notification: BlobCreatedNotification,
    origin: NotificationOrigin,
    send: (step: NotifiedStep) => Promise<boolean>,
    cancelled: () => boolean,
  ): Promise<boolean> {
    // Turns before slots: a notification waiting for its blob's lock while holding a slot could
    // starve the lock's holder of a slot for its next step (all slots waiting on locks).
    const location = parseBlobUrl(notification.url);
    const key = location === undefined ? notification.url : blobKey(location.container, location.name);
    const previous = this.turns.get(key);
    let endTurn!: () => void;
    const turn = new Promise<void>((resolve) => (endTurn = resolve));
    const queued = (previous ?? Promise.resolve()).then(() => turn);
    this.turns.set(key, queued);
    try {
      if (previous !== undefined) await previous;
      return await this.readTurn(notification, origin, send, cancelled);
    } finally {
      endTurn();
      if (this.turns.get(key) === queued) this.turns.delete(key);
    }
  }

  private async readTurn(
    notification: BlobCreatedNotification,
    origin: NotificationOrigin,
    send: (step: NotifiedStep) => Promise<boolean>,
    cancelled: () => boolean,
  ): Promise<boolean> {
    const { signal } = this.options;
    const steps = this.options.blobs.read(notification, signal);
    try {
      for (;;) {
        const release = await this.slots.acquire();
        let next: IteratorResult<NotifiedStep>;
        try {
          if (cancelled()) return false;
          next = await steps.next();
        } finally {
          release();
        }
        if (next.done === true) return !signal.aborted;
        // The blob stays locked until its step is sent: the next step reads from the moved cursor.
        if (!(await send(next.value)) || cancelled()) return false;
      }
    } catch (error) {
      // Azure failures are handled (and logged) by the reader; this is anything else. The blob's
      // next notification reads what was left.
      this.options.logger.error(
        { ...origin, eventId: notification.id, error: scrubSecrets(String((error as Error).message)) },
        'cannot read notified blob: notification skipped',
      );
      return true;
    } finally {
      // Ends the read (and releases the blob's lock) when it was left early.
      await steps.return(undefined);
    }
  }
}
