import type { Logger } from 'pino';
import type { EncodedMessage, FlowEncoder, FlowFormat } from './flow/flowEncoder.js';
import { FlowEnricher } from './enrich/flowEnricher.js';
import { DEFAULT_FLOW_TABLE_SIZE } from './enrich/flowStartTimes.js';
import { IpfixEncoder, IPFIX_DEFAULTS } from './ipfix/encoder.js';
import { NetflowV5Encoder } from './netflow/v5.js';
import { NetflowV9Encoder } from './netflow/v9.js';
import { ExportMetrics } from './metrics.js';
import { ProblemReporter } from './problemReporter.js';
import type { FlowBatch } from './sources/flowBatch.js';
import { resolveCollector, type CollectorAddress } from './transport/collectorAddress.js';
import type { DatagramSink } from './transport/datagramSink.js';
import { PcapWriter, type PcapEndpoint } from './transport/pcap.js';
import { ThreadedUdpTransport } from './transport/threadedUdp.js';
import type { CollectorStats } from './transport/udp.js';

/**
 * The composition root: source -> parse -> enrich -> encode -> transport, with acknowledgements
 * flowing back. Every command that exports builds one of these.
 */

export const DEFAULT_PORTS: Readonly<Record<FlowFormat, number>> = { ipfix: 4739, netflow9: 2055, netflow5: 2055 };

export interface ExportOptions {
  readonly format: FlowFormat;
  /** `HOST:PORT` strings as the user wrote them. */
  readonly collectors: readonly string[];
  readonly pcapPath?: string;
  readonly maxMessageSizeInBytes: number;
  /** Path MTU: a message must fit one unfragmented datagram. Default 1500. */
  readonly mtuInBytes: number;
  readonly biflow: 'split' | 'rfc5103';
  readonly enterpriseNumber: number;
  /** Forces every flow into one observation domain instead of one per NSG / flow log. */
  readonly observationDomainId?: number;
  readonly templateRefreshIntervalMs: number;
  readonly templateRefreshPackets: number;
  /** Datagrams per second per collector; 0 = unpaced. */
  readonly maxPacketsPerSecond: number;
  readonly socketBufferBytes: number;
  readonly flowTableSize: number;
  /** Export options records naming NICs and domains (IPFIX). */
  readonly optionsRecords: boolean;
  /** Wall clock, injectable so generated pcaps are reproducible. */
  readonly now?: () => number;
}

/**
 * 8,000 datagrams/s (about 110,000 records/s): nfcapd on the same 2-core machine with its default
 * receive buffer stored every record of a 1M-tuple replay in 8 runs of 8; at 10,000 it lost some in
 * 1 run of 5 (README, Performance figures).
 */
export const DEFAULT_MAX_PPS = 8_000;

export const EXPORT_DEFAULTS: Omit<ExportOptions, 'collectors'> = {
  format: 'ipfix',
  maxMessageSizeInBytes: IPFIX_DEFAULTS.maxMessageSizeInBytes,
  mtuInBytes: 1500,
  biflow: 'split',
  enterpriseNumber: IPFIX_DEFAULTS.enterpriseNumber,
  templateRefreshIntervalMs: IPFIX_DEFAULTS.templateRefreshIntervalMs,
  templateRefreshPackets: IPFIX_DEFAULTS.templateRefreshPackets,
  maxPacketsPerSecond: DEFAULT_MAX_PPS,
  socketBufferBytes: 4 * 1024 * 1024,
  flowTableSize: DEFAULT_FLOW_TABLE_SIZE,
  optionsRecords: false,
};

export class ConfigurationError extends Error {}

/** IP + UDP header bytes in front of a message: 20 + 8 for IPv4, 40 + 8 for IPv6. */
const HEADER_BYTES = { 4: 28, 6: 48 } as const;

/** After a send error, templates go out with every batch for this long. */
const TEMPLATE_RESEND_AFTER_ERROR_MS = 30_000;

/** Rows enriched and encoded at a time (see run). */
const ROWS_PER_STEP = 2048;

/** Source port written into pcap-only captures: fixed so captures are reproducible. */
const PCAP_ONLY_SOURCE_PORT = 50_000;

export class ExportPipeline {
  readonly metrics = new ExportMetrics();
  readonly problems: ProblemReporter;
  private readonly outbox: EncodedMessage[] = [];
  private readonly encoder: FlowEncoder;
  private readonly enricher: FlowEnricher;
  private readonly now: () => number;
  private closed = false;

  private constructor(
    readonly options: ExportOptions,
    private readonly sink: DatagramSink,
    readonly collectorStats: readonly CollectorStats[],
    private readonly logger: Logger,
  ) {
    this.problems = new ProblemReporter(logger.child({ stage: 'parse' }), this.metrics);
    this.now = options.now ?? Date.now;
    this.enricher = new FlowEnricher(options);
    this.encoder = createEncoder(options, (message) => this.outbox.push(message));
  }

  static async open(options: ExportOptions, logger: Logger): Promise<ExportPipeline> {
    if (options.collectors.length === 0 && options.pcapPath === undefined) {
      throw new ConfigurationError('nowhere to send flows: give --collector HOST:PORT and/or --pcap FILE');
    }
    const defaultPort = DEFAULT_PORTS[options.format];
    const collectors: CollectorAddress[] = [];
    for (const text of options.collectors) collectors.push(await resolveCollector(text, defaultPort));
    for (const collector of collectors) {
      const limit = options.mtuInBytes - HEADER_BYTES[collector.family];
      if (options.maxMessageSizeInBytes > limit) {
        throw new ConfigurationError(
          `--max-message-size ${options.maxMessageSizeInBytes} does not fit one unfragmented datagram to ${collector.label} (MTU ${options.mtuInBytes} allows ${limit}); lower it or set --mtu`,
        );
      }
    }
    const pcap = options.pcapPath === undefined ? undefined : await openPcap(options.pcapPath);
    let sink: DatagramSink;
    let stats: CollectorStats[] = [];
    if (collectors.length > 0) {
      const udp = await ThreadedUdpTransport.open(collectors, {
        maxPacketsPerSecond: options.maxPacketsPerSecond,
        socketBufferBytes: options.socketBufferBytes,
        logger: logger.child({ stage: 'transport' }),
        onSent: pcap === undefined ? undefined : (payload, source, destination, timeMs) => pcap.write(payload, source, destination, timeMs),
      });
      stats = udp.stats;
      sink = withPcapClose(udp, pcap);
    } else {
      sink = pcapOnlySink(pcap!, { address: '127.0.0.1', port: PCAP_ONLY_SOURCE_PORT }, { address: '127.0.0.1', port: defaultPort });
    }
    return new ExportPipeline(options, sink, stats, logger);
  }

  /**
   * Runs batches from a source through to the transport. Each batch is acknowledged only after
   * the datagrams built from it were handed to the socket (at-least-once).
   */
  async run(batches: AsyncIterable<FlowBatch>, signal?: AbortSignal): Promise<void> {
    const metrics = this.metrics;
    for await (const batch of batches) {
      const nowMs = this.now();
      // While a collector refuses datagrams (restarting, unreachable), every batch carries the
      // templates again, so it can decode data the moment it is back instead of dropping it
      // until the next scheduled refresh.
      if (this.sink.lastErrorMs > 0 && Date.now() - this.sink.lastErrorMs < TEMPLATE_RESEND_AFTER_ERROR_MS) this.encoder.refreshTemplates();
      const flows = batch.records;
      const times = flows.times;
      let newest = metrics.newestTupleMs;
      // A step of rows at a time through enrich and encode, then to the transport: the rows and
      // the messages made of them stay in the CPU cache, and the sender gets work early.
      for (let from = 0; from < flows.length; from += ROWS_PER_STEP) {
        const to = Math.min(flows.length, from + ROWS_PER_STEP);
        for (let i = from; i < to; i++) if (times[i]! > newest) newest = times[i]!;
        this.enricher.enrich(flows, from, to);
        this.encoder.addRows(flows, from, to, nowMs);
        if (this.outbox.length > 0) await this.sendOutbox(nowMs);
      }
      metrics.newestTupleMs = newest;
      metrics.tuples += flows.length;
      metrics.azureRecords += batch.azureRecords;
      metrics.inputBytes += batch.inputBytes;
      if (batch.ack !== undefined) {
        // A live source's batch must not sit in a half-filled message until more data comes.
        this.encoder.flush(nowMs);
        await this.sendOutbox(nowMs);
        await this.sink.drain();
        await batch.ack();
      } else {
        await this.sendOutbox(nowMs);
      }
      if (signal?.aborted) break;
    }
    const nowMs = this.now();
    this.encoder.flush(nowMs);
    await this.sendOutbox(nowMs);
    await this.sink.drain();
  }

  private async sendOutbox(nowMs: number): Promise<void> {
    const metrics = this.metrics;
    const outbox = this.outbox;
    for (let i = 0; i < outbox.length; i++) {
      const message = outbox[i]!;
      metrics.messages++;
      metrics.bytesSent += message.bytes.length;
      if (message.dataRecords === 0) metrics.templateMessages++;
      const pending = this.sink.send(message.bytes, nowMs);
      if (pending !== undefined) await pending;
    }
    outbox.length = 0;
    // The sink copied every message: the encoder writes the next ones over the same memory.
    this.encoder.reuseBuffers();
    metrics.exportedRecords = this.encoder.counters.flowRecords;
    metrics.optionsRecords = this.encoder.counters.optionsRecords;
    for (const [reason, count] of this.encoder.declined) {
      if (!metrics.declined.has(reason)) {
        this.logger.warn({ stage: 'encode', format: this.options.format, reason }, `${this.options.format} cannot carry some flows (${reason}): they are counted and skipped`);
      }
      metrics.declined.set(reason, count);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sink.close();
  }
}

function createEncoder(options: ExportOptions, emit: (message: EncodedMessage) => void): FlowEncoder {
  const refresh = {
    maxMessageSizeInBytes: options.maxMessageSizeInBytes,
    templateRefreshIntervalMs: options.templateRefreshIntervalMs,
    templateRefreshPackets: options.templateRefreshPackets,
    optionsRecords: options.optionsRecords,
  };
  if (options.format !== 'ipfix' && options.biflow === 'rfc5103') {
    throw new ConfigurationError(`--biflow rfc5103 needs IPFIX (RFC 5103 reverse elements); ${options.format} splits biflows into two records`);
  }
  switch (options.format) {
    case 'ipfix':
      return new IpfixEncoder(
        { ...refresh, biflow: options.biflow, enterpriseNumber: options.enterpriseNumber, describeDomains: options.observationDomainId === undefined },
        emit,
      );
    case 'netflow9':
      return new NetflowV9Encoder(refresh, emit);
    case 'netflow5':
      return new NetflowV5Encoder({ maxMessageSizeInBytes: options.maxMessageSizeInBytes }, emit);
  }
}

async function openPcap(path: string): Promise<PcapWriter> {
  try {
    return await PcapWriter.open(path);
  } catch (error) {
    throw new ConfigurationError(`cannot write pcap '${path}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function withPcapClose(udp: ThreadedUdpTransport, pcap: PcapWriter | undefined): DatagramSink {
  if (pcap === undefined) return udp;
  return {
    get lastErrorMs() {
      return udp.lastErrorMs;
    },
    send: (payload, timeMs) => udp.send(payload, timeMs),
    drain: () => udp.drain(),
    close: async () => {
      await udp.close();
      await pcap.close();
    },
  };
}

function pcapOnlySink(pcap: PcapWriter, source: PcapEndpoint, destination: PcapEndpoint): DatagramSink {
  return {
    lastErrorMs: 0,
    send: (payload, timeMs) => pcap.write(payload, source, destination, timeMs),
    drain: async () => {},
    close: () => pcap.close(),
  };
}
