import { formatBytes, formatNumber, formatTable, printable } from '../flow/textTable.js';
import type { FlowReport, NameOf } from './flowReport.js';
import { reportTables } from './reportTables.js';

/**
 * The report as terminal tables (`--output table`, the default). Text from the logs (rule names,
 * resource ids) has its control characters replaced: a crafted rule name must not drive the
 * terminal.
 */
export function renderReportText(report: FlowReport, nameOf?: NameOf): string {
  const t = report.totals;
  const range = report.timeRange.first === null ? 'no flows' : `${report.timeRange.first} .. ${report.timeRange.last}`;
  const parts: string[] = [
    [
      `flows ${formatNumber(t.flows)} (${formatNumber(t.deniedFlows)} denied), ${formatNumber(t.bytes)} bytes, ${formatNumber(t.packets)} packets`,
      `from ${formatNumber(t.files)} files (${formatBytes(t.inputBytes)}), ${formatNumber(t.records)} Azure records, ${formatNumber(t.tuples)} tuples${t.outsideWindow > 0 ? ` (${formatNumber(t.outsideWindow)} outside --since/--until)` : ''}`,
      `time ${range}${report.timeRange.since !== null || report.timeRange.until !== null ? `, window ${report.timeRange.since ?? 'open'} .. ${report.timeRange.until ?? 'open'}` : ''}`,
    ].join('\n'),
  ];
  if (report.approximate) parts.push(approximateNotice(report));
  for (const table of reportTables(report, nameOf)) {
    const rows = table.rows.map((row) => row.map((cell) => (typeof cell === 'string' ? printable(cell, true) : cell)));
    parts.push(`${table.title}\n${rows.length === 0 ? '(none)' : formatTable(table.headers, rows)}`);
  }
  return `${parts.join('\n\n')}\n`;
}

export function approximateNotice(report: FlowReport): string {
  const lists = report.approximations.map(
    (a) =>
      `${a.list} (by ${a.rankedBy}: each value at most ${formatNumber(a.maxError)} too high; a key the summary dropped has at most ${formatNumber(a.unlistedAtMost)})`,
  );
  return `APPROXIMATE: more distinct keys than counted exactly (${formatNumber(report.approximations[0]?.maxKeys ?? 0)} per list) in ${lists.join('; ')}`;
}
