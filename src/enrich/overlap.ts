import { ADDRESS_WORDS, DENIED, type FlowColumns, IPV6, KIND_CODES } from '../flow/flowColumns.js';
import type { AzureContext } from '../flow/flowRecord.js';
import { normalizeMac } from '../flow/mac.js';

/**
 * What flow logs get wrong before a collector shows it (shared/FORMATS.md, Microsoft's own
 * warnings): NSG flow logs of version 1 (no byte or packet counts), one NIC logged by both an NSG
 * flow log and a VNet flow log (every byte twice), and one NIC logged by two NSGs, its subnet's and
 * its own (the same tuple twice). Each is told once, counted, and on request resolved: `prefer`
 * keeps one kind of log for NICs that have both, `dedup` exports a tuple logged twice once. Rows
 * taken out are counted as declined, never dropped silently.
 */

export type PreferredLog = 'vnet' | 'nsg';

export interface OverlapOptions {
  /** For NICs logged by both kinds, keep only this kind's tuples. */
  readonly prefer?: PreferredLog;
  /** Export a tuple logged twice for one NIC (two NSGs) once. */
  readonly dedup: boolean;
  /** How far apart in tuple time two copies may be (default 90 minutes: an hour's blob and a late one). */
  readonly dedupWindowMs?: number;
  /** Most tuples remembered for dedup (default 2,000,000; older ones are forgotten first). */
  readonly maxDedupEntries?: number;
}

export interface OverlapEvents {
  /** The first version-1 tuple of an NSG. */
  version1(resourceId: string): void;
  /** A NIC was seen in both an NSG flow log and a VNet flow log. */
  overlap(mac: string, nsgResourceId: string, vnetResourceId: string): void;
}

export interface OverlapCounters {
  version1Tuples: number;
  /** NICs seen in both kinds of flow log. */
  overlappingNics: number;
  /** Tuples taken out by `prefer`. */
  declinedByPreference: number;
  /** Tuples taken out by `dedup`. */
  duplicates: number;
}

const NSG = 1;
const VNET = 2;
const NSG_V1 = KIND_CODES['nsg-v1'];
const VNET_KIND = KIND_CODES.vnet;
const DEFAULT_WINDOW_MS = 90 * 60_000;
const DEFAULT_MAX_ENTRIES = 2_000_000;

interface NicState {
  kinds: number;
  nsgResourceId: string;
  vnetResourceId: string;
}

export class FlowOverlap {
  readonly counters: OverlapCounters = { version1Tuples: 0, overlappingNics: 0, declinedByPreference: 0, duplicates: 0 };
  private readonly nics = new Map<string, NicState>();
  private readonly version1Seen = new Set<string>();
  private readonly windowMs: number;
  private readonly maxEntries: number;
  /** Tuples seen for dedup in two generations: the older one is dropped when the newer fills or ages. */
  private current = new Set<string>();
  private previous = new Set<string>();
  private generationStartMs = -Infinity;
  private lastContext: AzureContext | undefined;
  private lastNic: NicState | undefined;

  constructor(
    private readonly options: OverlapOptions,
    private readonly events: OverlapEvents,
  ) {
    this.windowMs = options.dedupWindowMs ?? DEFAULT_WINDOW_MS;
    this.maxEntries = options.maxDedupEntries ?? DEFAULT_MAX_ENTRIES;
  }

  /** NICs known, before their tuples come, to be logged by a kind of flow log (a replay's file heads). */
  know(mac: string, kind: PreferredLog, resourceId = ''): void {
    const nic = this.nicFor(normalizeMac(mac));
    if (nic !== undefined) this.note(normalizeMac(mac), nic, kind === 'nsg' ? NSG : VNET, resourceId);
  }

  /** Takes declined and duplicate rows out of `flows` (in place, order kept); returns the rows taken out. */
  filter(flows: FlowColumns): number {
    const { contexts, kinds } = flows;
    const prefer = this.options.prefer === undefined ? 0 : this.options.prefer === 'nsg' ? NSG : VNET;
    const dedup = this.options.dedup;
    let declined = 0;
    let duplicates = 0;
    const keep = new Uint8Array(flows.length);
    for (let i = 0; i < flows.length; i++) {
      const context = contexts[i]!;
      const kind = kinds[i] === VNET_KIND ? VNET : NSG;
      if (context !== this.lastContext) {
        this.lastContext = context;
        const mac = normalizeMac(context.mac);
        this.lastNic = this.nicFor(mac);
        if (this.lastNic !== undefined) this.note(mac, this.lastNic, kind, context.resourceId);
      }
      if (kinds[i] === NSG_V1) {
        this.counters.version1Tuples++;
        if (!this.version1Seen.has(context.resourceId)) {
          this.version1Seen.add(context.resourceId);
          this.events.version1(context.resourceId);
        }
      }
      const nic = this.lastNic;
      if (prefer !== 0 && nic !== undefined && nic.kinds === (NSG | VNET) && kind !== prefer) {
        declined++;
        continue;
      }
      if (dedup && kind === NSG && this.seenBefore(flows, i)) {
        duplicates++;
        continue;
      }
      keep[i] = 1;
    }
    this.counters.declinedByPreference += declined;
    this.counters.duplicates += duplicates;
    if (declined + duplicates > 0) flows.keepRows(keep);
    return declined + duplicates;
  }

  private nicFor(mac: string): NicState | undefined {
    if (mac === '') return undefined;
    let nic = this.nics.get(mac);
    if (nic === undefined) {
      nic = { kinds: 0, nsgResourceId: '', vnetResourceId: '' };
      this.nics.set(mac, nic);
    }
    return nic;
  }

  private note(mac: string, nic: NicState, kind: number, resourceId: string): void {
    if ((nic.kinds & kind) !== 0) return;
    nic.kinds |= kind;
    if (kind === NSG) nic.nsgResourceId = resourceId;
    else nic.vnetResourceId = resourceId;
    if (nic.kinds === (NSG | VNET)) {
      this.counters.overlappingNics++;
      this.events.overlap(mac, nic.nsgResourceId, nic.vnetResourceId);
    }
  }

  /**
   * Whether the same tuple (NIC, time, addresses, ports, protocol, direction, decision, state,
   * counts) was seen within the window: two NSGs on one path log it alike, whatever their rules.
   * Keys are exact (no hash that could take a real tuple for another).
   */
  private seenBefore(flows: FlowColumns, i: number): boolean {
    const timeMs = flows.times[i]!;
    const a = i * ADDRESS_WORDS;
    const words = (flows.flags[i]! & IPV6) !== 0 ? 8 : 1;
    let key = `${flows.contexts[i]!.mac}|${timeMs}|${flows.ports[i * 2]}|${flows.ports[i * 2 + 1]}|${flows.protocols[i]}|${flows.flags[i]! & ~DENIED}|${flows.flags[i]! & DENIED}|${flows.states[i]}`;
    for (let w = 0; w < words; w++) key += `|${flows.addresses[a + (words === 1 ? 0 : w)]}`;
    if (words === 1) key += `|${flows.addresses[a + 4]}`;
    const c = i * 4;
    key += `|${flows.counts[c]}|${flows.counts[c + 1]}|${flows.counts[c + 2]}|${flows.counts[c + 3]}`;
    if (this.current.has(key) || this.previous.has(key)) return true;
    if (this.current.size >= this.maxEntries / 2 || timeMs - this.generationStartMs > this.windowMs) {
      this.previous = this.current;
      this.current = new Set();
      this.generationStartMs = timeMs;
    }
    this.current.add(key);
    return false;
  }
}
