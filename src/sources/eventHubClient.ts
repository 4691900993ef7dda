import { UserError } from '../flow/errors.js';
import { EventHubConsumerClient, RetryMode, type CheckpointStore, type EventHubConsumerClientOptions } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { DefaultAzureCredential } from '@azure/identity';
import type { ContainerClient } from '@azure/storage-blob';
import { classifyAzureError } from '../state/azureErrors.js';
import { scrubSecrets } from '../secrets.js';
import { openBlobAccount, type BlobAccount } from './blobAccount.js';

/**
 * Builds the Event Hubs consumer client and its checkpoint store from the command's options.
 * Nothing here logs; descriptions returned for logs never contain a secret.
 */

export interface EventHubConnectionOptions {
  /** A namespace or hub connection string (with `EntityPath=` or `eventHubName`). */
  readonly connectionString?: string;
  /** Fully qualified namespace (`NAME.servicebus.windows.net`), with DefaultAzureCredential. */
  readonly namespace?: string;
  readonly eventHubName?: string;
  readonly consumerGroup: string;
  readonly loadBalancingUpdateIntervalMs: number;
  readonly ownershipExpirationMs: number;
}

export interface CheckpointOptions {
  readonly connectionString?: string;
  readonly accountUrl?: string;
  readonly container: string;
}

export interface EventHubDescription {
  readonly namespace: string;
  readonly eventHub: string;
  readonly consumerGroup: string;
  readonly auth: 'connection-string' | 'azure-identity';
}

/** A problem with the options the user gave: the CLI shows it as one line and exits 2. */
export class EventHubConfigurationError extends UserError {
  constructor(message: string) {
    super(message, { code: 'eventhub-configuration' });
  }
}

/** The fields of a connection string, keys compared case-insensitively. */
function connectionStringFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    const equals = part.indexOf('=');
    if (equals <= 0) continue;
    fields.set(part.slice(0, equals).trim().toLowerCase(), part.slice(equals + 1).trim());
  }
  return fields;
}

/** Host of an `sb://host[:port]/` endpoint or of a bare namespace name. */
function namespaceHost(text: string): string {
  return text
    .trim()
    .replace(/^(sb|amqps?|https?):\/\//i, '')
    .replace(/\/+$/, '');
}

export interface ResolvedEventHub {
  readonly description: EventHubDescription;
  /** Builds the client (with the checkpoint store, when given); `identifier` names this instance in the ownership records. */
  create(checkpointStore: CheckpointStore | undefined, identifier: string): EventHubConsumerClient;
}

/** Checks the connection options and resolves the hub name, without connecting. */
export function resolveEventHub(options: EventHubConnectionOptions): ResolvedEventHub {
  const baseOptions: EventHubConsumerClientOptions = {
    loadBalancingOptions: {
      strategy: 'balanced',
      updateIntervalInMs: options.loadBalancingUpdateIntervalMs,
      partitionOwnershipExpirationIntervalInMs: options.ownershipExpirationMs,
    },
    userAgent: 'nsg2ipfix',
    // The SDK's default waits 30 s between tries: an unreachable namespace would take minutes to
    // report at start. Receivers reconnect on their own after this is spent.
    retryOptions: { maxRetries: 3, retryDelayInMs: 1000, maxRetryDelayInMs: 30_000, mode: RetryMode.Exponential },
  };
  const consumerGroup = options.consumerGroup;
  if (options.connectionString !== undefined) {
    if (options.namespace !== undefined) throw new EventHubConfigurationError('give either --connection-string or --namespace, not both');
    const fields = connectionStringFields(options.connectionString);
    const endpoint = fields.get('endpoint');
    if (endpoint === undefined || endpoint === '')
      throw new EventHubConfigurationError('the Event Hubs connection string has no Endpoint=sb://NAMESPACE... part');
    const entityPath = fields.get('entitypath');
    if (entityPath !== undefined && options.eventHubName !== undefined && entityPath !== options.eventHubName) {
      throw new EventHubConfigurationError(`--eventhub ${options.eventHubName} differs from the event hub in the connection string (${entityPath})`);
    }
    const eventHub = entityPath ?? options.eventHubName;
    if (eventHub === undefined || eventHub === '') {
      throw new EventHubConfigurationError('no event hub: the connection string has no EntityPath=, so give --eventhub NAME');
    }
    const connectionString = options.connectionString;
    return {
      description: { namespace: namespaceHost(endpoint), eventHub, consumerGroup, auth: 'connection-string' },
      create(store, identifier) {
        const clientOptions = { ...baseOptions, identifier };
        try {
          if (entityPath !== undefined) {
            return store === undefined
              ? new EventHubConsumerClient(consumerGroup, connectionString, clientOptions)
              : new EventHubConsumerClient(consumerGroup, connectionString, store, clientOptions);
          }
          return store === undefined
            ? new EventHubConsumerClient(consumerGroup, connectionString, eventHub, clientOptions)
            : new EventHubConsumerClient(consumerGroup, connectionString, eventHub, store, clientOptions);
        } catch (error) {
          // The SDK's message may quote the string: never repeat it.
          throw new EventHubConfigurationError(`the Event Hubs connection string is not valid (${firstLine(scrubSecrets((error as Error).message))})`);
        }
      },
    };
  }
  if (options.namespace === undefined) {
    throw new EventHubConfigurationError(
      'no Event Hubs namespace: give --connection-string (or NSG2IPFIX_EVENTHUB_CONNECTION_STRING) or --namespace NAME.servicebus.windows.net with --eventhub',
    );
  }
  const namespace = namespaceHost(options.namespace);
  if (!namespace.includes('.')) {
    throw new EventHubConfigurationError(`--namespace must be fully qualified, e.g. ${namespace}.servicebus.windows.net, got '${namespace}'`);
  }
  const eventHub = options.eventHubName;
  if (eventHub === undefined || eventHub === '') throw new EventHubConfigurationError('--namespace needs --eventhub NAME');
  return {
    description: { namespace, eventHub, consumerGroup, auth: 'azure-identity' },
    create(store, identifier) {
      const clientOptions = { ...baseOptions, identifier };
      const credential = new DefaultAzureCredential();
      return store === undefined
        ? new EventHubConsumerClient(consumerGroup, namespace, eventHub, credential, clientOptions)
        : new EventHubConsumerClient(consumerGroup, namespace, eventHub, credential, store, clientOptions);
    },
  };
}

export interface OpenedCheckpointStore {
  readonly store: CheckpointStore;
  readonly container: ContainerClient;
  readonly account: BlobAccount;
  /** For logs. */
  readonly description: { accountUrl: string; container: string; auth: string };
}

/**
 * The blob checkpoint store: partition checkpoints and ownership records in one container. The
 * container is created when missing (the identity may lack that right: then it must exist).
 */
export async function openCheckpointStore(options: CheckpointOptions): Promise<OpenedCheckpointStore> {
  let account: BlobAccount;
  try {
    account = openBlobAccount({
      ...(options.connectionString === undefined ? {} : { connectionString: options.connectionString }),
      ...(options.accountUrl === undefined ? {} : { accountUrl: options.accountUrl }),
    });
  } catch (error) {
    throw new EventHubConfigurationError(
      `checkpoint store: ${(error as Error).message.replace('--account-url', '--checkpoint-account-url').replace('--connection-string', '--checkpoint-connection-string')}`,
    );
  }
  const container = account.service.getContainerClient(options.container);
  try {
    await container.createIfNotExists();
  } catch (error) {
    const failure = classifyAzureError(error);
    // An identity with a role on the container alone may not create it: the listing below tells.
    if (failure.kind !== 'auth') {
      throw new EventHubConfigurationError(
        `cannot reach the checkpoint container ${options.container} at ${account.description.accountUrl}: ${failure.message}`,
      );
    }
  }
  try {
    // What BlobCheckpointStore does first (listOwnership): a store that refuses it never holds a checkpoint.
    await container.listBlobsFlat().byPage({ maxPageSize: 1 }).next();
  } catch (error) {
    const failure = classifyAzureError(error);
    if (failure.kind === 'auth') {
      throw new EventHubConfigurationError(
        `the checkpoint store refused the credential (${failure.statusCode ?? failure.code ?? 'auth'}) on container ${options.container} at ${account.description.accountUrl}: ` +
          `${failure.message}; a key or SAS needs read, write and list on the container, an identity Storage Blob Data Contributor on it`,
      );
    }
  }
  return {
    store: new BlobCheckpointStore(container),
    container,
    account,
    description: { accountUrl: account.description.accountUrl, container: options.container, auth: account.description.auth },
  };
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 160)}…` : line;
}
