import type { Logger } from 'pino';
import { UserError } from '../flow/errors.js';
import type { AzureFailure } from '../state/azureErrors.js';
import type { BlobCursor } from '../state/sourceState.js';

/**
 * What a failure costs the Blob Storage source. A blob whose read fails is tried again after a
 * delay that doubles from the poll interval, until it failed `maxBlobFailures` times in a row: it
 * is then poisoned (skipped until --retry-poisoned), so that one bad blob never holds the others
 * back. A failed listing stops the source only where trying again cannot help (a refused
 * credential at start, or a `--once` pass); otherwise the next poll tries again.
 */

export const DEFAULT_MAX_BLOB_FAILURES = 5;
/** Longest wait before a failed blob is tried again. */
const MAX_RETRY_DELAY_MS = 15 * 60_000;

/** The containers cannot be listed at start (or in a `--once` pass): the CLI reports it as one line and exits 2. */
export class BlobSourceError extends UserError {
  constructor(code: 'blob-auth' | 'blob-list', message: string, cause?: unknown) {
    super(message, { code, cause });
  }
}

export interface ListingFailure {
  readonly container: string;
  readonly prefix: string;
  readonly failure: AzureFailure;
}

/**
 * Counts a failed read of blob `key` on its cursor: poisoned once it failed `maxBlobFailures` times
 * in a row (returns true), else tried again after a delay.
 */
export function countReadFailure(
  key: string,
  cursor: BlobCursor,
  failure: AzureFailure,
  nowMs: number,
  limits: { readonly maxBlobFailures: number; readonly pollIntervalMs: number },
  logger: Logger,
): boolean {
  const failures = (cursor.failures ?? 0) + 1;
  cursor.failures = failures;
  if (failures >= limits.maxBlobFailures) {
    cursor.poisoned = { atMs: nowMs, reason: failure.message };
    delete cursor.retryAfterMs;
    logger.error(
      { blob: key, failures, ...failureFields(failure) },
      `blob failed ${failures} times: marked poisoned and skipped from now on (restart with --retry-poisoned to try it again)`,
    );
    return true;
  }
  const delayMs = Math.min(MAX_RETRY_DELAY_MS, limits.pollIntervalMs * 2 ** (failures - 1));
  cursor.retryAfterMs = nowMs + delayMs;
  logger.warn({ blob: key, failures, retryInSeconds: Math.round(delayMs / 1000), ...failureFields(failure) }, 'cannot read blob: trying again later');
  return false;
}

/** --retry-poisoned: forgets the failures and poison marks of the stored cursors; returns the keys of those it changed. */
export function forgetFailures(blobs: Readonly<Record<string, BlobCursor>>): string[] {
  const changed: string[] = [];
  for (const [key, cursor] of Object.entries(blobs)) {
    if (cursor.poisoned === undefined && cursor.failures === undefined) continue;
    delete cursor.poisoned;
    delete cursor.failures;
    delete cursor.retryAfterMs;
    changed.push(key);
  }
  return changed;
}

/** The error that stops the source after a failed listing; undefined when the next poll is to try again. */
export function listingError(failures: readonly ListingFailure[], firstPass: boolean, once: boolean): BlobSourceError | undefined {
  const auth = failures.find((f) => f.failure.kind === 'auth');
  if (firstPass && auth !== undefined) {
    return new BlobSourceError(
      'blob-auth',
      `cannot list container ${auth.container}: ${auth.failure.message} (the identity needs the Storage Blob Data Reader role on the account or container, or a SAS with read and list)`,
    );
  }
  if (once) {
    const first = failures[0]!;
    return new BlobSourceError(
      'blob-list',
      `cannot list container ${first.container}${first.prefix === '' ? '' : ` under ${first.prefix}`}: ${first.failure.message}`,
    );
  }
  return undefined;
}

export function failureFields(failure: AzureFailure): Record<string, unknown> {
  return { kind: failure.kind, statusCode: failure.statusCode, code: failure.code, error: failure.message };
}
