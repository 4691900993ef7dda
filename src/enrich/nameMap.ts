import { addressWords, dottedQuadWord, normalizeIp, ownerKey, type AddressHistory, type InterfaceNames, type NamedEntity } from '../flow/interfaceNames.js';
import { normalizeMac } from '../flow/mac.js';
import { AddressTable } from './addressTable.js';

export type { NamedEntity } from '../flow/interfaceNames.js';

/** Owners of one address that need a choice at lookup time: several over time, or several at once. */
interface Claims {
  readonly entities: readonly NamedEntity[];
  /** Epoch ms; -Infinity when the owner was there before anything was recorded. */
  readonly sinceMs: Float64Array;
  /** Epoch ms; Infinity while the owner still holds the address. */
  readonly untilMs: Float64Array;
}

interface Claim {
  readonly entity: NamedEntity;
  readonly sinceMs: number;
  readonly untilMs: number;
}

/** Who claims each address while a map is built: IPv4 by its word, IPv6 by its normalized text. */
class AddressOwners {
  readonly v4 = new Map<number, Claim | Claim[]>();
  readonly v6 = new Map<string, Claim | Claim[]>();

  add(text: string, claim: Claim): void {
    // Strict dotted quads are already normalized: the common case skips normalizeIp.
    let word = dottedQuadWord(text);
    if (word === undefined) {
      const ip = normalizeIp(text);
      if (ip === undefined) return;
      word = dottedQuadWord(ip);
      if (word === undefined) return AddressOwners.claim(this.v6, ip, claim);
    }
    AddressOwners.claim(this.v4, word, claim);
  }

  private static claim<K>(map: Map<K, Claim | Claim[]>, key: K, claim: Claim): void {
    const known = map.get(key);
    if (known === undefined) map.set(key, claim);
    else if (!Array.isArray(known)) {
      if (known.entity !== claim.entity || known.sinceMs !== claim.sinceMs) map.set(key, [known, claim]);
    } else if (!known.some((other) => other.entity === claim.entity && other.sinceMs === claim.sinceMs)) known.push(claim);
  }
}

/** forMac's cache of the strings it was asked about; bounded, since a stream of bad MACs never ends. */
const MAC_CACHE_LIMIT = 65_536;

/**
 * The lookup structure of the hot path: from a NIC's MAC, or from an address at a time, to its names.
 * Immutable: a new source version builds a new map, and a batch keeps using the map it started with.
 *
 * Lookups are per NIC and per address, never per string per tuple: `forMac` is cached by the very
 * string Azure wrote (one Map probe when called again with it), IPv4 and IPv6 lookups read the
 * address words of FlowColumns in an open-addressing table and allocate nothing. An address with
 * one owner answers without looking at the time.
 */
export class NameMap {
  /** Every entity; `entities[id - 1].id === id`. Current NICs first, in entry order, then past owners. */
  readonly entities: readonly NamedEntity[];
  private readonly byMac: ReadonlyMap<string, NamedEntity>;
  private readonly macCache = new Map<string, NamedEntity | null>();
  private readonly v4: AddressTable;
  private readonly v6: AddressTable;
  private readonly claims: readonly Claims[];

  private constructor(entities: NamedEntity[], byMac: Map<string, NamedEntity>, owners: AddressOwners) {
    this.entities = entities;
    this.byMac = byMac;
    const shared: Claims[] = [];
    const valueOf = (claim: Claim | Claim[]): number => {
      // An owner for all time answers without looking at the time; an interval is checked.
      if (!Array.isArray(claim) && claim.sinceMs === -Infinity && claim.untilMs === Infinity) return claim.entity.id;
      const claims = Array.isArray(claim) ? claim : [claim];
      claims.sort((a, b) => a.sinceMs - b.sinceMs || a.untilMs - b.untilMs);
      shared.push({
        entities: claims.map((claim) => claim.entity),
        sinceMs: Float64Array.from(claims, (claim) => claim.sinceMs),
        untilMs: Float64Array.from(claims, (claim) => claim.untilMs),
      });
      return -shared.length;
    };
    const v4Words: number[] = [];
    const v4Values: number[] = [];
    for (const [word, claims] of owners.v4) {
      v4Words.push(word);
      v4Values.push(valueOf(claims));
    }
    const v6: Array<[Int32Array, number]> = [];
    for (const [ip, claims] of owners.v6) v6.push([addressWords(ip), valueOf(claims)]);
    this.claims = shared;
    this.v4 = AddressTable.ofIpv4(v4Words, v4Values);
    this.v6 = AddressTable.of(4, v6);
  }

  /** A map that names nothing. */
  static readonly EMPTY: NameMap = NameMap.build([]);

  /**
   * Builds the map. `entries` are the current NICs; an address several of them claim is
   * ambiguous (the same private range in unpeered VNets) and is resolved per lookup (see forIpv4).
   * Of two entries with the same MAC the later wins the MAC. `history` holds addresses whose owner
   * changed: for those addresses it replaces the entries' claims, and past owners not among the
   * entries become entities of their own (after the entries).
   */
  static build(entries: readonly InterfaceNames[], history: readonly AddressHistory[] = []): NameMap {
    const entities: NamedEntity[] = [];
    const byMac = new Map<string, NamedEntity>();
    for (const names of entries) {
      const entity: NamedEntity = { id: entities.length + 1, names };
      entities.push(entity);
      const mac = names.mac === undefined ? '' : normalizeMac(names.mac);
      if (mac !== '') byMac.set(mac, entity);
    }
    const owners = new AddressOwners();
    const historyIps = new Set<string>();
    if (history.length > 0) {
      const byKey = new Map<string, NamedEntity>();
      for (const entity of entities) byKey.set(ownerKey(entity.names), entity);
      for (const record of history) {
        const ip = normalizeIp(record.ip);
        if (ip === undefined || record.owners.length === 0) continue;
        historyIps.add(ip);
        for (const owner of record.owners) {
          const key = ownerKey(owner.names);
          let entity = byKey.get(key);
          if (entity === undefined) {
            entity = { id: entities.length + 1, names: owner.names };
            entities.push(entity);
            byKey.set(key, entity);
          }
          owners.add(ip, { entity, sinceMs: owner.sinceMs, untilMs: owner.untilMs ?? Infinity });
        }
      }
    }
    for (const entity of entities) {
      let always: Claim | undefined;
      for (const text of entity.names.ips) {
        if (historyIps.size > 0 && historyIps.has(normalizeIp(text) ?? '')) continue;
        owners.add(text, (always ??= { entity, sinceMs: -Infinity, untilMs: Infinity }));
      }
    }
    return new NameMap(entities, byMac, owners);
  }

  /** The entity with this id (1..entities.length), else undefined. */
  byId(id: number): NamedEntity | undefined {
    return this.entities[id - 1];
  }

  /**
   * The NIC with this MAC, in any spelling Azure writes (`000D3AF87856`, `00-0D-3A-F8-78-56`,
   * mixed case). Cached by the string itself: the flow log hands the same string object for every
   * tuple of a rule group, so a repeated call is one Map probe.
   */
  forMac(mac: string): NamedEntity | undefined {
    const cached = this.macCache.get(mac);
    if (cached !== undefined) return cached ?? undefined;
    const entity = this.byMac.get(normalizeMac(mac));
    if (this.macCache.size >= MAC_CACHE_LIMIT) this.macCache.clear();
    this.macCache.set(mac, entity ?? null);
    return entity;
  }

  /**
   * The owner of an IPv4 address (its 32-bit big-endian word, signed as in FlowColumns) at
   * `timeMs`. With several owners: the one whose interval contains timeMs, else the latest one
   * before it, else the first. When several hold it at once (one private range in several VNets),
   * `near` (the flow's own NIC) picks the one in its VNet, else the only one in its subscription;
   * without a clear choice the address stays unnamed rather than misnamed.
   */
  forIpv4(word: number, timeMs: number, near?: NamedEntity): NamedEntity | undefined {
    const value = this.v4.get1(word);
    if (value > 0) return this.entities[value - 1];
    return value === 0 ? undefined : this.choose(this.claims[-value - 1]!, timeMs, near);
  }

  /** As forIpv4, for the IPv6 address in words[at..at+3]. */
  forIpv6(words: Int32Array, at: number, timeMs: number, near?: NamedEntity): NamedEntity | undefined {
    const value = this.v6.get4(words, at);
    if (value > 0) return this.entities[value - 1];
    return value === 0 ? undefined : this.choose(this.claims[-value - 1]!, timeMs, near);
  }

  /** The owner of an address given as text, for tools and tests (not the hot path). */
  forAddress(text: string, timeMs: number, near?: NamedEntity): NamedEntity | undefined {
    const ip = normalizeIp(text);
    if (ip === undefined) return undefined;
    const words = addressWords(ip);
    return words.length === 1 ? this.forIpv4(words[0]!, timeMs, near) : this.forIpv6(words, 0, timeMs, near);
  }

  /** How many IPv4 and IPv6 addresses are named. */
  get addressCount(): number {
    return this.v4.size + this.v6.size;
  }

  /**
   * The rare path: an address with several owners, or one owner for a time (see forIpv4). Before
   * anything was recorded the first owners held it (history starts when a change is first seen);
   * after an owner left and before the next came, nobody did: the address stays unnamed, since
   * Azure may have given a released public IP to someone else.
   */
  private choose(claims: Claims, timeMs: number, near: NamedEntity | undefined): NamedEntity | undefined {
    const { entities, sinceMs, untilMs } = claims;
    const all = entities.map((_, i) => i);
    let candidates = all.filter((i) => sinceMs[i]! <= timeMs && timeMs < untilMs[i]!);
    // Claims are sorted by sinceMs: the first ones are the earliest owners.
    if (candidates.length === 0 && timeMs < sinceMs[0]!) candidates = all.filter((i) => sinceMs[i] === sinceMs[0]);
    return candidates.length === 1
      ? entities[candidates[0]!]
      : disambiguate(
          candidates.map((i) => entities[i]!),
          near,
        );
  }
}

/** Of several owners at once: the one in the flow's VNet, else the only one in its subscription, else none. */
function disambiguate(candidates: readonly NamedEntity[], near: NamedEntity | undefined): NamedEntity | undefined {
  const subscription = near?.names.subscription?.toLowerCase();
  if (subscription === undefined) return undefined;
  const inSubscription = candidates.filter((entity) => entity.names.subscription?.toLowerCase() === subscription);
  const vnet = near!.names.vnet?.toLowerCase();
  const inVnet = vnet === undefined ? [] : inSubscription.filter((entity) => entity.names.vnet?.toLowerCase() === vnet);
  if (inVnet.length === 1) return inVnet[0];
  return inSubscription.length === 1 ? inSubscription[0] : undefined;
}
