import { STATE_CODES } from '../flow/flowColumns.js';
import { ipv4Text, ipv6Text } from './addressText.js';
import type { Approximation, DeniedAddress, DeniedPort, FlowReport, HourTraffic, RuleHits, TalkerHost, TalkerPair, TrafficShare } from './flowReport.js';
import { protocolLabel } from './flowReport.js';
import {
  DIRECTION_STRIDE,
  HOST_BYTES_RECEIVED,
  HOST_BYTES_SENT,
  HOST_FLOWS,
  HOST_PACKETS_RECEIVED,
  HOST_PACKETS_SENT,
  type ReportAggregator,
} from './reportAggregator.js';
import { RUN_BYTES, RUN_DENIED, RUN_PACKETS } from './keyRunCounter.js';
import type { WordKeyTable } from './wordKeyTable.js';

export interface ResultOptions {
  /** Entries per top list (talkers, hosts, denied sources, destinations, ports). */
  readonly top: number;
  readonly skippedTuples?: Readonly<Record<string, number>>;
  readonly skippedRecords?: Readonly<Record<string, number>>;
}

/**
 * The report from the aggregator's tables. Ranking is deterministic: by the ranking measure, then
 * by the other measures (each largest first), then by address text (or resource and rule).
 */
export function reportResult(aggregator: ReportAggregator, options: ResultOptions): FlowReport {
  const top = Math.max(0, Math.floor(options.top));
  const by = aggregator.rankBy;
  const approximations: Approximation[] = [];
  const note = (list: string, table: WordKeyTable, rankedBy = by): void => {
    if (!table.approximate) return;
    approximations.push({ list, rankedBy, maxKeys: table.maxKeys, maxError: table.maxError, unlistedAtMost: table.threshold });
  };
  const error = (table: WordKeyTable, id: number) => (table.approximate ? { error: table.errorOf(id) } : {});

  const { pairs, hosts } = aggregator;
  // The ranking measure of an entry is its weight (Space-Saving's estimate once approximate); the
  // other measures come from its values.
  const ranked = rankIndex(by);
  const pairColumns = aggregator.pairColumns;
  const pairMeasure = (id: number, measure: number): number => (measure === ranked ? pairs.weightOf(id) : pairs.valueOf(id, pairColumns[measure]!));
  const topTalkers: TalkerPair[] = topIds(pairs, top, measureOrder(by), pairMeasure, (id) => `${addressText(pairs, id, 1)} ${addressText(pairs, id, 5)}`).map(
    (id) => ({
      source: addressText(pairs, id, 1),
      destination: addressText(pairs, id, 5),
      bytes: pairMeasure(id, 0),
      packets: pairMeasure(id, 1),
      flows: pairMeasure(id, 2),
      ...error(pairs, id),
    }),
  );

  const hostValue = (id: number, k: number) => hosts.valueOf(id, k);
  const hostMeasure = (id: number, measure: number): number =>
    measure === ranked
      ? hosts.weightOf(id)
      : measure === 0
        ? hostValue(id, HOST_BYTES_SENT) + hostValue(id, HOST_BYTES_RECEIVED)
        : measure === 1
          ? hostValue(id, HOST_PACKETS_SENT) + hostValue(id, HOST_PACKETS_RECEIVED)
          : hostValue(id, HOST_FLOWS);
  const topHosts: TalkerHost[] = topIds(hosts, top, measureOrder(by), hostMeasure, (id) => addressText(hosts, id, 1)).map((id) => ({
    address: addressText(hosts, id, 1),
    bytes: hostMeasure(id, 0),
    packets: hostMeasure(id, 1),
    flows: hostMeasure(id, 2),
    bytesSent: hostValue(id, HOST_BYTES_SENT),
    bytesReceived: hostValue(id, HOST_BYTES_RECEIVED),
    packetsSent: hostValue(id, HOST_PACKETS_SENT),
    packetsReceived: hostValue(id, HOST_PACKETS_RECEIVED),
    ...error(hosts, id),
  }));

  const denied = (table: WordKeyTable): DeniedAddress[] =>
    topIds(
      table,
      top,
      [0],
      (id) => table.weightOf(id),
      (id) => addressText(table, id, 1),
    ).map((id) => ({
      address: addressText(table, id, 1),
      flows: table.weightOf(id),
      ...error(table, id),
    }));
  const ports = aggregator.deniedPorts;
  const portOf = (id: number) => ports.keyWord(id, 0) & 0xffff;
  const protocolOf = (id: number) => (ports.keyWord(id, 0) >>> 16) & 0xff;
  const deniedPorts: DeniedPort[] = topIds(
    ports,
    top,
    [0],
    (id) => ports.weightOf(id),
    // Ties: lower port first, then lower protocol number (zero-padded so text order is numeric).
    (id) => `${String(portOf(id)).padStart(5, '0')}/${String(protocolOf(id)).padStart(3, '0')}`,
  ).map((id) => ({
    port: portOf(id),
    protocol: protocolLabel(protocolOf(id)),
    protocolNumber: protocolOf(id),
    flows: ports.weightOf(id),
    ...error(ports, id),
  }));

  const rules = aggregator.rules;
  const ruleValue = (id: number, k: number) => rules.valueOf(id, k);
  const ruleMeasure = (id: number, measure: number) =>
    measure === 0 ? rules.weightOf(id) : measure === 1 ? ruleValue(id, RUN_DENIED) : measure === 2 ? ruleValue(id, RUN_BYTES) : ruleValue(id, RUN_PACKETS);
  const ruleList: RuleHits[] = topIds(rules, rules.size, [0, 1, 2, 3], ruleMeasure, (id) => {
    const name = aggregator.ruleName(rules.keyWord(id, 0));
    return `${name.resource}\n${name.rule}`;
  }).map((id) => {
    const name = aggregator.ruleName(rules.keyWord(id, 0));
    const flows = rules.weightOf(id);
    const deniedFlows = ruleValue(id, RUN_DENIED);
    return {
      resource: name.resource,
      rule: name.rule,
      flows,
      allowedFlows: flows - deniedFlows,
      deniedFlows,
      bytes: ruleValue(id, RUN_BYTES),
      packets: ruleValue(id, RUN_PACKETS),
      ...error(rules, id),
    };
  });

  const hoursTable = aggregator.hours;
  const hours: HourTraffic[] = [];
  for (const id of hoursTable.ids()) {
    hours.push({
      hour: new Date(hoursTable.keyWord(id, 1) * 3_600_000).toISOString(),
      flows: hoursTable.weightOf(id),
      deniedFlows: hoursTable.valueOf(id, RUN_DENIED),
      bytes: hoursTable.valueOf(id, RUN_BYTES),
      packets: hoursTable.valueOf(id, RUN_PACKETS),
    });
  }
  hours.sort((a, b) => (a.hour < b.hour ? -1 : a.hour > b.hour ? 1 : 0));

  note('topTalkers', pairs);
  note('topHosts', hosts);
  note('deniedSources', aggregator.deniedSources, 'flows');
  note('deniedDestinations', aggregator.deniedDestinations, 'flows');
  note('deniedPorts', ports, 'flows');
  note('rules', rules, 'flows');
  note('hours', hoursTable, 'flows');

  const direction = (d: number): TrafficShare => {
    const v = aggregator.directions;
    const base = d * DIRECTION_STRIDE;
    return { flows: v[base]!, deniedFlows: v[base + 1]!, bytes: v[base + 2]!, packets: v[base + 3]! };
  };
  const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : null);
  const states = aggregator.states;
  return {
    rankedBy: by,
    top,
    approximate: approximations.length > 0,
    approximations,
    timeRange: { first: iso(aggregator.firstTimeMs), last: iso(aggregator.lastTimeMs), since: iso(aggregator.sinceMs), until: iso(aggregator.untilMs) },
    totals: {
      files: aggregator.files,
      inputBytes: aggregator.inputBytes,
      records: aggregator.records,
      tuples: aggregator.tuples,
      outsideWindow: aggregator.outsideWindow,
      flows: aggregator.flows,
      allowedFlows: aggregator.flows - aggregator.deniedFlows,
      deniedFlows: aggregator.deniedFlows,
      bytes: aggregator.bytes,
      packets: aggregator.packets,
      skippedTuples: { ...options.skippedTuples },
      skippedRecords: { ...options.skippedRecords },
    },
    topTalkers,
    topHosts,
    deniedSources: denied(aggregator.deniedSources),
    deniedDestinations: denied(aggregator.deniedDestinations),
    deniedPorts,
    rules: ruleList,
    directions: { inbound: direction(0), outbound: direction(1) },
    hours,
    flowStates: {
      B: states[STATE_CODES.begin]!,
      C: states[STATE_CODES.continue]!,
      E: states[STATE_CODES.end]!,
      D: states[STATE_CODES.deny]!,
      none: states[STATE_CODES.none]!,
    },
  };
}

function rankIndex(by: FlowReport['rankedBy']): number {
  return by === 'bytes' ? 0 : by === 'packets' ? 1 : 2;
}

/** The measures (0 bytes, 1 packets, 2 flows) in ranking order: the chosen one, then the others. */
function measureOrder(by: FlowReport['rankedBy']): number[] {
  return by === 'bytes' ? [0, 1, 2] : by === 'packets' ? [1, 0, 2] : [2, 0, 1];
}

/** The address whose family is key word 0 and whose words start at `word`. */
function addressText(table: WordKeyTable, id: number, word: number): string {
  const w = (k: number) => table.keyWord(id, word + k);
  return table.keyWord(id, 0) === 6 ? ipv6Text(w(0), w(1), w(2), w(3)) : ipv4Text(w(0));
}

/**
 * Ids of the `count` first entries: by `measures` (largest first), ties by `text` (smallest
 * first; made only for entries whose numbers tie). A short list out of many entries is selected
 * in one pass instead of sorting them all.
 */
function topIds(
  table: WordKeyTable,
  count: number,
  measures: readonly number[],
  measure: (id: number, m: number) => number,
  text: (id: number) => string,
): number[] {
  if (count <= 0 || table.size === 0) return [];
  const texts = new Map<number, string>();
  const textOf = (id: number) => {
    let t = texts.get(id);
    if (t === undefined) texts.set(id, (t = text(id)));
    return t;
  };
  const order = (a: number, b: number): number => {
    for (const m of measures) {
      const difference = measure(b, m) - measure(a, m);
      if (difference !== 0) return difference;
    }
    const ta = textOf(a);
    const tb = textOf(b);
    return ta < tb ? -1 : ta > tb ? 1 : 0;
  };
  const ids = table.ids();
  if (count * 16 >= ids.length) return ids.sort(order).slice(0, count);
  // The best `count` so far, in order; a candidate is compared with the last one first.
  const best: number[] = [];
  for (const id of ids) {
    if (best.length === count && order(id, best[count - 1]!) >= 0) continue;
    let low = 0;
    let high = best.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (order(id, best[middle]!) < 0) high = middle;
      else low = middle + 1;
    }
    best.splice(low, 0, id);
    if (best.length > count) best.pop();
  }
  return best;
}
