/** Slab size: a few hundred messages share one allocation. */
const SLAB_BYTES = 256 * 1024;

/**
 * Message buffers carved one after another from large slabs: one allocation per slab instead of
 * one per message. A finished message keeps its bytes (a view into its slab, never written
 * again); the next message starts right after it. Shared by the IPFIX and NetFlow encoders.
 */
export class MessageBuffers {
  private slab: Buffer = Buffer.alloc(0);
  private used = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** Room for one message of up to the maximum size; only `finish` makes it the message's own. */
  take(): Buffer {
    if (this.slab.length - this.used < this.maxMessageBytes) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, this.maxMessageBytes));
      this.used = 0;
    }
    return this.slab.subarray(this.used, this.used + this.maxMessageBytes);
  }

  /** The finished message: the first `length` bytes of the buffer `take` returned last. */
  finish(buf: Buffer, length: number): Buffer {
    this.used += length;
    return buf.subarray(0, length);
  }
}
