/**
 * Where encoded datagrams go: UDP collectors, a pcap file, or both. `send` returns a promise only
 * when the caller must wait (pacing, socket or file back-pressure), so the hot path stays
 * synchronous.
 */
export interface DatagramSink {
  /** The payload is copied by the time this returns (or its promise resolves): its bytes may then be reused. */
  send(payload: Buffer, timeMs: number): void | Promise<void>;
  /** Resolves when every datagram handed over so far has left the process (socket callback / file write). */
  drain(): Promise<void>;
  close(): Promise<void>;
  /** Epoch ms of the latest send error on any destination; 0 if none. */
  readonly lastErrorMs: number;
}
