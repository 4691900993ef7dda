/** Slab size: a few hundred messages share one allocation. */
const SLAB_BYTES = 256 * 1024;

/**
 * Message buffers carved one after another from large slabs: one allocation per slab instead of
 * one per message. A finished message keeps its bytes (a view into its slab, never written again
 * until `reuse`); the next message starts right after it. Shared by the IPFIX and NetFlow encoders.
 */
export class MessageBuffers {
  private slab: Buffer = Buffer.alloc(0);
  private used = 0;
  /** Slabs whose messages were all handed on (see reuse), ready to be written again. */
  private readonly spare: Buffer[] = [];
  /** Full slabs holding messages that may still be in use. */
  private readonly full: Buffer[] = [];

  constructor(private readonly maxMessageBytes: number) {}

  /** Room for one message of up to the maximum size; only `finish` makes it the message's own. */
  take(): Buffer {
    if (this.slab.length - this.used < this.maxMessageBytes) {
      if (this.slab.length > 0) this.full.push(this.slab);
      this.slab = this.spare.pop() ?? Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, this.maxMessageBytes));
      this.used = 0;
    }
    return this.slab.subarray(this.used, this.used + this.maxMessageBytes);
  }

  /** The finished message: the first `length` bytes of the buffer `take` returned last. */
  finish(buf: Buffer, length: number): Buffer {
    this.used += length;
    return buf.subarray(0, length);
  }

  /**
   * Nobody holds the messages finished so far any more (the transport copied them): the slabs
   * they filled are written again, so a long replay cycles through a few slabs that stay in the
   * CPU cache instead of touching fresh memory for every message. The slab of a message still
   * being filled is kept.
   */
  reuse(): void {
    for (const slab of this.full) this.spare.push(slab);
    this.full.length = 0;
  }
}
