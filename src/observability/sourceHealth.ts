/**
 * What a running source reports about itself, for /readyz and /metrics: whether it is connected,
 * when it last polled or received successfully, and what went wrong last. Sources update it;
 * nothing else does, but the runtime marks a source stopped when its command ends with an error.
 */
export class SourceHealth {
  connected = false;
  /** Epoch ms of the last successful poll / receive; 0 before the first. */
  lastSuccessMs = 0;
  /** Epoch ms of the last checkpoint written (ack); 0 before the first. */
  lastCheckpointMs = 0;
  /** The last failure, kept after a later success for the operator to see (with its time). */
  lastError: string | undefined;
  lastErrorMs = 0;
  /** A failure no retry will mend by itself (a credential refused) is going on. */
  private failing = false;
  /** The source ended with an error: it will not be ready again. */
  private stoppedWith: string | undefined;

  constructor(
    readonly name: string,
    /** How long without success before the source counts as not ready. */
    readonly staleAfterMs: number,
  ) {}

  succeeded(nowMs = Date.now()): void {
    this.connected = true;
    this.lastSuccessMs = nowMs;
    this.failing = false;
  }

  /**
   * Records a failure. `lasting` (a refused credential, a missing role): not ready until the next
   * success; otherwise (a timeout the next try may mend) readiness follows the staleness window.
   */
  failed(error: string, options: { readonly lasting?: boolean; readonly nowMs?: number } = {}): void {
    this.lastError = error;
    this.lastErrorMs = options.nowMs ?? Date.now();
    if (options.lasting === true) this.failing = true;
  }

  /** The source ended with `error`: not ready from now on. */
  stopped(error: string, nowMs = Date.now()): void {
    this.stoppedWith = error;
    this.failed(error, { lasting: true, nowMs });
  }

  get isStopped(): boolean {
    return this.stoppedWith !== undefined;
  }

  checkpointed(nowMs = Date.now()): void {
    this.lastCheckpointMs = nowMs;
  }

  ready(nowMs = Date.now()): boolean {
    return this.connected && !this.failing && this.stoppedWith === undefined && nowMs - this.lastSuccessMs <= this.staleAfterMs;
  }
}
