import type { FlowReport, NameOf } from './flowReport.js';

/**
 * The report as JSON (`--output json`): the FlowReport itself. With names (enrichment), entries
 * whose address has one also get `sourceName` / `destinationName` / `name`; the contract keys
 * never change.
 */
export function renderReportJson(report: FlowReport, nameOf?: NameOf): string {
  return `${JSON.stringify(nameOf === undefined ? report : withNames(report, nameOf), null, 2)}\n`;
}

function withNames(report: FlowReport, nameOf: NameOf): FlowReport {
  const named = <T extends { address: string }>(entry: T): T => {
    const name = nameOf(entry.address);
    return name === undefined ? entry : { ...entry, name };
  };
  return {
    ...report,
    topTalkers: report.topTalkers.map((p) => {
      const sourceName = nameOf(p.source);
      const destinationName = nameOf(p.destination);
      return { ...p, ...(sourceName === undefined ? {} : { sourceName }), ...(destinationName === undefined ? {} : { destinationName }) };
    }),
    topHosts: report.topHosts.map(named),
    deniedSources: report.deniedSources.map(named),
    deniedDestinations: report.deniedDestinations.map(named),
  };
}
