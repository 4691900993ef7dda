import type { EventHubConsumerClient, PartitionContext, ReceivedEventData, Subscription } from '@azure/event-hubs';
import type { Logger } from 'pino';
import type { ParseProblem } from '../azure/problems.js';
import type { FlowSink } from '../azure/tupleSink.js';
import { FlowColumns } from '../flow/flowColumns.js';
import type { FlowRecord } from '../flow/flowRecord.js';
import { scrubSecrets } from '../secrets.js';
import type { NotifiedBlobReader, NotifiedStep } from './eventHubBlobs.js';
import { CheckpointOrder, CheckpointWriter, type CheckpointedPartition } from './partitionCheckpoints.js';
import { DEFAULT_READ_CONCURRENCY } from './concurrentJobs.js';
import { NotifiedReads } from './notifiedReads.js';
import { EventReader, type EventCounts } from './eventHubEvents.js';
import { EventHubReports } from './eventHubReports.js';
import { mergeBatches, type FlowBatch, type ParsedFlows } from './flowBatch.js';
import { eventPositionFor, type StartAt } from './eventHubStartAt.js';

export { parseEventHubStartAt, eventPositionFor, type StartAt } from './eventHubStartAt.js';

/**
 * The Event Hubs source. The distributed engine is the SDK's: EventHubConsumerClient with a
 * BlobCheckpointStore shares the partitions among every instance of one consumer group and hands
 * a dead instance's partitions to the others; this class turns each partition's events into
 * FlowBatches for the one pipeline and writes checkpoints.
 *
 * Checkpoints (at-least-once): a partition's checkpoint names the last event whose records were
 * ALL handed to the transport (the pipeline's ack). The SDK awaits `processEvents` before it
 * receives more for that partition, and `processEvents` returns only once every batch it queued
 * was acknowledged, so per partition at most one receive batch is in flight and checkpoints move
 * in order. Within a receive batch, the blobs Event Grid notifications name are read side by side
 * (`readConcurrency` across partitions) and finish in any order; CheckpointOrder lets the
 * checkpoint follow only the prefix of events fully sent. Checkpoints are written in the
 * background (CheckpointWriter: the pipeline never waits for the store, at most one write a second
 * per partition), and `close()` waits for them. A crash re-delivers the events after the last
 * checkpoint: their tuples may be sent twice, never lost.
 *
 * Stopping (`stop()`): no new events are taken; batches already queued and the events being
 * converted are sent; their checkpoints are written; `close()` then releases the partitions.
 */

export interface EventHubSourceOptions {
  readonly client: EventHubConsumerClient;
  /** For partitions without a checkpoint. */
  readonly startAt: StartAt;
  /** False with `--no-checkpoint`: nothing is written. */
  readonly checkpoints: boolean;
  /** Reads the blobs Event Grid notifications name. */
  readonly blobs: NotifiedBlobReader;
  readonly onProblem: (problem: ParseProblem) => void;
  readonly logger: Logger;
  /** Called after each checkpoint written (checkpoint age on /metrics). */
  readonly onCheckpoint?: () => void;
  /** A failure the SDK reported; `lasting` when retrying will not mend it (a refused credential). */
  readonly onFailure?: (message: string, lasting: boolean) => void;
  /** Events per receive call. Default 64. */
  readonly maxBatchSize?: number;
  /** Longest wait for a receive call to fill. Default 5 s (events are handed over ~20 ms after they arrive anyway). */
  readonly maxWaitTimeInSeconds?: number;
  /** Most tuples in one FlowBatch. Default 20,000. */
  readonly maxBatchRecords?: number;
  /** Notified blobs read at the same time, across partitions. Default 32. */
  readonly readConcurrency?: number;
}

export interface EventHubSourceStats extends EventCounts {
  checkpoints: number;
  checkpointFailures: number;
  partitionsClaimed: number;
  partitionsLost: number;
}

/** One partition as this instance holds it, from processInitialize to processClose. */
type PartitionWork = CheckpointedPartition;

interface Queued {
  readonly work: PartitionWork;
  readonly batch: FlowBatch;
  /** Resolves true once acknowledged, false when dropped (partition lost, source stopped). */
  readonly settle: (acked: boolean) => void;
}

/** Rows of received events gathered into one batch, and the input they took. */
type Group = { -readonly [K in keyof ParsedFlows]: ParsedFlows[K] } & {
  /** The last event whose records are all in this group or in batches queued before it. */
  lastEvent: ReceivedEventData | undefined;
};

const DEFAULT_MAX_BATCH_SIZE = 64;
const DEFAULT_MAX_WAIT_SECONDS = 5;
const DEFAULT_MAX_BATCH_RECORDS = 20_000;

export class EventHubSource {
  readonly stats: EventHubSourceStats = {
    events: 0,
    kinds: { 'flow-log': 0, connector: 0, 'blob-created': 0, 'other-event': 0 },
    unrecognizedEvents: 0,
    ignoredNotifications: 0,
    checkpoints: 0,
    checkpointFailures: 0,
    partitionsClaimed: 0,
    partitionsLost: 0,
  };
  private readonly events: EventReader;
  private readonly reads: NotifiedReads;
  private readonly reports: EventHubReports;
  private readonly partitions = new Map<string, PartitionWork>();
  private readonly queue: Queued[] = [];
  private wakeUp: (() => void) | undefined;
  /** processEvents calls converting events right now. */
  private active = 0;
  private stopping = false;
  private readonly stopController = new AbortController();
  private releaseBlocked!: () => void;
  /** Resolves when the source is closed: handlers called while stopping wait for it. */
  private readonly blocked = new Promise<void>((resolve) => (this.releaseBlocked = resolve));
  private subscription: Subscription | undefined;
  private readonly checkpoints: CheckpointWriter;
  private closed = false;

  constructor(private readonly options: EventHubSourceOptions) {
    this.reports = new EventHubReports(options.logger, options.onFailure);
    this.events = new EventReader(this.stats, this.reports, options.logger);
    this.reads = new NotifiedReads({
      blobs: options.blobs,
      readConcurrency: options.readConcurrency ?? DEFAULT_READ_CONCURRENCY,
      signal: this.stopController.signal,
      logger: options.logger,
    });
    this.checkpoints = new CheckpointWriter({
      enabled: options.checkpoints,
      counters: this.stats,
      logger: options.logger,
      stopSignal: this.stopController.signal,
      ...(options.onCheckpoint === undefined ? {} : { onCheckpoint: options.onCheckpoint }),
    });
  }

  /** The batches, until stop() and everything in flight was handed over. */
  async *batches(): AsyncGenerator<FlowBatch> {
    const { client, logger } = this.options;
    this.subscription = client.subscribe(
      {
        processInitialize: (context) => this.onInitialize(context),
        processEvents: async (events, context) => this.onEvents(events, context),
        processError: (error, context) => this.onError(error, context),
        processClose: (reason, context) => this.onClose(reason, context),
      },
      {
        startPosition: eventPositionFor(this.options.startAt),
        maxBatchSize: this.options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE,
        maxWaitTimeInSeconds: this.options.maxWaitTimeInSeconds ?? DEFAULT_MAX_WAIT_SECONDS,
        skipParsingBodyAsJson: true,
      },
    );
    logger.debug('subscribed');
    try {
      for (;;) {
        const item = this.queue.shift();
        if (item !== undefined) {
          if (item.work.closed) {
            item.settle(false);
            continue;
          }
          yield this.gather(item);
          continue;
        }
        if (this.stopping && this.active === 0) return;
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
      }
    } finally {
      this.stop();
      for (const item of this.queue.splice(0)) item.settle(false);
    }
  }

  /**
   * `first` and the batches queued behind it, as one batch: one send and one flush of the
   * exporting thread for all of them. A busy hub (10,000 notifications a minute) queues many
   * small batches, each of one blob's new minute; sent one by one, each would wait for the
   * exporting thread's round trip of the one before, and go out as a datagram of its own.
   */
  private gather(first: Queued): FlowBatch {
    const maxRecords = this.options.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS;
    const taken = [first];
    let rows = first.batch.records.length;
    while (this.queue.length > 0 && rows + this.queue[0]!.batch.records.length <= maxRecords) {
      const next = this.queue.shift()!;
      if (next.work.closed) {
        next.settle(false);
        continue;
      }
      taken.push(next);
      rows += next.batch.records.length;
    }
    return taken.length === 1
      ? first.batch
      : mergeBatches(
          taken.map((item) => item.batch),
          rows,
        );
  }

  /** Stops taking new events; what is in flight still goes out. Idempotent. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.stopController.abort();
    this.wake();
  }

  /** Releases the partitions (other instances take them over at once) and the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stop();
    this.releaseBlocked();
    try {
      // Final checkpoints first: once the partitions are released, another instance starts from them.
      await this.checkpoints.drain();
      try {
        await this.subscription?.close();
      } catch (error) {
        // Releasing ownership needs the checkpoint store: without it the partitions expire instead.
        this.options.logger.warn(
          { error: scrubSecrets(String((error as Error).message).split('\n', 1)[0] ?? '') },
          'cannot release the partitions: other instances take them once their ownership expires',
        );
      }
    } finally {
      await this.options.blobs.flush();
      await this.options.client.close();
    }
  }

  private wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }

  private onInitialize(context: PartitionContext): Promise<void> {
    this.partitions.set(context.partitionId, { id: context.partitionId, context, closed: false });
    this.stats.partitionsClaimed++;
    this.options.logger.info({ partition: context.partitionId }, 'partition claimed');
    return Promise.resolve();
  }

  private onClose(reason: string, context: PartitionContext): Promise<void> {
    const work = this.partitions.get(context.partitionId);
    if (work !== undefined && work.context === context) {
      work.closed = true;
      this.partitions.delete(context.partitionId);
    }
    if (reason === 'OwnershipLost') this.stats.partitionsLost++;
    this.options.logger.info(
      { partition: context.partitionId, reason },
      reason === 'OwnershipLost' ? 'partition taken over by another instance' : 'partition released',
    );
    this.wake();
    return Promise.resolve();
  }

  private onError(error: Error, context: PartitionContext): Promise<void> {
    this.reports.failure(error, context.partitionId);
    return Promise.resolve();
  }

  private async onEvents(events: ReceivedEventData[], context: PartitionContext): Promise<void> {
    if (events.length === 0) return;
    if (this.stopping) {
      // Not taken: these events are delivered again after the last checkpoint.
      await this.blocked;
      return;
    }
    let work = this.partitions.get(context.partitionId);
    if (work === undefined || work.context !== context) {
      work = { id: context.partitionId, context, closed: false };
      this.partitions.set(context.partitionId, work);
    }
    this.active++;
    try {
      await this.convert(events, work);
    } finally {
      this.active--;
      this.wake();
    }
  }

  private async convert(events: ReceivedEventData[], work: PartitionWork): Promise<void> {
    const { logger } = this.options;
    const maxRecords = this.options.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS;
    const pending: Promise<void>[] = [];
    // Batches and notified blobs finish out of order; the checkpoint follows the finished prefix.
    const order = new CheckpointOrder<ReceivedEventData>((event) => this.checkpoints.schedule(work, event));
    let group = newGroup();
    // The fast path writes rows straight into the open group's columns.
    const sink: FlowSink = {
      get columns() {
        return group.records;
      },
      flow: (record: FlowRecord) => group.records.append(record),
      problem: this.options.onProblem,
    };
    const sendGroup = () => {
      const unit = order.add(group.lastEvent);
      if (group.records.length === 0) order.settle(unit, true);
      else pending.push(this.enqueue(work, group, undefined).then((acked) => order.settle(unit, acked)));
      group = newGroup();
    };
    const hub = work.context.eventHubName;
    for (const event of events) {
      if (this.stopping || work.closed) break;
      const read = this.events.read(event, work.id, `${hub}/${work.id}#${event.sequenceNumber}`, sink);
      group.azureRecords += read.azureRecords;
      group.inputBytes += read.inputBytes;
      const blobs = read.blobs;
      if (blobs.length > 0) {
        // The event is done once the records before it and each blob it names were sent.
        if (group.records.length > 0 || group.lastEvent !== undefined) sendGroup();
        blobs.forEach((notification, i) => {
          const unit = order.add(i === blobs.length - 1 ? event : undefined);
          const read = this.reads.read(
            notification,
            { partition: work.id, sequenceNumber: event.sequenceNumber },
            (step) => this.enqueue(work, { records: step.records, azureRecords: step.azureRecords, inputBytes: step.inputBytes, lastEvent: undefined }, step),
            () => this.stopping || work.closed,
          );
          pending.push(read.then((done) => order.settle(unit, done)));
        });
        continue;
      }
      group.lastEvent = event;
      if (group.records.length >= maxRecords) sendGroup();
    }
    if (group.records.length > 0 || group.lastEvent !== undefined) sendGroup();
    logger.debug({ partition: work.id, events: events.length, firstSequenceNumber: events[0]!.sequenceNumber, batches: pending.length }, 'events received');
    await Promise.all(pending);
  }

  /** Queues a batch for the pipeline; resolves true once it was acknowledged, false when dropped. */
  private enqueue(work: PartitionWork, group: Group, step: NotifiedStep | undefined): Promise<boolean> {
    return new Promise<boolean>((settle) => {
      const batch: FlowBatch = {
        records: group.records,
        source: step === undefined ? `${work.context.eventHubName}/${work.id}` : step.blob,
        azureRecords: group.azureRecords,
        inputBytes: group.inputBytes,
        ack: async () => {
          try {
            if (step !== undefined) await step.commit();
          } finally {
            settle(true);
          }
        },
      };
      this.queue.push({ work, batch, settle });
      this.wake();
    });
  }
}

function newGroup(): Group {
  return { records: new FlowColumns(), azureRecords: 0, inputBytes: 0, lastEvent: undefined };
}
