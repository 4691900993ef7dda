/**
 * NetFlow v9 and v5 carry flow times as milliseconds of "sysUptime", an unsigned 32-bit counter
 * that wraps after about 49.7 days and cannot go negative. Collectors turn them into absolute
 * times with the header: boot = unix_secs * 1000 - sysUptime, flow start = boot + FIRST.
 *
 * A replay of logs that are days or months old cannot use one real boot time. So each packet gets
 * its own boot time (base): an hour before its first flow starts, so the flows that follow
 * (whose starts may reach back to an earlier tuple) still fit. A flow that does not fit the
 * open packet's base starts a new packet. The header's export time is the real one when the
 * base is less than 49.7 days before it; for older logs it is moved to just after the packet's
 * last flow ended, which keeps every absolute time exact. Proven with nfdump and tshark in
 * test/interop/netflow.test.ts.
 */

/** The span sysUptime can express. */
const UPTIME_SPAN_MS = 0x1_0000_0000;
/** Room before a packet's first flow start for later flows that started earlier. */
export const UPTIME_SLACK_MS = 60 * 60 * 1000;

export interface UptimeHeader {
  readonly sysUptimeMs: number;
  readonly unixSeconds: number;
}

export class UptimeClock {
  /** Epoch ms of sysUptime 0 for the open packet. */
  baseMs = 0;
  private latestEndMs = 0;

  /** Starts a packet around its first flow. */
  open(firstStartMs: number): void {
    this.baseMs = Math.max(0, firstStartMs - UPTIME_SLACK_MS);
    this.latestEndMs = 0;
  }

  /** Whether a flow can be written relative to the open packet's base. */
  fits(startMs: number, endMs: number): boolean {
    return startMs >= this.baseMs && endMs - this.baseMs < UPTIME_SPAN_MS - UPTIME_SLACK_MS;
  }

  /** Records a written flow's end, so the header can place export after it. */
  wrote(endMs: number): void {
    if (endMs > this.latestEndMs) this.latestEndMs = endMs;
  }

  /** Header times for the packet: collectors derive exactly `baseMs` as boot time from them. */
  header(nowMs: number): UptimeHeader {
    let unixSeconds = Math.floor(nowMs / 1000);
    if (unixSeconds * 1000 < this.latestEndMs) unixSeconds = Math.ceil(this.latestEndMs / 1000);
    if (unixSeconds * 1000 - this.baseMs >= UPTIME_SPAN_MS) unixSeconds = Math.ceil(Math.max(this.latestEndMs, this.baseMs) / 1000);
    return { sysUptimeMs: unixSeconds * 1000 - this.baseMs, unixSeconds };
  }
}

/** Keeps a start inside the sysUptime span of its end (a flow over 49 days old at its end). */
export function clampStartMs(startMs: number, endMs: number): number {
  const earliest = endMs - (UPTIME_SPAN_MS - 2 * UPTIME_SLACK_MS);
  return startMs < earliest ? earliest : startMs;
}
