/**
 * Spaces datagrams evenly at `maxPacketsPerSecond`. UDP has no flow control: a burst faster than
 * the collector reads overflows its socket buffer and the records are silently lost, so the
 * default keeps a steady rate. Datagrams go out in slices of `burstMs` (1 ms: the timer's
 * resolution) so the timer is not hit per packet; 5 ms slices lost records at nfcapd with its
 * default 212 KB buffer where 1 ms slices did not (docs/performance.md).
 */
export class Pacer {
  private nextAtMs = 0;
  private readonly intervalMs: number;

  constructor(
    readonly maxPacketsPerSecond: number,
    private readonly now: () => number = () => performance.now(),
    private readonly burstMs = 1,
  ) {
    this.intervalMs = maxPacketsPerSecond > 0 ? 1000 / maxPacketsPerSecond : 0;
  }

  /** Accounts for one packet; returns how long to wait before sending it (0 = now). */
  delayFor(): number {
    if (this.intervalMs === 0) return 0;
    const now = this.now();
    if (this.nextAtMs < now - this.burstMs) this.nextAtMs = now - this.burstMs;
    this.nextAtMs += this.intervalMs;
    const wait = this.nextAtMs - now;
    return wait > this.burstMs ? wait : 0;
  }
}
