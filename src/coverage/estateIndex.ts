import type { Estate, EstateFlowLog, EstateNic, EstateNsg, EstateResource, EstateSubnet, EstateVnet } from '../inventory/estate.js';
import type { FlowLogKind, FlowLogTargetType } from './report.js';

/** Resource ids compared the way Azure does: case-insensitively, without a trailing slash. */
export function idKey(id: string): string {
  return id.toLowerCase().replace(/\/+$/, '');
}

/** What a flow log targets, from its targetResourceId's path. */
export function targetTypeOf(targetResourceId: string): FlowLogTargetType {
  const id = idKey(targetResourceId);
  if (/\/providers\/microsoft\.network\/networksecuritygroups\/[^/]+$/.test(id)) return 'nsg';
  if (/\/providers\/microsoft\.network\/virtualnetworks\/[^/]+\/subnets\/[^/]+$/.test(id)) return 'subnet';
  if (/\/providers\/microsoft\.network\/virtualnetworks\/[^/]+$/.test(id)) return 'vnet';
  if (/\/networkinterfaces\/[^/]+$/.test(id)) return 'nic';
  return 'unknown';
}

/** An NSG flow log targets an NSG; a VNet flow log a VNet, a subnet or a NIC. */
export function flowLogKindOf(flowLog: EstateFlowLog): FlowLogKind {
  return targetTypeOf(flowLog.targetResourceId) === 'nsg' ? 'nsg' : 'vnet';
}

export interface Placement {
  readonly vnet: EstateVnet;
  readonly subnet: EstateSubnet;
}

/**
 * The estate indexed by id for the rules: which NSG sits on each subnet and NIC (from either side
 * of the association: a subnet or NIC naming its NSG, or an NSG listing them), which NICs sit in
 * each subnet, and which flow logs target each resource.
 */
export class EstateIndex {
  readonly vnets: readonly EstateVnet[];
  private readonly subnetsById = new Map<string, Placement>();
  private readonly nsgsById = new Map<string, EstateNsg>();
  private readonly nicsBySubnet = new Map<string, EstateNic[]>();
  private readonly subnetNsg = new Map<string, string>();
  private readonly nicNsg = new Map<string, string>();
  private readonly logsByTarget = new Map<string, EstateFlowLog[]>();
  private readonly watchers = new Map<string, EstateResource>();

  constructor(readonly estate: Estate) {
    this.vnets = estate.vnets;
    for (const vnet of estate.vnets) for (const subnet of vnet.subnets) this.subnetsById.set(idKey(subnet.id), { vnet, subnet });
    for (const nsg of estate.nsgs) {
      this.nsgsById.set(idKey(nsg.id), nsg);
      for (const subnet of nsg.subnetIds) this.subnetNsg.set(idKey(subnet), nsg.id);
      for (const nic of nsg.nicIds) this.nicNsg.set(idKey(nic), nsg.id);
    }
    // The subnet's and the NIC's own word wins over the NSG's list.
    for (const vnet of estate.vnets) for (const subnet of vnet.subnets) if (subnet.nsgId !== undefined) this.subnetNsg.set(idKey(subnet.id), subnet.nsgId);
    for (const nic of estate.nics) {
      if (nic.nsgId !== undefined) this.nicNsg.set(idKey(nic.id), nic.nsgId);
      for (const subnet of nic.subnetIds) {
        const key = idKey(subnet);
        const list = this.nicsBySubnet.get(key);
        if (list === undefined) this.nicsBySubnet.set(key, [nic]);
        else list.push(nic);
      }
    }
    for (const flowLog of estate.flowLogs) {
      const key = idKey(flowLog.targetResourceId);
      const list = this.logsByTarget.get(key);
      if (list === undefined) this.logsByTarget.set(key, [flowLog]);
      else list.push(flowLog);
    }
    for (const watcher of estate.networkWatchers) {
      const key = `${watcher.subscriptionId.toLowerCase()}/${watcher.location}`;
      if (!this.watchers.has(key)) this.watchers.set(key, watcher);
    }
  }

  placementOf(subnetId: string): Placement | undefined {
    return this.subnetsById.get(idKey(subnetId));
  }

  nicsIn(subnet: EstateSubnet): readonly EstateNic[] {
    return this.nicsBySubnet.get(idKey(subnet.id)) ?? [];
  }

  subnetNsgOf(subnet: EstateSubnet): string | undefined {
    return this.subnetNsg.get(idKey(subnet.id));
  }

  nicNsgOf(nic: EstateNic): string | undefined {
    return this.nicNsg.get(idKey(nic.id));
  }

  nsgName(nsgId: string): string {
    return this.nsgsById.get(idKey(nsgId))?.name ?? lastSegment(nsgId);
  }

  /** Flow logs targeting `id` (enabled or not); `kind` keeps one kind. */
  logsAt(id: string | undefined, filter: { enabled?: boolean; kind?: FlowLogKind } = {}): EstateFlowLog[] {
    if (id === undefined) return [];
    return (this.logsByTarget.get(idKey(id)) ?? []).filter(
      (log) => (filter.enabled === undefined || log.enabled === filter.enabled) && (filter.kind === undefined || flowLogKindOf(log) === filter.kind),
    );
  }

  /** Enabled VNet flow logs on a subnet or NIC of the VNet: its owner chose per-subnet logging. */
  isGranular(vnet: EstateVnet): boolean {
    return vnet.subnets.some(
      (subnet) =>
        this.logsAt(subnet.id, { enabled: true, kind: 'vnet' }).length > 0 ||
        this.nicsIn(subnet).some((nic) => this.logsAt(nic.id, { enabled: true, kind: 'vnet' }).length > 0),
    );
  }

  /** Where an NSG is associated: its subnets, and the subnets of the NICs it sits on (with the NIC). */
  associationsOf(nsgId: string): Array<Placement & { readonly nic?: EstateNic }> {
    const key = idKey(nsgId);
    const found: Array<Placement & { readonly nic?: EstateNic }> = [];
    for (const vnet of this.vnets) {
      for (const subnet of vnet.subnets) {
        if (idKey(this.subnetNsgOf(subnet) ?? '') === key) found.push({ vnet, subnet });
        for (const nic of this.nicsIn(subnet)) if (idKey(this.nicNsgOf(nic) ?? '') === key) found.push({ vnet, subnet, nic });
      }
    }
    return found;
  }

  /** Enabled NSG flow logs of the NSGs on these subnets or on their NICs. */
  enabledNsgLogsIn(subnets: readonly EstateSubnet[]): EstateFlowLog[] {
    const logs = new Map<string, EstateFlowLog>();
    for (const subnet of subnets) {
      const nsgs = [this.subnetNsgOf(subnet), ...this.nicsIn(subnet).map((nic) => this.nicNsgOf(nic))];
      for (const nsg of nsgs) for (const log of this.logsAt(nsg, { enabled: true, kind: 'nsg' })) logs.set(idKey(log.id), log);
    }
    return [...logs.values()];
  }

  networkWatcher(subscriptionId: string, region: string): EstateResource | undefined {
    return this.watchers.get(`${subscriptionId.toLowerCase()}/${region}`);
  }
}

export function lastSegment(id: string): string {
  const trimmed = id.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}
