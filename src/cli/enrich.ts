import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { createLogger, type LogLevel } from '../log.js';
import { collect } from './collect.js';
import { UserError } from '../flow/errors.js';
import type { InterfaceNames } from '../flow/interfaceNames.js';
import { discoverInterfaces } from '../inventory/azureInterfaces.js';
import { enrichFileFormat, formatEnrichFile, type EnrichFileFormat } from '../inventory/enrichFile.js';
import { loadNameSnapshot, nameSnapshotPath } from '../inventory/nameSnapshot.js';
import { DEFAULT_ARM_ENDPOINT, openResourceGraph, type ResourceGraphDependencies } from '../inventory/resourceGraph.js';
import { armEndpointArgument } from './enrichOptions.js';

interface ExportFlags {
  format?: EnrichFileFormat;
  output?: string;
  subscription: string[];
  stateDir: string;
  offline?: boolean;
  armEndpoint: string;
  logLevel: LogLevel;
}

/** What tests replace: the credential (default DefaultAzureCredential) and SDK client options. */
export type EnrichCommandDependencies = ResourceGraphDependencies;

/** `nsg2ipfix enrich export`: what Azure discovery finds, in the format of `--enrich-file`. */
export function enrichCommand(deps: EnrichCommandDependencies = {}): Command {
  const enrich = new Command('enrich').description('Azure names for flows: what --enrich-azure discovers, as an --enrich-file');
  enrich
    .command('export')
    .description('discover NICs through Azure Resource Graph (or read the saved discovery with --offline) and write them as an enrichment file')
    .addOption(new Option('--format <format>', 'file format (default: from --output, else json)').choices(['json', 'csv']))
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .option('--subscription <id>', 'subscription to discover; repeat for several (default: every one the identity can read)', collect, [])
    .option('--state-dir <dir>', 'where an exporting command with --enrich-azure keeps its discovery (read with --offline)', 'nsg2ipfix-state')
    .option('--offline', 'write the discovery saved in --state-dir instead of querying Azure')
    .option('--arm-endpoint <url>', 'Azure Resource Manager endpoint (sovereign clouds)', armEndpointArgument, DEFAULT_ARM_ENDPOINT)
    .option('--log-level <level>', 'log level (JSON lines on stderr)', 'warn')
    .addHelpText(
      'after',
      '\nNeeds the Reader role on the subscriptions (or a management group above them).\n\nExamples:\n' +
        '  nsg2ipfix enrich export --output names.json\n' +
        '  nsg2ipfix enrich export --format csv --subscription 00000000-0000-0000-0000-000000000000 > names.csv\n' +
        '  nsg2ipfix enrich export --offline --state-dir /var/lib/nsg2ipfix --output names.csv',
    )
    .action(async (flags: ExportFlags) => {
      const format = flags.format ?? (flags.output === undefined ? 'json' : formatOf(flags.output));
      const entries = flags.offline === true ? await savedDiscovery(flags.stateDir) : await discoverNow(flags, deps);
      const text = formatEnrichFile(entries, format);
      if (flags.output === undefined) {
        process.stdout.write(text);
        return;
      }
      try {
        await writeFile(flags.output, text, 'utf8');
      } catch (error) {
        throw new UserError(`cannot write ${flags.output}: ${(error as Error).message}`);
      }
    });
  return enrich;
}

function formatOf(output: string): EnrichFileFormat {
  try {
    return enrichFileFormat(output);
  } catch {
    throw new UserError(`--output ${output}: give --format json|csv, or a file name ending in .json or .csv`);
  }
}

async function discoverNow(flags: ExportFlags, deps: EnrichCommandDependencies): Promise<InterfaceNames[]> {
  const logger = createLogger(flags.logLevel);
  const graph = await openResourceGraph(deps, logger, flags.armEndpoint);
  const scope = flags.subscription.length > 0 ? { subscriptions: flags.subscription } : {};
  return discoverInterfaces(graph, scope, logger);
}

async function savedDiscovery(stateDir: string): Promise<InterfaceNames[]> {
  const snapshot = await loadNameSnapshot(stateDir).catch((error: Error) => {
    throw new UserError(error.message);
  });
  if (snapshot === undefined) {
    throw new UserError(`no saved Azure discovery at ${nameSnapshotPath(stateDir)} (an exporting command with --enrich-azure and this --state-dir writes it)`);
  }
  return [...snapshot.interfaces];
}
