import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { FlowColumns } from '../flow/flowColumns.js';
import type { CollectorAddress } from '../transport/collectorAddress.js';
import type { PcapEndpoint } from '../transport/pcap.js';
import type { CollectorStats } from '../transport/udp.js';
import { PcapWriteError } from '../transport/pcapWriter.js';
import { Nsg2ipfixError, UserError } from '../flow/errors.js';
import type { EncodingOptions } from './encoding.js';
import { exporterWorker } from './prestart.js';
import { BATCH_BYTES, type BatchObjects, BatchPacker, batchViews } from './rowBatch.js';

/** What the exporting thread is made of: plain data (it is copied to the thread). */
export interface ExportThreadSettings {
  readonly encoding: EncodingOptions;
  readonly collectors: readonly CollectorAddress[];
  /** Also (or only, without collectors) write every datagram to this pcap file. */
  readonly pcapPath?: string;
  /** The two ends a pcap-only capture shows. */
  readonly pcapOnlyEndpoints?: { readonly source: PcapEndpoint; readonly destination: PcapEndpoint };
  /** Datagrams per second per collector; 0 turns pacing off. */
  readonly maxPacketsPerSecond: number;
  /** SO_SNDBUF for each socket, bytes; 0 keeps the OS default. */
  readonly socketBufferBytes: number;
}

/** The exporting thread's counters, as they stood when it last reported. */
export interface ExportCounters {
  readonly messages: number;
  readonly bytesSent: number;
  readonly templateMessages: number;
  /** Flow data records written (a split biflow tuple counts twice). */
  readonly exportedRecords: number;
  readonly optionsRecords: number;
  /** Records the encoder declined (e.g. IPv6 in NetFlow v5), by reason. */
  readonly declined: readonly (readonly [string, number])[];
  readonly collectors: readonly CollectorStats[];
  /** Epoch ms of the latest send error on any collector; 0 if none. */
  readonly lastErrorMs: number;
}

/** Messages to the exporting thread. */
export type ToExporter =
  | { readonly type: 'start'; readonly settings: ExportThreadSettings }
  | {
      readonly type: 'rows';
      readonly buffer: ArrayBuffer;
      readonly rows: number;
      /** The contexts and named endpoints the rows point to for the first time. */
      readonly objects: BatchObjects;
      readonly nowMs: number;
    }
  | { readonly type: 'flush'; readonly id: number; readonly nowMs: number }
  | { readonly type: 'close'; readonly nowMs: number };

/** Messages from the exporting thread. */
export type FromExporter =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly stage: 'pcap' | 'udp' | 'export'; readonly message: string; readonly code: string | undefined }
  | { readonly type: 'log'; readonly fields: Record<string, unknown>; readonly message: string }
  | { readonly type: 'returned'; readonly buffer: ArrayBuffer; readonly counters: ExportCounters }
  | { readonly type: 'flushed'; readonly id: number; readonly counters: ExportCounters }
  | { readonly type: 'closed'; readonly counters: ExportCounters }
  | { readonly type: 'counters'; readonly counters: ExportCounters };

/**
 * The exporting thread failed for a reason that is not the user's (a bug): the message carries the
 * thread's stack. A pcap file that cannot be written is a PcapWriteError, sockets that cannot be
 * opened a UserError (code `collector-socket`): one line each.
 */
export class ExportThreadStartError extends Nsg2ipfixError {
  constructor(
    readonly stage: 'pcap' | 'udp' | 'export',
    message: string,
    /** The Node error code the thread reported (ENOSPC...), when there was one. */
    readonly systemCode: string | undefined,
  ) {
    super('export-thread', message);
  }
}

/**
 * Batch buffers on their way at once: the bound between the two threads (17 MB when all are out,
 * allocated as needed). Unpaced, it holds about one large record's rows (100,000 tuples): the
 * rows of a record come all at once when it is read, and a shorter queue left the exporting thread
 * idle while the next large record was parsed. Paced, the rate holds the parser back whatever the
 * depth, and a deeper queue would only keep more rows waiting (and a stop draining longer).
 */
const BATCHES_IN_FLIGHT = 64;
export const PACED_BATCHES_IN_FLIGHT = 16;

/**
 * The encode and transport stages, on a thread of their own. Parsing and enriching keep this
 * thread busy; encoding and the one system call per datagram (node:dgram has no sendmmsg) keep the
 * other one busy, so a replay uses both cores. Rows go over in batch buffers that are transferred,
 * not copied, and come back once every datagram made of them was handed to the sockets; at most
 * BATCHES_IN_FLIGHT are out, so a paced or stalled sender holds the parser back (bounded queue,
 * back-pressure). `flush` resolves only when every row submitted before it was encoded and every
 * datagram handed to the sockets, so acknowledgements keep their meaning.
 */
export class ExportThread {
  /** Per collector, as of the last report. */
  readonly collectorStats: CollectorStats[];
  counters: ExportCounters;
  private readonly free: ArrayBuffer[] = [];
  private allocatedBuffers = 0;
  private readonly maxBuffers: number;
  /** Submits waiting for a free batch buffer, in order. */
  private readonly waiting: { readonly take: (buffer: ArrayBuffer) => void; readonly reject: (error: Error) => void }[] = [];
  /** The latest submit that had to wait for a buffer. */
  private lastWaiting: Promise<void> | undefined;
  private readonly flushes = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  private readonly packer: BatchPacker;
  private nextFlushId = 1;
  private failure: Error | undefined;
  /** Resolves when the thread fails (see closeNow). */
  private readonly failed: Promise<void>;
  private onFailed: () => void = () => {};
  private closing: Promise<void> | undefined;
  private onClosed: (() => void) | undefined;
  /** Settles when the thread has its pcap file and sockets open (or could not open them). */
  private ready: Promise<void> = Promise.resolve();

  private constructor(
    private readonly worker: Worker,
    private readonly settings: ExportThreadSettings,
    private readonly logger: Logger,
    private readonly onCounters: (counters: ExportCounters) => void,
  ) {
    this.failed = new Promise<void>((resolve) => (this.onFailed = resolve));
    this.collectorStats = settings.collectors.map((c) => ({ label: c.label, datagrams: 0, bytes: 0, errors: 0, lastError: undefined }));
    this.counters = {
      messages: 0,
      bytesSent: 0,
      templateMessages: 0,
      exportedRecords: 0,
      optionsRecords: 0,
      declined: [],
      collectors: this.collectorStats,
      lastErrorMs: 0,
    };
    this.packer = new BatchPacker(settings.encoding.names !== undefined);
    this.maxBuffers = settings.maxPacketsPerSecond > 0 && settings.collectors.length > 0 ? PACED_BATCHES_IN_FLIGHT : BATCHES_IN_FLIGHT;
  }

  /**
   * Starts the thread. With a pcap file it waits until the file is open, so a bad path fails here
   * (ExportThreadStartError); the sockets open while the caller starts reading, and a failure to
   * open them comes out of the next submit or flush.
   */
  static async open(settings: ExportThreadSettings, logger: Logger, onCounters: (counters: ExportCounters) => void): Promise<ExportThread> {
    const worker = exporterWorker();
    const thread = new ExportThread(worker, settings, logger, onCounters);
    thread.post({ type: 'start', settings });
    thread.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: FromExporter) => {
        if (message.type === 'ready') {
          thread.idle();
          resolve();
        } else if (message.type === 'failed') {
          const error = thread.translate(message);
          thread.onClosed ??= () => {};
          thread.fail(error);
          reject(error);
        } else {
          thread.receive(message);
        }
      });
      worker.on('error', (error) => {
        thread.fail(error);
        reject(error);
      });
      worker.on('exit', (code) => {
        if (thread.onClosed !== undefined) {
          thread.onClosed();
          return;
        }
        const error = new Error(`the exporting thread stopped (exit code ${code})`);
        thread.fail(error);
        reject(error);
      });
    });
    thread.ready.catch(() => {});
    if (settings.pcapPath !== undefined) await thread.ready;
    return thread;
  }

  /**
   * Hands rows [from, to) of enriched flows (at most ROWS_PER_BATCH) to the thread. They are read
   * before this returns, or before its promise settles: a promise means all batch buffers are out
   * (back-pressure), and the caller must keep the rows until it settles.
   */
  submit(flows: FlowColumns, from: number, to: number, nowMs: number): void | Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.closing !== undefined) throw new Error('submit to a closed export thread');
    if (to <= from) return;
    if (this.waiting.length === 0) {
      if (this.free.length === 0 && this.allocatedBuffers < this.maxBuffers) {
        this.allocatedBuffers++;
        this.free.push(new ArrayBuffer(BATCH_BYTES));
      }
      const buffer = this.free.pop();
      if (buffer !== undefined) {
        this.postRows(buffer, flows, from, to, nowMs);
        return;
      }
    }
    const handed = new Promise<void>((resolve, reject) => {
      const take = (buffer: ArrayBuffer) => {
        try {
          this.postRows(buffer, flows, from, to, nowMs);
          resolve();
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      };
      this.waiting.push({ take, reject });
    });
    this.lastWaiting = handed;
    return handed;
  }

  private postRows(buffer: ArrayBuffer, flows: FlowColumns, from: number, to: number, nowMs: number): void {
    const objects = this.packer.pack(flows, from, to, batchViews(buffer));
    this.post({ type: 'rows', buffer, rows: to - from, objects, nowMs }, [buffer]);
  }

  /**
   * Sends the partly filled message too, and resolves once every row submitted so far was encoded
   * and every datagram made of them handed to the sockets (and the pcap file).
   */
  async flush(nowMs: number): Promise<void> {
    await this.ready;
    this.throwIfFailed();
    // Submits still waiting for a buffer come first: they are handed over in order, the last one last.
    if (this.waiting.length > 0) await this.lastWaiting?.catch(() => undefined);
    this.throwIfFailed();
    const id = this.nextFlushId++;
    const flushed = new Promise<void>((resolve, reject) => this.flushes.set(id, { resolve, reject }));
    this.post({ type: 'flush', id, nowMs });
    await flushed;
  }

  /** Flushes, closes the sockets and the pcap file, and ends the thread. */
  close(nowMs: number): Promise<void> {
    this.closing ??= this.closeNow(nowMs);
    return this.closing;
  }

  private async closeNow(nowMs: number): Promise<void> {
    try {
      await this.ready;
    } catch {
      // The thread never started; there is nothing to flush.
    }
    if (this.failure !== undefined) {
      await this.worker.terminate();
      return;
    }
    const exited = new Promise<void>((resolve) => (this.onClosed = resolve));
    this.post({ type: 'close', nowMs });
    // Writing out the last messages may fail too (a full disk): the thread then stays up.
    await Promise.race([exited, this.failed]);
    // Set meanwhile by the thread's report (TypeScript cannot see it across the await).
    const failure = this.failure as Error | undefined;
    if (failure !== undefined) {
      await this.worker.terminate();
      throw failure;
    }
  }

  private throwIfFailed(): void {
    const failure = this.failure;
    if (failure !== undefined) throw failure;
  }

  /** The error a failure report stands for, on this side of the thread boundary. */
  private translate(message: Extract<FromExporter, { type: 'failed' }>): Error {
    if (message.stage === 'pcap') return new PcapWriteError(this.settings.pcapPath ?? '(pcap)', message.code);
    if (message.stage === 'udp') return new UserError(message.message, { code: 'collector-socket' });
    return new ExportThreadStartError(message.stage, message.message, message.code);
  }

  private post(message: ToExporter, transfer?: ArrayBuffer[]): void {
    // While anything is on its way, the thread keeps the process alive; idle, it must not.
    this.worker.ref();
    this.worker.postMessage(message, transfer);
  }

  private receive(message: FromExporter): void {
    switch (message.type) {
      case 'log':
        this.logger.warn(message.fields, message.message);
        return;
      case 'returned': {
        this.update(message.counters);
        const next = this.waiting.shift();
        if (next !== undefined) next.take(message.buffer);
        else this.free.push(message.buffer);
        break;
      }
      case 'flushed':
        this.update(message.counters);
        this.flushes.get(message.id)?.resolve();
        this.flushes.delete(message.id);
        break;
      case 'closed':
      case 'counters':
        this.update(message.counters);
        return;
      default:
        return;
    }
    this.idle();
  }

  private idle(): void {
    if (this.free.length === this.allocatedBuffers && this.flushes.size === 0) this.worker.unref();
  }

  private update(counters: ExportCounters): void {
    this.counters = counters;
    for (let i = 0; i < this.collectorStats.length; i++) Object.assign(this.collectorStats[i]!, counters.collectors[i]);
    this.onCounters(counters);
  }

  private fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
    for (const flush of this.flushes.values()) flush.reject(error);
    this.flushes.clear();
    this.onFailed();
    // A user's error is reported once, as the command's one line; a bug is logged here too.
    if (!(error instanceof UserError)) this.logger.error({ err: error }, 'the exporting thread failed');
  }
}
