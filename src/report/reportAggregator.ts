import { ADDRESS_WORDS, DENIED, type FlowColumns, IPV6, OUTBOUND } from '../flow/flowColumns.js';
import type { RankMeasure } from './flowReport.js';
import { type ReportRows, type RuleName, RuleNumbers } from './reportRows.js';
import { WordKeyTable } from './wordKeyTable.js';

/**
 * Streaming aggregation of flow tuples into the report's tables: pure (no I/O, no clock), fed
 * the FlowColumns rows the readers produce, batch after batch, in bounded memory. reportResult.ts
 * turns the tables into a FlowReport.
 *
 * Counting rules (docs/report.md): every tuple is one flow. Its forward counts go to the pair
 * (source, destination), its reverse counts to the pair (destination, source); the flow counts
 * once, to the forward pair. Blank counts (NSG v1, B and deny tuples) are 0. A host's bytes and
 * packets are what it sent plus what it received, its flows the tuples it appears in (once when
 * both addresses are the same). A tuple is denied when Azure's decision is deny (NSG `D`, VNet
 * state `D`).
 */

/**
 * Distinct keys per table counted exactly: half of 2^18 slots, 16 to 19 MB for each of the two
 * largest tables (64 and 72 bytes a slot), so a month of logs stays well under 300 MB.
 */
export const DEFAULT_MAX_KEYS = 131_072;

export interface AggregatorOptions {
  readonly rankBy: RankMeasure;
  /** Distinct keys each table counts exactly before it becomes a Space-Saving summary. */
  readonly maxKeys?: number;
  /** Only tuples with sinceMs <= time < untilMs are counted (epoch ms; open when absent). */
  readonly sinceMs?: number;
  readonly untilMs?: number;
  /**
   * Which tables to fill: all, only the address pairs, or all but the pairs (two aggregators on two
   * threads share the work, see aggregatorThread.ts; both count the totals).
   */
  readonly tables?: 'all' | 'pairs' | 'others';
}

// Value columns of the tables (the ranking measure is the table's weight).
export const HOST_BYTES_SENT = 0;
export const HOST_BYTES_RECEIVED = 1;
export const HOST_PACKETS_SENT = 2;
export const HOST_PACKETS_RECEIVED = 3;
export const HOST_FLOWS = 4;
export const RULE_DENIED = 0;
export const RULE_BYTES = 1;
export const RULE_PACKETS = 2;
export const HOUR_DENIED = 0;
export const HOUR_BYTES = 1;
export const HOUR_PACKETS = 2;
/** Per direction (0 inbound, 1 outbound): flows, denied flows, bytes, packets. */
export const DIRECTION_STRIDE = 4;

const HOUR_MS = 3_600_000;
/**
 * Keys a staging table holds before it is drained into its large table (32,768 slots, about 2 MB:
 * mostly within the CPU caches, where the large tables are not; a larger drain sweeps the large
 * table more densely).
 */
const STAGED_KEYS = 16_384;
/** Marks a port key word as used (word 0 of a key is never 0): protocol << 16 | port fits below. */
const PORT_KEY_TAG = 1 << 24;
const RANK_BYTES = 0;
const RANK_PACKETS = 1;
const RANK_FLOWS = 2;

export class ReportAggregator {
  readonly rankBy: RankMeasure;
  readonly maxKeys: number;
  readonly sinceMs: number;
  readonly untilMs: number;
  /**
   * Address pairs: family, source words 0-3, destination words 0-3. The weight is the ranking
   * measure, the two values the other two measures (see pairColumns): 64 bytes a slot, one cache line.
   */
  readonly pairs: WordKeyTable;
  /** The value column of each measure (bytes, packets, flows) in `pairs`; -1 for the ranked one (the weight). */
  readonly pairColumns: readonly number[];
  /** Addresses: family, words 0-3. */
  readonly hosts: WordKeyTable;
  readonly deniedSources: WordKeyTable;
  readonly deniedDestinations: WordKeyTable;
  /** PORT_KEY_TAG | protocol << 16 | destination port; weight = flows. */
  readonly deniedPorts: WordKeyTable;
  /** Rule number (see RuleNumbers); weight = flows. */
  readonly rules: WordKeyTable;
  /** 1, hour number since the epoch; weight = flows. */
  readonly hours: WordKeyTable;
  readonly directions = new Float64Array(2 * DIRECTION_STRIDE);
  /** Tuples per state code (STATE_CODES: none, B, C, E, D). */
  readonly states = new Float64Array(5);

  // Input counters, kept by the caller (the reader knows them, the rows do not).
  files = 0;
  inputBytes = 0;
  records = 0;

  tuples = 0;
  outsideWindow = 0;
  flows = 0;
  deniedFlows = 0;
  bytes = 0;
  packets = 0;
  firstTimeMs = Infinity;
  lastTimeMs = -Infinity;

  private readonly rank: number;
  private readonly countsPairs: boolean;
  private readonly countsOthers: boolean;
  private readonly pairBytesColumn: number;
  private readonly pairPacketsColumn: number;
  private readonly pairFlowsColumn: number;
  /** Staging tables in front of `pairs` and `hosts` (see WordKeyTable.drainInto). */
  private readonly stagedPairs: WordKeyTable;
  private readonly stagedHosts: WordKeyTable;
  private readonly ruleNames = new Map<number, RuleName>();
  /** Numbers the rules of rows given as FlowColumns (addRows). */
  private ruleNumbering: RuleNumbers | undefined;
  private scratchRules = new Int32Array(0);
  private lastRule = 0;
  private lastRuleId = -1;
  private lastRuleEpoch = -1;
  private lastHour = NaN;
  private lastHourId = -1;
  private lastHourEpoch = -1;

  constructor(options: AggregatorOptions) {
    this.rankBy = options.rankBy;
    this.rank = options.rankBy === 'bytes' ? RANK_BYTES : options.rankBy === 'packets' ? RANK_PACKETS : RANK_FLOWS;
    const maxKeys = (this.maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS);
    this.sinceMs = options.sinceMs ?? -Infinity;
    this.untilMs = options.untilMs ?? Infinity;
    this.countsPairs = options.tables !== 'others';
    this.countsOthers = options.tables !== 'pairs';
    this.pairs = new WordKeyTable(9, 2, maxKeys);
    const others = [0, 1, 2].filter((m) => m !== this.rank);
    this.pairColumns = [0, 1, 2].map((m) => others.indexOf(m));
    [this.pairBytesColumn, this.pairPacketsColumn, this.pairFlowsColumn] = this.pairColumns as [number, number, number];
    this.hosts = new WordKeyTable(5, 5, maxKeys);
    this.deniedSources = new WordKeyTable(5, 0, maxKeys);
    this.deniedDestinations = new WordKeyTable(5, 0, maxKeys);
    this.deniedPorts = new WordKeyTable(1, 0, maxKeys);
    this.rules = new WordKeyTable(1, 3, maxKeys);
    this.hours = new WordKeyTable(2, 3, maxKeys);
    this.stagedPairs = WordKeyTable.staging(9, 2, STAGED_KEYS);
    this.stagedHosts = WordKeyTable.staging(5, 5, STAGED_KEYS);
  }

  /** The resource and rule of a rule number from the `rules` table. */
  ruleName(ruleNumber: number): RuleName {
    return this.ruleNames.get(ruleNumber) ?? { resource: '', rule: '' };
  }

  /** Names for the rule numbers of rows given to addReportRows. */
  nameRules(names: Iterable<readonly [number, RuleName]>): void {
    for (const [ruleNumber, name] of names) this.ruleNames.set(ruleNumber, name);
  }

  /** Counts the rows of `flows`. The columns may be reused after. */
  addRows(flows: FlowColumns): void {
    const numbering = (this.ruleNumbering ??= new RuleNumbers());
    if (this.scratchRules.length < flows.length) this.scratchRules = new Int32Array(flows.length * 2);
    const ruleNumbers = this.scratchRules;
    for (let i = 0; i < flows.length; i++) ruleNumbers[i] = numbering.numberOf(flows.contexts[i]!);
    this.nameRules(numbering.takeNew());
    const { length, times, counts, addresses, ports, flags, states, protocols } = flows;
    this.addReportRows({ length, times, counts, addresses, ruleNumbers, ports, flags, states, protocols });
  }

  /** Counts `rows` (their rule numbers named with nameRules). */
  addReportRows(rows: ReportRows): void {
    const { times, counts, flags, addresses, ports, protocols, states, ruleNumbers } = rows;
    const since = this.sinceMs;
    const until = this.untilMs;
    const to = rows.length;
    this.tuples += to;
    for (let i = 0; i < to; i++) {
      const time = times[i]!;
      if (!(time >= since && time < until)) {
        this.outsideWindow++;
        continue;
      }
      const c = i * 4;
      let packetsForward = counts[c]!;
      let bytesForward = counts[c + 1]!;
      let packetsReverse = counts[c + 2]!;
      let bytesReverse = counts[c + 3]!;
      // x !== x only for NaN: a count Azure left blank.
      if (packetsForward !== packetsForward) packetsForward = 0;
      if (bytesForward !== bytesForward) bytesForward = 0;
      if (packetsReverse !== packetsReverse) packetsReverse = 0;
      if (bytesReverse !== bytesReverse) bytesReverse = 0;
      const rowFlags = flags[i]!;
      const denied = (rowFlags & DENIED) !== 0 ? 1 : 0;
      const bytes = bytesForward + bytesReverse;
      const packets = packetsForward + packetsReverse;

      this.flows++;
      this.deniedFlows += denied;
      this.bytes += bytes;
      this.packets += packets;
      if (time < this.firstTimeMs) this.firstTimeMs = time;
      if (time > this.lastTimeMs) this.lastTimeMs = time;
      const state = states[i]!;
      this.states[state] = this.states[state]! + 1;
      const d = (rowFlags & OUTBOUND) === 0 ? 0 : DIRECTION_STRIDE;
      const directions = this.directions;
      directions[d] = directions[d]! + 1;
      directions[d + 1] = directions[d + 1]! + denied;
      directions[d + 2] = directions[d + 2]! + bytes;
      directions[d + 3] = directions[d + 3]! + packets;

      const ipv6 = (rowFlags & IPV6) !== 0;
      // Each row adds at most two keys to a staging table: drain it before it could fill up.
      if (this.stagedPairs.size >= STAGED_KEYS - 2) this.stagedPairs.drainInto(this.pairs);
      if (this.stagedHosts.size >= STAGED_KEYS - 2) this.stagedHosts.drainInto(this.hosts);
      if (this.countsPairs) this.countPairs(addresses, i * ADDRESS_WORDS, ipv6, packetsForward, bytesForward, packetsReverse, bytesReverse);
      if (!this.countsOthers) continue;
      this.countHour(time, denied, bytes, packets);
      this.countRule(ruleNumbers[i]!, denied, bytes, packets);
      this.countHosts(addresses, i * ADDRESS_WORDS, ipv6, packetsForward, bytesForward, packetsReverse, bytesReverse);
      if (denied !== 0) this.countDenied(addresses, i * ADDRESS_WORDS, ipv6, (protocols[i]! << 16) | ports[i * 2 + 1]!);
    }
    // The large tables are complete after every call: a report may be taken at any point.
    this.stagedPairs.drainInto(this.pairs);
    this.stagedHosts.drainInto(this.hosts);
  }

  private weightOf(bytes: number, packets: number, flows: number): number {
    return this.rank === RANK_BYTES ? bytes : this.rank === RANK_PACKETS ? packets : flows;
  }

  private countHour(time: number, denied: number, bytes: number, packets: number): void {
    const hours = this.hours;
    const hour = Math.floor(time / HOUR_MS);
    let id = this.lastHourId;
    // Consecutive tuples are nearly always in the same hour: its entry is looked up again only
    // when the hour changes or entries moved.
    if (hour === this.lastHour && id >= 0 && hours.epoch === this.lastHourEpoch && !hours.approximate) hours.addToWeight(id, 1);
    else {
      hours.key[0] = 1;
      hours.key[1] = hour;
      id = hours.add(1);
      this.lastHour = hour;
      this.lastHourId = id;
      this.lastHourEpoch = hours.epoch;
      if (id < 0) return;
    }
    const data = hours.data;
    const v = id * hours.stride + hours.valueStart;
    data[v + HOUR_DENIED] = data[v + HOUR_DENIED]! + denied;
    data[v + HOUR_BYTES] = data[v + HOUR_BYTES]! + bytes;
    data[v + HOUR_PACKETS] = data[v + HOUR_PACKETS]! + packets;
  }

  private countRule(ruleNumber: number, denied: number, bytes: number, packets: number): void {
    const rules = this.rules;
    let id = this.lastRuleId;
    // The tuples of a rule group come together: its entry is looked up again only when the rule
    // changes or entries moved.
    if (ruleNumber === this.lastRule && id >= 0 && rules.epoch === this.lastRuleEpoch && !rules.approximate) rules.addToWeight(id, 1);
    else {
      rules.key[0] = ruleNumber;
      id = rules.add(1);
      this.lastRule = ruleNumber;
      this.lastRuleId = id;
      this.lastRuleEpoch = rules.epoch;
      if (id < 0) return;
    }
    const data = rules.data;
    const v = id * rules.stride + rules.valueStart;
    data[v + RULE_DENIED] = data[v + RULE_DENIED]! + denied;
    data[v + RULE_BYTES] = data[v + RULE_BYTES]! + bytes;
    data[v + RULE_PACKETS] = data[v + RULE_PACKETS]! + packets;
  }

  private countPairs(
    addresses: Int32Array,
    a: number,
    ipv6: boolean,
    packetsForward: number,
    bytesForward: number,
    packetsReverse: number,
    bytesReverse: number,
  ): void {
    const family = ipv6 ? 6 : 4;
    const s0 = addresses[a]!;
    const d0 = addresses[a + 4]!;
    const s1 = ipv6 ? addresses[a + 1]! : 0;
    const s2 = ipv6 ? addresses[a + 2]! : 0;
    const s3 = ipv6 ? addresses[a + 3]! : 0;
    const d1 = ipv6 ? addresses[a + 5]! : 0;
    const d2 = ipv6 ? addresses[a + 6]! : 0;
    const d3 = ipv6 ? addresses[a + 7]! : 0;

    const pairs = this.stagedPairs;
    const pairKey = pairs.key;
    pairKey[0] = family;
    pairKey[1] = s0;
    pairKey[2] = s1;
    pairKey[3] = s2;
    pairKey[4] = s3;
    pairKey[5] = d0;
    pairKey[6] = d1;
    pairKey[7] = d2;
    pairKey[8] = d3;
    let id = pairs.add(this.weightOf(bytesForward, packetsForward, 1));
    if (id >= 0) {
      const data = pairs.data;
      const v = id * pairs.stride + pairs.valueStart;
      this.countPair(data, v, bytesForward, packetsForward, 1);
    }
    if (bytesReverse > 0 || packetsReverse > 0) {
      pairKey[1] = d0;
      pairKey[2] = d1;
      pairKey[3] = d2;
      pairKey[4] = d3;
      pairKey[5] = s0;
      pairKey[6] = s1;
      pairKey[7] = s2;
      pairKey[8] = s3;
      id = pairs.add(this.weightOf(bytesReverse, packetsReverse, 0));
      if (id >= 0) {
        const data = pairs.data;
        const v = id * pairs.stride + pairs.valueStart;
        this.countPair(data, v, bytesReverse, packetsReverse, 0);
      }
    }
  }

  /** Adds the measures that are not the weight to a pair's values at `v`. */
  private countPair(data: Float64Array, v: number, bytes: number, packets: number, flows: number): void {
    const b = this.pairBytesColumn;
    const p = this.pairPacketsColumn;
    const f = this.pairFlowsColumn;
    if (b >= 0) data[v + b] = data[v + b]! + bytes;
    if (p >= 0) data[v + p] = data[v + p]! + packets;
    if (f >= 0) data[v + f] = data[v + f]! + flows;
  }

  private countHosts(
    addresses: Int32Array,
    a: number,
    ipv6: boolean,
    packetsForward: number,
    bytesForward: number,
    packetsReverse: number,
    bytesReverse: number,
  ): void {
    const family = ipv6 ? 6 : 4;
    const s0 = addresses[a]!;
    const d0 = addresses[a + 4]!;
    const s1 = ipv6 ? addresses[a + 1]! : 0;
    const s2 = ipv6 ? addresses[a + 2]! : 0;
    const s3 = ipv6 ? addresses[a + 3]! : 0;
    const d1 = ipv6 ? addresses[a + 5]! : 0;
    const d2 = ipv6 ? addresses[a + 6]! : 0;
    const d3 = ipv6 ? addresses[a + 7]! : 0;
    const hosts = this.stagedHosts;
    const hostKey = hosts.key;
    const bytes = bytesForward + bytesReverse;
    const packets = packetsForward + packetsReverse;
    hostKey[0] = family;
    hostKey[1] = s0;
    hostKey[2] = s1;
    hostKey[3] = s2;
    hostKey[4] = s3;
    let id = hosts.add(this.weightOf(bytes, packets, 1));
    if (id >= 0) this.countHost(id, bytesForward, bytesReverse, packetsForward, packetsReverse, 1);
    const same = s0 === d0 && s1 === d1 && s2 === d2 && s3 === d3;
    if (!same) {
      hostKey[1] = d0;
      hostKey[2] = d1;
      hostKey[3] = d2;
      hostKey[4] = d3;
    }
    // The destination sent the reverse counts and received the forward ones; a host talking to
    // itself has both roles in one tuple but is in it once.
    id = hosts.add(this.weightOf(bytes, packets, same ? 0 : 1));
    if (id >= 0) this.countHost(id, bytesReverse, bytesForward, packetsReverse, packetsForward, same ? 0 : 1);
  }

  private countHost(id: number, bytesSent: number, bytesReceived: number, packetsSent: number, packetsReceived: number, flows: number): void {
    const hosts = this.stagedHosts;
    const data = hosts.data;
    const v = id * hosts.stride + hosts.valueStart;
    data[v + HOST_BYTES_SENT] = data[v + HOST_BYTES_SENT]! + bytesSent;
    data[v + HOST_BYTES_RECEIVED] = data[v + HOST_BYTES_RECEIVED]! + bytesReceived;
    data[v + HOST_PACKETS_SENT] = data[v + HOST_PACKETS_SENT]! + packetsSent;
    data[v + HOST_PACKETS_RECEIVED] = data[v + HOST_PACKETS_RECEIVED]! + packetsReceived;
    data[v + HOST_FLOWS] = data[v + HOST_FLOWS]! + flows;
  }

  private countDenied(addresses: Int32Array, a: number, ipv6: boolean, protocolAndPort: number): void {
    const family = ipv6 ? 6 : 4;
    const sources = this.deniedSources.key;
    sources[0] = family;
    sources[1] = addresses[a]!;
    sources[2] = ipv6 ? addresses[a + 1]! : 0;
    sources[3] = ipv6 ? addresses[a + 2]! : 0;
    sources[4] = ipv6 ? addresses[a + 3]! : 0;
    this.deniedSources.add(1);
    const destinations = this.deniedDestinations.key;
    destinations[0] = family;
    destinations[1] = addresses[a + 4]!;
    destinations[2] = ipv6 ? addresses[a + 5]! : 0;
    destinations[3] = ipv6 ? addresses[a + 6]! : 0;
    destinations[4] = ipv6 ? addresses[a + 7]! : 0;
    this.deniedDestinations.add(1);
    this.deniedPorts.key[0] = PORT_KEY_TAG | protocolAndPort;
    this.deniedPorts.add(1);
  }
}
