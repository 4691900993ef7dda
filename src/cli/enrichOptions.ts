import type { Command } from 'commander';
import type { NameSources } from '../flow/interfaceNames.js';
import { NameMap } from '../enrich/nameMap.js';
import {
  createNameProvider,
  DEFAULT_HISTORY_DAYS,
  DEFAULT_REFRESH_MINUTES,
  type EnrichmentSpec,
  type NameProvider,
  type NameProviderDependencies,
} from '../inventory/nameProvider.js';

export type { EnrichmentSpec } from '../inventory/nameProvider.js';

/** Repeatable options: `--enrich-subscription a --enrich-subscription b` -> ['a', 'b']. */
const collect = (value: string, previous: string[]): string[] => [...previous, value];

/**
 * The enrichment options of the exporting commands (replay, blob, eventhub, run): where the Azure
 * names come from. Their values, with the command's `--state-dir`, are an EnrichmentSpec.
 */
export function addEnrichmentOptions(command: Command): Command {
  return command
    .option('--enrich-file <file>', 'names of NICs and addresses from a JSON or CSV file (by extension), reloaded when it changes')
    .option('--enrich-azure', 'discover NIC, VM, network and tag names through Azure Resource Graph (DefaultAzureCredential; Reader role)')
    .option(
      '--enrich-subscription <id>',
      'subscription to discover with --enrich-azure; repeat for several (default: every one the identity can read)',
      collect,
      [],
    )
    .option('--enrich-refresh-minutes <n>', 'minutes between Azure discoveries', String(DEFAULT_REFRESH_MINUTES))
    .option('--enrich-history-days <n>', 'days a former owner of an address is remembered (late blocks, replays of older logs)', String(DEFAULT_HISTORY_DAYS));
}

/** Live names for the pipeline: the provider's sources as a NameMap, rebuilt on every change. */
export interface Enrichment {
  /** The map in force now (immutable; a batch keeps the one it started with). */
  readonly names: NameMap;
  readonly provider: NameProvider;
  /** Calls `listener` with each new map; returns the unsubscribe function. */
  onChange(listener: (names: NameMap) => void): () => void;
  stop(): Promise<void>;
}

/**
 * Starts the name sources a command's options ask for and keeps a NameMap of them; undefined when
 * the options ask for none. Rejects with a UserError (exit 2) for a bad option or file, or a
 * Resource Graph query refused for lack of the Reader role.
 */
export async function startEnrichment(spec: EnrichmentSpec, deps: NameProviderDependencies): Promise<Enrichment | undefined> {
  const provider = await createNameProvider(spec, deps);
  if (provider === undefined) return undefined;
  const build = (sources: NameSources): NameMap => NameMap.build(sources.entries, sources.history);
  let names = build(provider.current);
  const listeners = new Set<(names: NameMap) => void>();
  provider.onChange((sources) => {
    names = build(sources);
    deps.logger.info({ version: sources.version, interfaces: names.entities.length, addresses: names.addressCount }, 'names updated');
    for (const listener of listeners) listener(names);
  });
  return {
    get names() {
      return names;
    },
    provider,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop: () => provider.stop(),
  };
}
