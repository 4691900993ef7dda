import { type FlowReport, labelOf, type NameOf } from './flowReport.js';

export type Cell = string | number;

/** One list of the report as a table: what the terminal and the HTML page both show. */
export interface ReportTable {
  /** The list's key in the JSON report (the HTML section's id, and its chart's). */
  readonly id: string;
  readonly title: string;
  readonly headers: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
  /** Worth a full-width section on the page (a time series). */
  readonly wide?: boolean;
}

/**
 * The report's lists as tables, in the order people read them; the renderers only lay them out.
 * Addresses are labelled `name (address)` where a name is known; rules show the NSG or flow log
 * name (the whole resource id is in JSON and CSV). Skipped input is listed only when there was any.
 */
export function reportTables(report: FlowReport, nameOf?: NameOf): ReportTable[] {
  const by = report.rankedBy;
  const label = (address: string) => labelOf(address, nameOf);
  const err = (entry: { error?: number }): Cell[] => (entry.error === undefined ? [] : [entry.error]);
  const errHeader = (list: readonly { error?: number }[]) => (list.some((e) => e.error !== undefined) ? ['± error'] : []);
  const { inbound, outbound } = report.directions;
  const s = report.flowStates;
  const t = report.totals;
  const tables: ReportTable[] = [
    {
      id: 'topTalkers',
      title: `Top talkers by ${by}`,
      headers: ['source', 'destination', 'bytes', 'packets', 'flows', ...errHeader(report.topTalkers)],
      rows: report.topTalkers.map((p) => [label(p.source), label(p.destination), p.bytes, p.packets, p.flows, ...err(p)]),
    },
    {
      id: 'topHosts',
      title: `Top hosts by ${by}`,
      headers: ['address', 'bytes', 'packets', 'flows', 'bytes sent', 'bytes received', ...errHeader(report.topHosts)],
      rows: report.topHosts.map((h) => [label(h.address), h.bytes, h.packets, h.flows, h.bytesSent, h.bytesReceived, ...err(h)]),
    },
    {
      id: 'deniedSources',
      title: 'Denied sources',
      headers: ['address', 'flows', ...errHeader(report.deniedSources)],
      rows: report.deniedSources.map((d) => [label(d.address), d.flows, ...err(d)]),
    },
    {
      id: 'deniedDestinations',
      title: 'Denied destinations',
      headers: ['address', 'flows', ...errHeader(report.deniedDestinations)],
      rows: report.deniedDestinations.map((d) => [label(d.address), d.flows, ...err(d)]),
    },
    {
      id: 'deniedPorts',
      title: 'Denied destination ports',
      headers: ['port', 'protocol', 'flows', ...errHeader(report.deniedPorts)],
      rows: report.deniedPorts.map((d) => [String(d.port), String(d.protocol), d.flows, ...err(d)]),
    },
    {
      id: 'rules',
      title: 'Rule hits',
      headers: ['NSG / flow log', 'rule', 'flows', 'allowed', 'denied', 'bytes', 'packets', ...errHeader(report.rules)],
      rows: report.rules.map((r) => [resourceName(r.resource), r.rule, r.flows, r.allowedFlows, r.deniedFlows, r.bytes, r.packets, ...err(r)]),
      // Seven columns of long names: the page's full width.
      wide: true,
    },
    {
      id: 'hours',
      title: 'Traffic per hour (UTC)',
      headers: ['hour', 'flows', 'denied', 'bytes', 'packets'],
      rows: report.hours.map((h) => [h.hour, h.flows, h.deniedFlows, h.bytes, h.packets]),
      wide: true,
    },
    {
      id: 'directions',
      title: 'Traffic by direction',
      headers: ['direction', 'flows', 'denied', 'bytes', 'packets'],
      rows: [
        ['inbound', inbound.flows, inbound.deniedFlows, inbound.bytes, inbound.packets],
        ['outbound', outbound.flows, outbound.deniedFlows, outbound.bytes, outbound.packets],
      ],
    },
    {
      id: 'flowStates',
      title: 'Flow states (tuples)',
      headers: ['state', 'tuples'],
      rows: [
        ['B (begin; NSG denies too)', s.B],
        ['C (continuing)', s.C],
        ['E (end)', s.E],
        ['D (denied, VNet)', s.D],
        ['none (NSG v1)', s.none],
      ],
    },
  ];
  const skipped: Cell[][] = [
    ...Object.entries(t.skippedTuples).map(([reason, n]) => ['tuple', reason, n]),
    ...Object.entries(t.skippedRecords).map(([reason, n]) => ['record', reason, n]),
  ];
  if (skipped.length > 0)
    tables.push({
      id: 'skipped',
      title: 'Skipped input (bad records and tuples, counted and left out)',
      headers: ['skipped', 'reason', 'count'],
      rows: skipped,
    });
  return tables;
}

/** The last segment of a resource id (the NSG or flow log name); the whole id is in JSON and CSV. */
export function resourceName(resourceId: string): string {
  const segments = resourceId.split('/').filter((s) => s !== '');
  return segments.at(-1) ?? resourceId;
}
