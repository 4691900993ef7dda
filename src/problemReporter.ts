import type { Logger } from 'pino';
import type { ParseProblem, SkipReason } from './azure/problems.js';
import type { ExportMetrics } from './metrics.js';

/** Log lines per reason before further ones are only counted: a file of a million bad tuples must not flood the log. */
const LOGGED_PER_REASON = 20;
/** Hostile input must not turn into megabyte log lines. */
const MAX_DETAIL_CHARS = 300;

/**
 * Counts every skipped record or tuple and logs each one once with its context, up to a cap per
 * reason; what is past the cap is still counted and reported in the closing summary.
 */
export class ProblemReporter {
  private readonly logged = new Map<SkipReason, number>();

  constructor(
    private readonly logger: Logger,
    private readonly metrics: ExportMetrics,
  ) {}

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
