import { constants } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { UserError } from '../flow/errors.js';
import type { ExportMetrics } from '../metrics.js';
import type { CollectorStats } from '../transport/udp.js';
import { formatBytes, formatNumber, formatTable } from '../flow/textTable.js';

/** The end-of-run summary: printed as a table, written as JSON with --summary-json. */
export interface ExportSummary {
  readonly files: number;
  readonly inputBytes: number;
  readonly azureRecords: number;
  readonly tuples: number;
  readonly exportedRecords: number;
  readonly optionsRecords: number;
  readonly messages: number;
  readonly templateMessages: number;
  readonly bytesSent: number;
  readonly skippedTuples: Record<string, number>;
  readonly skippedRecords: Record<string, number>;
  readonly declined: Record<string, number>;
  readonly collectors: readonly { label: string; datagrams: number; bytes: number; errors: number; lastError?: string }[];
  readonly pcap?: string;
  readonly elapsedMs: number;
  readonly tuplesPerSecond: number;
}

export function summarize(metrics: ExportMetrics, collectors: readonly CollectorStats[], elapsedMs: number, pcap?: string): ExportSummary {
  return {
    files: metrics.filesRead,
    inputBytes: metrics.inputBytes,
    azureRecords: metrics.azureRecords,
    tuples: metrics.tuples,
    exportedRecords: metrics.exportedRecords,
    optionsRecords: metrics.optionsRecords,
    messages: metrics.messages,
    templateMessages: metrics.templateMessages,
    bytesSent: metrics.bytesSent,
    skippedTuples: Object.fromEntries(metrics.skippedTuples),
    skippedRecords: Object.fromEntries(metrics.skippedRecords),
    declined: Object.fromEntries(metrics.declined),
    collectors: collectors.map((c) => ({
      label: c.label,
      datagrams: c.datagrams,
      bytes: c.bytes,
      errors: c.errors,
      ...(c.lastError ? { lastError: c.lastError } : {}),
    })),
    ...(pcap === undefined ? {} : { pcap }),
    elapsedMs: Math.round(elapsedMs),
    tuplesPerSecond: elapsedMs > 0 ? Math.round((metrics.tuples / elapsedMs) * 1000) : 0,
  };
}

export function formatSummary(summary: ExportSummary): string {
  const rows: [string, string][] = [
    ['files read', formatNumber(summary.files)],
    ['input', formatBytes(summary.inputBytes)],
    ['Azure records', formatNumber(summary.azureRecords)],
    ['flow tuples', formatNumber(summary.tuples)],
    ['exported flow records', formatNumber(summary.exportedRecords)],
    ['options records', formatNumber(summary.optionsRecords)],
    ['messages (templates)', `${formatNumber(summary.messages)} (${formatNumber(summary.templateMessages)})`],
    ['bytes sent', formatBytes(summary.bytesSent)],
    ['skipped tuples', formatNumber(sum(summary.skippedTuples))],
    ['skipped records', formatNumber(sum(summary.skippedRecords))],
    ['time', `${(summary.elapsedMs / 1000).toFixed(2)} s (${formatNumber(summary.tuplesPerSecond)} tuples/s)`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const parts = [rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')];
  const skipped = [
    ...Object.entries(summary.skippedTuples).map(([reason, n]) => ['tuple', reason, n] as const),
    ...Object.entries(summary.skippedRecords).map(([reason, n]) => ['record', reason, n] as const),
    ...Object.entries(summary.declined).map(([reason, n]) => ['declined', reason, n] as const),
  ];
  if (skipped.length > 0) parts.push(formatTable(['skipped', 'reason', 'count'], skipped));
  if (summary.collectors.length > 0) {
    parts.push(
      formatTable(
        ['collector', 'datagrams', 'bytes', 'errors'],
        summary.collectors.map((c) => [c.label, c.datagrams, c.bytes, c.errors]),
      ),
    );
  }
  if (summary.pcap !== undefined) parts.push(`pcap written: ${summary.pcap}`);
  return parts.join('\n\n');
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/**
 * How every exporting command ends: the summary as JSON with `--summary-json` (plus the source's
 * own `details`) and as a table on stdout unless `--quiet` (plus `footer`).
 */
export async function reportSummary(
  summary: ExportSummary,
  flags: { summaryJson?: string; quiet?: boolean },
  details: Record<string, unknown> = {},
  footer = '',
): Promise<void> {
  if (flags.summaryJson !== undefined) await writeSummaryJson(flags.summaryJson, `${JSON.stringify({ ...summary, ...details }, null, 2)}\n`);
  if (!flags.quiet) process.stdout.write(`${formatSummary(summary)}${footer === '' ? '' : `\n\n${footer}`}\n`);
}

/**
 * Non-blocking, like the pcap file (transport/pcapWriter.ts): a FIFO nobody reads fails at once
 * (ENXIO) instead of holding a thread, and with it the process, forever.
 */
const SUMMARY_OPEN_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (constants.O_NONBLOCK ?? 0);

async function writeSummaryJson(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text, { flag: SUMMARY_OPEN_FLAGS });
  } catch (error) {
    throw new UserError(`cannot write the summary to '${path}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      code: 'summary-write',
      cause: error,
    });
  }
}
