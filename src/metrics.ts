import type { ParseProblem, SkipReason } from './azure/problems.js';

/**
 * Counters of one run, in one place: the summary, progress and (later) /metrics read them.
 * Plain numbers, bumped inline: no per-record allocation.
 */
export class ExportMetrics {
  readonly startedAtMs = Date.now();
  filesRead = 0;
  inputBytes = 0;
  azureRecords = 0;
  tuples = 0;
  /** Flow data records written (a split biflow tuple counts twice). */
  exportedRecords = 0;
  optionsRecords = 0;
  messages = 0;
  templateMessages = 0;
  bytesSent = 0;
  /** Epoch ms of the newest tuple exported so far (source lag = now - this). */
  newestTupleMs = 0;
  /** Records the fast reader threw on (a bug; they were read the reference way). */
  fastPathErrors = 0;
  /** Version-1 tuples and NICs logged twice (enrich/overlap.ts), when the pipeline has them. */
  overlap: { readonly version1Tuples: number; readonly overlappingNics: number } | undefined;
  readonly skippedRecords = new Map<SkipReason, number>();
  readonly skippedTuples = new Map<SkipReason, number>();
  readonly declined = new Map<string, number>();

  countProblem(problem: ParseProblem): void {
    const counts = problem.unit === 'tuple' ? this.skippedTuples : this.skippedRecords;
    if (problem.skipped > 0 || problem.reason === 'empty-input') counts.set(problem.reason, (counts.get(problem.reason) ?? 0) + problem.skipped);
  }

  get skippedTupleTotal(): number {
    let total = 0;
    for (const n of this.skippedTuples.values()) total += n;
    return total;
  }

  get skippedRecordTotal(): number {
    let total = 0;
    for (const n of this.skippedRecords.values()) total += n;
    return total;
  }
}
