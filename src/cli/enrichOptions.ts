import type { Command } from 'commander';
import { Option } from 'commander';
import { DEFAULT_HISTORY_DAYS, DEFAULT_NAME_FIELDS, DEFAULT_REFRESH_MINUTES, NAME_FIELDS, type NameField } from '../flow/interfaceNames.js';
import type { EnrichmentSpec } from '../inventory/nameProvider.js';
import type { EnrichmentOptions } from '../enrichment.js';
import { UsageError } from './usageError.js';

/** Repeatable options: `--enrich-subscription a --enrich-subscription b` -> ['a', 'b']. */
const collect = (value: string, previous: string[]): string[] => [...previous, value];

/**
 * Where Azure names come from: the options every command that shows names takes (the exporting
 * commands, report). Their values, with the command's `--state-dir`, are an EnrichmentSpec.
 */
export function addNameSourceOptions(command: Command): Command {
  return command
    .option('--enrich-file <file>', 'names of NICs and addresses from a JSON or CSV file (by extension), reloaded when it changes')
    .option('--enrich-azure', 'discover NIC, VM, network and tag names through Azure Resource Graph (DefaultAzureCredential; Reader role)')
    .option(
      '--enrich-subscription <id>',
      'subscription to discover with --enrich-azure; repeat for several (default: every one the identity can read)',
      collect,
      [],
    )
    .option('--enrich-history-days <n>', 'days a former owner of an address is remembered (late blocks, replays of older logs)', String(DEFAULT_HISTORY_DAYS));
}

/**
 * The enrichment options of the exporting commands (replay, blob, eventhub, run): the name
 * sources, how often they are refreshed, and which names go into the data records.
 */
export function addEnrichmentOptions(command: Command): Command {
  return addNameSourceOptions(command)
    .option('--enrich-refresh-minutes <n>', 'minutes between Azure discoveries', String(DEFAULT_REFRESH_MINUTES))
    .addOption(
      new Option('--enrich-fields <list>', `names in every IPFIX data record, for both endpoints (comma-separated: ${NAME_FIELDS.join(', ')})`).default(
        DEFAULT_NAME_FIELDS.join(','),
      ),
    )
    .option('--enrich-tags <keys>', "Azure tags in the data records' tags field (comma-separated keys, or '*' for all); adds the tags field");
}

/** The enrichment flags as commander hands them over. */
export interface EnrichmentFlags extends EnrichmentSpec {
  readonly enrichFields?: string;
  readonly enrichTags?: string;
}

/** The enrichment a command's flags ask for, or undefined when they name no source of names. */
export function enrichmentFrom(flags: EnrichmentFlags, stateDir: string | undefined): EnrichmentOptions | undefined {
  if (flags.enrichFile === undefined && flags.enrichAzure !== true) {
    if (flags.enrichTags !== undefined) throw new UsageError('--enrich-tags needs a source of names: --enrich-file FILE or --enrich-azure');
    if (flags.enrichFields !== undefined && flags.enrichFields !== DEFAULT_NAME_FIELDS.join(','))
      throw new UsageError('--enrich-fields needs a source of names: --enrich-file FILE or --enrich-azure');
    return undefined;
  }
  const fields = (flags.enrichFields ?? DEFAULT_NAME_FIELDS.join(','))
    .split(',')
    .map((field) => field.trim())
    .filter((field) => field !== '');
  for (const field of fields) {
    if (!(NAME_FIELDS as readonly string[]).includes(field)) throw new UsageError(`--enrich-fields: '${field}' is not one of ${NAME_FIELDS.join(', ')}`);
  }
  const tags = flags.enrichTags?.trim();
  const tagKeys =
    tags === undefined
      ? []
      : tags === '*'
        ? '*'
        : tags
            .split(',')
            .map((key) => key.trim())
            .filter((key) => key !== '');
  const chosen = [...new Set(fields as NameField[])];
  if (tagKeys.length > 0 && !chosen.includes('tags')) chosen.push('tags');
  return {
    spec: { ...flags, ...(stateDir === undefined ? {} : { stateDir }) },
    encoding: { fields: chosen, tags: tagKeys },
  };
}

/**
 * `--arm-endpoint`: an http(s) URL, checked before anything asks Azure (a typo would otherwise
 * surface as minutes of retries).
 */
export function armEndpointArgument(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    const shown = /^[\w.:/+-]{0,60}$/.test(text) ? `'${text}'` : 'something else';
    throw new UsageError(`--arm-endpoint must be an https:// URL such as https://management.usgovcloudapi.net, got ${shown}`);
  }
  return text;
}
