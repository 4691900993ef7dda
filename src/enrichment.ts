import type { NameEncoding, NameSources } from './flow/interfaceNames.js';
import { NameMap } from './enrich/nameMap.js';
import { createNameProvider, type EnrichmentSpec, type NameProvider, type NameProviderDependencies } from './inventory/nameProvider.js';

/** What a command asks of enrichment: where names come from, and which go into data records. */
export interface EnrichmentOptions {
  readonly spec: EnrichmentSpec;
  readonly encoding: NameEncoding;
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
