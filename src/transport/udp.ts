import { createSocket, type Socket } from 'node:dgram';
import { CollectorAddressError, type CollectorAddress } from './collectorAddress.js';
import { sleep } from '../flow/sleep.js';
import { Pacer } from './pacer.js';
import type { PcapEndpoint } from './pcap.js';

/** What the transport logs through: a pino logger, or the exporting thread's relay to one. */
export interface WarningLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface UdpTransportOptions {
  /** Datagrams per second per collector; 0 turns pacing off. */
  readonly maxPacketsPerSecond: number;
  /** SO_SNDBUF for each socket, bytes; 0 keeps the OS default. */
  readonly socketBufferBytes: number;
  readonly logger: WarningLogger;
  /** Called after each counted send error (the exporting thread reports its counters then). */
  readonly onError?: () => void;
}

export interface CollectorStats {
  readonly label: string;
  datagrams: number;
  bytes: number;
  errors: number;
  lastError: string | undefined;
}

/** Datagrams queued in libuv (not yet accepted by the kernel): beyond this the sender waits. */
const MAX_QUEUED = 512;
/** Every this many datagrams, a send carries a callback that hears send errors (see sendNow). */
const CHECKED_SEND_INTERVAL = 16;
/** After a send error, every send carries one for this long. */
const CHECK_EVERY_SEND_AFTER_ERROR_MS = 30_000;
/** Repeated send errors are logged at most this often per collector. */
const ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * UDP export to one or more collectors with node:dgram. Every collector of an address family is
 * sent from the same local port, bound once, so collectors see one stable exporter (they key
 * templates by its address and port). Each collector has its own connected socket on that port
 * (SO_REUSEADDR), because only a connected UDP socket hears ICMP port-unreachable: send errors
 * (ECONNREFUSED while a collector restarts, EHOSTUNREACH...) are counted and logged, never fatal.
 * UDP export must outlive its collectors, and a failing collector never holds up the others.
 */
export class UdpTransport {
  readonly stats: CollectorStats[];
  /** One connected socket per collector; those of one address family share one local port. */
  private readonly sockets: Socket[] = [];
  private readonly endpoints: PcapEndpoint[] = [];
  private readonly onSendDone: ((error: Error | null) => void)[] = [];
  private readonly pacer: Pacer;
  private readonly lastErrorLogMs: number[];
  private closed = false;
  private sends = 0;
  lastErrorMs = 0;

  private constructor(
    private readonly collectors: readonly CollectorAddress[],
    private readonly options: UdpTransportOptions,
  ) {
    this.pacer = new Pacer(options.maxPacketsPerSecond);
    this.stats = collectors.map((c) => ({ label: c.label, datagrams: 0, bytes: 0, errors: 0, lastError: undefined }));
    this.lastErrorLogMs = collectors.map(() => -Infinity);
  }

  static async open(collectors: readonly CollectorAddress[], options: UdpTransportOptions): Promise<UdpTransport> {
    const transport = new UdpTransport(collectors, options);
    const portByFamily = new Map<4 | 6, number>();
    try {
      for (let i = 0; i < collectors.length; i++) {
        const collector = collectors[i]!;
        const socket = createSocket({
          type: collector.family === 4 ? 'udp4' : 'udp6',
          reuseAddr: true,
          sendBufferSize: options.socketBufferBytes || undefined,
        });
        transport.sockets.push(socket);
        // ICMP "port unreachable" comes back as an 'error' event on a connected socket: count it.
        socket.on('error', (error: NodeJS.ErrnoException) => transport.recordError(i, error));
        transport.onSendDone.push((error) => {
          if (error) transport.recordError(i, error);
        });
        await bindSocket(socket, collector.family, portByFamily.get(collector.family) ?? 0);
        portByFamily.set(collector.family, socket.address().port);
        await connectSocket(socket, collector);
        socket.unref();
        transport.endpoints.push(localEndpointOf(socket, collector));
      }
    } catch (error) {
      await transport.close();
      throw error;
    }
    return transport;
  }

  /** The exporter end of a collector's conversation, as a capture would show it. */
  localEndpoint(index: number): PcapEndpoint {
    return this.endpoints[index]!;
  }

  /**
   * Hands one datagram to every collector's socket; a promise means: wait (pacing, full queue).
   * `lastOfBurst`: no send follows soon, so this one must hear an error the previous provoked.
   */
  send(payload: Buffer, lastOfBurst = false): void | Promise<void> {
    if (this.closed) throw new Error('send on a closed UDP transport');
    const wait = this.pacer.delayFor();
    if (wait > 0) return sleep(wait).then(() => this.sendNow(payload, lastOfBurst));
    return this.sendNow(payload, lastOfBurst);
  }

  private sendNow(payload: Buffer, lastOfBurst: boolean): void | Promise<void> {
    let queued = 0;
    // A send callback costs a nextTick per datagram, a third of the time spent sending, and
    // Node reports a send error (ECONNREFUSED after an ICMP unreachable) only to a callback. So
    // every CHECKED_SEND_INTERVAL-th send carries one, and every send does while errors are
    // recent, and so does the last of a burst; the error that one provokes reaches the socket's
    // 'error' event. A collector going away is noticed within a burst and counted exactly from then
    // on; the few datagrams refused before that are counted as sent, not as errors.
    const checked =
      lastOfBurst || ++this.sends % CHECKED_SEND_INTERVAL === 0 || (this.lastErrorMs !== 0 && Date.now() - this.lastErrorMs < CHECK_EVERY_SEND_AFTER_ERROR_MS);
    for (let i = 0; i < this.collectors.length; i++) {
      const socket = this.sockets[i]!;
      const stats = this.stats[i]!;
      stats.datagrams++;
      stats.bytes += payload.length;
      if (!checked) {
        socket.send(payload);
        continue;
      }
      socket.send(payload, this.onSendDone[i]);
      // The libuv queue grows by at most CHECKED_SEND_INTERVAL datagrams between two looks.
      queued = Math.max(queued, socket.getSendQueueCount());
    }
    if (queued >= MAX_QUEUED) return this.waitForQueue(MAX_QUEUED / 2);
  }

  /** Waits until no socket has more than `limit` datagrams queued in libuv. */
  private async waitForQueue(limit: number): Promise<void> {
    while (this.sockets.some((socket) => socket.getSendQueueCount() > limit)) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  private recordError(index: number, error: NodeJS.ErrnoException): void {
    const stats = this.stats[index]!;
    this.lastErrorMs = Date.now();
    stats.errors++;
    stats.lastError = error.code ?? error.message;
    const now = Date.now();
    if (now - this.lastErrorLogMs[index]! >= ERROR_LOG_INTERVAL_MS) {
      this.lastErrorLogMs[index] = now;
      this.options.logger.warn({ collector: stats.label, code: error.code, errors: stats.errors }, 'sending to collector failed; continuing');
    }
    this.options.onError?.();
  }

  async drain(): Promise<void> {
    await this.waitForQueue(0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.drain();
    // An error the last datagrams provoked (ICMP unreachable) is pending on its socket: let one
    // turn of the event loop poll the sockets so it is counted before they close.
    for (let turn = 0; turn < 2; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
    this.closed = true;
    await Promise.all(this.sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }
}

/** After connect() the kernel has chosen the source address: the one the collector sees. */
function localEndpointOf(socket: Socket, collector: CollectorAddress): PcapEndpoint {
  const local = socket.address();
  const unspecified = local.address === '0.0.0.0' || local.address === '::';
  return { address: unspecified ? (collector.family === 4 ? '127.0.0.1' : '::1') : local.address, port: local.port };
}

/**
 * connect() of a UDP socket sends nothing; it fails when there is no route to the collector
 * (ENETUNREACH, a link-local address on the wrong interface) or it is a broadcast address (EACCES).
 * Node hands that error to the callback, not to 'error': unchecked, every send would fail later.
 */
function connectSocket(socket: Socket, collector: CollectorAddress): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    socket.connect(collector.port, collector.address, (error?: Error) => {
      if (error === undefined || error === null) resolve();
      else reject(new CollectorAddressError(`collector '${collector.label}': cannot send to it (${(error as NodeJS.ErrnoException).code ?? error.message})`));
    });
  });
}

function bindSocket(socket: Socket, family: 4 | 6, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address: family === 4 ? '0.0.0.0' : '::' }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}
