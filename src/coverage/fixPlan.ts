import type { Estate, EstateFlowLog, EstateResource, EstateSubnet, EstateVnet } from '../inventory/estate.js';
import {
  configureNetworkWatcher,
  createVnetFlowLog,
  DEFAULT_NETWORK_WATCHER_RESOURCE_GROUP,
  defaultNetworkWatcherName,
  enableFlowLog,
  vnetFlowLogPolicy,
  type FlowLogRef,
} from './azCommands.js';
import { EstateIndex, idKey, lastSegment } from './estateIndex.js';
import type { PolicyFix } from './report.js';

/** What every finding's fix draws on: the estate, the accounts nsg2ipfix reads, names for new flow logs. */
export class FixContext {
  readonly readAccounts: readonly string[];
  /** Flow logs some fix turns back on (no separate "disabled" finding for them). */
  readonly reEnabled = new Set<string>();
  private readonly readAccountMatchers: ReadonlyArray<{ id?: string; name?: string }>;
  private readonly retentionDays: number;
  private readonly names = new Map<string, string>();
  private readonly taken = new Set<string>();

  constructor(
    readonly index: EstateIndex,
    private readonly estate: Estate,
    options: { readonly readStorageAccounts: readonly string[]; readonly retentionDays: number },
  ) {
    this.readAccounts = options.readStorageAccounts;
    this.readAccountMatchers = this.readAccounts.map(accountMatcher);
    this.retentionDays = options.retentionDays;
    for (const log of estate.flowLogs) this.taken.add(`${log.subscriptionId.toLowerCase()}/${log.location}/${log.name.toLowerCase()}`);
  }

  plan(): FixPlan {
    return new FixPlan(this);
  }

  get retention(): number {
    return this.retentionDays;
  }

  /** Whether nsg2ipfix reads the flow log's storage account; null when not told which it reads. */
  storageRead(log: EstateFlowLog): boolean | null {
    if (this.readAccountMatchers.length === 0) return null;
    if (log.storageId === undefined) return false;
    const id = idKey(log.storageId);
    const name = lastSegment(id);
    return this.readAccountMatchers.some((m) => (m.id !== undefined && m.id === id) || (m.name !== undefined && m.name === name));
  }

  /** An account nsg2ipfix reads, known to be in `region`. */
  readAccountIn(region: string): EstateResource | undefined {
    return this.estate.storageAccounts.find((account) => account.location === region && this.readAccountMatchers.some((m) => matches(m, account)));
  }

  /**
   * The storage account a new flow log in `region` writes to: one nsg2ipfix reads there; else one
   * given by id whose region is unknown (outside the scope); else the one most used by the
   * region's enabled flow logs; else a placeholder to fill.
   */
  storageFor(region: string): { id: string; note?: string } {
    const read = this.readAccountIn(region);
    if (read !== undefined) return { id: read.id };
    const unknown = this.readAccountMatchers.find((m) => m.id !== undefined && !this.estate.storageAccounts.some((account) => matches(m, account)));
    if (unknown?.id !== undefined) {
      const given = this.readAccounts[this.readAccountMatchers.indexOf(unknown)]!;
      return { id: given, note: `${lastSegment(given)} must be in ${region} (flow logs write to an account in their own region)` };
    }
    const used = new Map<string, number>();
    for (const log of this.estate.flowLogs)
      if (log.enabled && log.location === region && log.storageId !== undefined) used.set(log.storageId, (used.get(log.storageId) ?? 0) + 1);
    const busiest = [...used.entries()].sort((a, b) => b[1] - a[1] || compare(a[0], b[0]))[0]?.[0];
    if (busiest !== undefined) {
      const hint =
        this.readAccounts.length > 0
          ? `; nsg2ipfix does not read it: add it (nsg2ipfix blob --account-url https://${lastSegment(busiest)}.blob.core.windows.net)`
          : '';
      return { id: busiest, note: `${lastSegment(busiest)} is what the flow logs of ${region} write to${hint}` };
    }
    return {
      id: `<storage-account-id-in-${region}>`,
      note: `replace <storage-account-id-in-${region}> with a Standard storage account in ${region} (flow logs write to an account in their own region), and have nsg2ipfix read it`,
    };
  }

  /** A name for the VNet flow log of `target`, after the built-in policy's (`{vnet}-{resource group}-flowlog`), unique in its Network Watcher. */
  flowLogNameFor(vnet: EstateVnet, subnet?: EstateSubnet): string {
    const key = idKey(subnet?.id ?? vnet.id);
    const known = this.names.get(key);
    if (known !== undefined) return known;
    const base = sanitizeName(`${vnet.name}-${subnet === undefined ? vnet.resourceGroup : subnet.name}`.slice(0, 72));
    let name = `${base}-flowlog`;
    for (let n = 2; this.taken.has(`${vnet.subscriptionId.toLowerCase()}/${vnet.location}/${name.toLowerCase()}`); n++) name = `${base}-flowlog-${n}`;
    this.taken.add(`${vnet.subscriptionId.toLowerCase()}/${vnet.location}/${name.toLowerCase()}`);
    this.names.set(key, name);
    return name;
  }

  policyFor(subscriptionId: string, region: string): PolicyFix {
    const watcher = this.index.networkWatcher(subscriptionId, region);
    return vnetFlowLogPolicy({
      subscriptionId,
      region,
      storageId: this.storageFor(region).id,
      networkWatcher:
        watcher === undefined
          ? { resourceGroup: DEFAULT_NETWORK_WATCHER_RESOURCE_GROUP, name: defaultNetworkWatcherName(region) }
          : { resourceGroup: watcher.resourceGroup, name: watcher.name },
      retentionDays: this.retention,
    });
  }
}

/**
 * The commands of one finding's fix, in order. Covering a VNet's subnets with a VNet flow log also
 * retires (disables) the NSG flow logs on the same workloads, and retiring an NSG flow log first
 * covers every subnet or NIC it alone sees, so that no fix leaves traffic unseen or counted twice.
 */
export class FixPlan {
  readonly commands: string[] = [];
  readonly notes: string[] = [];
  private readonly vnetsCovered = new Set<string>();
  private readonly subnetsCovered = new Set<string>();
  private readonly retired = new Set<string>();
  private readonly watchersConfigured = new Set<string>();

  constructor(readonly context: FixContext) {}

  /**
   * Makes VNet flow logs see these subnets of `vnet`: one flow log on the VNet (re-enabling a
   * disabled one first) when `preferVnetLevel` or the whole VNet needs it, unless the VNet already
   * logs per subnet or NIC; else one per subnet. Then retires the NSG flow logs on what it covers.
   */
  cover(vnet: EstateVnet, subnets: readonly EstateSubnet[], options: { preferVnetLevel: boolean }): void {
    const index = this.context.index;
    if (this.vnetCovered(vnet)) return;
    const needed = subnets.filter((subnet) => !this.subnetCovered(vnet, subnet));
    if (subnets.length > 0 && needed.length === 0) return;
    const vnetLevel = !index.isGranular(vnet) && (options.preferVnetLevel || needed.length === vnet.subnets.length);
    if (vnetLevel) {
      this.vnetsCovered.add(idKey(vnet.id));
      this.enableOrCreate(vnet);
      for (const log of index.enabledNsgLogsIn(vnet.subnets)) this.retire(log);
      return;
    }
    for (const subnet of needed) {
      this.subnetsCovered.add(idKey(subnet.id));
      this.enableOrCreate(vnet, subnet);
    }
    for (const log of index.enabledNsgLogsIn(needed)) this.retire(log);
  }

  /** Disables an NSG flow log once everything it sees is seen by VNet flow logs. */
  retire(log: EstateFlowLog): void {
    const key = idKey(log.id);
    if (this.retired.has(key)) return;
    this.retired.add(key);
    const needs = new Map<string, { vnet: EstateVnet; subnets: Map<string, EstateSubnet> }>();
    for (const { vnet, subnet, nic } of this.context.index.associationsOf(log.targetResourceId)) {
      const seen = this.subnetCovered(vnet, subnet) || (nic !== undefined && this.context.index.logsAt(nic.id, { enabled: true, kind: 'vnet' }).length > 0);
      if (seen) continue;
      const entry = needs.get(idKey(vnet.id)) ?? { vnet, subnets: new Map<string, EstateSubnet>() };
      entry.subnets.set(idKey(subnet.id), subnet);
      needs.set(idKey(vnet.id), entry);
    }
    for (const { vnet, subnets } of needs.values()) this.cover(vnet, [...subnets.values()], { preferVnetLevel: true });
    this.commands.push(enableFlowLog(ref(log), false));
  }

  private vnetCovered(vnet: EstateVnet): boolean {
    return this.vnetsCovered.has(idKey(vnet.id)) || this.context.index.logsAt(vnet.id, { enabled: true, kind: 'vnet' }).length > 0;
  }

  private subnetCovered(vnet: EstateVnet, subnet: EstateSubnet): boolean {
    return (
      this.vnetCovered(vnet) || this.subnetsCovered.has(idKey(subnet.id)) || this.context.index.logsAt(subnet.id, { enabled: true, kind: 'vnet' }).length > 0
    );
  }

  private enableOrCreate(vnet: EstateVnet, subnet?: EstateSubnet): void {
    const target = subnet ?? vnet;
    const disabled = this.context.index.logsAt(target.id, { enabled: false, kind: 'vnet' })[0];
    if (disabled !== undefined) {
      this.context.reEnabled.add(idKey(disabled.id));
      this.commands.push(enableFlowLog(ref(disabled), true));
      return;
    }
    const watcherKey = `${vnet.subscriptionId.toLowerCase()}/${vnet.location}`;
    if (this.context.index.networkWatcher(vnet.subscriptionId, vnet.location) === undefined && !this.watchersConfigured.has(watcherKey)) {
      this.watchersConfigured.add(watcherKey);
      this.commands.push(configureNetworkWatcher(vnet.subscriptionId, vnet.location));
      this.notes.push(
        `no Network Watcher in ${vnet.location} of subscription ${vnet.subscriptionId}: the first command enables one (resource group ${DEFAULT_NETWORK_WATCHER_RESOURCE_GROUP} must exist)`,
      );
    }
    const storage = this.context.storageFor(vnet.location);
    if (storage.note !== undefined) this.notes.push(storage.note);
    this.commands.push(
      createVnetFlowLog({
        subscriptionId: vnet.subscriptionId,
        region: vnet.location,
        name: this.context.flowLogNameFor(vnet, subnet),
        target: subnet === undefined ? { type: 'vnet', id: vnet.id } : { type: 'subnet', id: subnet.id },
        storageId: storage.id,
        retentionDays: this.context.retention,
      }),
    );
  }
}

export function ref(log: EstateFlowLog): FlowLogRef {
  return { subscriptionId: log.subscriptionId, location: log.location, name: log.name };
}

/** `--storage-account` as given: a resource id, a blob endpoint URL, or an account name. */
function accountMatcher(value: string): { id?: string; name?: string } {
  const trimmed = value.trim();
  if (trimmed.startsWith('/')) return { id: idKey(trimmed) };
  const url = /^https?:\/\/([a-z0-9]+)\.blob\./i.exec(trimmed);
  return { name: (url?.[1] ?? trimmed).toLowerCase() };
}

function matches(matcher: { id?: string; name?: string }, account: EstateResource): boolean {
  return (matcher.id !== undefined && matcher.id === idKey(account.id)) || (matcher.name !== undefined && matcher.name === account.name.toLowerCase());
}

/** Flow log names: letters, digits, `_`, `.`, `-`, starting with a letter or digit. */
function sanitizeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'vnet';
}

/** Case-insensitive order of Azure names and ids. */
export function compare(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}
