import ipaddr from 'ipaddr.js';
import { formatMac, normalizeMac } from './mac.js';

/**
 * The Azure names of one network interface, wherever they came from (an enrichment file or Azure
 * Resource Graph). The flow log names the NIC of every tuple by its MAC, which stays when IPs are
 * reassigned: the local endpoint of a tuple is named through `mac`, the other one through `ips`.
 *
 * The keys are the public contract of `--enrich-file` (JSON keys, CSV columns) and of
 * `nsg2ipfix enrich export`.
 */
export interface InterfaceNames {
  /** 12 upper-case hex digits (normalizeMac), when known. */
  readonly mac?: string;
  /** Addresses owned by the NIC, private and public, as normalized text (normalizeIp). */
  readonly ips: readonly string[];
  readonly vm?: string;
  readonly nic?: string;
  readonly resourceGroup?: string;
  readonly subscription?: string;
  readonly region?: string;
  readonly vnet?: string;
  readonly subnet?: string;
  readonly tags?: Readonly<Record<string, string>>;
  /** The NIC's Azure resource id. */
  readonly resourceId?: string;
}

/** The optional text fields of InterfaceNames, in the column order of the CSV format. */
export const NAME_TEXT_FIELDS = ['vm', 'nic', 'resourceGroup', 'subscription', 'region', 'vnet', 'subnet', 'resourceId'] as const;

/** One owner of an address for a span of time: [sinceMs, untilMs), untilMs absent while it still owns it. */
export interface OwnerInterval {
  readonly names: InterfaceNames;
  readonly sinceMs: number;
  readonly untilMs?: number;
}

/**
 * Who owned one address over time, oldest first. Kept for addresses whose owner changed, so a late
 * block or a replay of last week's logs names the owner of that time.
 */
export interface AddressHistory {
  readonly ip: string;
  readonly owners: readonly OwnerInterval[];
}

/**
 * Everything the name sources know at one moment: the current NICs (later entries win a MAC) and
 * the history of addresses whose owner changed. Immutable; a change makes a new one.
 */
export interface NameSources {
  readonly entries: readonly InterfaceNames[];
  readonly history: readonly AddressHistory[];
  /** 1, 2, … per provider: which version a map was built from (for logs and metrics). */
  readonly version: number;
}

/**
 * One named NIC (or a past owner of an address) in a name map: what the encoders put on the wire
 * for a flow endpoint. Here rather than with the map so every stage may name the type.
 */
export interface NamedEntity {
  /** 1.. dense within one map (0 is never used: it means "none" in columns). */
  readonly id: number;
  readonly names: InterfaceNames;
}

/**
 * An address as one canonical text (IPv4 dotted quad; IPv6 in RFC 5952 form, IPv4-mapped IPv6 as
 * IPv4), so equal addresses compare equal as strings. Undefined when the text is not an address;
 * IPv4 must be four decimal parts (ipaddr.js would also take `10.1` or hex parts).
 */
export function normalizeIp(text: string): string | undefined {
  const trimmed = text.trim();
  // The common case, fast: a map of 10,000 NICs is built at every refresh.
  if (dottedQuadWord(trimmed) !== undefined) return trimmed;
  if (!trimmed.includes(':') || !ipaddr.IPv6.isValid(trimmed)) return undefined;
  const v6 = ipaddr.IPv6.parse(trimmed);
  // A zone (fe80::1%eth0) names a link, not an address Azure assigns.
  if (v6.zoneId !== undefined) return undefined;
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address().toString() : v6.toString();
}

/**
 * The 32-bit big-endian words of a normalized address, as FlowColumns stores them (signed Int32):
 * one word for IPv4, four for IPv6.
 */
export function addressWords(normalized: string): Int32Array {
  const v4 = dottedQuadWord(normalized);
  if (v4 !== undefined) return Int32Array.of(v4);
  const bytes = ipaddr.parse(normalized).toByteArray();
  const words = new Int32Array(bytes.length / 4);
  for (let w = 0; w < words.length; w++) {
    words[w] = (bytes[w * 4]! << 24) | (bytes[w * 4 + 1]! << 16) | (bytes[w * 4 + 2]! << 8) | bytes[w * 4 + 3]!;
  }
  return words;
}

/**
 * The word of a strict `a.b.c.d` (decimal 0..255, no leading zeros: `010` could mean octal), else
 * undefined. Read digit by digit: a map of 10,000 NICs asks this of every address, at every
 * refresh, and a regular expression's match array for each was a tenth of the load.
 */
export function dottedQuadWord(text: string): number | undefined {
  const end = text.length;
  if (end < 7 || end > 15) return undefined;
  let word = 0;
  let at = 0;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (text.charCodeAt(at) !== 0x2e) return undefined;
      at++;
    }
    const first = at;
    let value = 0;
    for (let digit = text.charCodeAt(at) - 0x30; digit >= 0 && digit <= 9 && at - first < 3; digit = text.charCodeAt(at) - 0x30) {
      value = value * 10 + digit;
      at++;
    }
    const digits = at - first;
    if (digits === 0 || value > 255 || (digits > 1 && text.charCodeAt(first) === 0x30)) return undefined;
    word = (word << 8) | value;
  }
  return at === end ? word : undefined;
}

/**
 * What makes two InterfaceNames the same owner across refreshes: the NIC's resource id (a NIC may
 * get another MAC when its VM is deallocated and started again), else its MAC, else its names
 * (entries of a file that give neither).
 */
export function ownerKey(names: InterfaceNames): string {
  if (names.resourceId !== undefined && names.resourceId !== '') return `id:${names.resourceId.toLowerCase()}`;
  if (names.mac !== undefined && names.mac !== '') return `mac:${names.mac}`;
  return `names:${names.subscription ?? ''}/${names.resourceGroup ?? ''}/${names.vm ?? ''}/${names.nic ?? ''}/${names.vnet ?? ''}/${names.subnet ?? ''}`;
}

/** Field-by-field equality (ips in order, tags regardless of key order). */
export function sameNames(a: InterfaceNames, b: InterfaceNames): boolean {
  if (a.mac !== b.mac || a.ips.length !== b.ips.length) return false;
  for (let i = 0; i < a.ips.length; i++) if (a.ips[i] !== b.ips[i]) return false;
  for (const field of NAME_TEXT_FIELDS) if (a[field] !== b[field]) return false;
  const aTags = Object.entries(a.tags ?? {});
  const bTags = b.tags ?? {};
  if (aTags.length !== Object.keys(bTags).length) return false;
  return aTags.every(([key, value]) => Object.hasOwn(bTags, key) && bTags[key] === value);
}

/** Minutes between Azure discoveries (`--enrich-refresh-minutes`). */
export const DEFAULT_REFRESH_MINUTES = 10;
/** Days a former owner of an address is remembered (`--enrich-history-days`). */
export const DEFAULT_HISTORY_DAYS = 7;

/** The names a data record can carry for each endpoint (`--enrich-fields`). */
export const NAME_FIELDS = ['vm', 'nic', 'resourceGroup', 'subscription', 'region', 'vnet', 'subnet', 'tags'] as const;
export type NameField = (typeof NAME_FIELDS)[number];
/**
 * What `--enrich-fields` gives by default (tags join them when `--enrich-tags` names some): the
 * names that tell where traffic is, without the NIC's (interface options records carry it) or the
 * region's: every name costs bytes in every record.
 */
export const DEFAULT_NAME_FIELDS: readonly NameField[] = ['vm', 'resourceGroup', 'subscription', 'vnet', 'subnet'];

/** Which names go into data records, as the encoders need it (plain data: it crosses to the exporting thread). */
export interface NameEncoding {
  readonly fields: readonly NameField[];
  /** Tag keys written in the `tags` field as `key=value;...`, or '*' for every tag. */
  readonly tags: readonly string[] | '*';
}

/**
 * The text of one name field of an endpoint ('' when unknown); tags as `key=value;key=value`, sorted
 * by key, with `%`, `;` and `=` inside a key or value written %25, %3B, %3D so the list splits back
 * unambiguously (as in the CSV file's tags cell).
 */
export function nameText(names: InterfaceNames, field: NameField, tags: NameEncoding['tags']): string {
  if (field !== 'tags') return names[field] ?? '';
  const all = names.tags ?? {};
  const keys = (tags === '*' ? Object.keys(all) : tags.filter((key) => Object.hasOwn(all, key))).sort();
  return keys.map((key) => `${escapeTagText(key)}=${escapeTagText(all[key]!)}`).join(';');
}

/** A tag key or value with the characters of the `k=v;k=v` list escaped: `%` %25, `;` %3B, `=` %3D. */
export function escapeTagText(text: string): string {
  return text.replace(/[%;=]/g, (c) => (c === '%' ? '%25' : c === ';' ? '%3B' : '%3D'));
}

/**
 * What an interface options record says of a NIC (interfaceName / interfaceDescription, RFC 7012):
 * its Azure name and `vm (resource group)` when enrichment knows it, else its MAC and the NSG or
 * flow log that logged it. nfdump prints the description as %inam / %onam.
 */
export function interfaceLabels(index: number, mac: string, resourceId: string, names: InterfaceNames | undefined): { name: string; description: string } {
  const normalized = normalizeMac(mac);
  const fallbackName = normalized === '' ? `nic-${index}` : formatMac(normalized);
  const resourceName = resourceId.split('/').filter(Boolean).pop() ?? '';
  const fallbackDescription = resourceName === '' ? 'Azure NIC' : `Azure NIC behind ${resourceName}`;
  if (names === undefined) return { name: fallbackName, description: fallbackDescription };
  const owner = names.vm ?? names.nic;
  const description = owner === undefined ? fallbackDescription : names.resourceGroup === undefined ? owner : `${owner} (${names.resourceGroup})`;
  return { name: names.nic ?? fallbackName, description };
}
