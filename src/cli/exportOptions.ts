import { Option, type Command } from 'commander';
import type { FlowFormat } from '../flow/flowEncoder.js';
import { DEFAULT_FLOW_TABLE_SIZE } from '../enrich/flowStartTimes.js';
import { DEFAULT_ENTERPRISE_NUMBER } from '../ipfix/informationElements.js';
import { IPFIX_DEFAULTS } from '../ipfix/encoder.js';
import { MAX_MESSAGE_BYTES, MIN_MESSAGE_BYTES } from '../ipfix/packer.js';
import { ConfigurationError, DEFAULT_MAX_PPS, EXPORT_DEFAULTS, type ExportOptions } from '../pipeline.js';
import type { LogFormat, LogLevel } from '../log.js';
import { addEnrichmentOptions, enrichmentFrom, type EnrichmentFlags } from './enrichOptions.js';
import { collect } from './collect.js';
import { HTTP_ALLOW_REMOTE_DESCRIPTION, HTTP_OPTION_DESCRIPTION } from './serviceRuntime.js';

/** Raw option values as commander hands them over. */
export interface ExportFlags extends EnrichmentFlags {
  collector: string[];
  pcap?: string;
  format: FlowFormat;
  maxMessageSize: number;
  mtu: number;
  biflow: 'split' | 'rfc5103';
  enterpriseNumber: number;
  observationDomain?: number;
  templateRefreshSeconds: number;
  templateRefreshPackets: number;
  maxPps: number;
  socketBuffer: number;
  flowTableSize: number;
  optionsRecords?: boolean;
  /** Where --enrich-azure keeps its snapshot of names (the command's state directory). */
  stateDir?: string;
  prefer?: 'vnet' | 'nsg';
  dedup?: boolean;
  dedupWindowMinutes?: number;
  logLevel: LogLevel;
  logFormat?: LogFormat;
}

/** An option taking a whole number in [min, max]; a value outside is refused with a message naming the option. */
export function integerOption(flags: string, description: string, min: number, max: number, defaultValue?: number): Option {
  const option = new Option(flags, description);
  option.argParser(integer(option.long ?? flags, min, max));
  return defaultValue === undefined ? option : option.default(defaultValue);
}

/** A commander parser for a whole number in [min, max], with a message naming the option. */
function integer(name: string, min: number, max: number) {
  return (text: string): number => {
    const value = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
    // A short value is echoed to show the typo; a long one may be a secret put in the wrong place.
    const shown = /^[\w.+-]{0,20}$/.test(text) ? `'${text}'` : 'something else';
    if (!(value >= min && value <= max)) throw new ConfigurationError(`${name} must be a whole number from ${min} to ${max}, got ${shown}`);
    return value;
  };
}

/**
 * A commander parser for `--start-at`: one of `words` or an ISO 8601 time, as the sources read
 * it (blobSource parseStartAt, eventHubSource parseEventHubStartAt; a test holds them equal). On
 * the option itself, so the command line and `config check` refuse the same values, before
 * anything starts. Returns the text unchanged: the source parses it.
 */
export function startAt(name: string, words: readonly string[]) {
  return (text: string): string => {
    const value = text.trim().toLowerCase();
    const valid = words.includes(value) || (/^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(Date.parse(text.trim())));
    const shown = /^[\w.:+-]{0,40}$/.test(text) ? `'${text}'` : 'something else';
    if (!valid) throw new ConfigurationError(`${name} must be ${words.join(', ')} or an ISO 8601 time, got ${shown}`);
    return text;
  };
}

/** A commander parser for repeatable options: `-c a -c b` -> ['a', 'b']. */
export { collect };

/** What every exporting command offers about its run: the summary and the HTTP endpoint. */
export function addRunOptions(command: Command): Command {
  return command
    .option('--summary-json <file>', 'write the summary as JSON to this file when the command ends')
    .option('-q, --quiet', 'no progress line and no summary table')
    .option('--http <host:port>', HTTP_OPTION_DESCRIPTION)
    .option('--http-allow-remote', HTTP_ALLOW_REMOTE_DESCRIPTION);
}

/** The options every exporting command shares (replay, blob, eventhub). */
export function addExportOptions(command: Command): Command {
  command
    .option('-c, --collector <host:port>', 'collector to send to; repeat for several (IPv6 as [addr]:port; default port 4739 IPFIX, 2055 NetFlow)', collect, [])
    .option('--pcap <file>', 'also write every datagram sent to this pcap file (alone: write only the pcap)')
    .addOption(new Option('-f, --format <format>', 'export format').choices(['ipfix', 'netflow9', 'netflow5']).default('ipfix'))
    .addOption(
      integerOption(
        '--max-message-size <bytes>',
        `largest message, header included (${MIN_MESSAGE_BYTES}..${MAX_MESSAGE_BYTES}; must fit the MTU)`,
        MIN_MESSAGE_BYTES,
        MAX_MESSAGE_BYTES,
        IPFIX_DEFAULTS.maxMessageSizeInBytes,
      ),
    )
    .addOption(integerOption('--mtu <bytes>', 'path MTU to the collectors: messages never need IP fragmentation', 576, 65_535, 1500))
    .addOption(
      new Option('--biflow <mode>', 'reverse traffic: split = second uniflow record, rfc5103 = reverse IEs').choices(['split', 'rfc5103']).default('split'),
    )
    .addOption(
      integerOption(
        '--enterprise-number <pen>',
        'private enterprise number of the Azure elements (rule name, ACL id, encryption, NIC MAC)',
        1,
        0xffffffff,
        DEFAULT_ENTERPRISE_NUMBER,
      ),
    )
    .addOption(integerOption('--observation-domain <id>', 'put every flow in this observation domain (default: one per NSG / flow log)', 0, 0xffffffff))
    .addOption(
      integerOption('--template-refresh-seconds <s>', 're-send templates after this many seconds', 1, 86_400, IPFIX_DEFAULTS.templateRefreshIntervalMs / 1000),
    )
    .addOption(
      integerOption(
        '--template-refresh-packets <n>',
        're-send templates after this many data packets per domain',
        1,
        1_000_000,
        IPFIX_DEFAULTS.templateRefreshPackets,
      ),
    )
    .addOption(integerOption('--max-pps <n>', 'datagrams per second per collector (0 = unpaced)', 0, 10_000_000, DEFAULT_MAX_PPS))
    .addOption(integerOption('--socket-buffer <bytes>', 'UDP send buffer size (0 = OS default)', 0, 1 << 30, EXPORT_DEFAULTS.socketBufferBytes))
    .addOption(integerOption('--flow-table-size <n>', 'flows remembered to give C/E tuples their start time', 0, 100_000_000, DEFAULT_FLOW_TABLE_SIZE))
    .option(
      '--options-records',
      'export options records naming each NIC (interfaceName, interfaceDescription) and NSG / flow log (observationDomainName); on by default with --enrich-*; nfdump 1.7 counts them as sequence errors',
    )
    .option('--no-options-records', 'no options records, even with --enrich-*')
    .addOption(
      new Option(
        '--prefer <kind>',
        'for NICs logged by both an NSG flow log and a VNet flow log, export only this kind (the other is counted as declined)',
      ).choices(['vnet', 'nsg']),
    )
    .option('--dedup', 'export a tuple that two NSGs (subnet and NIC) logged for one NIC once (the copy is counted as declined)')
    .addOption(integerOption('--dedup-window-minutes <n>', 'how far apart in time two copies may be for --dedup', 1, 24 * 60, 90))
    .addOption(
      new Option('--log-level <level>', 'log level (logs go to stderr)')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .addOption(new Option('--log-format <format>', 'json lines, pretty, or auto (pretty on a terminal)').choices(['auto', 'json', 'pretty']).default('auto'));
  return addEnrichmentOptions(command);
}

export function exportOptionsFrom(flags: ExportFlags, now?: () => number): ExportOptions {
  const enrichment = enrichmentFrom(flags, flags.stateDir);
  return {
    format: flags.format,
    collectors: flags.collector,
    pcapPath: flags.pcap,
    maxMessageSizeInBytes: flags.maxMessageSize,
    mtuInBytes: flags.mtu,
    biflow: flags.biflow,
    enterpriseNumber: flags.enterpriseNumber,
    observationDomainId: flags.observationDomain,
    templateRefreshIntervalMs: flags.templateRefreshSeconds * 1000,
    templateRefreshPackets: flags.templateRefreshPackets,
    maxPacketsPerSecond: flags.maxPps,
    socketBufferBytes: flags.socketBuffer,
    flowTableSize: flags.flowTableSize,
    ...(flags.optionsRecords === undefined ? {} : { optionsRecords: flags.optionsRecords }),
    ...(enrichment === undefined ? {} : { enrichment }),
    ...(flags.prefer === undefined ? {} : { prefer: flags.prefer }),
    dedup: flags.dedup === true,
    dedupWindowMs: (flags.dedupWindowMinutes ?? 90) * 60_000,
    now,
  };
}

/** What every exporting command (replay, blob, eventhub) offers, then its examples in the help. */
export function addExportingCommandOptions(command: Command, examples: readonly string[]): Command {
  addRunOptions(command);
  addExportOptions(command);
  return command.addHelpText('after', ['', 'Examples:', ...examples.map((line) => `  ${line}`)].join('\n'));
}
