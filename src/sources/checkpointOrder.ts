/**
 * The events of one receive batch become units (a batch of records, a notified blob) that finish
 * in any order; a checkpoint may name an event only once every unit up to it was sent. A unit
 * dropped (stop, partition lost) holds the checkpoint back for the rest of the batch.
 */
export class CheckpointOrder<Event> {
  private readonly units: { done: boolean; sent: boolean; lastEvent: Event | undefined }[] = [];
  private head = 0;
  private blocked = false;

  constructor(private readonly checkpoint: (event: Event) => void) {}

  /** A unit, in event order; `lastEvent` is the event it completes, if any. */
  add(lastEvent: Event | undefined): number {
    this.units.push({ done: false, sent: false, lastEvent });
    return this.units.length - 1;
  }

  settle(unit: number, sent: boolean): void {
    const entry = this.units[unit]!;
    entry.done = true;
    entry.sent = sent;
    let newest: Event | undefined;
    while (!this.blocked && this.head < this.units.length && this.units[this.head]!.done) {
      const next = this.units[this.head++]!;
      if (!next.sent) this.blocked = true;
      else if (next.lastEvent !== undefined) newest = next.lastEvent;
    }
    if (newest !== undefined) this.checkpoint(newest);
  }
}
