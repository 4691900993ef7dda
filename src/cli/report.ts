import { access, constants, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import type { Logger } from 'pino';
import { createLogger, type LogFormat, type LogLevel } from '../log.js';
import { ExportMetrics } from '../metrics.js';
import { ProblemReporter } from '../problemReporter.js';
import { type NameOf, type RankMeasure, RANK_MEASURES } from '../report/flowReport.js';
import { AggregatorThread } from '../report/aggregatorThread.js';
import { DEFAULT_MAX_KEYS } from '../report/reportAggregator.js';
import { renderReportCsv } from '../report/renderCsv.js';
import { loadChartJs, renderReportHtml } from '../report/renderHtml.js';
import { renderReportJson } from '../report/renderJson.js';
import { renderReportText } from '../report/renderText.js';
import { parseTimeBound } from '../report/timeWindow.js';
import { floorHour } from '../sources/blobPaths.js';
import { addBlobAccountOptions, blobAccountOptions, blobContainers, blobFilters, type BlobAccountFlags } from './blobAccountOptions.js';
import { listFlowLogFiles, readFlowLogFile, type SkippedInput } from '../sources/files.js';
import type { FlowBatch } from '../sources/flowBatch.js';
import { formatBytes, formatNumber } from '../flow/textTable.js';
import { UsageError } from './usageError.js';
import { addNameSourceOptions } from './enrichOptions.js';
import type { Enrichment } from '../enrichment.js';
import { reportNames } from '../report/reportNames.js';

interface ReportFlags extends BlobAccountFlags {
  since?: string;
  until?: string;
  top: number;
  by: RankMeasure;
  output: 'table' | 'json' | 'csv';
  html?: string;
  maxKeys: number;
  quiet?: boolean;
  logLevel: LogLevel;
  logFormat?: LogFormat;
  enrichFile?: string;
  enrichAzure?: boolean;
  enrichSubscription: string[];
  enrichHistoryDays: string;
  stateDir?: string;
}

/** One input of the report: a file or a blob, read into batches of flows. */
interface ReportInput {
  readonly label: string;
  readonly bytes: number;
  read(onProblem: ProblemReporter['report']): AsyncIterable<FlowBatch>;
}

/** Without --since, a Blob Storage report covers the last day: an account may retain months. */
const DEFAULT_BLOB_SINCE = '24h';

export function reportCommand(): Command {
  const command = new Command('report')
    .description('top talkers, denied traffic and rule hits from flow logs (files or Blob Storage), as tables, JSON, CSV and a self-contained HTML page')
    .argument('[paths...]', 'files or directories of NSG / VNet flow logs (or --account-url / --connection-string)');
  addBlobAccountOptions(command, 'read')
    .option('--since <when>', `only tuples at or after this time: ISO 8601, or a duration back from now (90m, 24h, 7d); blobs: default ${DEFAULT_BLOB_SINCE}`)
    .option('--until <when>', 'only tuples before this time (ISO 8601 or a duration back from now); default: no limit (blobs: now)')
    .option('--top <n>', 'entries in each top list', wholeNumber('--top', 1, 100_000), 10)
    .addOption(new Option('--by <measure>', 'rank the top lists by').choices(RANK_MEASURES).default('bytes'))
    .addOption(new Option('-o, --output <format>', 'report on stdout as').choices(['table', 'json', 'csv']).default('table'))
    .option('--html <file>', 'also write the report as one self-contained HTML page with charts')
    .option(
      '--max-keys <n>',
      'distinct keys each list counts exactly; past that it is a marked approximation',
      wholeNumber('--max-keys', 1, 50_000_000),
      DEFAULT_MAX_KEYS,
    )
    .option('-q, --quiet', 'no progress line on stderr')
    .addOption(
      new Option('--log-level <level>', 'log level (logs go to stderr)')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('warn'),
    )
    .addOption(new Option('--log-format <format>', 'json lines, pretty, or auto (pretty on a terminal)').choices(['auto', 'json', 'pretty']).default('auto'));
  addNameSourceOptions(command).option(
    '--state-dir <dir>',
    'the state directory of an exporting instance with --enrich-azure: its saved names and address history (names of older windows as they were; kept up to date)',
  );
  command.addHelpText(
    'after',
    [
      '',
      'Examples:',
      '  nsg2ipfix report ./insights-logs-flowlogflowevent --html report.html',
      '  nsg2ipfix report PT1H.json --output json --top 20 --by flows',
      '  nsg2ipfix report --account-url https://ACCOUNT.blob.core.windows.net --since 7d --output csv',
      '  nsg2ipfix report ./logs --enrich-file names.csv      (VM names next to addresses)',
    ].join('\n'),
  );
  command.action(async (paths: string[], flags: ReportFlags) => {
    const nowMs = Date.now();
    const fromEnvironment = (option: string) => command.getOptionValueSource(option) === 'env';
    const accountGiven = [flags.accountUrl, flags.connectionString].filter((v) => v !== undefined && v !== '').length;
    const accountFromCli =
      (flags.accountUrl !== undefined && !fromEnvironment('accountUrl')) || (flags.connectionString !== undefined && !fromEnvironment('connectionString'));
    const useBlobs = paths.length === 0;
    if (!useBlobs && accountFromCli) throw new UsageError('give either paths or --account-url / --connection-string, not both');
    if (useBlobs && accountGiven === 0)
      throw new UsageError(
        'nothing to report on: give files or directories, or --account-url URL / --connection-string (or NSG2IPFIX_ACCOUNT_URL / NSG2IPFIX_CONNECTION_STRING)',
      );
    if (useBlobs && accountGiven > 1)
      throw new UsageError('give either --account-url or --connection-string (check NSG2IPFIX_ACCOUNT_URL / NSG2IPFIX_CONNECTION_STRING), not both');
    const since = timeOption('--since', flags.since ?? (useBlobs ? DEFAULT_BLOB_SINCE : undefined), nowMs);
    const until = timeOption('--until', flags.until, nowMs) ?? (useBlobs ? nowMs : undefined);
    if (since !== undefined && until !== undefined && since >= until) throw new UsageError('--since must be before --until');
    if (flags.html !== undefined) await assertWritable(flags.html);

    const logger = createLogger(flags.logLevel, flags.logFormat);
    // Before the inputs: a bad names file or a refused Resource Graph query is told at once, not after an hour of reading.
    const enrichment = await startReportEnrichment(flags, logger);
    // Started first: the thread boots while the inputs are listed.
    const aggregator = AggregatorThread.start({ rankBy: flags.by, maxKeys: flags.maxKeys, sinceMs: since, untilMs: until });
    let report;
    const unreadable: string[] = [];
    const input = { files: 0, inputBytes: 0, records: 0 };
    try {
      const skip = (skipped: SkippedInput): void => {
        unreadable.push(skipped.path);
        logger.error({ input: skipped.path, code: skipped.code }, `skipped: ${skipped.reason}`);
      };
      const inputs = useBlobs ? await blobInputs(flags, since!, until!, logger) : await fileInputs(paths, skip);
      const metrics = new ExportMetrics();
      const problems = new ProblemReporter(logger.child({ stage: 'parse' }), metrics);
      const stopProgress = startReportProgress(aggregator, input, inputs, !flags.quiet);
      try {
        for (const source of inputs) {
          try {
            for await (const batch of source.read(problems.report)) {
              await aggregator.add(batch.records);
              input.records += batch.azureRecords;
              input.inputBytes += batch.inputBytes;
            }
          } catch (error) {
            unreadable.push(source.label);
            logger.error({ input: source.label, code: (error as NodeJS.ErrnoException).code }, `cannot read input: ${(error as Error).message}`);
          }
          input.files++;
        }
      } finally {
        stopProgress();
      }
      report = await aggregator.finish(
        { top: flags.top, skippedTuples: Object.fromEntries(metrics.skippedTuples), skippedRecords: Object.fromEntries(metrics.skippedRecords) },
        input,
      );
    } finally {
      await aggregator.close();
      await enrichment?.stop();
    }
    let nameOf: NameOf | undefined;
    if (enrichment !== undefined) {
      const lastTuple = report.timeRange.last === null ? undefined : Date.parse(report.timeRange.last);
      nameOf = reportNames(enrichment.names, lastTuple ?? until ?? nowMs);
    }
    if (report.approximate)
      logger.warn({ approximations: report.approximations }, 'more distinct keys than --max-keys: some lists are approximate (marked as such)');
    if (flags.html !== undefined) {
      try {
        await writeFile(flags.html, renderReportHtml(report, { chartJs: loadChartJs(), nameOf }));
      } catch (error) {
        throw new UsageError(`cannot write --html '${flags.html}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
    }
    const text =
      flags.output === 'json' ? renderReportJson(report, nameOf) : flags.output === 'csv' ? renderReportCsv(report, nameOf) : renderReportText(report, nameOf);
    await new Promise<void>((done, fail) => process.stdout.write(text, (error) => (error ? fail(error) : done())));
    if (unreadable.length > 0)
      throw new UsageError(
        `${unreadable.length} input${unreadable.length === 1 ? '' : 's'} could not be read, the rest was reported (first: ${unreadable[0]})`,
      );
  });
  return command;
}

/** The names a report shows next to addresses, when --enrich-file or --enrich-azure asks for them. */
async function startReportEnrichment(flags: ReportFlags, logger: Logger): Promise<Enrichment | undefined> {
  if (flags.enrichFile === undefined && flags.enrichAzure !== true) return undefined;
  const { startEnrichment } = await import('../enrichment.js');
  // Stopped once the report is counted: a report is a snapshot of one window.
  return startEnrichment(
    {
      ...(flags.enrichFile === undefined ? {} : { enrichFile: flags.enrichFile }),
      ...(flags.enrichAzure === true ? { enrichAzure: true } : {}),
      enrichSubscription: flags.enrichSubscription,
      enrichHistoryDays: flags.enrichHistoryDays,
      ...(flags.stateDir === undefined ? {} : { stateDir: flags.stateDir }),
    },
    { logger: logger.child({ stage: 'enrich' }) },
  );
}

async function fileInputs(paths: readonly string[], skip: (input: SkippedInput) => void): Promise<ReportInput[]> {
  const files = await listFlowLogFiles(paths, skip);
  if (files.length === 0) throw new UsageError(`no *.json flow log files found in ${paths.join(', ')}`);
  return files.map((file) => ({ label: file.path, bytes: file.bytes, read: (onProblem) => readFlowLogFile(file.path, onProblem) }));
}

async function blobInputs(flags: ReportFlags, sinceMs: number, untilMs: number, logger: Logger): Promise<ReportInput[]> {
  // Loaded here: the Azure SDK takes a good half second to import, which file reports skip.
  const { openBlobAccount } = await import('../sources/blobAccount.js');
  const { listWindowBlobs, readWindowBlob } = await import('../sources/blobWindow.js');
  const account = openBlobAccount(blobAccountOptions(flags));
  const containers = blobContainers(flags);
  const filters = blobFilters(flags);
  // A blob of hour h holds tuples from just before h on, so the hour of --until is read too.
  const { blobs, missingContainers } = await listWindowBlobs(account.service, containers, filters, floorHour(sinceMs), floorHour(untilMs));
  for (const container of missingContainers) logger.info({ container }, 'container does not exist: no flow logs of this kind');
  logger.info(
    { ...account.description, containers, blobs: blobs.length, since: new Date(sinceMs).toISOString(), until: new Date(untilMs).toISOString() },
    'reading flow log blobs',
  );
  return blobs.map((blob) => ({
    label: `${blob.container}/${blob.name}`,
    bytes: blob.contentLength,
    read: (onProblem) => readWindowBlob(account.service, blob, onProblem),
  }));
}

function timeOption(name: string, text: string | undefined, nowMs: number): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseTimeBound(text, nowMs);
  if (ms === undefined)
    throw new UsageError(`${name} must be an ISO 8601 time (2025-06-12T09:00:00Z) or a duration back from now (90m, 24h, 7d), got '${text}'`);
  return ms;
}

async function assertWritable(file: string): Promise<void> {
  try {
    await access(dirname(resolve(file)), constants.W_OK);
  } catch (error) {
    throw new UsageError(`cannot write --html '${file}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function wholeNumber(name: string, min: number, max: number) {
  return (text: string): number => {
    const value = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
    if (!(value >= min && value <= max)) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got '${text}'`);
    return value;
  };
}

/**
 * Progress of a long report on stderr, as `replay` shows it: rewritten in place on a terminal,
 * a line every ten seconds otherwise. Never on stdout, which carries the report.
 */
function startReportProgress(
  aggregator: AggregatorThread,
  read: { files: number; inputBytes: number },
  inputs: readonly ReportInput[],
  enabled: boolean,
): () => void {
  if (!enabled) return () => {};
  const tty = process.stderr.isTTY === true;
  const totalBytes = inputs.reduce((sum, input) => sum + input.bytes, 0);
  const started = performance.now();
  let printed = false;
  const timer = setInterval(
    () => {
      const seconds = (performance.now() - started) / 1000;
      const rate = seconds > 0 ? Math.round(aggregator.tuples / seconds) : 0;
      const percent = totalBytes > 0 ? ` ${Math.min(100, (read.inputBytes / totalBytes) * 100).toFixed(0)}%` : '';
      const line = `report:${percent} input ${Math.min(read.files + 1, inputs.length)}/${inputs.length}, ${formatBytes(read.inputBytes)} of ${formatBytes(totalBytes)}, ${formatNumber(aggregator.tuples)} tuples (${formatNumber(rate)}/s)`;
      process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
      printed = true;
    },
    tty ? 500 : 10_000,
  );
  timer.unref();
  return () => {
    clearInterval(timer);
    if (tty && printed) process.stderr.write('\r\x1b[2K');
  };
}
