import type { Logger } from 'pino';
import type { ParseProblem, ProblemContext, SkipReason } from './azure/problems.js';
import type { ParseReports } from './azure/tupleSink.js';
import type { ExportMetrics } from './metrics.js';

/** Log lines per reason before further ones are only counted: a file of a million bad tuples must not flood the log. */
const LOGGED_PER_REASON = 20;
/** Hostile input must not turn into megabyte log lines. */
const MAX_DETAIL_CHARS = 300;

/**
 * Counts every skipped record or tuple and logs each one once with its context, up to a cap per
 * reason; what is past the cap is still counted and reported in the closing summary.
 */
export class ProblemReporter implements ParseReports {
  private readonly logged = new Map<SkipReason, number>();

  constructor(
    private readonly logger: Logger,
    private readonly metrics: ExportMetrics,
  ) {}

  /** A fast-path bug: the record was still read (the reference way); counted, and logged at debug. */
  readonly fastPathError = (error: unknown, context: ProblemContext): void => {
    this.metrics.fastPathErrors++;
    this.logger.debug({ ...context, err: error }, 'fast reader failed on a record: read it the reference way');
  };

  readonly problem = (problem: ParseProblem): void => this.report(problem);

  readonly report = (problem: ParseProblem): void => {
    this.metrics.countProblem(problem);
    const logged = this.logged.get(problem.reason) ?? 0;
    if (logged >= LOGGED_PER_REASON) return;
    this.logged.set(problem.reason, logged + 1);
    this.logger.warn(
      {
        reason: problem.reason,
        unit: problem.unit,
        ...problem.context,
        ...(logged + 1 === LOGGED_PER_REASON ? { note: `further '${problem.reason}' problems are counted, not logged` } : {}),
      },
      `skipped ${problem.unit}: ${problem.detail.length > MAX_DETAIL_CHARS ? `${problem.detail.slice(0, MAX_DETAIL_CHARS)}…` : problem.detail}`,
    );
  };
}
