import { type FlowReport, type NameOf } from './flowReport.js';

/**
 * The report as one CSV document (RFC 4180, CRLF line ends) with one header for every list, so
 * a script reads it with any CSV reader and filters on the `list` column. Columns a list does not
 * use are empty. Names (enrichment) get columns of their own, next to the addresses.
 */
export const CSV_COLUMNS = [
  'list',
  'rank',
  'source',
  'destination',
  'address',
  'port',
  'protocol',
  'protocolNumber',
  'resource',
  'rule',
  'hour',
  'direction',
  'state',
  'bytes',
  'packets',
  'flows',
  'allowedFlows',
  'deniedFlows',
  'bytesSent',
  'bytesReceived',
  'packetsSent',
  'packetsReceived',
  'error',
  'sourceName',
  'destinationName',
  'addressName',
] as const;

type Row = Partial<Record<(typeof CSV_COLUMNS)[number], string | number | undefined>>;

export function renderReportCsv(report: FlowReport, nameOf?: NameOf): string {
  const rows: Row[] = [];
  const name = (address: string) => nameOf?.(address);
  const t = report.totals;
  rows.push({ list: 'totals', bytes: t.bytes, packets: t.packets, flows: t.flows, allowedFlows: t.allowedFlows, deniedFlows: t.deniedFlows });
  report.topTalkers.forEach((p, i) =>
    rows.push({
      list: 'topTalkers',
      rank: i + 1,
      source: p.source,
      destination: p.destination,
      bytes: p.bytes,
      packets: p.packets,
      flows: p.flows,
      error: p.error,
      sourceName: name(p.source),
      destinationName: name(p.destination),
    }),
  );
  report.topHosts.forEach((h, i) =>
    rows.push({
      list: 'topHosts',
      rank: i + 1,
      address: h.address,
      bytes: h.bytes,
      packets: h.packets,
      flows: h.flows,
      bytesSent: h.bytesSent,
      bytesReceived: h.bytesReceived,
      packetsSent: h.packetsSent,
      packetsReceived: h.packetsReceived,
      error: h.error,
      addressName: name(h.address),
    }),
  );
  for (const list of ['deniedSources', 'deniedDestinations'] as const) {
    report[list].forEach((d, i) => rows.push({ list, rank: i + 1, address: d.address, flows: d.flows, error: d.error, addressName: name(d.address) }));
  }
  report.deniedPorts.forEach((d, i) =>
    rows.push({ list: 'deniedPorts', rank: i + 1, port: d.port, protocol: d.protocol, protocolNumber: d.protocolNumber, flows: d.flows, error: d.error }),
  );
  report.rules.forEach((r, i) =>
    rows.push({
      list: 'rules',
      rank: i + 1,
      resource: r.resource,
      rule: r.rule,
      flows: r.flows,
      allowedFlows: r.allowedFlows,
      deniedFlows: r.deniedFlows,
      bytes: r.bytes,
      packets: r.packets,
      error: r.error,
    }),
  );
  for (const direction of ['inbound', 'outbound'] as const) {
    const d = report.directions[direction];
    rows.push({ list: 'directions', direction, flows: d.flows, deniedFlows: d.deniedFlows, bytes: d.bytes, packets: d.packets });
  }
  for (const h of report.hours) rows.push({ list: 'hours', hour: h.hour, flows: h.flows, deniedFlows: h.deniedFlows, bytes: h.bytes, packets: h.packets });
  for (const [state, flows] of Object.entries(report.flowStates)) rows.push({ list: 'flowStates', state, flows });
  const lines = [CSV_COLUMNS.join(','), ...rows.map((row) => CSV_COLUMNS.map((column) => csvField(row[column])).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}

function csvField(value: string | number | undefined): string {
  if (value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
