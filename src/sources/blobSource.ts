import type { BlobServiceClient } from '@azure/storage-blob';
import type { Logger } from 'pino';
import type { ParseProblem } from '../azure/problems.js';
import { blobKey, emptyState, splitBlobKey, type BlobCursor, type SourceState, type StateStore } from '../state/sourceState.js';
import { classifyAzureError, type AzureFailure } from './azureErrors.js';
import { BlobDiscovery, type HourPrefixRef, type ListedBlob } from './blobDiscovery.js';
import { floorHour, HOUR_MS, parseFlowLogBlobName, type BlobFilters } from './blobPaths.js';
import { cursorAtEnd, readNewBlocks, type BlockReadStep } from './blockBlobReader.js';
import type { FlowBatch } from './flowBatch.js';
import { sleep } from '../flow/sleep.js';

/**
 * The Blob Storage source: follows live PT1H.json blobs and yields one batch per group of new
 * blocks. Each batch's ack (called by the pipeline once its datagrams were handed to the socket)
 * moves that blob's cursor and writes the state, so a restart resumes after the last block sent:
 * nothing lost, nothing repeated except a batch in flight at the moment of a crash.
 */

export type StartAt = { readonly kind: 'resume' } | { readonly kind: 'now' } | { readonly kind: 'beginning' } | { readonly kind: 'time'; readonly ms: number };

/** Parses `--start-at`: resume, now, beginning or an ISO 8601 time. */
export function parseStartAt(text: string): StartAt | undefined {
  const value = text.trim().toLowerCase();
  if (value === 'resume' || value === 'now' || value === 'beginning') return { kind: value };
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const ms = Date.parse(text.trim());
  return Number.isNaN(ms) ? undefined : { kind: 'time', ms };
}

export interface BlobSourceOptions {
  readonly service: BlobServiceClient;
  readonly containers: readonly string[];
  readonly filters: BlobFilters;
  readonly store: StateStore;
  readonly startAt: StartAt;
  readonly pollIntervalMs: number;
  /** One discovery and read pass, then stop. */
  readonly once: boolean;
  /** Failed reads in a row before a blob is poisoned (skipped). Default 5. */
  readonly maxBlobFailures: number;
  /** Forget poison marks and failure counts from the stored state. */
  readonly retryPoisoned?: boolean;
  /** How long after its hour ended a blob may still grow. Default 1 hour. */
  readonly lateWindowMs?: number;
  /** Largest download per batch. Default 4 MiB. */
  readonly maxBatchBytes?: number;
  readonly onProblem: (problem: ParseProblem) => void;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Called after each complete discovery and read pass (readiness). */
  readonly onPass?: () => void;
  /** Called after cursors were saved (checkpoint age). */
  readonly onCheckpoint?: () => void;
}

/** A failure the source cannot work around: the CLI reports it as one line and exits 2. */
export class BlobSourceError extends Error {}

export const DEFAULT_MAX_BLOB_FAILURES = 5;
const DEFAULT_LATE_WINDOW_MS = HOUR_MS;
const DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** A blob that grew stays listed this long even after the window moved past its hour. */
const MIN_ACTIVE_WINDOW_MS = 5 * 60_000;
/** Cursors of hours behind the window are kept this long (for operators), then dropped. */
const KEEP_BEHIND_WINDOW_MS = 24 * HOUR_MS;
/** Longest wait before a failed blob is tried again. */
const MAX_RETRY_DELAY_MS = 15 * 60_000;
/** Full folder walk for new resources at most this often (parents of known ones are listed every poll). */
const ROOT_REFRESH_MS = 10 * 60_000;

export interface BlobSourceStats {
  passes: number;
  blobsRead: number;
  blocksRead: number;
  rewrites: number;
  poisoned: number;
  deleted: number;
}

export class BlobSource {
  readonly stats: BlobSourceStats = { passes: 0, blobsRead: 0, blocksRead: 0, rewrites: 0, poisoned: 0, deleted: 0 };
  private readonly discovery: BlobDiscovery;
  private readonly now: () => number;
  private readonly lateWindowMs: number;
  private readonly activeWindowMs: number;
  /** `--start-at now`: blobs found before the first complete pass are positioned at their end. */
  private positioning: boolean;
  private readonly notBeforeMs: number | undefined;
  private saving: Promise<void> = Promise.resolve();
  /** ETag of each blob in the latest listing. */
  private readonly listedEtags = new Map<string, string>();

  private constructor(
    private readonly options: BlobSourceOptions,
    private state: SourceState,
    positioning: boolean,
  ) {
    this.now = options.now ?? Date.now;
    this.lateWindowMs = options.lateWindowMs ?? DEFAULT_LATE_WINDOW_MS;
    this.activeWindowMs = Math.max(MIN_ACTIVE_WINDOW_MS, 3 * options.pollIntervalMs);
    this.positioning = positioning;
    this.notBeforeMs = options.startAt.kind === 'time' ? options.startAt.ms : undefined;
    this.discovery = new BlobDiscovery(options.service, options.containers, options.filters, options.logger, Math.max(ROOT_REFRESH_MS, options.pollIntervalMs));
  }

  /** Loads the state and applies the start policy. */
  static async open(options: BlobSourceOptions): Promise<BlobSource> {
    const { logger, startAt } = options;
    const now = (options.now ?? Date.now)();
    const lateWindowMs = options.lateWindowMs ?? DEFAULT_LATE_WINDOW_MS;
    const stored = await options.store.load();
    let state: SourceState;
    let positioning = false;
    if (startAt.kind === 'resume' && stored !== undefined) {
      state = stored;
      logger.info(
        { state: options.store.description, blobs: Object.keys(stored.blobs).length, scanFrom: new Date(stored.scanFromMs).toISOString() },
        'resuming from stored cursors',
      );
    } else {
      if (stored !== undefined) logger.info({ state: options.store.description, startAt: startAt.kind }, 'stored cursors are replaced (--start-at)');
      switch (startAt.kind) {
        case 'resume':
        case 'now':
          state = emptyState(floorHour(now - lateWindowMs));
          positioning = true;
          logger.info(
            { state: options.store.description },
            startAt.kind === 'resume' ? 'no stored cursors: starting now (existing blocks are skipped)' : 'starting now (existing blocks are skipped)',
          );
          break;
        case 'beginning':
          state = emptyState(0);
          logger.info({ state: options.store.description }, 'starting from the oldest blobs');
          break;
        case 'time':
          state = emptyState(floorHour(startAt.ms));
          logger.info({ state: options.store.description, from: new Date(startAt.ms).toISOString() }, 'starting from the given time');
          break;
      }
    }
    if (options.retryPoisoned === true) {
      for (const cursor of Object.values(state.blobs)) {
        delete cursor.poisoned;
        delete cursor.failures;
        delete cursor.retryAfterMs;
      }
    }
    return new BlobSource(options, state, positioning);
  }

  /** The batches: endless (until the signal) unless `once`. */
  async *batches(signal: AbortSignal): AsyncGenerator<FlowBatch> {
    for (;;) {
      if (signal.aborted) return;
      yield* this.pass(signal);
      await this.saving;
      if (!signal.aborted) this.options.onPass?.();
      if (this.options.once || signal.aborted) return;
      await sleep(this.options.pollIntervalMs, signal);
    }
  }

  private async *pass(signal: AbortSignal): AsyncGenerator<FlowBatch> {
    const { logger } = this.options;
    const passStartMs = this.now();
    const firstPass = this.stats.passes === 0;
    this.stats.passes++;
    let dirty = false;
    const state = this.state;

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
        dirty = true;
      }
    }

    let blobsRead = 0;
    let blocksRead = 0;
    let tuples = 0;
    for (const blob of found.blobs) {
      if (signal.aborted) break;
      const key = blobKey(blob.container, blob.name);
      let cursor = state.blobs[key];
      if (cursor === undefined) {
        cursor = { hourMs: blob.hourMs };
        if (this.positioning) {
          try {
            Object.assign(cursor, await cursorAtEnd(this.blockBlob(blob), blob.createdOnMs));
            state.blobs[key] = cursor;
            dirty = true;
          } catch (error) {
            if (signal.aborted) break;
            logger.warn({ blob: key, ...failureFields(classifyAzureError(error)) }, 'cannot find the end of the blob to start there: trying again next poll');
          }
          continue;
        }
        state.blobs[key] = cursor;
      }
      if (cursor.poisoned !== undefined) continue;
      if (cursor.doneEtag === blob.etag) continue;
      if (cursor.retryAfterMs !== undefined && cursor.retryAfterMs > passStartMs) continue;
      const label = key;
      try {
        let readAny = false;
        for await (const step of readNewBlocks(this.blockBlob(blob), cursor, {
          label,
          onProblem: this.options.onProblem,
          logger,
          onRewrite: () => this.stats.rewrites++,
          maxGroupBytes: this.options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
          ...(blob.createdOnMs === undefined ? {} : { createdOnMs: blob.createdOnMs }),
          ...(this.notBeforeMs === undefined ? {} : { notBeforeMs: this.notBeforeMs }),
        })) {
          readAny = true;
          blocksRead += step.blocks;
          tuples += step.records.length;
          yield this.batchFor(key, cursor, step);
          if (signal.aborted) break;
        }
        if (readAny) blobsRead++;
      } catch (error) {
        if (signal.aborted) break;
        dirty = this.recordFailure(key, cursor, classifyAzureError(error), passStartMs) || dirty;
      }
    }
    this.stats.blobsRead += blobsRead;
    this.stats.blocksRead += blocksRead;
    if (blobsRead > 0) logger.info({ blobs: blobsRead, blocks: blocksRead, tuples }, 'new blocks read');
    else logger.debug({ listed: found.blobs.length }, 'nothing new');

    if (found.failures.length === 0 && !signal.aborted) {
      if (this.positioning) {
        this.positioning = false;
        dirty = true;
      }
      dirty = this.moveWindow(passStartMs) || dirty;
    }
    if (dirty) await this.save();
  }

  private batchFor(key: string, cursor: BlobCursor, step: BlockReadStep): FlowBatch {
    return {
      records: step.records,
      source: key,
      azureRecords: step.azureRecords,
      inputBytes: step.inputBytes,
      ack: async () => {
        if (step.advance === undefined) return;
        Object.assign(cursor, step.advance);
        if (step.blocks > 0) cursor.activeUntilMs = this.now() + this.activeWindowMs;
        if (step.advance.doneEtag !== undefined) {
          delete cursor.failures;
          delete cursor.retryAfterMs;
        }
        // The blob may have been dropped meanwhile (deleted): its cursor is then not stored.
        await this.save();
      },
    };
  }

  private recordFailure(key: string, cursor: BlobCursor, failure: AzureFailure, nowMs: number): boolean {
    const { logger } = this.options;
    if (failure.kind === 'not-found') {
      this.dropBlob(key, 'blob was deleted while being read: dropped from the state');
      return true;
    }
    if (failure.kind === 'changed') {
      logger.debug({ blob: key }, 'blob changed while being read: reading it again next poll');
      return false;
    }
    const failures = (cursor.failures ?? 0) + 1;
    cursor.failures = failures;
    if (failures >= this.options.maxBlobFailures) {
      cursor.poisoned = { atMs: nowMs, reason: failure.message };
      delete cursor.retryAfterMs;
      this.stats.poisoned++;
      logger.error(
        { blob: key, failures, ...failureFields(failure) },
        `blob failed ${failures} times: marked poisoned and skipped from now on (restart with --retry-poisoned to try it again)`,
      );
    } else {
      const delayMs = Math.min(MAX_RETRY_DELAY_MS, this.options.pollIntervalMs * 2 ** (failures - 1));
      cursor.retryAfterMs = nowMs + delayMs;
      logger.warn({ blob: key, failures, retryInSeconds: Math.round(delayMs / 1000), ...failureFields(failure) }, 'cannot read blob: trying again later');
    }
    return true;
  }

  private dropBlob(key: string, message: string): void {
    if (this.state.blobs[key] === undefined) return;
    delete this.state.blobs[key];
    this.listedEtags.delete(key);
    this.stats.deleted++;
    this.options.logger.info({ blob: key }, message);
  }

  /**
   * Moves the discovery window: hours that ended more than the late window ago are no longer
   * listed, unless a blob in them has blocks not yet read. Returns true when the state changed.
   */
  private moveWindow(passStartMs: number): boolean {
    const state = this.state;
    let target = floorHour(passStartMs - this.lateWindowMs);
    for (const [key, cursor] of Object.entries(state.blobs)) {
      if (cursor.poisoned !== undefined || cursor.hourMs < state.scanFromMs) continue;
      const listedEtag = this.listedEtags.get(key);
      const finished = listedEtag === undefined || cursor.doneEtag === listedEtag;
      if (!finished && cursor.hourMs < target) target = cursor.hourMs;
    }
    let changed = false;
    if (target > state.scanFromMs) {
      state.scanFromMs = target;
      changed = true;
    }
    for (const [key, cursor] of Object.entries(state.blobs)) {
      if (cursor.hourMs + KEEP_BEHIND_WINDOW_MS < state.scanFromMs && (cursor.activeUntilMs ?? 0) <= passStartMs) {
        delete state.blobs[key];
        this.listedEtags.delete(key);
        changed = true;
      }
    }
    return changed;
  }

  private reportDiscoveryFailures(failures: readonly { container: string; prefix: string; failure: AzureFailure }[], firstPass: boolean): void {
    const { logger } = this.options;
    const auth = failures.find((f) => f.failure.kind === 'auth');
    if (firstPass && auth !== undefined) {
      throw new BlobSourceError(
        `cannot list container ${auth.container}: ${auth.failure.message} (the identity needs the Storage Blob Data Reader role on the account or container, or a SAS with read and list)`,
      );
    }
    if (this.options.once) {
      const first = failures[0]!;
      throw new BlobSourceError(`cannot list container ${first.container}${first.prefix === '' ? '' : ` under ${first.prefix}`}: ${first.failure.message}`);
    }
    for (const { container, prefix, failure } of failures.slice(0, 5)) {
      logger.warn({ container, prefix, failures: failures.length, ...failureFields(failure) }, 'listing failed: trying again next poll');
    }
  }

  private blockBlob(blob: ListedBlob) {
    return this.options.service.getContainerClient(blob.container).getBlockBlobClient(blob.name);
  }

  private save(): Promise<void> {
    const next = this.saving.then(async () => {
      await this.options.store.save(this.state);
      this.options.onCheckpoint?.();
    });
    this.saving = next.catch(() => {});
    return next;
  }
}

function failureFields(failure: AzureFailure): Record<string, unknown> {
  return { kind: failure.kind, statusCode: failure.statusCode, code: failure.code, error: failure.message };
}
