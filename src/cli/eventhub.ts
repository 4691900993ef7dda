import { randomUUID } from 'node:crypto';
import { Command, Option } from 'commander';
import { ExportPipeline } from '../pipeline.js';
import type { NotifiedBlobReader } from '../sources/eventHubBlobs.js';
import type { EventHubSource } from '../sources/eventHubSource.js';
import { DEFAULT_READ_CONCURRENCY } from '../sources/concurrentJobs.js';
import type { StateStore } from '../state/sourceState.js';
import { addExportingCommandOptions, exportOptionsFrom, integerOption, startAt, type ExportFlags } from './exportOptions.js';
import { addStateStoreOptions, checkStateStoreFlags } from './stateStoreOptions.js';
import { reportSummary, summarize } from './summary.js';
import { UsageError } from './usageError.js';
import { currentSourceName, monitorSource, withServiceRuntime } from './serviceRuntime.js';

interface EventHubFlags extends ExportFlags {
  connectionString?: string;
  namespace?: string;
  eventhub?: string;
  consumerGroup: string;
  startAt: string;
  checkpointConnectionString?: string;
  checkpointAccountUrl?: string;
  checkpointContainer?: string;
  /** False with --no-checkpoint. */
  checkpoint: boolean;
  blobConnectionString?: string;
  stateDir: string;
  stateContainer?: string;
  stateBlob: string;
  instanceId?: string;
  loadBalancingInterval: number;
  ownershipExpiration: number;
  readConcurrency: number;
  summaryJson?: string;
  http?: string;
  quiet?: boolean;
}

export const DEFAULT_EVENTHUB_STATE_DIR = 'nsg2ipfix-eventhub-state';
export const DEFAULT_EVENTHUB_STATE_BLOB = 'nsg2ipfix-eventhub-blob-state.json';

export function eventhubCommand(): Command {
  const command = new Command('eventhub')
    .description(
      'stream flows from an Event Hub in near real time (forwarded flow log payloads, NSG connector records, Event Grid BlobCreated notifications); checkpointed, partitions shared by every instance of a consumer group',
    )
    .addOption(
      new Option(
        '--connection-string <string>',
        'Event Hubs connection string, with EntityPath= or with --eventhub (prefer the environment variable: the command line is visible to other users)',
      ).env('NSG2IPFIX_EVENTHUB_CONNECTION_STRING'),
    )
    .addOption(
      new Option('--namespace <fqdn>', 'fully qualified namespace, e.g. NAME.servicebus.windows.net (DefaultAzureCredential)').env(
        'NSG2IPFIX_EVENTHUB_NAMESPACE',
      ),
    )
    .option('--eventhub <name>', 'event hub name (when the connection string has no EntityPath, and with --namespace)')
    .option('--consumer-group <name>', 'consumer group: instances in one group share the partitions', '$Default')
    .option(
      '--start-at <when>',
      'where partitions without a checkpoint start: earliest, latest or an ISO 8601 enqueued time',
      startAt('--start-at', ['earliest', 'latest']),
      'latest',
    )
    .addOption(
      new Option('--checkpoint-connection-string <string>', 'storage connection string of the checkpoint store').env('NSG2IPFIX_CHECKPOINT_CONNECTION_STRING'),
    )
    .addOption(
      new Option('--checkpoint-account-url <url>', 'blob endpoint of the checkpoint store (DefaultAzureCredential, or a SAS in the query)').env(
        'NSG2IPFIX_CHECKPOINT_ACCOUNT_URL',
      ),
    )
    .option('--checkpoint-container <name>', 'container for checkpoints and partition ownership (created if missing)')
    .option('--no-checkpoint', 'run without a checkpoint store: nothing is resumed after a restart, and every instance would read every event')
    .addOption(
      new Option(
        '--blob-connection-string <string>',
        'storage connection string for the blobs Event Grid notifications name (default: DefaultAzureCredential)',
      ).env('NSG2IPFIX_BLOB_CONNECTION_STRING'),
    );
  addStateStoreOptions(command, {
    dir: "directory of this instance's name and of the block cursors of notified blobs (one per instance)",
    defaultDir: DEFAULT_EVENTHUB_STATE_DIR,
    holds: 'block cursors',
    account: 'checkpoint account',
    blob: 'cursor',
    defaultBlob: DEFAULT_EVENTHUB_STATE_BLOB,
  })
    .option(
      '--instance-id <id>',
      'name of this instance in the ownership records, unique per instance (default: kept in --state-dir, so a restart takes its partitions back at once)',
    )
    .addOption(integerOption('--load-balancing-interval <seconds>', 'seconds between ownership checks and claims', 1, 3600, 5))
    .addOption(integerOption('--ownership-expiration <seconds>', "seconds after which a silent instance's partitions are taken over", 2, 86_400, 30))
    .addOption(
      integerOption(
        '--read-concurrency <n>',
        'blobs named by Event Grid notifications read at the same time (each blob still in order); more hides more storage latency',
        1,
        1024,
        DEFAULT_READ_CONCURRENCY,
      ),
    );
  addExportingCommandOptions(command, [
    'NSG2IPFIX_EVENTHUB_CONNECTION_STRING="Endpoint=sb://...;EntityPath=flowlogs" \\',
    'NSG2IPFIX_CHECKPOINT_CONNECTION_STRING="DefaultEndpointsProtocol=https;..." \\',
    '  nsg2ipfix eventhub --checkpoint-container nsg2ipfix-checkpoints -c 10.0.0.5:4739',
    'nsg2ipfix eventhub --namespace NAME.servicebus.windows.net --eventhub flowlogs \\',
    '  --checkpoint-account-url https://ACCOUNT.blob.core.windows.net --checkpoint-container nsg2ipfix -c 127.0.0.1',
  ]);
  command.action(async (flags: EventHubFlags) => {
    const checkpointAccounts = [flags.checkpointConnectionString, flags.checkpointAccountUrl].filter((v) => v !== undefined && v !== '');
    if (checkpointAccounts.length > 1) throw new UsageError('give either --checkpoint-connection-string or --checkpoint-account-url, not both');
    const hasCheckpointStore = checkpointAccounts.length === 1;
    if (hasCheckpointStore && flags.checkpointContainer === undefined) throw new UsageError('the checkpoint store needs --checkpoint-container NAME');
    if (!hasCheckpointStore && flags.checkpointContainer !== undefined) {
      throw new UsageError('--checkpoint-container needs --checkpoint-connection-string or --checkpoint-account-url');
    }
    if (hasCheckpointStore && !flags.checkpoint) throw new UsageError('--no-checkpoint contradicts the checkpoint store options: give one or the other');
    if (!hasCheckpointStore && flags.checkpoint) {
      throw new UsageError(
        'no checkpoint store: give --checkpoint-connection-string or --checkpoint-account-url, and --checkpoint-container. ' +
          'Checkpoints let a restart resume where it stopped and let the instances of a consumer group share the partitions; ' +
          'without them every instance would read every event. To run a single instance without checkpoints anyway, give --no-checkpoint',
      );
    }
    if (flags.stateContainer !== undefined && !hasCheckpointStore)
      throw new UsageError('--state-container keeps the cursors in the checkpoint account: give a checkpoint store');
    checkStateStoreFlags(command, flags);
    // Loaded here: the Azure SDKs take a while to import, which the other commands must not pay.
    const { EventHubConfigurationError, openCheckpointStore, resolveEventHub } = await import('../sources/eventHubClient.js');
    const eventHubSourceModule = await import('../sources/eventHubSource.js');
    const { parseEventHubStartAt } = eventHubSourceModule;
    const start = parseEventHubStartAt(flags.startAt);
    if (start === undefined) throw new UsageError(`--start-at must be earliest, latest or an ISO 8601 time, got '${flags.startAt}'`);
    let hub;
    try {
      hub = resolveEventHub({
        ...(flags.connectionString ? { connectionString: flags.connectionString } : {}),
        ...(flags.namespace ? { namespace: flags.namespace } : {}),
        ...(flags.eventhub ? { eventHubName: flags.eventhub } : {}),
        consumerGroup: flags.consumerGroup,
        loadBalancingUpdateIntervalMs: flags.loadBalancingInterval * 1000,
        ownershipExpirationMs: flags.ownershipExpiration * 1000,
      });
    } catch (error) {
      if (error instanceof EventHubConfigurationError) throw new UsageError(error.message);
      throw error;
    }

    await withServiceRuntime(flags, async (runtime) => {
      const logger = runtime.logger;
      const sourceName = currentSourceName('eventhub');
      const sourceLogger = logger.child({ stage: 'source', source: sourceName });
      const { BlobStateStore } = await import('../state/blobStateStore.js');
      const { FileStateStore } = await import('../state/fileStateStore.js');
      const { openBlobAccount } = await import('../sources/blobAccount.js');
      const { NotifiedBlobReader: NotifiedBlobs } = await import('../sources/eventHubBlobs.js');

      let checkpointStore;
      try {
        checkpointStore = hasCheckpointStore
          ? await openCheckpointStore({
              ...(flags.checkpointConnectionString ? { connectionString: flags.checkpointConnectionString } : {}),
              ...(flags.checkpointAccountUrl ? { accountUrl: flags.checkpointAccountUrl } : {}),
              container: flags.checkpointContainer!,
            })
          : undefined;
      } catch (error) {
        if (error instanceof EventHubConfigurationError) throw new UsageError(error.message);
        throw error;
      }
      let blobConnectionService;
      if (flags.blobConnectionString) {
        try {
          blobConnectionService = openBlobAccount({ connectionString: flags.blobConnectionString }).service;
        } catch (error) {
          throw new UsageError(`--blob-connection-string: ${(error as Error).message}`);
        }
      }
      const accounts = new Map<string, ReturnType<typeof openBlobAccount>['service']>();
      const serviceFor = (accountUrl: string) => {
        let service = accounts.get(accountUrl);
        if (service === undefined) {
          service = openBlobAccount({ accountUrl }).service;
          accounts.set(accountUrl, service);
        }
        return service;
      };
      // Only instances that share partitions through a checkpoint store need a lasting name.
      const { claimInstanceIdentity, releaseOwnRecords } = await import('../sources/eventHubInstance.js');
      const identity = hasCheckpointStore
        ? await claimInstanceIdentity(flags.stateDir, flags.instanceId || undefined)
        : { id: flags.instanceId || randomUUID(), stateDir: flags.stateDir, origin: flags.instanceId ? ('given' as const) : ('new' as const) };
      const store: StateStore =
        flags.stateContainer !== undefined && checkpointStore !== undefined
          ? new BlobStateStore(checkpointStore.account.service.getContainerClient(flags.stateContainer), flags.stateBlob)
          : new FileStateStore(identity.stateDir);

      let client;
      try {
        client = hub.create(checkpointStore?.store, identity.id);
      } catch (error) {
        if (error instanceof EventHubConfigurationError) throw new UsageError(error.message);
        throw error;
      }
      let pipeline;
      try {
        pipeline = await ExportPipeline.open(exportOptionsFrom(flags), logger);
      } catch (error) {
        await client.close();
        throw error;
      }
      let source: EventHubSource | undefined;
      let blobs: NotifiedBlobReader | undefined;
      const controller = new AbortController();
      // The runtime owns SIGTERM / SIGINT (a second signal exits at once): stop receiving, send
      // what is in flight, write the final checkpoints.
      const onStop = (): void => {
        sourceLogger.info('stopping: sending what is in flight and writing final checkpoints');
        controller.abort();
        source?.stop();
      };
      if (runtime.signal.aborted) onStop();
      else runtime.signal.addEventListener('abort', onStop, { once: true });
      // An idle hub is a healthy hub: ready once connected.
      const health = monitorSource(runtime, sourceName, pipeline, Number.POSITIVE_INFINITY);
      const started = performance.now();
      try {
        // Fail fast, with one line, on a wrong namespace, hub or credential.
        let properties;
        try {
          properties = await client.getEventHubProperties({ abortSignal: controller.signal });
        } catch (error) {
          if (controller.signal.aborted) return;
          // Node reports a refused connection as an AggregateError of one error per address tried.
          const outer = error as Error & { code?: string; errors?: unknown[] };
          const e = (outer.name === 'AggregateError' && outer.errors?.[0] instanceof Error ? outer.errors[0] : outer) as Error & { code?: string };
          const { scrubSecrets } = await import('../secrets.js');
          const message = scrubSecrets(String(e.message ?? '').split('\n', 1)[0] ?? '') || e.name || 'no reason given';
          throw new UsageError(
            `cannot reach event hub ${hub.description.eventHub} at ${hub.description.namespace}: ${message}${e.code && e.code !== e.name ? ` (${e.code})` : ''}`,
          );
        }
        health.succeeded();
        if (checkpointStore !== undefined) {
          // Partitions this instance owned when it died: released now, claimed again at once.
          try {
            const released = await releaseOwnRecords(
              checkpointStore.store,
              { fullyQualifiedNamespace: client.fullyQualifiedNamespace, eventHubName: client.eventHubName, consumerGroup: flags.consumerGroup },
              identity.id,
            );
            if (released.length > 0)
              sourceLogger.info(
                { instanceId: identity.id, partitions: released },
                'released the partitions this instance held before it stopped: claiming them again',
              );
          } catch (error) {
            const { classifyAzureError } = await import('../state/azureErrors.js');
            const failure = classifyAzureError(error);
            // A checkpoint store that refuses the credential can never hold a checkpoint: stop now.
            if (failure.kind === 'auth') {
              throw new UsageError(
                `the checkpoint store refused the credential (${failure.statusCode ?? failure.code ?? 'auth'}): ${failure.message}; ` +
                  'a key or SAS needs read, write and list on the container, an identity Storage Blob Data Contributor on it',
                { code: 'checkpoint-auth' },
              );
            }
            sourceLogger.warn(
              { error: failure.message },
              'cannot read the ownership records: partitions left by a previous run are taken once their ownership expires',
            );
          }
        }
        blobs = await NotifiedBlobs.open({
          store,
          serviceFor,
          ...(blobConnectionService === undefined ? {} : { connectionStringService: blobConnectionService }),
          onProblem: pipeline.problems.report,
          logger: sourceLogger.child({ reader: 'notified-blobs' }),
        });
        source = new eventHubSourceModule.EventHubSource({
          client,
          startAt: start,
          checkpoints: hasCheckpointStore,
          blobs,
          onProblem: pipeline.problems.report,
          logger: sourceLogger,
          onCheckpoint: () => {
            health.checkpointed();
            health.succeeded();
          },
          onFailure: (message, lasting) => health.failed(message, { lasting }),
          readConcurrency: flags.readConcurrency,
        });
        sourceLogger.info(
          {
            ...hub.description,
            partitions: properties.partitionIds.length,
            checkpointStore: checkpointStore?.description ?? 'none (--no-checkpoint)',
            startAt: flags.startAt,
            cursorState: store.description,
            instanceId: identity.id,
            instanceIdOrigin: identity.origin,
            ...('holderPid' in identity && identity.holderPid !== undefined ? { stateDirHeldBy: identity.holderPid } : {}),
            ...('notRecorded' in identity && identity.notRecorded !== undefined ? { instanceIdNotRecorded: identity.notRecorded } : {}),
          },
          'receiving from the event hub',
        );
        if (controller.signal.aborted) source.stop();
        // No signal here: after stop() the source ends once what is in flight was sent.
        await pipeline.run(source.batches());
      } finally {
        runtime.signal.removeEventListener('abort', onStop);
        try {
          if (source !== undefined) await source.close();
          else await client.close();
        } finally {
          await pipeline.close();
        }
      }
      if (source === undefined) return; // stopped before it started
      const summary = summarize(pipeline.metrics, pipeline.collectorStats, performance.now() - started, flags.pcap);
      const eventHub = { ...source.stats, notifiedBlobs: blobs?.stats };
      logger.info({ ...summary, eventHub }, 'event hub source stopped');
      const s = source.stats;
      await reportSummary(
        summary,
        flags,
        { eventHub },
        `events ${s.events} (unrecognized ${s.unrecognizedEvents}), checkpoints ${s.checkpoints}` +
          `${s.checkpointFailures > 0 ? ` (${s.checkpointFailures} failed)` : ''}, partitions claimed ${s.partitionsClaimed}`,
      );
    });
  });
  return command;
}
