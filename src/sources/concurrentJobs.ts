import type { ByteBudget } from './blockBlobReader.js';

/** Blobs read at the same time by default: hides storage latency on a jump host's few cores. */
export const DEFAULT_READ_CONCURRENCY = 32;

/** A job: an async iterable of items, or a plain async function for a job that yields none. */
export type Job<T> = () => AsyncIterable<T> | Promise<void>;

/**
 * Runs jobs — each an async iterable of items, e.g. the pieces of one blob — at most
 * `concurrency` at a time, and hands their items to a single consumer as they come: the items of
 * one job in that job's order, those of different jobs interleaved. A job is resumed only once the
 * consumer took its previous item, so at most `concurrency` items wait, and a slow job holds one
 * slot, never the others. Jobs handle their own failures; an exception escaping one is a bug and
 * is thrown to the consumer.
 */
export class ConcurrentJobs<T> {
  private readonly jobs: Job<T>[] = [];
  private nextJob = 0;
  private readonly ready: { item: T; resume: () => void }[] = [];
  private running = 0;
  private closed = false;
  private wakeConsumer: (() => void) | undefined;
  private error: { value: unknown } | undefined;

  constructor(private readonly concurrency: number) {}

  /** Queues a job (also while items are being taken). */
  add(job: Job<T>): void {
    if (this.closed) return;
    this.jobs.push(job);
    this.fill();
  }

  /** The next waiting item, or undefined when none is waiting right now. */
  tryTake(): T | undefined {
    if (this.error !== undefined) throw this.error.value;
    const entry = this.ready.shift();
    if (entry === undefined) return undefined;
    entry.resume();
    return entry.item;
  }

  /** The next item; undefined once every job is done (or after close). */
  async take(): Promise<T | undefined> {
    for (;;) {
      if (this.ready.length > 0 || this.error !== undefined) return this.tryTake();
      if (this.closed || (this.running === 0 && this.nextJob === this.jobs.length)) return undefined;
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
    }
  }

  /** Resolves true as soon as an item is waiting, false after `timeoutMs` or once every job is done. */
  async waitForItem(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.ready.length > 0 || this.error !== undefined) return true;
      const left = deadline - Date.now();
      if (left <= 0 || this.closed || (this.running === 0 && this.nextJob === this.jobs.length)) return false;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wakeConsumer = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** The next item waiting now or ready by `untilMs` (wall clock), else undefined. */
  async takeBy(untilMs: number): Promise<T | undefined> {
    const item = this.tryTake();
    if (item !== undefined) return item;
    return (await this.waitForItem(untilMs - Date.now())) ? this.tryTake() : undefined;
  }

  /** Stops: no job starts any more, running ones end after their current step, waiting items are dropped. */
  close(): void {
    this.closed = true;
    this.nextJob = this.jobs.length;
    for (const entry of this.ready.splice(0)) entry.resume();
    this.wake();
  }

  private fill(): void {
    while (!this.closed && this.running < this.concurrency && this.nextJob < this.jobs.length) {
      const job = this.jobs[this.nextJob]!;
      // Let the finished jobs go: a pass may queue tens of thousands.
      this.jobs[this.nextJob++] = emptyJob;
      this.running++;
      void this.run(job);
    }
  }

  private async run(job: Job<T>): Promise<void> {
    try {
      const work = job();
      if (work instanceof Promise) {
        await work;
        return;
      }
      for await (const item of work) {
        if (this.closed) break;
        await new Promise<void>((resume) => {
          this.ready.push({ item, resume });
          this.wake();
        });
        if (this.closed) break;
      }
    } catch (error) {
      this.error ??= { value: error };
    } finally {
      this.running--;
      this.fill();
      this.wake();
    }
  }

  private wake(): void {
    const wake = this.wakeConsumer;
    this.wakeConsumer = undefined;
    wake?.();
  }
}

const emptyJob = (): Promise<void> => Promise.resolve();

/**
 * A memory limit for downloaded pieces not parsed yet. A request larger than the whole limit is
 * granted once nothing else is held, so one big piece can always go through.
 */
export class ByteLimit implements ByteBudget {
  private held = 0;
  private readonly waiting: { bytes: number; grant: () => void }[] = [];

  constructor(readonly limitBytes: number) {}

  get heldBytes(): number {
    return this.held;
  }

  acquire(bytes: number): Promise<void> {
    if (this.waiting.length === 0 && this.fits(bytes)) {
      this.held += bytes;
      return Promise.resolve();
    }
    return new Promise((grant) => this.waiting.push({ bytes, grant }));
  }

  release(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.bytes)) {
      const next = this.waiting.shift()!;
      this.held += next.bytes;
      next.grant();
    }
  }

  private fits(bytes: number): boolean {
    return this.held === 0 || this.held + bytes <= this.limitBytes;
  }
}

/** At most `count` holders at a time; the others wait in order. */
export class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(count: number) {
    this.free = count;
  }

  /** Resolves with the slot's release function once one is free. */
  async acquire(): Promise<() => void> {
    if (this.free > 0 && this.waiting.length === 0) this.free--;
    else await new Promise<void>((grant) => this.waiting.push(grant));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next === undefined) this.free++;
      else next();
    };
  }
}
