import type { BlobServiceClient } from '@azure/storage-blob';
import type { Logger } from 'pino';
import type { ParseProblem } from '../azure/problems.js';
import { sleep } from '../flow/sleep.js';
import { classifyAzureError, type AzureFailure } from '../state/azureErrors.js';
import { blobKey, splitBlobKey, type BlobCursor, type SourceState, type StateStore } from '../state/sourceState.js';
import { StateWriter } from '../state/stateWriter.js';
import { BatchBuilder, type SourcePiece } from './blobBatches.js';
import { countReadFailure, failureFields, forgetFailures, listingError, type ListingFailure } from './blobFailures.js';
import { BlobDiscovery, type HourPrefixRef, type ListedBlob } from './blobDiscovery.js';
import { HOUR_MS, floorHour, parseFlowLogBlobName, type BlobFilters } from './blobPaths.js';
import { startingState, type StartAt } from './blobStartAt.js';
import { ChangedBlobReader, type BlobReadStats } from './changedBlobReader.js';
import { ByteLimit, ConcurrentJobs, DEFAULT_READ_CONCURRENCY } from './concurrentJobs.js';
import type { FlowBatch } from './flowBatch.js';

export { parseStartAt, type StartAt } from './blobStartAt.js';

/**
 * The Blob Storage source: follows live PT1H.json blobs. Each poll lists the blobs, reads the
 * changed ones concurrently (`readConcurrency` at a time; a slow or failing blob holds one slot,
 * never the others) and yields batches of what is ready, each blob's pieces in order. A batch's
 * ack (called by the pipeline once its datagrams were handed to the socket) moves the cursors of
 * its blobs; the StateWriter stores the moved cursors about once a second. A restart resumes
 * after the last block stored: nothing lost; after a crash, what was sent in the last second or
 * so is sent again.
 */

export interface BlobSourceOptions {
  readonly service: BlobServiceClient;
  readonly containers: readonly string[];
  readonly filters: BlobFilters;
  readonly store: StateStore;
  readonly startAt: StartAt;
  /** From the start of one poll to the start of the next (a longer pass is followed at once by the next). */
  readonly pollIntervalMs: number;
  /** One discovery and read pass, then stop. */
  readonly once: boolean;
  /** Failed reads in a row before a blob is poisoned (skipped). Default 5. */
  readonly maxBlobFailures: number;
  /** Blobs read at the same time. Default 32. */
  readonly readConcurrency?: number;
  /** Forget poison marks and failure counts from the stored state. */
  readonly retryPoisoned?: boolean;
  /** How long after its hour ended a blob may still grow. Default 1 hour. */
  readonly lateWindowMs?: number;
  /** Largest download per piece, and input per batch. Default 4 MiB. */
  readonly maxBatchBytes?: number;
  /** Least time between two state writes. Default 1 s. */
  readonly stateWriteIntervalMs?: number;
  readonly onProblem: (problem: ParseProblem) => void;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Called after each discovery and read pass that met no failure (readiness). */
  readonly onPass?: () => void;
  /**
   * A pass met a failure: listing a container, or reading a blob. `lasting` when retrying will not
   * mend it (a refused credential or a missing role): /readyz fails until a clean pass.
   */
  readonly onFailure?: (message: string, lasting: boolean) => void;
  /** Called after cursors were saved (checkpoint age). */
  readonly onCheckpoint?: () => void;
}

const DEFAULT_LATE_WINDOW_MS = HOUR_MS;
const DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Rows per batch at most (the pieces of small blobs are gathered into one batch up to here). */
const MAX_BATCH_ROWS = 65_536;
/**
 * How long a batch waits for more pieces before it goes out. Every batch costs a send, a flush to
 * the exporting thread and a datagram of its own; pieces come back from storage one by one, so
 * without a short wait most batches would carry one blob's minute.
 */
const BATCH_LINGER_MS = 50;
/** Downloaded bytes waiting to be parsed, at most (besides one piece larger than this). */
const MAX_HELD_BYTES = 32 * 1024 * 1024;
/** A blob that grew stays listed this long even after the window moved past its hour. */
const MIN_ACTIVE_WINDOW_MS = 5 * 60_000;
/** Cursors of hours behind the window are kept this long (for operators), then dropped. */
const KEEP_BEHIND_WINDOW_MS = 24 * HOUR_MS;
/** Full folder walk for new resources at most this often (parents of known ones are listed every poll). */
const ROOT_REFRESH_MS = 10 * 60_000;

export interface BlobSourceStats extends BlobReadStats {
  passes: number;
  blobsRead: number;
  blocksRead: number;
  poisoned: number;
  deleted: number;
  stateWrites: number;
}

export class BlobSource {
  readonly stats: BlobSourceStats = {
    passes: 0,
    blobsRead: 0,
    blocksRead: 0,
    growthReads: 0,
    growthFallbacks: 0,
    rewrites: 0,
    poisoned: 0,
    deleted: 0,
    requests: { list: 0, blockList: 0, download: 0 },
    stateWrites: 0,
  };
  private readonly discovery: BlobDiscovery;
  private readonly now: () => number;
  private readonly lateWindowMs: number;
  private readonly activeWindowMs: number;
  private readonly maxBatchBytes: number;
  private readonly writer: StateWriter;
  private readonly reader: ChangedBlobReader;
  /** ETag of each blob in the latest listing. */
  private readonly listedEtags = new Map<string, string>();
  /** The worst failure of the pass under way, if any. */
  private passFailure: AzureFailure | undefined;

  private constructor(
    private readonly options: BlobSourceOptions,
    private readonly state: SourceState,
  ) {
    this.now = options.now ?? Date.now;
    this.lateWindowMs = options.lateWindowMs ?? DEFAULT_LATE_WINDOW_MS;
    this.activeWindowMs = Math.max(MIN_ACTIVE_WINDOW_MS, 3 * options.pollIntervalMs);
    this.maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    this.discovery = new BlobDiscovery(options.service, options.containers, options.filters, options.logger, Math.max(ROOT_REFRESH_MS, options.pollIntervalMs));
    this.writer = new StateWriter(options.store, state, {
      ...(options.stateWriteIntervalMs === undefined ? {} : { minIntervalMs: options.stateWriteIntervalMs }),
      now: this.now,
      onSaved: () => {
        this.stats.stateWrites++;
        options.onCheckpoint?.();
      },
    });
    this.reader = new ChangedBlobReader({
      service: options.service,
      logger: options.logger,
      maxGroupBytes: this.maxBatchBytes,
      budget: new ByteLimit(MAX_HELD_BYTES),
      stats: this.stats,
      onFailure: (key, cursor, failure) => this.recordFailure(key, cursor, failure, this.now()),
    });
  }

  /** Loads the state and applies the start policy (blobStartAt.ts: a fresh start is stored before anything is read). */
  static async open(options: BlobSourceOptions): Promise<BlobSource> {
    const nowMs = (options.now ?? Date.now)();
    const state = await startingState(options.store, options.startAt, nowMs, options.lateWindowMs ?? DEFAULT_LATE_WINDOW_MS, options.logger);
    const source = new BlobSource(options, state);
    if (options.retryPoisoned === true) for (const key of forgetFailures(state.blobs)) source.writer.blobChanged(key);
    return source;
  }

  /** The batches: endless (until the signal) unless `once`. Pending cursors are stored on the way out. */
  async *batches(signal: AbortSignal): AsyncGenerator<FlowBatch> {
    try {
      for (;;) {
        if (signal.aborted) return;
        const passStartMs = this.now();
        this.passFailure = undefined;
        yield* this.pass(signal, passStartMs);
        const failure = this.passFailure as AzureFailure | undefined;
        if (failure !== undefined) this.options.onFailure?.(failure.message, failure.kind === 'auth');
        else if (!signal.aborted) this.options.onPass?.();
        if (this.options.once || signal.aborted) return;
        const elapsedMs = this.now() - passStartMs;
        // The first pass catches up (from the beginning, or after a pause): only later ones say
        // whether polling keeps up.
        if (elapsedMs > this.options.pollIntervalMs && this.stats.passes > 1) {
          this.options.logger.warn(
            { passSeconds: Math.round(elapsedMs / 1000), pollIntervalSeconds: Math.round(this.options.pollIntervalMs / 1000) },
            'a pass took longer than the poll interval: the next starts at once (see README: how many blobs one instance follows)',
          );
        }
        await sleep(Math.max(0, this.options.pollIntervalMs - elapsedMs), signal);
      }
    } finally {
      await this.writer.close();
    }
  }

  private async *pass(signal: AbortSignal, passStartMs: number): AsyncGenerator<FlowBatch> {
    const { logger } = this.options;
    const firstPass = this.stats.passes === 0;
    this.stats.passes++;
    const state = this.state;
    const requestsBefore = { ...this.stats.requests, list: this.discovery.requests };

    const extra: HourPrefixRef[] = [];
    for (const [key, cursor] of Object.entries(state.blobs)) {
      if (cursor.hourMs >= state.scanFromMs || (cursor.activeUntilMs ?? 0) <= passStartMs) continue;
      const { container, name } = splitBlobKey(key);
      const parsed = parseFlowLogBlobName(name);
      if (parsed !== undefined) extra.push({ container, hourPrefix: parsed.hourPrefix });
    }
    const found = await this.discovery.discover(state.scanFromMs, passStartMs, extra);
    if (found.failures.length > 0) this.reportDiscoveryFailures(found.failures, firstPass);

    const listed = new Set<string>();
    for (const blob of found.blobs) {
      const key = blobKey(blob.container, blob.name);
      listed.add(key);
      this.listedEtags.set(key, blob.etag);
    }
    for (const key of Object.keys(state.blobs)) {
      const { container, name } = splitBlobKey(key);
      const parsed = parseFlowLogBlobName(name);
      if (parsed !== undefined && found.listedPrefixes.has(`${container}/${parsed.hourPrefix}`) && !listed.has(key)) {
        this.dropBlob(key, 'blob no longer exists (deleted, e.g. by retention): dropped from the state');
      }
    }

    const jobs = new ConcurrentJobs<SourcePiece>(this.options.readConcurrency ?? DEFAULT_READ_CONCURRENCY);
    let changed = 0;
    for (const blob of found.blobs) {
      const key = blobKey(blob.container, blob.name);
      let cursor = state.blobs[key];
      if (cursor === undefined) {
        cursor = { hourMs: blob.hourMs };
        if (state.positioning === true) {
          const target = cursor;
          jobs.add(() => this.position(blob, key, target, signal));
          continue;
        }
        state.blobs[key] = cursor;
      }
      if (cursor.poisoned !== undefined || cursor.doneEtag === blob.etag) continue;
      if (cursor.retryAfterMs !== undefined && cursor.retryAfterMs > passStartMs) continue;
      const target = cursor;
      changed++;
      jobs.add(() => this.reader.read(blob, key, target, false, signal));
    }

    const readBlobs = new Set<string>();
    let blocksRead = 0;
    let tuples = 0;
    try {
      for (let item = await jobs.take(); item !== undefined && !signal.aborted; item = await jobs.take()) {
        const batch = new BatchBuilder(this.maxBatchBytes, MAX_BATCH_ROWS);
        const lingerUntilMs = Date.now() + BATCH_LINGER_MS;
        for (; item !== undefined; item = batch.full ? undefined : await jobs.takeBy(lingerUntilMs)) {
          const kept = batch.add(item, this.options.onProblem);
          this.reader.release(item.piece.heldBytes);
          if (kept) readBlobs.add(item.key);
          else if (item.readBlockList !== undefined) {
            // The growth did not parse cleanly: the block list decides, block by block. Nothing
            // else of this blob is in flight (a growth read is its blob's only piece).
            this.stats.growthFallbacks++;
            jobs.add(item.readBlockList);
          }
        }
        if (batch.empty) continue;
        if (this.state.notBeforeMs !== undefined) batch.records.dropBefore(this.state.notBeforeMs);
        blocksRead += batch.blocks;
        tuples += batch.records.length;
        yield this.flowBatch(batch);
      }
    } finally {
      jobs.close();
    }
    this.stats.blobsRead += readBlobs.size;
    this.stats.blocksRead += blocksRead;

    if (found.failures.length === 0 && !signal.aborted) {
      if (state.positioning === true) {
        delete state.positioning;
        this.writer.headerChanged();
      }
      this.moveWindow(passStartMs);
    }
    const requests = {
      list: this.discovery.requests - requestsBefore.list,
      blockList: this.stats.requests.blockList - requestsBefore.blockList,
      download: this.stats.requests.download - requestsBefore.download,
    };
    this.stats.requests.list = this.discovery.requests;
    logger[readBlobs.size > 0 ? 'info' : 'debug'](
      { passMs: this.now() - passStartMs, listed: found.blobs.length, changed, blobs: readBlobs.size, blocks: blocksRead, tuples, requests, ...memoryMb() },
      readBlobs.size > 0 ? 'new blocks read' : 'nothing new',
    );
  }

  /** `--start-at now`: a blob first seen before the first complete pass starts at its end. */
  private async position(blob: ListedBlob, key: string, cursor: BlobCursor, signal: AbortSignal): Promise<void> {
    try {
      Object.assign(cursor, await this.reader.positionAtEnd(blob, key));
      this.state.blobs[key] = cursor;
      this.writer.blobChanged(key);
    } catch (error) {
      if (signal.aborted) return;
      this.options.logger.warn(
        { blob: key, ...failureFields(classifyAzureError(error)) },
        'cannot find the end of the blob to start there: trying again next poll',
      );
    }
  }

  private flowBatch(batch: BatchBuilder): FlowBatch {
    return {
      records: batch.records,
      source: batch.label,
      azureRecords: batch.azureRecords,
      inputBytes: batch.inputBytes,
      ack: () => {
        // A state write that failed stops the source: its cursors could not be kept.
        if (this.writer.failure !== undefined) throw this.writer.failure;
        const nowMs = this.now();
        for (const { key, cursor, advance, blocks } of batch.advances) {
          Object.assign(cursor, advance);
          if (blocks > 0) cursor.activeUntilMs = nowMs + this.activeWindowMs;
          if (advance.doneEtag !== undefined) {
            delete cursor.failures;
            delete cursor.retryAfterMs;
          }
          // The blob may have been dropped meanwhile (deleted): its cursor is then not stored.
          if (this.state.blobs[key] === cursor) this.writer.blobChanged(key);
        }
      },
    };
  }

  private recordFailure(key: string, cursor: BlobCursor, failure: AzureFailure, nowMs: number): void {
    const { logger } = this.options;
    if (failure.kind === 'not-found') {
      this.dropBlob(key, 'blob was deleted while being read: dropped from the state');
      return;
    }
    if (failure.kind === 'changed') {
      logger.debug({ blob: key }, 'blob changed while being read: reading it again next poll');
      return;
    }
    this.noteFailure(failure);
    if (countReadFailure(key, cursor, failure, nowMs, this.options, logger)) this.stats.poisoned++;
    if (this.state.blobs[key] === cursor) this.writer.blobChanged(key);
  }

  /** Keeps the pass's worst failure for readiness: a refused credential over anything else. */
  private noteFailure(failure: AzureFailure): void {
    if (this.passFailure === undefined || (failure.kind === 'auth' && this.passFailure.kind !== 'auth')) this.passFailure = failure;
  }

  private dropBlob(key: string, message: string): void {
    if (this.state.blobs[key] === undefined) return;
    delete this.state.blobs[key];
    this.listedEtags.delete(key);
    this.reader.forget(key);
    this.stats.deleted++;
    this.writer.blobChanged(key);
    this.options.logger.info({ blob: key }, message);
  }

  /**
   * Moves the discovery window: hours that ended more than the late window ago are no longer
   * listed, unless a blob in them has blocks not yet read.
   */
  private moveWindow(passStartMs: number): void {
    const state = this.state;
    let target = floorHour(passStartMs - this.lateWindowMs);
    for (const [key, cursor] of Object.entries(state.blobs)) {
      if (cursor.poisoned !== undefined || cursor.hourMs < state.scanFromMs) continue;
      const listedEtag = this.listedEtags.get(key);
      const finished = listedEtag === undefined || cursor.doneEtag === listedEtag;
      if (!finished && cursor.hourMs < target) target = cursor.hourMs;
    }
    if (target > state.scanFromMs) {
      state.scanFromMs = target;
      this.writer.headerChanged();
    }
    for (const [key, cursor] of Object.entries(state.blobs)) {
      if (cursor.hourMs + KEEP_BEHIND_WINDOW_MS < state.scanFromMs && (cursor.activeUntilMs ?? 0) <= passStartMs) {
        delete state.blobs[key];
        this.listedEtags.delete(key);
        this.reader.forget(key);
        this.writer.blobChanged(key);
      }
    }
  }

  private reportDiscoveryFailures(failures: readonly ListingFailure[], firstPass: boolean): void {
    const { logger } = this.options;
    const stop = listingError(failures, firstPass, this.options.once);
    if (stop !== undefined) throw stop;
    this.noteFailure(failures.find((f) => f.failure.kind === 'auth')?.failure ?? failures[0]!.failure);
    for (const { container, prefix, failure } of failures.slice(0, 5)) {
      logger.warn({ container, prefix, failures: failures.length, ...failureFields(failure) }, 'listing failed: trying again next poll');
    }
  }
}

/** The process's memory, for sizing an instance by the pass log. */
function memoryMb(): { rssMb: number; heapMb: number; externalMb: number } {
  const { rss, heapUsed, external } = process.memoryUsage();
  return { rssMb: Math.round(rss / 1048576), heapMb: Math.round(heapUsed / 1048576), externalMb: Math.round(external / 1048576) };
}
