import { createSocket, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import type { CollectorAddress } from './collectorAddress.js';
import type { DatagramSink } from './datagramSink.js';
import { Pacer, sleep } from './pacer.js';
import type { PcapEndpoint } from './pcap.js';

export interface UdpTransportOptions {
  /** Datagrams per second per collector; 0 turns pacing off. */
  readonly maxPacketsPerSecond: number;
  /** SO_SNDBUF for each socket, bytes; 0 keeps the OS default. */
  readonly socketBufferBytes: number;
  readonly logger: Logger;
  /** Called with each datagram actually handed to a socket, with both ends (for --pcap). */
  readonly onSent?: (payload: Buffer, source: PcapEndpoint, destination: PcapEndpoint, timeMs: number) => void | Promise<void>;
}

export interface CollectorStats {
  readonly label: string;
  datagrams: number;
  bytes: number;
  errors: number;
  lastError: string | undefined;
}

/** Datagrams handed to libuv but not yet confirmed: beyond this the sender waits. */
const MAX_IN_FLIGHT = 512;
/** Repeated send errors are logged at most this often per collector. */
const ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * UDP export to one or more collectors with node:dgram. One long-lived socket per address family,
 * bound once, so every collector sees one stable exporter address and port (collectors key
 * templates by it). Send errors (ECONNREFUSED while a collector restarts, EHOSTUNREACH...) are
 * counted and logged, never fatal: UDP export must outlive its collectors.
 */
export class UdpTransport implements DatagramSink {
  readonly stats: CollectorStats[];
  private readonly sockets = new Map<4 | 6, Socket>();
  private readonly pacer: Pacer;
  private inFlight = 0;
  private drainWaiters: (() => void)[] = [];
  private readonly lastErrorLogMs: number[];
  private closed = false;

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
    for (const family of new Set(collectors.map((c) => c.family))) {
      const socket = createSocket({ type: family === 4 ? 'udp4' : 'udp6', sendBufferSize: options.socketBufferBytes || undefined });
      socket.on('error', (error) => options.logger.warn({ err: error, family }, 'UDP socket error'));
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ port: 0, address: family === 4 ? '0.0.0.0' : '::' }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      socket.unref();
      transport.sockets.set(family, socket);
    }
    return transport;
  }

  /** The exporter end of each collector's conversation, as a capture would show it. */
  localEndpoint(collector: CollectorAddress): PcapEndpoint {
    const socket = this.sockets.get(collector.family)!;
    return { address: sourceAddressFor(collector), port: socket.address().port };
  }

  send(payload: Buffer, timeMs: number): void | Promise<void> {
    if (this.closed) throw new Error('send on a closed UDP transport');
    const wait = this.pacer.delayFor();
    if (wait > 0) return sleep(wait).then(() => this.sendNow(payload, timeMs));
    return this.sendNow(payload, timeMs);
  }

  private sendNow(payload: Buffer, timeMs: number): void | Promise<void> {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < this.collectors.length; i++) {
      const collector = this.collectors[i]!;
      const socket = this.sockets.get(collector.family)!;
      this.inFlight++;
      const stats = this.stats[i]!;
      socket.send(payload, collector.port, collector.address, (error) => {
        this.inFlight--;
        if (error) this.recordError(i, error);
        else {
          stats.datagrams++;
          stats.bytes += payload.length;
        }
        if (this.inFlight === 0 || this.inFlight < MAX_IN_FLIGHT / 2) this.wakeDrainWaiters();
      });
      const capture = this.options.onSent?.(payload, this.localEndpoint(collector), { address: collector.address, port: collector.port }, timeMs);
      if (capture) pending.push(capture);
    }
    if (this.inFlight >= MAX_IN_FLIGHT) pending.push(this.waitForRoom(MAX_IN_FLIGHT / 2));
    if (pending.length > 0) return Promise.all(pending).then(() => undefined);
  }

  private recordError(index: number, error: NodeJS.ErrnoException): void {
    const stats = this.stats[index]!;
    stats.errors++;
    stats.lastError = error.code ?? error.message;
    const now = Date.now();
    if (now - this.lastErrorLogMs[index]! >= ERROR_LOG_INTERVAL_MS) {
      this.lastErrorLogMs[index] = now;
      this.options.logger.warn({ collector: stats.label, code: error.code, errors: stats.errors }, 'sending to collector failed; continuing');
    }
  }

  private waitForRoom(limit: number): Promise<void> {
    if (this.inFlight <= limit) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }

  async drain(): Promise<void> {
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.drain();
    this.closed = true;
    await Promise.all([...this.sockets.values()].map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }
}

/** The source address the kernel will most likely pick, for capture framing only. */
function sourceAddressFor(collector: CollectorAddress): string {
  const loopback = collector.family === 4 ? collector.address.startsWith('127.') : collector.address === '::1';
  if (loopback) return collector.family === 4 ? '127.0.0.1' : '::1';
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (!a.internal && (a.family === 'IPv4' ? 4 : 6) === collector.family && !a.address.startsWith('fe80')) return a.address;
    }
  }
  return collector.family === 4 ? '0.0.0.0' : '::';
}
