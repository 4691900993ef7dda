import { createRequire } from 'node:module';
import type { Counter as CounterType, Gauge as GaugeType, Registry as RegistryType } from 'prom-client';
import { ExportMetrics } from '../metrics.js';
import type { CollectorStats } from '../transport/udp.js';
import { SourceHealth } from './sourceHealth.js';

const require = createRequire(import.meta.url);

/** One running source as /metrics sees it. */
export interface MonitoredSource {
  readonly name: string;
  readonly metrics: ExportMetrics;
  readonly collectors: () => readonly CollectorStats[];
  readonly health: SourceHealth;
}

/**
 * Prometheus metrics (prom-client) read from the counters the pipelines already keep: nothing
 * is counted twice, and the hot path never touches prom-client. Values are gathered on scrape.
 */
export class PrometheusMetrics {
  private readonly sources: MonitoredSource[] = [];
  private built: RegistryType | undefined;

  /**
   * Built on first use (the HTTP server asks for it when it starts): prom-client costs a tenth of
   * a second of start-up, which a replay without --http should not pay.
   */
  get registry(): RegistryType {
    this.built ??= this.buildRegistry();
    return this.built;
  }

  private buildRegistry(): RegistryType {
    const { collectDefaultMetrics, Counter, Gauge, Registry } = require('prom-client') as typeof import('prom-client');
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'nsg2ipfix_' });
    const sources = this.sources;
    const counter = (name: string, help: string, labelNames: string[], read: (add: (labels: Record<string, string>, value: number) => void) => void) =>
      new Counter({
        name,
        help,
        labelNames,
        registers: [registry],
        collect(this: CounterType) {
          this.reset();
          read((labels, value) => {
            if (value > 0) this.inc(labels, value);
          });
        },
      });
    const gauge = (name: string, help: string, labelNames: string[], read: (set: (labels: Record<string, string>, value: number) => void) => void) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        collect(this: GaugeType) {
          this.reset();
          read((labels, value) => this.set(labels, value));
        },
      });

    counter('nsg2ipfix_tuples_read_total', 'Valid flow tuples read from Azure flow logs', ['source'], (add) => {
      for (const s of sources) add({ source: s.name }, s.metrics.tuples);
    });
    counter('nsg2ipfix_azure_records_read_total', 'Azure flow log records read', ['source'], (add) => {
      for (const s of sources) add({ source: s.name }, s.metrics.azureRecords);
    });
    counter('nsg2ipfix_records_exported_total', 'Flow records encoded (a split biflow tuple counts twice)', ['source'], (add) => {
      for (const s of sources) add({ source: s.name }, s.metrics.exportedRecords);
    });
    counter('nsg2ipfix_template_messages_total', 'Messages carrying templates only', ['source'], (add) => {
      for (const s of sources) add({ source: s.name }, s.metrics.templateMessages);
    });
    counter('nsg2ipfix_skipped_total', 'Skipped input, by unit (tuple, record, declined) and reason', ['source', 'unit', 'reason'], (add) => {
      for (const s of sources) {
        for (const [reason, n] of s.metrics.skippedTuples) add({ source: s.name, unit: 'tuple', reason }, n);
        for (const [reason, n] of s.metrics.skippedRecords) add({ source: s.name, unit: 'record', reason }, n);
        for (const [reason, n] of s.metrics.declined) add({ source: s.name, unit: 'declined', reason }, n);
      }
    });
    counter('nsg2ipfix_fast_path_errors_total', 'Records the fast reader failed on (read the reference way instead; a bug to report)', ['source'], (add) => {
      for (const s of sources) add({ source: s.name }, s.metrics.fastPathErrors);
    });
    counter('nsg2ipfix_version1_tuples_total', 'Tuples of NSG flow logs of version 1 (no byte or packet counts: enable version 2)', ['source'], (add) => {
      for (const s of sources) add({ source: s.name }, s.metrics.overlap?.version1Tuples ?? 0);
    });
    gauge('nsg2ipfix_overlapping_nics', 'NICs logged by both an NSG flow log and a VNet flow log (counted twice unless --prefer)', ['source'], (set) => {
      for (const s of sources) set({ source: s.name }, s.metrics.overlap?.overlappingNics ?? 0);
    });
    counter('nsg2ipfix_packets_sent_total', 'Datagrams handed to the socket, per collector', ['source', 'collector'], (add) => {
      for (const s of sources) for (const c of s.collectors()) add({ source: s.name, collector: c.label }, c.datagrams);
    });
    counter('nsg2ipfix_bytes_sent_total', 'UDP payload bytes sent, per collector', ['source', 'collector'], (add) => {
      for (const s of sources) for (const c of s.collectors()) add({ source: s.name, collector: c.label }, c.bytes);
    });
    counter('nsg2ipfix_send_errors_total', 'Send errors (ECONNREFUSED, EHOSTUNREACH...), per collector', ['source', 'collector'], (add) => {
      for (const s of sources) for (const c of s.collectors()) add({ source: s.name, collector: c.label }, c.errors);
    });
    gauge('nsg2ipfix_source_lag_seconds', 'Age of the newest tuple exported (now - tuple time)', ['source'], (set) => {
      const now = Date.now();
      for (const s of sources) if (s.metrics.newestTupleMs > 0) set({ source: s.name }, (now - s.metrics.newestTupleMs) / 1000);
    });
    gauge('nsg2ipfix_checkpoint_age_seconds', 'Time since the source last wrote a checkpoint', ['source'], (set) => {
      const now = Date.now();
      for (const s of sources) if (s.health.lastCheckpointMs > 0) set({ source: s.name }, (now - s.health.lastCheckpointMs) / 1000);
    });
    gauge('nsg2ipfix_source_ready', '1 when the source is connected and polled or received recently', ['source'], (set) => {
      for (const s of sources) set({ source: s.name }, s.health.ready() ? 1 : 0);
    });
    return registry;
  }

  add(source: MonitoredSource): void {
    this.sources.push(source);
  }

  /**
   * Marks the source `name` stopped with `error` (its command ended): /readyz fails from now on
   * and says why. A source that failed before it was monitored gets an entry of its own.
   */
  stopped(name: string, error: string): void {
    let source = this.sources.find((s) => s.name === name);
    if (source === undefined) {
      source = { name, metrics: new ExportMetrics(), collectors: () => [], health: new SourceHealth(name, 0) };
      this.sources.push(source);
    }
    source.health.stopped(error);
  }

  get monitored(): readonly MonitoredSource[] {
    return this.sources;
  }
}
