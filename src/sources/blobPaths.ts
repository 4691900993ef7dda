/**
 * Flow log blob names and the filters on them. Azure writes
 *
 *   NSG:  resourceId=/SUBSCRIPTIONS/{sub}/RESOURCEGROUPS/{rg}/PROVIDERS/MICROSOFT.NETWORK/
 *         NETWORKSECURITYGROUPS/{nsg}/y=YYYY/m=MM/d=DD/h=HH/m=00/macAddress={mac}/PT1H.json
 *   VNet: flowLogResourceID=/{SUB}_{RG}/NETWORKWATCHER_{REGION}_{NAME}/y=.../PT1H.json
 *
 * The part before `y=` (the "resource root") is not hard-coded: discovery finds roots as the
 * prefixes whose children are `y=` folders, and the filters read what they can from them.
 */

export const NSG_CONTAINER = 'insights-logs-networksecuritygroupflowevent';
export const VNET_CONTAINER = 'insights-logs-flowlogflowevent';
export const DEFAULT_CONTAINERS: readonly string[] = [NSG_CONTAINER, VNET_CONTAINER];

export const HOUR_MS = 3_600_000;

/** `y=2025/m=06/d=12/h=09/` anywhere in a name; group 1 is everything before it (the root). */
const HOUR_PATTERN = /^(.*?)y=(\d{4})\/m=(\d{2})\/d=(\d{2})\/h=(\d{2})\//;
const MAC_PATTERN = /(?:^|\/)macAddress=([^/]+)\//i;

export interface FlowLogBlobName {
  /** Everything before `y=`, ending with `/` (or empty). */
  readonly root: string;
  /** The hour prefix: root + `y=YYYY/m=MM/d=DD/h=HH/`. */
  readonly hourPrefix: string;
  readonly hourMs: number;
  /** Upper case, no separators; undefined when the name has no `macAddress=` segment. */
  readonly mac?: string;
}

/** Reads root, hour and MAC from a blob name; undefined for names without a `y=/m=/d=/h=` part. */
export function parseFlowLogBlobName(name: string): FlowLogBlobName | undefined {
  const hour = HOUR_PATTERN.exec(name);
  if (hour === null) return undefined;
  const [prefix, root, y, m, d, h] = hour as unknown as [string, string, string, string, string, string];
  const hourMs = Date.UTC(Number(y), Number(m) - 1, Number(d), Number(h));
  if (Number.isNaN(hourMs)) return undefined;
  const mac = MAC_PATTERN.exec(name.slice(prefix.length));
  return { root, hourPrefix: prefix, hourMs, ...(mac === null ? {} : { mac: normalizeMac(mac[1]!) }) };
}

export function hourPrefix(root: string, hourMs: number): string {
  const t = new Date(hourMs);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${root}y=${t.getUTCFullYear()}/m=${two(t.getUTCMonth() + 1)}/d=${two(t.getUTCDate())}/h=${two(t.getUTCHours())}/`;
}

export function floorHour(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

export function normalizeMac(mac: string): string {
  return mac.replace(/[^0-9a-f]/gi, '').toUpperCase();
}

/** What a resource root says about the resource, as far as it says it (upper case). */
export interface RootParts {
  subscription?: string;
  resourceGroup?: string;
  /** NSG name, or VNet flow log name. */
  name?: string;
  /** True once the root is complete (its children are `y=` folders). */
  complete: boolean;
}

/**
 * Reads subscription, resource group and name from a (possibly partial) root:
 * `resourceId=/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/.../NSG/` or
 * `flowLogResourceID=/S_RG/NETWORKWATCHER_REGION_NAME/`.
 */
export function rootParts(root: string, complete: boolean): RootParts {
  const segments = root.split('/').filter((s) => s.length > 0);
  const upper = segments.map((s) => s.toUpperCase());
  const parts: RootParts = { complete };
  const sub = upper.indexOf('SUBSCRIPTIONS');
  if (sub >= 0) {
    if (sub + 1 < upper.length) parts.subscription = upper[sub + 1];
    const rg = upper.indexOf('RESOURCEGROUPS');
    if (rg >= 0 && rg + 1 < upper.length) parts.resourceGroup = upper[rg + 1];
    if (complete) parts.name = upper[upper.length - 1];
    return parts;
  }
  // Short VNet form: the first segment after `flowLogResourceID=` is `{SUB}_{RG}`.
  const first = upper[0]?.endsWith('=') ? 1 : 0;
  const subRg = upper[first];
  if (subRg !== undefined) {
    const underscore = subRg.indexOf('_');
    if (underscore > 0) {
      parts.subscription = subRg.slice(0, underscore);
      parts.resourceGroup = subRg.slice(underscore + 1);
    } else parts.subscription = subRg;
  }
  if (complete && upper.length > first + 1) {
    const last = upper[upper.length - 1]!;
    const match = /^NETWORKWATCHER_[^_]+_(.+)$/.exec(last);
    parts.name = match === null ? last : match[1];
  }
  return parts;
}

export interface BlobFilters {
  readonly subscriptions: readonly string[];
  readonly resourceGroups: readonly string[];
  /** NSG or VNet flow log names. */
  readonly names: readonly string[];
  readonly macs: readonly string[];
}

export const NO_FILTERS: BlobFilters = { subscriptions: [], resourceGroups: [], names: [], macs: [] };

function allows(wanted: readonly string[], actual: string | undefined, known: boolean): boolean {
  if (wanted.length === 0) return true;
  if (actual === undefined) return !known;
  return wanted.some((w) => w.toUpperCase() === actual);
}

/**
 * Whether a root (or a prefix on the way to one, `complete` false) can hold blobs the filters
 * let through. A partial prefix is rejected only once it names something the filters exclude.
 */
export function rootAllowed(filters: BlobFilters, root: string, complete: boolean): boolean {
  const parts = rootParts(root, complete);
  return (
    allows(filters.subscriptions, parts.subscription, complete) &&
    allows(filters.resourceGroups, parts.resourceGroup, complete) &&
    allows(filters.names, parts.name, complete)
  );
}

export function macAllowed(filters: BlobFilters, mac: string | undefined): boolean {
  if (filters.macs.length === 0) return true;
  return mac !== undefined && filters.macs.some((m) => normalizeMac(m) === mac);
}
