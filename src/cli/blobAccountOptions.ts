import { Option, type Command } from 'commander';
import type { BlobAccountOptions } from '../sources/blobAccount.js';
import { DEFAULT_CONTAINERS, type BlobFilters } from '../sources/blobPaths.js';
import { collect } from './collect.js';

/** The storage account, containers and filters of the commands that read flow log blobs (`blob`, `report`). */
export interface BlobAccountFlags {
  accountUrl?: string;
  connectionString?: string;
  sasToken?: string;
  container: string[];
  subscription: string[];
  resourceGroup: string[];
  nsg: string[];
  flowLog: string[];
  mac: string[];
}

/** Adds the account, container and filter options; `verb` says what the command does with a container. */
export function addBlobAccountOptions(command: Command, verb: 'follow' | 'read'): Command {
  return command
    .addOption(
      new Option('--account-url <url>', 'blob endpoint, e.g. https://ACCOUNT.blob.core.windows.net (DefaultAzureCredential, or a SAS in the query)').env(
        'NSG2IPFIX_ACCOUNT_URL',
      ),
    )
    .addOption(
      new Option('--connection-string <string>', 'storage connection string (prefer the environment variable: the command line is visible to other users)').env(
        'NSG2IPFIX_CONNECTION_STRING',
      ),
    )
    .addOption(new Option('--sas-token <token>', 'SAS token for --account-url (needs read and list)').env('NSG2IPFIX_SAS_TOKEN'))
    .option('--container <name>', `container to ${verb}; repeatable (default: ${DEFAULT_CONTAINERS.join(' and ')})`, collect, [])
    .option('--subscription <id>', 'only flow logs of this subscription; repeatable', collect, [])
    .option(
      '--resource-group <name>',
      "only flow logs of this resource group (for VNet flow logs: the flow log's, usually NetworkWatcherRG); repeatable",
      collect,
      [],
    )
    .option('--nsg <name>', 'only this NSG (NSG flow logs); repeatable; with --flow-log, either matches', collect, [])
    .option('--flow-log <name>', 'only this VNet flow log; repeatable', collect, [])
    .option('--mac <mac>', 'only this NIC (any notation: 00-0D-3A-..., 000D3A...); repeatable', collect, []);
}

/** What openBlobAccount needs, from the flags given. */
export function blobAccountOptions(flags: BlobAccountFlags): BlobAccountOptions {
  return {
    ...(flags.connectionString ? { connectionString: flags.connectionString } : {}),
    ...(flags.accountUrl ? { accountUrl: flags.accountUrl } : {}),
    ...(flags.sasToken ? { sasToken: flags.sasToken } : {}),
  };
}

export function blobContainers(flags: BlobAccountFlags): string[] {
  return flags.container.length > 0 ? [...new Set(flags.container)] : [...DEFAULT_CONTAINERS];
}

export function blobFilters(flags: BlobAccountFlags): BlobFilters {
  return { subscriptions: flags.subscription, resourceGroups: flags.resourceGroup, names: [...flags.nsg, ...flags.flowLog], macs: flags.mac };
}
