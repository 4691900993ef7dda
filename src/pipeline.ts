import type { Logger } from 'pino';
import type { FlowFormat } from './flow/flowEncoder.js';
import { FlowEnricher } from './enrich/flowEnricher.js';
import { FlowOverlap, type OverlapEvents, type PreferredLog } from './enrich/overlap.js';
import { DEFAULT_FLOW_TABLE_SIZE } from './enrich/flowStartTimes.js';
import { encodingProblem } from './exporter/encoding.js';
import { type ExportCounters, ExportThread } from './exporter/exportThread.js';
import type { Enrichment, EnrichmentOptions } from './enrichment.js';
import { ROWS_PER_BATCH } from './exporter/rowBatch.js';
import { IPFIX_DEFAULTS } from './ipfix/encoder.js';
import { ExportMetrics } from './metrics.js';
import { ProblemReporter } from './problemReporter.js';
import type { FlowBatch } from './sources/flowBatch.js';
import { resolveCollector, type CollectorAddress } from './transport/collectorAddress.js';
import type { CollectorStats } from './transport/udp.js';
import { UserError } from './userError.js';

/**
 * The composition root: source -> parse -> enrich on this thread, then encode -> transport on the
 * exporting thread (exporter/), with acknowledgements flowing back. Every command that exports
 * builds one of these.
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
  /**
   * Export options records naming NICs and domains. Undefined: on with enrichment (names reach
   * nfdump and Wireshark through them), off without (nfdump 1.7 counts them as sequence errors).
   */
  readonly optionsRecords?: boolean;
  /** Azure names of flow endpoints; absent: none. */
  readonly enrichment?: EnrichmentOptions;
  /** For NICs logged by both an NSG flow log and a VNet flow log, keep only this kind's tuples. */
  readonly prefer?: PreferredLog;
  /** Export a tuple two NSGs logged for one NIC once. */
  readonly dedup?: boolean;
  readonly dedupWindowMs?: number;
  /** Wall clock, injectable so generated pcaps are reproducible. */
  readonly now?: () => number;
}

/**
 * 8,000 datagrams/s (about 110,000 records/s): nfcapd on the same 2-core machine with its default
 * receive buffer stored every record of a 1M-tuple replay in 8 runs of 8; at 10,000 it lost some in
 * 1 run of 5 (docs/performance.md).
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
};

export class ConfigurationError extends UserError {}

/** IP + UDP header bytes in front of a message: 20 + 8 for IPv4, 40 + 8 for IPv6. */
const HEADER_BYTES = { 4: 28, 6: 48 } as const;

/** Source port written into pcap-only captures: fixed so captures are reproducible. */
const PCAP_ONLY_SOURCE_PORT = 50_000;

export class ExportPipeline {
  readonly metrics = new ExportMetrics();
  readonly problems: ProblemReporter;
  private readonly enricher: FlowEnricher;
  /** Version-1 logs, NICs logged twice, tuples logged twice (enrich/overlap.ts). */
  readonly overlap: FlowOverlap;
  private readonly now: () => number;
  private closed = false;

  private constructor(
    readonly options: ExportOptions,
    private readonly exporter: ExportThread,
    private readonly logger: Logger,
    private readonly enrichment: Enrichment | undefined,
  ) {
    this.problems = new ProblemReporter(logger.child({ stage: 'parse' }), this.metrics);
    this.now = options.now ?? Date.now;
    this.enricher = new FlowEnricher({ ...options, ...(enrichment === undefined ? {} : { names: enrichment }) });
    this.overlap = new FlowOverlap(
      {
        ...(options.prefer === undefined ? {} : { prefer: options.prefer }),
        dedup: options.dedup === true,
        ...(options.dedupWindowMs === undefined ? {} : { dedupWindowMs: options.dedupWindowMs }),
      },
      overlapWarnings(logger.child({ stage: 'enrich' })),
    );
    this.metrics.overlap = this.overlap.counters;
  }

  /** Per collector: datagrams, bytes and send errors, as of the exporting thread's last report. */
  get collectorStats(): readonly CollectorStats[] {
    return this.exporter.collectorStats;
  }

  static async open(options: ExportOptions, logger: Logger): Promise<ExportPipeline> {
    if (options.collectors.length === 0 && options.pcapPath === undefined) {
      throw new ConfigurationError('nowhere to send flows: give --collector HOST:PORT and/or --pcap FILE');
    }
    const encoding = {
      format: options.format,
      maxMessageSizeInBytes: options.maxMessageSizeInBytes,
      biflow: options.biflow,
      enterpriseNumber: options.enterpriseNumber,
      templateRefreshIntervalMs: options.templateRefreshIntervalMs,
      templateRefreshPackets: options.templateRefreshPackets,
      optionsRecords: options.optionsRecords ?? options.enrichment !== undefined,
      describeDomains: options.observationDomainId === undefined,
      ...(options.enrichment === undefined ? {} : { names: options.enrichment.encoding }),
    };
    const problem = encodingProblem(encoding);
    if (problem !== undefined) throw new ConfigurationError(problem);
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
    // Names first: a bad enrichment file or a missing role stops the command before anything is sent.
    // Loaded only when names are asked for: a plain replay does not pay for the name sources' modules.
    const enrichment =
      options.enrichment === undefined ? undefined : await (await import('./enrichment.js')).startEnrichment(options.enrichment.spec, { logger });
    // The counters arrive before the pipeline exists: they are copied in once it does.
    const built: { pipeline?: ExportPipeline; early?: ExportCounters } = {};
    let exporter: ExportThread;
    try {
      exporter = await ExportThread.open(
        {
          encoding,
          collectors,
          ...(options.pcapPath === undefined ? {} : { pcapPath: options.pcapPath }),
          pcapOnlyEndpoints: { source: { address: '127.0.0.1', port: PCAP_ONLY_SOURCE_PORT }, destination: { address: '127.0.0.1', port: defaultPort } },
          maxPacketsPerSecond: options.maxPacketsPerSecond,
          socketBufferBytes: options.socketBufferBytes,
        },
        logger.child({ stage: 'transport' }),
        (counters) => {
          if (built.pipeline === undefined) built.early = counters;
          else built.pipeline.count(counters);
        },
      );
    } catch (error) {
      await enrichment?.stop();
      throw error;
    }
    const pipeline = new ExportPipeline(options, exporter, logger, enrichment);
    built.pipeline = pipeline;
    if (built.early !== undefined) pipeline.count(built.early);
    return pipeline;
  }

  /**
   * Runs batches from a source through to the transport. Each batch is acknowledged only after
   * the datagrams built from it were handed to the socket (at-least-once).
   */
  async run(batches: AsyncIterable<FlowBatch>, signal?: AbortSignal): Promise<void> {
    const metrics = this.metrics;
    for await (const batch of batches) {
      const nowMs = this.now();
      const flows = batch.records;
      metrics.tuples += flows.length;
      if (flows.length > 0 && this.overlap.filter(flows) > 0) this.countOverlap();
      const times = flows.times;
      let newest = metrics.newestTupleMs;
      // A batch buffer of rows at a time: enriched here, then encoded and sent by the exporting
      // thread while this one goes on with the next.
      for (let from = 0; from < flows.length; from += ROWS_PER_BATCH) {
        const to = Math.min(flows.length, from + ROWS_PER_BATCH);
        for (let i = from; i < to; i++) if (times[i]! > newest) newest = times[i]!;
        this.enricher.enrich(flows, from, to);
        const handed = this.exporter.submit(flows, from, to, nowMs);
        if (handed !== undefined) await handed;
      }
      metrics.newestTupleMs = newest;
      metrics.azureRecords += batch.azureRecords;
      metrics.inputBytes += batch.inputBytes;
      if (batch.ack !== undefined) {
        // A live source's batch must not sit in a half-filled message until more data comes.
        await this.exporter.flush(nowMs);
        await batch.ack();
      }
      if (signal?.aborted) break;
    }
    await this.exporter.flush(this.now());
  }

  /** The rows the overlap stage took out, among the declined ones. */
  private countOverlap(): void {
    const { declinedByPreference, duplicates } = this.overlap.counters;
    if (declinedByPreference > 0) this.metrics.declined.set(`prefer-${this.options.prefer}`, declinedByPreference);
    if (duplicates > 0) this.metrics.declined.set('duplicate', duplicates);
  }

  /** Takes over the exporting thread's counters. */
  private count(counters: ExportCounters): void {
    const metrics = this.metrics;
    metrics.messages = counters.messages;
    metrics.bytesSent = counters.bytesSent;
    metrics.templateMessages = counters.templateMessages;
    metrics.exportedRecords = counters.exportedRecords;
    metrics.optionsRecords = counters.optionsRecords;
    for (const [reason, count] of counters.declined) {
      if (!metrics.declined.has(reason)) {
        this.logger.warn(
          { stage: 'encode', format: this.options.format, reason },
          `${this.options.format} cannot carry some flows (${reason}): they are counted and skipped`,
        );
      }
      metrics.declined.set(reason, count);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.exporter.close(this.now());
    } finally {
      await this.enrichment?.stop();
    }
  }
}

/**
 * The warnings of the overlap stage: once per NSG and per NIC, each with the fix (VNet flow logs
 * replace NSG flow logs, which can no longer be created since 2025-06-30 and retire 2027-09-30).
 */
function overlapWarnings(logger: Logger): OverlapEvents {
  return {
    version1(resourceId) {
      logger.warn(
        {
          resourceId,
          fix: `az network watcher flow-log update --location <region> --name <flow log> --log-version 2 (or replace it with a VNet flow log: az network watcher flow-log create --vnet <vnet id> --log-version 2 ...)`,
        },
        'NSG flow log of version 1: its tuples carry no byte or packet counts (collectors show 0); enable version 2',
      );
    },
    overlap(mac, nsgResourceId, vnetResourceId) {
      logger.warn(
        {
          mac,
          nsgResourceId,
          vnetResourceId,
          fix: 'keep one: --prefer vnet (or nsg) here, or disable the NSG flow log (Microsoft: disable NSG flow logs before enabling VNet flow logs on the same workloads)',
        },
        'NIC logged by both an NSG flow log and a VNet flow log: without --prefer, collectors count its bytes twice',
      );
    },
  };
}
