import { Command } from 'commander';
import { ExportPipeline } from '../pipeline.js';
import { DEFAULT_MAX_BLOB_FAILURES } from '../sources/blobFailures.js';
import { BlobSource, parseStartAt } from '../sources/blobSource.js';
import { DEFAULT_READ_CONCURRENCY } from '../sources/concurrentJobs.js';
import { BlobStateStore, DEFAULT_STATE_BLOB_NAME } from '../state/blobStateStore.js';
import { FileStateStore } from '../state/fileStateStore.js';
import type { StateStore } from '../state/sourceState.js';
import { addBlobAccountOptions, blobAccountOptions, blobContainers, blobFilters, type BlobAccountFlags } from './blobAccountOptions.js';
import { addExportingCommandOptions, exportOptionsFrom, integerOption, startAt, type ExportFlags } from './exportOptions.js';
import { addStateStoreOptions, checkStateStoreFlags } from './stateStoreOptions.js';
import { reportSummary, summarize } from './summary.js';
import { UsageError } from './usageError.js';
import { currentSourceName, keepHeapCompact, monitorSource, withServiceRuntime } from './serviceRuntime.js';

interface BlobFlags extends ExportFlags, BlobAccountFlags {
  pollInterval: number;
  stateDir: string;
  stateContainer?: string;
  stateBlob: string;
  startAt: string;
  once?: boolean;
  maxBlobFailures: number;
  readConcurrency: number;
  retryPoisoned?: boolean;
  summaryJson?: string;
  quiet?: boolean;
  http?: string;
}

export const DEFAULT_STATE_DIR = 'nsg2ipfix-state';
export const DEFAULT_POLL_INTERVAL_SECONDS = 60;

export function blobCommand(): Command {
  const command = new Command('blob').description(
    'follow live PT1H.json flow log blobs in a storage account, block by block, and send new flows to collectors; resumes after a restart',
  );
  addBlobAccountOptions(command, 'follow').addOption(
    integerOption('--poll-interval <seconds>', 'seconds between polls of the account', 1, 86_400, DEFAULT_POLL_INTERVAL_SECONDS),
  );
  addStateStoreOptions(command, {
    dir: 'directory of the cursor state file (the default store)',
    defaultDir: DEFAULT_STATE_DIR,
    holds: 'cursor state',
    account: 'same account',
    blob: 'state',
    defaultBlob: DEFAULT_STATE_BLOB_NAME,
  })
    .option(
      '--start-at <when>',
      'resume (stored cursors; "now" when there are none), now, beginning, or an ISO 8601 time',
      startAt('--start-at', ['resume', 'now', 'beginning']),
      'resume',
    )
    .option('--once', 'one discovery and read pass, then exit (cron, tests)')
    .addOption(
      integerOption('--max-blob-failures <n>', 'failed reads in a row before a blob is marked poisoned and skipped', 1, 1000, DEFAULT_MAX_BLOB_FAILURES),
    )
    .addOption(
      integerOption(
        '--read-concurrency <n>',
        'blobs read at the same time (each blob still in order); more hides more storage latency',
        1,
        1024,
        DEFAULT_READ_CONCURRENCY,
      ),
    )
    .option('--retry-poisoned', 'try blobs marked poisoned in the state again');
  addExportingCommandOptions(command, [
    'nsg2ipfix blob --account-url https://ACCOUNT.blob.core.windows.net -c 10.0.0.5:4739',
    'NSG2IPFIX_CONNECTION_STRING="..." nsg2ipfix blob -c 127.0.0.1:4739 --state-dir /var/lib/nsg2ipfix',
    'nsg2ipfix blob --account-url "https://ACCOUNT.blob.core.windows.net?sv=...&sig=..." --once -c 127.0.0.1',
  ]);
  command.action(async (flags: BlobFlags) => {
    const sources = [flags.accountUrl, flags.connectionString].filter((v) => v !== undefined && v !== '');
    if (sources.length === 0)
      throw new UsageError('no storage account: give --account-url URL or --connection-string (or set NSG2IPFIX_ACCOUNT_URL / NSG2IPFIX_CONNECTION_STRING)');
    if (sources.length > 1)
      throw new UsageError('give either --account-url or --connection-string (check NSG2IPFIX_ACCOUNT_URL / NSG2IPFIX_CONNECTION_STRING), not both');
    checkStateStoreFlags(command, flags);
    const start = parseStartAt(flags.startAt);
    if (start === undefined) throw new UsageError(`--start-at must be resume, now, beginning or an ISO 8601 time, got '${flags.startAt}'`);

    keepHeapCompact();
    await withServiceRuntime(flags, async (runtime) => {
      const logger = runtime.logger;
      // Loaded here: the Azure SDK takes ~0.6 s to import, which the other commands must not pay.
      const { openBlobAccount } = await import('../sources/blobAccount.js');
      const account = openBlobAccount(blobAccountOptions(flags));
      const store: StateStore =
        flags.stateContainer !== undefined
          ? new BlobStateStore(account.service.getContainerClient(flags.stateContainer), flags.stateBlob)
          : new FileStateStore(flags.stateDir);
      const containers = blobContainers(flags);
      const pipeline = await ExportPipeline.open(exportOptionsFrom(flags), logger);
      const name = currentSourceName('blob');
      const sourceLogger = logger.child({ stage: 'source', source: name });
      // Ready while polls succeed: a poll is overdue after three intervals.
      const health = monitorSource(runtime, name, pipeline, Math.max(3 * flags.pollInterval * 1000, 60_000));
      const started = performance.now();
      let source: BlobSource | undefined;
      try {
        source = await BlobSource.open({
          service: account.service,
          containers,
          filters: blobFilters(flags),
          store,
          startAt: start,
          pollIntervalMs: flags.pollInterval * 1000,
          once: flags.once === true,
          maxBlobFailures: flags.maxBlobFailures,
          readConcurrency: flags.readConcurrency,
          retryPoisoned: flags.retryPoisoned === true,
          onProblem: pipeline.problems.report,
          logger: sourceLogger,
          onPass: () => health.succeeded(),
          onFailure: (message, lasting) => health.failed(message, { lasting }),
          onCheckpoint: () => health.checkpointed(),
        });
        health.succeeded();
        sourceLogger.info(
          {
            ...account.description,
            containers,
            state: store.description,
            startAt: flags.startAt,
            pollIntervalSeconds: flags.pollInterval,
            once: flags.once === true,
          },
          'following flow log blobs',
        );
        await pipeline.run(source.batches(runtime.signal), runtime.signal);
      } finally {
        await pipeline.close();
      }
      pipeline.metrics.filesRead = source.stats.blobsRead;
      const summary = summarize(pipeline.metrics, pipeline.collectorStats, performance.now() - started, flags.pcap);
      logger.info({ ...summary, blobSource: source.stats }, 'blob source stopped');
      await reportSummary(summary, flags, { blobSource: source.stats });
    });
  });
  return command;
}
