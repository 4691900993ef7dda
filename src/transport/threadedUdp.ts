import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { CollectorAddress } from './collectorAddress.js';
import type { DatagramSink } from './datagramSink.js';
import type { PcapEndpoint } from './pcap.js';
import type { CollectorStats } from './udp.js';

/** Messages to the sending thread. */
export type ToSender =
  | { readonly type: 'batch'; readonly buffer: ArrayBuffer; readonly length: number }
  | { readonly type: 'drain'; readonly id: number }
  | { readonly type: 'close' };

interface Counters {
  readonly stats: readonly CollectorStats[];
  readonly lastErrorMs: number;
}

/** Messages from the sending thread. */
export type FromSender =
  | { readonly type: 'ready'; readonly endpoints: readonly PcapEndpoint[] }
  | { readonly type: 'failed'; readonly message: string; readonly code: string | undefined }
  | { readonly type: 'log'; readonly fields: Record<string, unknown>; readonly message: string }
  | ({ readonly type: 'returned'; readonly buffer: ArrayBuffer } & Counters)
  | ({ readonly type: 'drained'; readonly id: number } & Counters)
  | ({ readonly type: 'closed' } & Counters)
  | ({ readonly type: 'counters' } & Counters);

export interface ThreadedUdpOptions {
  /** Datagrams per second per collector; 0 turns pacing off. */
  readonly maxPacketsPerSecond: number;
  /** SO_SNDBUF for each socket, bytes; 0 keeps the OS default. */
  readonly socketBufferBytes: number;
  readonly logger: Logger;
  /** Called with each datagram as it is handed to the sending thread, with both ends (for --pcap). */
  readonly onSent?: (payload: Buffer, source: PcapEndpoint, destination: PcapEndpoint, timeMs: number) => void | Promise<void>;
}

/** Datagrams travel to the sending thread in batches of this many bytes (length-prefixed)... */
const BATCH_BYTES = 256 * 1024;
/** ...and at most this many batches are on their way at once: the bound between the two threads. */
const BATCHES_IN_FLIGHT = 8;

/**
 * Under vitest this module runs from src/*.ts, which a worker cannot load: the worker is then the
 * compiled dist/ file (the test setup builds dist/ first).
 */
const WORKER_URL = import.meta.url.endsWith('.ts')
  ? new URL('../../dist/transport/sendWorker.js', import.meta.url)
  : new URL('./sendWorker.js', import.meta.url);

/**
 * UDP export from a thread of its own. One sendmsg per datagram is the one cost nothing can batch
 * (node:dgram has no sendmmsg): on the exporting thread it took a third of a replay. Here the
 * encoder's datagrams are copied into batch buffers that move to a sending thread running a plain
 * UdpTransport (sockets, pacing, error accounting) and come back when sent, so parsing and encoding
 * go on while the kernel takes the datagrams. A bounded number of batches is in flight: when all
 * are out, `send` returns a promise and the pipeline waits (back-pressure, e.g. at the pacing rate).
 * `drain` resolves only when the sending thread has handed every earlier datagram to its sockets,
 * so acknowledgements keep their meaning.
 */
export class ThreadedUdpTransport implements DatagramSink {
  readonly stats: CollectorStats[];
  lastErrorMs = 0;
  private readonly free: ArrayBuffer[] = [];
  private batch: Uint8Array | undefined;
  private batchLength = 0;
  private postScheduled = false;
  /** Datagrams waiting for a free batch buffer, in order: later sends queue behind them. */
  private readonly waiting: { payload: Buffer; appended: Promise<void>; resolve: () => void; reject: (error: Error) => void }[] = [];
  private readonly drains = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  private nextDrainId = 1;
  private endpoints: readonly PcapEndpoint[] = [];
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  private onClosed: (() => void) | undefined;
  /** Settles when the sending thread has its sockets open (or could not open them). */
  private ready: Promise<void> = Promise.resolve();

  private constructor(
    private readonly worker: Worker,
    private readonly collectors: readonly CollectorAddress[],
    private readonly options: ThreadedUdpOptions,
  ) {
    this.stats = collectors.map((c) => ({ label: c.label, datagrams: 0, bytes: 0, errors: 0, lastError: undefined }));
    for (let i = 0; i < BATCHES_IN_FLIGHT; i++) this.free.push(new ArrayBuffer(BATCH_BYTES));
  }

  static async open(collectors: readonly CollectorAddress[], options: ThreadedUdpOptions): Promise<ThreadedUdpTransport> {
    const worker = new Worker(WORKER_URL, {
      workerData: { collectors, maxPacketsPerSecond: options.maxPacketsPerSecond, socketBufferBytes: options.socketBufferBytes },
    });
    const transport = new ThreadedUdpTransport(worker, collectors, options);
    transport.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: FromSender) => {
        if (message.type === 'ready') {
          transport.endpoints = message.endpoints;
          transport.idle();
          resolve();
        } else if (message.type === 'failed') {
          // Logged here, and thrown by the next send or drain: a run that fails earlier for
          // another reason must not hide it.
          const error = Object.assign(new Error(`cannot open the UDP sockets: ${message.message}`), { code: message.code });
          transport.onClosed = () => {};
          transport.fail(error);
          reject(error);
        } else {
          transport.receive(message);
        }
      });
      worker.on('error', (error) => {
        transport.fail(error);
        reject(error);
      });
      worker.on('exit', (code) => {
        if (transport.onClosed !== undefined) {
          transport.onClosed();
          return;
        }
        const error = new Error(`the UDP sending thread stopped (exit code ${code})`);
        transport.fail(error);
        reject(error);
      });
    });
    transport.ready.catch(() => {});
    // The sockets open on the sending thread while this one starts reading; datagrams handed over
    // meanwhile wait in its queue. Only a capture needs the exporter's ports before the first one.
    if (options.onSent !== undefined) await transport.ready;
    return transport;
  }

  send(payload: Buffer, timeMs: number): void | Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.closing !== undefined) throw new Error('send on a closed UDP transport');
    let capture: Promise<void>[] | undefined;
    const onSent = this.options.onSent;
    if (onSent !== undefined) {
      for (let i = 0; i < this.collectors.length; i++) {
        const collector = this.collectors[i]!;
        const pending = onSent(payload, this.endpoints[i]!, { address: collector.address, port: collector.port }, timeMs);
        if (pending) (capture ??= []).push(pending);
      }
    }
    if (this.waiting.length === 0 && this.tryAppend(payload)) {
      if (capture !== undefined) return Promise.all(capture).then(() => undefined);
      return;
    }
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const appended = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.waiting.push({ payload, appended, resolve, reject });
    return capture === undefined ? appended : Promise.all([appended, ...capture]).then(() => undefined);
  }

  /** Copies the datagram into the open batch (posting a full one first); false when no buffer is free. */
  private tryAppend(payload: Buffer): boolean {
    if (this.batch !== undefined && this.batchLength + 2 + payload.length > this.batch.length) this.postBatch();
    if (this.batch === undefined && this.free.length === 0) return false;
    this.append(payload);
    return true;
  }

  /** A batch buffer came back: the datagrams that waited for one go in, in order. */
  private appendWaiting(): void {
    const waiting = this.waiting;
    while (waiting.length > 0 && this.tryAppend(waiting[0]!.payload)) waiting.shift()!.resolve();
  }

  private append(payload: Buffer): void {
    if (this.batch === undefined) {
      this.batch = new Uint8Array(this.free.pop()!);
      this.batchLength = 0;
      // A batch that does not fill up still leaves as soon as this thread has a moment.
      if (!this.postScheduled) {
        this.postScheduled = true;
        setImmediate(() => {
          this.postScheduled = false;
          this.postBatch();
        });
      }
    }
    const batch = this.batch;
    const at = this.batchLength;
    batch[at] = payload.length >>> 8;
    batch[at + 1] = payload.length;
    batch.set(payload, at + 2);
    this.batchLength = at + 2 + payload.length;
  }

  private postBatch(): void {
    const batch = this.batch;
    if (batch === undefined || this.failure !== undefined) return;
    this.batch = undefined;
    this.post({ type: 'batch', buffer: batch.buffer as ArrayBuffer, length: this.batchLength }, [batch.buffer as ArrayBuffer]);
  }

  async drain(): Promise<void> {
    await this.ready;
    // Datagrams still waiting for a buffer come before the drain.
    const last = this.waiting.at(-1);
    if (last !== undefined) await last.appended;
    if (this.failure !== undefined) throw this.failure;
    this.postBatch();
    const id = this.nextDrainId++;
    const drained = new Promise<void>((resolve, reject) => this.drains.set(id, { resolve, reject }));
    this.post({ type: 'drain', id });
    await drained;
  }

  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    try {
      await this.ready;
    } catch {
      // The sockets never opened; there is nothing to flush.
    }
    if (this.failure === undefined) {
      try {
        await this.drain();
      } catch {
        // Reported by the failure itself; closing goes on.
      }
    }
    if (this.failure !== undefined) {
      await this.worker.terminate();
      return;
    }
    const exited = new Promise<void>((resolve) => (this.onClosed = resolve));
    this.post({ type: 'close' });
    await exited;
  }

  private post(message: ToSender, transfer?: ArrayBuffer[]): void {
    // While anything is on its way, the thread keeps the process alive; idle, it must not.
    this.worker.ref();
    this.worker.postMessage(message, transfer);
  }

  private receive(message: FromSender): void {
    switch (message.type) {
      case 'log':
        this.options.logger.warn(message.fields, message.message);
        return;
      case 'returned':
        this.update(message);
        this.free.push(message.buffer);
        this.appendWaiting();
        break;
      case 'drained':
        this.update(message);
        this.drains.get(message.id)?.resolve();
        this.drains.delete(message.id);
        break;
      case 'closed':
      case 'counters':
        this.update(message);
        return;
    }
    this.idle();
  }

  private idle(): void {
    const inFlight = BATCHES_IN_FLIGHT - this.free.length - (this.batch === undefined ? 0 : 1);
    if (inFlight === 0 && this.drains.size === 0) this.worker.unref();
  }

  private update(counters: Counters): void {
    for (let i = 0; i < this.stats.length; i++) Object.assign(this.stats[i]!, counters.stats[i]);
    this.lastErrorMs = counters.lastErrorMs;
  }

  private fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
    for (const drain of this.drains.values()) drain.reject(error);
    this.drains.clear();
    this.options.logger.error({ err: error }, 'the UDP sending thread failed');
  }
}
