import type { FlowRecord } from './flowRecord.js';

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

/** What the pipeline knows about a flow besides the record itself (the enrich stage's output). */
export interface FlowExportContext {
  readonly flowStartMs: number;
  readonly observationDomainId: number;
  readonly interfaceIndex: number;
}

/**
 * The encode stage, one per export stream. Pure: the clock comes in as `nowMs`, messages go out
 * through the `emit` callback given at construction; no sockets, timers or logging.
 */
export interface FlowEncoder {
  /** Adds one flow; may emit finished messages. */
  add(flow: FlowRecord, context: FlowExportContext, nowMs: number): void;
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
