import type { FlowColumns } from './flowColumns.js';

/** One datagram's payload, as an encoder produced it. */
export interface EncodedMessage {
  readonly bytes: Buffer;
  /** IPFIX observation domain / NetFlow v9 source id; 0 for NetFlow v5. */
  readonly observationDomainId: number;
  /** Flow (and options) data records inside. */
  readonly dataRecords: number;
  /** Template records inside (template-only messages have dataRecords 0). */
  readonly templateRecords: number;
}

/**
 * The encode stage, one per export stream. Pure: the clock comes in as `nowMs`, messages go out
 * through the `emit` callback given at construction; no sockets, timers or logging.
 */
export interface FlowEncoder {
  /**
   * Adds rows [from, to) of flows the enrich stage completed (starts, domains, interfaces); may
   * emit finished messages.
   */
  addRows(flows: FlowColumns, from: number, to: number, nowMs: number): void;
  /** Emits the partly filled message, if any. */
  flush(nowMs: number): void;
  /** Sends templates again before the next data of every domain (a collector may have restarted). */
  refreshTemplates(): void;
  /** Every message emitted so far was copied out (sent, captured): the encoder may write over its bytes. */
  reuseBuffers(): void;
  /** Records the encoder declined (e.g. IPv6 in NetFlow v5), by reason. */
  readonly declined: ReadonlyMap<string, number>;
  /** Flow data records written (a split biflow tuple counts twice) and options data records. */
  readonly counters: { readonly flowRecords: number; readonly optionsRecords: number };
}

export type FlowFormat = 'ipfix' | 'netflow9' | 'netflow5';

/** Whether row `i` reports any traffic from destination back to source (a blank count is none). */
export function hasReverseTraffic(flows: FlowColumns, i: number): boolean {
  const counts = flows.counts;
  // NaN > 0 is false: a blank count reports nothing.
  return counts[i * 4 + 2]! > 0 || counts[i * 4 + 3]! > 0;
}
