import type { ReceivedEventData } from '@azure/event-hubs';
import type { Logger } from 'pino';
import { scrubSecrets } from '../secrets.js';
import { classifyAzureError } from '../state/azureErrors.js';

/** Unrecognised events logged one by one before further ones are only counted. */
const LOGGED_UNRECOGNIZED = 100;
const ERROR_LOG_INTERVAL_MS = 60_000;
const REFUSED_CREDENTIAL = /failed to authenticate|AuthenticationFailed|AuthorizationFailure|AuthorizationPermissionMismatch|\b40[13]\b/i;

/** What the Event Hubs source tells the operator: the SDK's failures and the events it skips, each logged with bounds. */
export class EventHubReports {
  private lastErrorLogMs = -Infinity;
  private lastErrorLogged = '';

  constructor(
    private readonly logger: Logger,
    /** A failure the SDK reported; `lasting` when retrying will not mend it (a refused credential). */
    private readonly onFailure?: (message: string, lasting: boolean) => void,
  ) {}

  /** A failure the SDK reported for a partition (`''`: load balancing). */
  failure(error: Error, partitionId: string): void {
    const e = error as Error & { code?: string; retryable?: boolean };
    const failure = classifyAzureError(error);
    // BlobCheckpointStore wraps the storage error in a plain Error, its text after the first line.
    const lasting = failure.kind === 'auth' || REFUSED_CREDENTIAL.test(String(e.message));
    const message = scrubSecrets(String(e.message).split('\n', 1)[0] ?? '');
    this.onFailure?.(message, lasting);
    // The SDK reports the same failure every load-balancing round: told once a minute at most.
    const nowMs = Date.now();
    if (nowMs - this.lastErrorLogMs < ERROR_LOG_INTERVAL_MS && message === this.lastErrorLogged) return;
    this.lastErrorLogMs = nowMs;
    this.lastErrorLogged = message;
    const fields = {
      partition: partitionId === '' ? undefined : partitionId,
      code: e.code ?? failure.code,
      statusCode: failure.statusCode,
      retryable: e.retryable,
      error: message,
    };
    if (lasting) this.logger.error(fields, 'Event Hubs or checkpoint store refused the credential: nothing is received or checkpointed until it is fixed');
    else
      this.logger.warn(
        fields,
        partitionId === '' ? 'Event Hubs error (load balancing): the client keeps trying' : 'Event Hubs error on a partition: the client keeps trying',
      );
  }

  /** The `count`th event none of the readers recognised (the first 100 are logged). */
  unrecognized(count: number, event: ReceivedEventData, partitionId: string, why: string, excerpt: string): void {
    if (count > LOGGED_UNRECOGNIZED) return;
    this.logger.warn(
      {
        partition: partitionId,
        sequenceNumber: event.sequenceNumber,
        offset: event.offset,
        enqueuedTime: event.enqueuedTimeUtc?.toISOString(),
        why,
        excerpt,
        ...(count === LOGGED_UNRECOGNIZED ? { note: 'further unrecognized events are counted, not logged' } : {}),
      },
      'skipped event: not a flow log payload, connector record or BlobCreated notification',
    );
  }
}
