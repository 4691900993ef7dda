import { Command } from 'commander';
import type { Logger } from 'pino';
import type { SourceHealth } from '../observability/sourceHealth.js';
import { ExportPipeline } from '../pipeline.js';
import { ParseCache } from '../azure/parseCache.js';
import type { FlowBatch } from '../sources/flowBatch.js';
import { listFlowLogFiles, readFlowLogFile, type FlowLogFile, type SkippedInput } from '../sources/files.js';
import type { ExportMetrics } from '../metrics.js';
import { addExportingCommandOptions, exportOptionsFrom, type ExportFlags } from './exportOptions.js';
import { startProgress } from './progress.js';
import { reportSummary, summarize, type ExportSummary } from './summary.js';
import { UsageError } from './usageError.js';
import { currentSourceName, monitorSource, withServiceRuntime, type ServiceRuntime } from './serviceRuntime.js';

interface ReplayFlags extends ExportFlags {
  summaryJson?: string;
  quiet?: boolean;
  http?: string;
}

export interface ReplayResult {
  readonly summary: ExportSummary;
  /** Inputs skipped because they could not be listed or read, each logged once. */
  readonly unreadable: readonly SkippedInput[];
}

/** Replays flow log files through one pipeline; the CLI action and the demo both use it. */
export async function replayFiles(
  paths: readonly string[],
  flags: ExportFlags,
  logger: Logger,
  options: { progress: boolean; now?: () => number; runtime?: ServiceRuntime },
): Promise<ReplayResult> {
  const unreadable: SkippedInput[] = [];
  const skip = (input: SkippedInput): void => {
    unreadable.push(input);
    logger.error({ file: input.path, code: input.code }, `skipped: ${input.reason}`);
  };
  const files = await listFlowLogFiles(paths, skip);
  if (files.length === 0) {
    const first = unreadable[0];
    throw new UsageError(`no *.json flow log files found in ${paths.join(', ')}${first === undefined ? '' : ` (skipped ${first.path}: ${first.reason})`}`);
  }
  const pipeline = await ExportPipeline.open(exportOptionsFrom(flags, options.now), logger);
  // What the file heads say of NICs, known before their tuples come: --prefer then keeps one kind
  // from a NIC's first tuple on, whichever file comes first.
  for (const file of files) for (const mac of file.nics?.macs ?? []) pipeline.overlap.know(mac, file.nics!.kind, file.nics!.resourceId);
  const started = performance.now();
  const totalBytes = files.reduce((sum, f) => sum + f.bytes, 0);
  const stopProgress = startProgress(pipeline.metrics, totalBytes, files.length, options.progress);
  const runtime = options.runtime;
  // A replay is "ready" while it reads: every batch counts as a successful read.
  const health = runtime === undefined ? undefined : monitorSource(runtime, currentSourceName('replay'), pipeline, 60_000);
  health?.succeeded();
  try {
    await pipeline.run(batchesFrom(files, pipeline, logger, skip, health), runtime?.signal);
  } finally {
    stopProgress();
    await pipeline.close();
  }
  const summary = summarize(pipeline.metrics, pipeline.collectorStats, performance.now() - started, flags.pcap);
  logger.info({ ...summary }, 'replay finished');
  return { summary, unreadable };
}

async function* batchesFrom(
  files: readonly FlowLogFile[],
  pipeline: ExportPipeline,
  logger: Logger,
  skip: (input: SkippedInput) => void,
  health?: SourceHealth,
): AsyncGenerator<FlowBatch> {
  const metrics: ExportMetrics = pipeline.metrics;
  // One cache for every file: the contexts of an NSG repeat from hour to hour.
  const cache = new ParseCache();
  for (const file of files) {
    logger.debug({ file: file.path, bytes: file.bytes }, 'replaying file');
    try {
      for await (const batch of readFlowLogFile(file.fsPath, pipeline.problems, { label: file.path, cache })) {
        health?.succeeded();
        yield batch;
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      skip({ path: file.path, code, reason: `cannot read file: ${code}` });
    }
    metrics.filesRead++;
  }
}

export function replayCommand(): Command {
  const command = new Command('replay')
    .description('replay downloaded flow log files (PT1H.json, directories recursed for *.json) to collectors, in time order')
    .argument('<paths...>', 'files or directories of NSG / VNet flow logs');
  command.option('--state-dir <dir>', 'where --enrich-azure keeps its snapshot of names (a replay of old logs then works offline)', 'nsg2ipfix-state');
  addExportingCommandOptions(command, [
    'nsg2ipfix replay ./logs --collector 127.0.0.1:4739',
    'nsg2ipfix replay PT1H.json --collector [::1]:4739 --biflow rfc5103 --pcap out.pcap',
    'nsg2ipfix replay ./logs --pcap flows.pcap',
    'nsg2ipfix replay ./logs --enrich-file names.json --prefer vnet --dedup -c 127.0.0.1:4739',
  ]);
  command.action(async (paths: string[], flags: ReplayFlags) => {
    const { summary, unreadable } = await withServiceRuntime(flags, (runtime) =>
      replayFiles(paths, flags, runtime.logger, { progress: !flags.quiet, runtime }),
    );
    await reportSummary(summary, flags);
    if (unreadable.length > 0) {
      const first = unreadable[0]!;
      throw new UsageError(
        `${unreadable.length} input${unreadable.length === 1 ? '' : 's'} could not be read, the rest was replayed (first: ${first.path}: ${first.reason})`,
      );
    }
  });
  return command;
}
