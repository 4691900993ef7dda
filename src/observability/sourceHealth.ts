/**
 * What a running source reports about itself, for /readyz and /metrics: whether it is connected
 * and when it last polled or received successfully. Sources update it; nothing else does.
 */
export class SourceHealth {
  connected = false;
  /** Epoch ms of the last successful poll / receive; 0 before the first. */
  lastSuccessMs = 0;
  /** Epoch ms of the last checkpoint written (ack); 0 before the first. */
  lastCheckpointMs = 0;
  lastError: string | undefined;

  constructor(
    readonly name: string,
    /** How long without success before the source counts as not ready. */
    readonly staleAfterMs: number,
  ) {}

  succeeded(nowMs = Date.now()): void {
    this.connected = true;
    this.lastSuccessMs = nowMs;
    this.lastError = undefined;
  }

  failed(error: string): void {
    this.lastError = error;
  }

  checkpointed(nowMs = Date.now()): void {
    this.lastCheckpointMs = nowMs;
  }

  ready(nowMs = Date.now()): boolean {
    return this.connected && nowMs - this.lastSuccessMs <= this.staleAfterMs;
  }
}
