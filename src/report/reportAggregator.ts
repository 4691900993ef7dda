import { ADDRESS_WORDS, DENIED, type FlowColumns, IPV6, OUTBOUND } from '../flow/flowColumns.js';
import type { RankMeasure } from './flowReport.js';
import { KeyRunCounter } from './keyRunCounter.js';
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
/** The measures in the order of their numbers (`rank`, the pair columns): 0 bytes, 1 packets, 2 flows. */
const MEASURES: readonly RankMeasure[] = ['bytes', 'packets', 'flows'];

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
  /** Rule number (see RuleNumbers); values and weight: see KeyRunCounter. */
  readonly rules: WordKeyTable;
  /** 1, hour number since the epoch; values and weight: see KeyRunCounter. */
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

  /** The number of the ranking measure in MEASURES (a number: weightOf runs per tuple). */
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
  private readonly ruleCounter: KeyRunCounter;
  private readonly hourCounter: KeyRunCounter;

  constructor(options: AggregatorOptions) {
    this.rankBy = options.rankBy;
    this.rank = MEASURES.indexOf(options.rankBy);
    const maxKeys = (this.maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS);
    this.sinceMs = options.sinceMs ?? -Infinity;
    this.untilMs = options.untilMs ?? Infinity;
    this.countsPairs = options.tables !== 'others';
    this.countsOthers = options.tables !== 'pairs';
    this.pairs = new WordKeyTable(9, 2, maxKeys);
    const measures = [...MEASURES.keys()];
    const others = measures.filter((m) => m !== this.rank);
    this.pairColumns = measures.map((m) => others.indexOf(m));
    [this.pairBytesColumn, this.pairPacketsColumn, this.pairFlowsColumn] = this.pairColumns as [number, number, number];
    this.hosts = new WordKeyTable(5, 5, maxKeys);
    this.deniedSources = new WordKeyTable(5, 0, maxKeys);
    this.deniedDestinations = new WordKeyTable(5, 0, maxKeys);
    this.deniedPorts = new WordKeyTable(1, 0, maxKeys);
    this.rules = new WordKeyTable(1, 3, maxKeys);
    this.hours = new WordKeyTable(2, 3, maxKeys);
    this.ruleCounter = new KeyRunCounter(this.rules);
    this.hourCounter = new KeyRunCounter(this.hours);
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
      const a = i * ADDRESS_WORDS;
      // Each row adds at most two keys to a staging table: drain it before it could fill up.
      if (this.stagedPairs.size >= STAGED_KEYS - 2) this.stagedPairs.drainInto(this.pairs);
      if (this.stagedHosts.size >= STAGED_KEYS - 2) this.stagedHosts.drainInto(this.hosts);
      if (this.countsPairs) {
        this.countPair(addresses, a, a + 4, ipv6, bytesForward, packetsForward, 1);
        if (bytesReverse > 0 || packetsReverse > 0) this.countPair(addresses, a + 4, a, ipv6, bytesReverse, packetsReverse, 0);
      }
      if (!this.countsOthers) continue;
      this.hourCounter.add(Math.floor(time / HOUR_MS), denied, bytes, packets);
      this.ruleCounter.add(ruleNumbers[i]!, denied, bytes, packets);
      const hosts = this.stagedHosts;
      const source = addAddress(hosts, addresses, a, ipv6, this.weightOf(bytes, packets, 1));
      this.countHost(source, bytesForward, bytesReverse, packetsForward, packetsReverse, 1);
      // The destination sent the reverse counts and received the forward ones; a host talking to
      // itself has both roles in one tuple but is in it once.
      const destinationFlows = sameAddress(addresses, a, a + 4, ipv6) ? 0 : 1;
      const destination = addAddress(hosts, addresses, a + 4, ipv6, this.weightOf(bytes, packets, destinationFlows));
      this.countHost(destination, bytesReverse, bytesForward, packetsReverse, packetsForward, destinationFlows);
      if (denied !== 0) {
        addAddress(this.deniedSources, addresses, a, ipv6, 1);
        addAddress(this.deniedDestinations, addresses, a + 4, ipv6, 1);
        this.deniedPorts.key[0] = PORT_KEY_TAG | (protocols[i]! << 16) | ports[i * 2 + 1]!;
        this.deniedPorts.add(1);
      }
    }
    // The large tables are complete after every call: a report may be taken at any point.
    this.stagedPairs.drainInto(this.pairs);
    this.stagedHosts.drainInto(this.hosts);
  }

  private weightOf(bytes: number, packets: number, flows: number): number {
    return this.rank === 0 ? bytes : this.rank === 1 ? packets : flows;
  }

  /** One entry of the pair (`from`, `to`): the address words at `addresses[from]` and `addresses[to]`, with what `from` sent. */
  private countPair(addresses: Int32Array, from: number, to: number, ipv6: boolean, bytes: number, packets: number, flows: number): void {
    const pairs = this.stagedPairs;
    const key = pairs.key;
    key[0] = ipv6 ? 6 : 4;
    writeAddress(key, 1, addresses, from, ipv6);
    writeAddress(key, 5, addresses, to, ipv6);
    const id = pairs.add(this.weightOf(bytes, packets, flows));
    if (id < 0) return;
    // The measures that are not the weight.
    const data = pairs.data;
    const v = id * pairs.stride + pairs.valueStart;
    const b = this.pairBytesColumn;
    const p = this.pairPacketsColumn;
    const f = this.pairFlowsColumn;
    if (b >= 0) data[v + b] = data[v + b]! + bytes;
    if (p >= 0) data[v + p] = data[v + p]! + packets;
    if (f >= 0) data[v + f] = data[v + f]! + flows;
  }

  /** Adds to the values of host `id` (none when -1). */
  private countHost(id: number, bytesSent: number, bytesReceived: number, packetsSent: number, packetsReceived: number, flows: number): void {
    if (id < 0) return;
    const hosts = this.stagedHosts;
    const data = hosts.data;
    const v = id * hosts.stride + hosts.valueStart;
    data[v + HOST_BYTES_SENT] = data[v + HOST_BYTES_SENT]! + bytesSent;
    data[v + HOST_BYTES_RECEIVED] = data[v + HOST_BYTES_RECEIVED]! + bytesReceived;
    data[v + HOST_PACKETS_SENT] = data[v + HOST_PACKETS_SENT]! + packetsSent;
    data[v + HOST_PACKETS_RECEIVED] = data[v + HOST_PACKETS_RECEIVED]! + packetsReceived;
    data[v + HOST_FLOWS] = data[v + HOST_FLOWS]! + flows;
  }
}

/** Adds `weight` to the entry of the address at `addresses[at]` in `table` (keyed by family, words 0-3); returns its id. */
function addAddress(table: WordKeyTable, addresses: Int32Array, at: number, ipv6: boolean, weight: number): number {
  const key = table.key;
  key[0] = ipv6 ? 6 : 4;
  writeAddress(key, 1, addresses, at, ipv6);
  return table.add(weight);
}

/**
 * Writes the address whose words start at `addresses[a]` into key words `at` to `at + 3`. An IPv4
 * address is word 0 alone: its other words are keyed as 0, whatever the row holds there.
 */
function writeAddress(key: Int32Array, at: number, addresses: Int32Array, a: number, ipv6: boolean): void {
  key[at] = addresses[a]!;
  key[at + 1] = ipv6 ? addresses[a + 1]! : 0;
  key[at + 2] = ipv6 ? addresses[a + 2]! : 0;
  key[at + 3] = ipv6 ? addresses[a + 3]! : 0;
}

/** Whether the addresses at `addresses[a]` and `addresses[b]` are the same (as writeAddress keys them). */
function sameAddress(addresses: Int32Array, a: number, b: number, ipv6: boolean): boolean {
  if (addresses[a] !== addresses[b]) return false;
  return !ipv6 || (addresses[a + 1] === addresses[b + 1] && addresses[a + 2] === addresses[b + 2] && addresses[a + 3] === addresses[b + 3]);
}
