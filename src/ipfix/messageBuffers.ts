/** Slab size: a few hundred messages share one allocation. */
const SLAB_BYTES = 256 * 1024;

/**
 * Message buffers carved one after another from large slabs: one allocation per slab instead of
 * one per message. A finished message keeps its bytes (a view into its slab, never written again
 * until `reuse`); the next message starts right after it. Shared by the IPFIX and NetFlow encoders.
 *
 * Encoders write a message at slab offsets from `start` on, through `slab` or its DataView `view`
 * (one per slab: a DataView per message cost more than the records written through it).
 */
export class MessageBuffers {
  /** The slab the message being written lives in. */
  slab: Buffer = Buffer.alloc(0);
  /** A DataView of the whole slab. */
  view: DataView = new DataView(new ArrayBuffer(0));
  /** Where the message being written starts in the slab. */
  start = 0;
  /** Slabs whose messages were all handed on (see reuse), ready to be written again. */
  private readonly spare: { slab: Buffer; view: DataView }[] = [];
  /** Full slabs holding messages that may still be in use. */
  private readonly full: { slab: Buffer; view: DataView }[] = [];

  constructor(private readonly maxMessageBytes: number) {}

  /** Room for one message of up to the maximum size at `slab[start...]`; only `finish` makes it the message's own. */
  take(): void {
    if (this.slab.length - this.start >= this.maxMessageBytes) return;
    if (this.slab.length > 0) this.full.push({ slab: this.slab, view: this.view });
    let next = this.spare.pop();
    if (next === undefined) {
      const slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, this.maxMessageBytes));
      next = { slab, view: new DataView(slab.buffer, slab.byteOffset, slab.length) };
    }
    this.slab = next.slab;
    this.view = next.view;
    this.start = 0;
  }

  /** The finished message: the `length` bytes from `start`; the next message starts after them. */
  finish(length: number): Buffer {
    const message = this.slab.subarray(this.start, this.start + length);
    this.start += length;
    return message;
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
