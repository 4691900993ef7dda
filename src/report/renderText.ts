import { formatBytes, formatNumber, formatTable } from '../flow/textTable.js';
import { type FlowReport, labelOf, type NameOf } from './flowReport.js';

/**
 * The report as terminal tables (`--output table`, the default). Text from the logs (rule names,
 * resource ids) has its control characters replaced: a crafted rule name must not drive the
 * terminal.
 */
export function renderReportText(report: FlowReport, nameOf?: NameOf): string {
  const t = report.totals;
  const by = report.rankedBy;
  const label = (address: string) => printable(labelOf(address, nameOf));
  const range = report.timeRange.first === null ? 'no flows' : `${report.timeRange.first} .. ${report.timeRange.last}`;
  const parts: string[] = [
    [
      `flows ${formatNumber(t.flows)} (${formatNumber(t.deniedFlows)} denied), ${formatNumber(t.bytes)} bytes, ${formatNumber(t.packets)} packets`,
      `from ${formatNumber(t.files)} files (${formatBytes(t.inputBytes)}), ${formatNumber(t.records)} Azure records, ${formatNumber(t.tuples)} tuples${t.outsideWindow > 0 ? ` (${formatNumber(t.outsideWindow)} outside --since/--until)` : ''}`,
      `time ${range}${report.timeRange.since !== null || report.timeRange.until !== null ? `, window ${report.timeRange.since ?? 'open'} .. ${report.timeRange.until ?? 'open'}` : ''}`,
    ].join('\n'),
  ];
  if (report.approximate) parts.push(approximateNotice(report));
  const section = (title: string, headers: string[], rows: (string | number)[][]) =>
    parts.push(`${title}\n${rows.length === 0 ? '(none)' : formatTable(headers, rows)}`);
  const err = (entry: { error?: number }) => (entry.error === undefined ? [] : [entry.error]);
  const errHeader = (list: readonly { error?: number }[]) => (list.some((e) => e.error !== undefined) ? ['± error'] : []);

  section(
    `Top talkers by ${by}`,
    ['source', 'destination', 'bytes', 'packets', 'flows', ...errHeader(report.topTalkers)],
    report.topTalkers.map((p) => [label(p.source), label(p.destination), p.bytes, p.packets, p.flows, ...err(p)]),
  );
  section(
    `Top hosts by ${by}`,
    ['address', 'bytes', 'packets', 'flows', 'bytes sent', 'bytes received', ...errHeader(report.topHosts)],
    report.topHosts.map((h) => [label(h.address), h.bytes, h.packets, h.flows, h.bytesSent, h.bytesReceived, ...err(h)]),
  );
  section(
    'Denied sources',
    ['address', 'flows', ...errHeader(report.deniedSources)],
    report.deniedSources.map((d) => [label(d.address), d.flows, ...err(d)]),
  );
  section(
    'Denied destinations',
    ['address', 'flows', ...errHeader(report.deniedDestinations)],
    report.deniedDestinations.map((d) => [label(d.address), d.flows, ...err(d)]),
  );
  section(
    'Denied destination ports',
    ['port', 'protocol', 'flows', ...errHeader(report.deniedPorts)],
    report.deniedPorts.map((d) => [String(d.port), String(d.protocol), d.flows, ...err(d)]),
  );
  section(
    'Rule hits',
    ['NSG / flow log', 'rule', 'flows', 'allowed', 'denied', 'bytes', 'packets', ...errHeader(report.rules)],
    report.rules.map((r) => [printable(resourceName(r.resource)), printable(r.rule), r.flows, r.allowedFlows, r.deniedFlows, r.bytes, r.packets, ...err(r)]),
  );
  const { inbound, outbound } = report.directions;
  section(
    'Traffic by direction',
    ['direction', 'flows', 'denied', 'bytes', 'packets'],
    [
      ['inbound', inbound.flows, inbound.deniedFlows, inbound.bytes, inbound.packets],
      ['outbound', outbound.flows, outbound.deniedFlows, outbound.bytes, outbound.packets],
    ],
  );
  section(
    'Traffic per hour (UTC)',
    ['hour', 'flows', 'denied', 'bytes', 'packets'],
    report.hours.map((h) => [h.hour, h.flows, h.deniedFlows, h.bytes, h.packets]),
  );
  const s = report.flowStates;
  section(
    'Flow states (tuples)',
    ['state', 'tuples'],
    [
      ['B (begin; NSG denies too)', s.B],
      ['C (continuing)', s.C],
      ['E (end)', s.E],
      ['D (denied, VNet)', s.D],
      ['none (NSG v1)', s.none],
    ],
  );
  const skipped = [
    ...Object.entries(t.skippedTuples).map(([reason, n]) => ['tuple', reason, n]),
    ...Object.entries(t.skippedRecords).map(([reason, n]) => ['record', reason, n]),
  ] as (string | number)[][];
  if (skipped.length > 0) section('Skipped input (bad records and tuples, counted and left out)', ['skipped', 'reason', 'count'], skipped);
  return `${parts.join('\n\n')}\n`;
}

export function approximateNotice(report: FlowReport): string {
  const lists = report.approximations.map(
    (a) =>
      `${a.list} (by ${a.rankedBy}: each value at most ${formatNumber(a.maxError)} too high; a key the summary dropped has at most ${formatNumber(a.unlistedAtMost)})`,
  );
  return `APPROXIMATE: more distinct keys than counted exactly (${formatNumber(report.approximations[0]?.maxKeys ?? 0)} per list) in ${lists.join('; ')}`;
}

/** The last segment of a resource id (the NSG or flow log name); the whole id is in JSON and CSV. */
export function resourceName(resourceId: string): string {
  const segments = resourceId.split('/').filter((s) => s !== '');
  return segments.at(-1) ?? resourceId;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function printable(text: string): string {
  return text.replace(CONTROL, '?');
}
