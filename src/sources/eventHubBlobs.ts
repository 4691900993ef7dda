import type { BlobServiceClient, BlockBlobClient } from '@azure/storage-blob';
import type { Logger } from 'pino';
import type { BlobCreatedNotification } from '../azure/blobCreatedEvent.js';
import type { ParseProblem } from '../azure/problems.js';
import { sleep } from '../flow/sleep.js';
import { classifyAzureError, type AzureFailure } from '../state/azureErrors.js';
import { safeUrl } from '../secrets.js';
import { blobKey, emptyState, type BlobCursor, type SourceState, type StateStore } from '../state/sourceState.js';
import { StateWriter } from '../state/stateWriter.js';
import { fetchGrowth, growthStart } from './blobGrowth.js';
import { floorHour, HOUR_MS, parseFlowLogBlobName } from './blobPaths.js';
import { parsedStep, readNewBlocks, type BlockReadStep, type BlockReaderOptions } from './blockBlobReader.js';
import type { ParsedFlows } from './flowBatch.js';

/**
 * The blobs named by Event Grid BlobCreated notifications, read with the Blob Storage source's own
 * machinery: `readNewBlocks` (blockBlobReader.ts) from the blob's block-id cursor, cursors kept in
 * the same SourceState document and StateStore (a local file or a blob). Each notification yields
 * only the blocks committed since the cursor, so a notification per minute yields that minute's
 * tuples, a late or repeated notification yields nothing new, and a missed one is caught up by the
 * next notification of the same blob. A blob this instance has no cursor for is read from its
 * first block. A blob that only grew is read by the growth shortcut (blobGrowth.ts: one ranged
 * read, no block list), and moved cursors are stored together about once a second (StateWriter).
 */

export interface NotifiedStep extends ParsedFlows {
  readonly blocks: number;
  /** `container/name`, for logs. */
  readonly blob: string;
  /** Moves the blob's cursor past this step (stored with the next state write): call once its records were sent. */
  commit(): Promise<void>;
}

export interface NotifiedBlobReaderOptions {
  readonly store: StateStore;
  /** Storage client for an account URL (`https://ACCOUNT.blob.core.windows.net`). */
  readonly serviceFor: (accountUrl: string) => BlobServiceClient;
  /** The client built from `--blob-connection-string`, if any: its account is matched by URL. */
  readonly connectionStringService?: BlobServiceClient;
  readonly onProblem: (problem: ParseProblem) => void;
  readonly logger: Logger;
  /** Largest download per step. Default 4 MiB. */
  readonly maxBatchBytes?: number;
  /** Attempts per notification on transient failures. Default 4. */
  readonly maxTries?: number;
  /** First retry delay, doubled each time. Default 1 s. */
  readonly retryDelayMs?: number;
  /** Least time between two state writes. Default 1 s. */
  readonly stateWriteIntervalMs?: number;
  readonly now?: () => number;
}

export interface NotifiedBlobStats {
  notifications: number;
  blocksRead: number;
  /** Notified blobs read by the growth shortcut (one ranged read, no block list). */
  growthReads: number;
  /** Storage requests by kind. */
  requests: { blockList: number; download: number };
  rewrites: number;
  /** Notifications given up on (the next one of the same blob catches up). */
  failed: number;
  stateSaveFailures: number;
}

/** Cursors of blobs whose hour ended this long ago are dropped from the state. */
const KEEP_CURSOR_MS = 26 * HOUR_MS;
const DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024;
const STATE_ERROR_LOG_INTERVAL_MS = 60_000;
/** Cursors of old hours are looked for at most this often. */
const PRUNE_INTERVAL_MS = 60_000;

/** Where a notified blob lives. */
export interface BlobLocation {
  readonly accountUrl: string;
  /** The storage account name (host's first label, or the first path segment for path-style URLs). */
  readonly accountName: string;
  readonly container: string;
  readonly name: string;
}

/**
 * Splits a blob URL into account, container and name. Path-style URLs (an IP address or
 * localhost as host, as Azurite and the emulator use) carry the account as the first segment.
 */
export function parseBlobUrl(url: string): BlobLocation | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
  const segments = parsed.pathname.split('/').slice(1);
  const pathStyle = /^(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:.]+\]|localhost)$/i.test(parsed.hostname);
  const accountSegments = pathStyle ? 1 : 0;
  if (segments.length < accountSegments + 2) return undefined;
  const origin = `${parsed.protocol}//${parsed.host}`;
  const accountUrl = pathStyle ? `${origin}/${segments[0]}` : origin;
  try {
    const container = decodeURIComponent(segments[accountSegments]!);
    const name = segments
      .slice(accountSegments + 1)
      .map(decodeURIComponent)
      .join('/');
    if (container === '' || name === '') return undefined;
    const accountName = pathStyle ? decodeURIComponent(segments[0]!) : parsed.hostname.split('.')[0]!;
    return { accountUrl, accountName, container, name };
  } catch {
    return undefined;
  }
}

export class NotifiedBlobReader {
  readonly stats: NotifiedBlobStats = {
    notifications: 0,
    blocksRead: 0,
    growthReads: 0,
    requests: { blockList: 0, download: 0 },
    rewrites: 0,
    failed: 0,
    stateSaveFailures: 0,
  };
  /** Per blob: the end of the read in progress, so two partitions never read one blob at once. */
  private readonly locks = new Map<string, Promise<void>>();
  private readonly writer: StateWriter;
  private lastStateErrorLogMs = -Infinity;
  private lastPruneMs = -Infinity;
  private readonly now: () => number;

  private constructor(
    private readonly options: NotifiedBlobReaderOptions,
    private readonly state: SourceState,
  ) {
    this.now = options.now ?? Date.now;
    this.writer = new StateWriter(options.store, state, {
      ...(options.stateWriteIntervalMs === undefined ? {} : { minIntervalMs: options.stateWriteIntervalMs }),
      now: this.now,
      onError: (error) => this.stateWriteFailed(error),
    });
  }

  static async open(options: NotifiedBlobReaderOptions): Promise<NotifiedBlobReader> {
    const stored = await options.store.load();
    options.logger.info(
      { state: options.store.description, blobs: stored === undefined ? 0 : Object.keys(stored.blobs).length },
      'blob cursors for Event Grid notifications loaded',
    );
    return new NotifiedBlobReader(options, stored ?? emptyState(0));
  }

  /**
   * The blob's blocks not processed yet, one step per group of blocks. The caller must commit (or
   * drop) each step before asking for the next: the blob stays locked until the generator ends.
   */
  async *read(notification: BlobCreatedNotification, signal: AbortSignal): AsyncGenerator<NotifiedStep> {
    const { logger } = this.options;
    this.stats.notifications++;
    const location = parseBlobUrl(notification.url);
    if (location === undefined) {
      this.stats.failed++;
      logger.warn({ url: safeUrl(notification.url), eventId: notification.id }, 'BlobCreated notification with an unreadable blob URL: skipped');
      return;
    }
    const key = blobKey(location.container, location.name);
    const release = await this.lock(key);
    try {
      const blob = this.blockBlob(location);
      const maxTries = this.options.maxTries ?? 4;
      for (let attempt = 1; ; attempt++) {
        let cursor = this.state.blobs[key];
        if (cursor === undefined) {
          cursor = { hourMs: parseFlowLogBlobName(location.name)?.hourMs ?? floorHour(this.now()) };
          this.state.blobs[key] = cursor;
        }
        try {
          const options: BlockReaderOptions & { onProblem: (problem: ParseProblem) => void } = {
            label: key,
            onProblem: this.options.onProblem,
            logger,
            onRewrite: () => this.stats.rewrites++,
            onRequest: (kind) => void this.stats.requests[kind]++,
            maxGroupBytes: this.options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
          };
          const from = growthStart(cursor, undefined, options.maxGroupBytes);
          if (from !== undefined) {
            const piece = await fetchGrowth(blob, cursor, from, undefined, options);
            // A notification of a version already read (repeated, or read with an earlier one).
            if (piece === 'unchanged') return;
            const step = piece === undefined ? undefined : parsedStep(piece, options);
            if (step?.ok === true) {
              this.stats.growthReads++;
              yield this.notifiedStep(key, cursor, step);
              return;
            }
          }
          for await (const step of readNewBlocks(blob, cursor, options)) {
            yield this.notifiedStep(key, cursor, step);
            if (signal.aborted) return;
          }
          return;
        } catch (error) {
          const failure = classifyAzureError(error);
          if (failure.kind === 'not-found') {
            delete this.state.blobs[key];
            this.writer.blobChanged(key);
            logger.info({ blob: key, eventId: notification.id }, 'notified blob no longer exists: skipped');
            return;
          }
          const retry = attempt < maxTries && (failure.kind === 'transient' || failure.kind === 'changed') && !signal.aborted;
          if (!retry) {
            this.stats.failed++;
            cursor.failures = (cursor.failures ?? 0) + 1;
            logger.error(
              { blob: key, eventId: notification.id, attempts: attempt, ...failureFields(failure) },
              `cannot read notified blob: notification skipped (the next notification of this blob reads the blocks left)${failure.kind === 'auth' ? '; the identity needs the Storage Blob Data Reader role' : ''}`,
            );
            return;
          }
          const delayMs = failure.kind === 'changed' ? 0 : (this.options.retryDelayMs ?? 1000) * 2 ** (attempt - 1);
          logger.warn({ blob: key, attempt, retryInMs: delayMs, ...failureFields(failure) }, 'cannot read notified blob: trying again');
          await sleep(delayMs, signal);
        }
      }
    } finally {
      release();
    }
  }

  /** Writes the cursors moved so far (at stop). A failure is logged and counted, not thrown. */
  async flush(): Promise<void> {
    await this.writer.flush().catch(() => {});
  }

  private notifiedStep(key: string, cursor: BlobCursor, step: BlockReadStep): NotifiedStep {
    return {
      records: step.records,
      azureRecords: step.azureRecords,
      inputBytes: step.inputBytes,
      blocks: step.blocks,
      blob: key,
      commit: () => {
        this.stats.blocksRead += step.blocks;
        if (step.advance !== undefined) Object.assign(cursor, step.advance);
        delete cursor.failures;
        if (this.state.blobs[key] === cursor) this.writer.blobChanged(key);
        this.prune();
        return Promise.resolve();
      },
    };
  }

  private blockBlob(location: BlobLocation): BlockBlobClient {
    // The connection string's account by name, so `localhost` and `127.0.0.1` (or a custom
    // domain) in the notification's URL still match it.
    const own = this.options.connectionStringService;
    const service = own !== undefined && sameAccount(own, location) ? own : this.options.serviceFor(location.accountUrl);
    return service.getContainerClient(location.container).getBlockBlobClient(location.name);
  }

  private async lock(key: string): Promise<() => void> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => current);
    this.locks.set(key, tail);
    await previous;
    return () => {
      release();
      if (this.locks.get(key) === tail) this.locks.delete(key);
    };
  }

  private stateWriteFailed(error: Error): void {
    this.stats.stateSaveFailures++;
    const nowMs = this.now();
    if (nowMs - this.lastStateErrorLogMs < STATE_ERROR_LOG_INTERVAL_MS) return;
    this.lastStateErrorLogMs = nowMs;
    this.options.logger.error(
      { state: this.options.store.description, failures: this.stats.stateSaveFailures, error: error.message },
      'cannot save blob cursors: trying again; after a restart the blocks not saved are read again',
    );
  }

  /** Drops the cursors of hours long past (at most once a minute: it looks at every cursor). */
  private prune(): void {
    const nowMs = this.now();
    if (nowMs - this.lastPruneMs < PRUNE_INTERVAL_MS) return;
    this.lastPruneMs = nowMs;
    const oldest = nowMs - KEEP_CURSOR_MS;
    for (const [key, cursor] of Object.entries(this.state.blobs)) {
      if (cursor.hourMs < oldest && !this.locks.has(key)) {
        delete this.state.blobs[key];
        this.writer.blobChanged(key);
      }
    }
  }
}

function sameAccount(service: BlobServiceClient, location: BlobLocation): boolean {
  const url = (text: string) => text.replace(/\/+$/, '').toLowerCase();
  return (
    url(service.url) === url(location.accountUrl) || (service.accountName !== '' && service.accountName.toLowerCase() === location.accountName.toLowerCase())
  );
}

function failureFields(failure: AzureFailure): Record<string, unknown> {
  return { kind: failure.kind, statusCode: failure.statusCode, code: failure.code, error: failure.message };
}
