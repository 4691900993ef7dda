/**
 * The report as data: what `report --output json` prints, and what the table, CSV and HTML
 * renderers draw. The keys named in issue 15 (topTalkers, topHosts, deniedSources,
 * deniedDestinations, deniedPorts, rules and their fields) are a contract for scripts; the others
 * are stable too. Addresses are text (IPv6 in RFC 5952 form); counts are exact unless
 * `approximate` says otherwise, and then `approximations` tells which lists and by how much.
 */

/** What the top lists are ranked by. */
export type RankMeasure = 'bytes' | 'packets' | 'flows';
export const RANK_MEASURES: readonly RankMeasure[] = ['bytes', 'packets', 'flows'];

export interface Traffic {
  readonly bytes: number;
  readonly packets: number;
  readonly flows: number;
}

/** Set on the entries of an approximate list: how much the ranking measure may be overstated. */
export interface ApproximateEntry {
  readonly error?: number;
}

export interface TalkerPair extends Traffic, ApproximateEntry {
  readonly source: string;
  readonly destination: string;
}

export interface TalkerHost extends Traffic, ApproximateEntry {
  readonly address: string;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly packetsSent: number;
  readonly packetsReceived: number;
}

export interface DeniedAddress extends ApproximateEntry {
  readonly address: string;
  readonly flows: number;
}

export interface DeniedPort extends ApproximateEntry {
  readonly port: number;
  /** `TCP`, `UDP`, or the protocol number for any other protocol. */
  readonly protocol: string | number;
  readonly protocolNumber: number;
  readonly flows: number;
}

export interface RuleHits extends ApproximateEntry {
  /** NSG resource id (NSG flow logs) or flow log resource id (VNet flow logs). */
  readonly resource: string;
  readonly rule: string;
  readonly flows: number;
  readonly allowedFlows: number;
  readonly deniedFlows: number;
  readonly bytes: number;
  readonly packets: number;
}

export interface TrafficShare extends Traffic {
  readonly deniedFlows: number;
}

export interface HourTraffic extends TrafficShare {
  /** Start of the hour, ISO 8601 UTC. */
  readonly hour: string;
}

export interface Approximation {
  /** Which list: `topTalkers`, `topHosts`, `deniedSources`... */
  readonly list: string;
  readonly rankedBy: RankMeasure;
  /** Distinct keys the list counts exactly before it switches to Space-Saving. */
  readonly maxKeys: number;
  /** The largest overstatement of any listed entry's `rankedBy` measure. */
  readonly maxError: number;
  /** A key the summary no longer holds has a true `rankedBy` measure of at most this. */
  readonly unlistedAtMost: number;
}

export interface ReportTotals {
  readonly files: number;
  readonly inputBytes: number;
  /** Azure records read. */
  readonly records: number;
  /** Valid tuples read, in the time window or not. */
  readonly tuples: number;
  /** Tuples outside --since / --until (read, not counted). */
  readonly outsideWindow: number;
  /** Tuples counted: every tuple is one flow. */
  readonly flows: number;
  readonly allowedFlows: number;
  readonly deniedFlows: number;
  /** Forward plus reverse. */
  readonly bytes: number;
  readonly packets: number;
  readonly skippedTuples: Readonly<Record<string, number>>;
  readonly skippedRecords: Readonly<Record<string, number>>;
}

export interface FlowReport {
  readonly rankedBy: RankMeasure;
  readonly top: number;
  /** True when any list below is a Space-Saving summary rather than exact counts. */
  readonly approximate: boolean;
  readonly approximations: readonly Approximation[];
  readonly timeRange: {
    /** Earliest and latest tuple time counted (ISO 8601), null when nothing was counted. */
    readonly first: string | null;
    readonly last: string | null;
    /** The --since / --until window, null where open. */
    readonly since: string | null;
    readonly until: string | null;
  };
  readonly totals: ReportTotals;
  readonly topTalkers: readonly TalkerPair[];
  readonly topHosts: readonly TalkerHost[];
  readonly deniedSources: readonly DeniedAddress[];
  readonly deniedDestinations: readonly DeniedAddress[];
  readonly deniedPorts: readonly DeniedPort[];
  /** Every rule seen (not cut by --top), most hits first. */
  readonly rules: readonly RuleHits[];
  readonly directions: { readonly inbound: TrafficShare; readonly outbound: TrafficShare };
  /** Every hour with traffic, oldest first. */
  readonly hours: readonly HourTraffic[];
  /** Tuples per flow state: B (begin; NSG deny tuples too), C, E, D (VNet denied), none (NSG v1). */
  readonly flowStates: { readonly B: number; readonly C: number; readonly E: number; readonly D: number; readonly none: number };
}

/**
 * The enrichment seam (issue 14): a name for an address, shown as `name (address)` where known.
 * The report keys on addresses; names are only looked up when rendering.
 */
export type NameOf = (address: string) => string | undefined;

/** `name (address)` when a name is known, else the address. */
export function labelOf(address: string, nameOf?: NameOf): string {
  const name = nameOf?.(address);
  return name === undefined || name === '' ? address : `${name} (${address})`;
}

/** The protocol as reports show it: TCP and UDP by name, anything else by number. */
export function protocolLabel(protocol: number): string | number {
  return protocol === 6 ? 'TCP' : protocol === 17 ? 'UDP' : protocol;
}
