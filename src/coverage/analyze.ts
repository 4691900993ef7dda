import type { Estate, EstateFlowLog, EstateResource, EstateSubnet, EstateVnet } from '../inventory/estate.js';
import { compare, FixContext } from './fixPlan.js';
import { EstateIndex, flowLogKindOf, idKey, targetTypeOf } from './estateIndex.js';
import { flowLogFindings, uniqueIds, vnetFindings, type NicState, type SubnetState, type VnetState } from './findings.js';
import {
  SEVERITIES,
  type CoverageReason,
  type CoverageReport,
  type Finding,
  type FindingKind,
  type FlowLogSummary,
  type ResourceSummary,
  type Severity,
  type SubnetCoverage,
  type SubnetCoverageStatus,
  type VnetCoverage,
  type VnetCoverageStatus,
} from './report.js';

/** Retention of the flow logs the fixes create: a week of room for nsg2ipfix to catch up after an outage. */
export const DEFAULT_FIX_RETENTION_DAYS = 7;

export interface CoverageOptions {
  /** When the report was made (ISO 8601): the caller's clock, not ours. */
  readonly generatedAt: string;
  readonly scope?: { readonly subscriptions?: readonly string[]; readonly managementGroups?: readonly string[] };
  /** The storage accounts nsg2ipfix reads (`--storage-account`: ids, names or blob URLs); none: not checked. */
  readonly readStorageAccounts?: readonly string[];
  /** `--retention` of the flow logs the fixes create (default 7). */
  readonly retentionDays?: number;
}

/**
 * Judges an estate's flow log coverage. Pure: the same estate and options give the same report.
 *
 * Rules (docs/coverage.md):
 * - A NIC is seen by VNet flow logs when an enabled VNet flow log targets its VNet, its subnet or
 *   the NIC itself; by NSG flow logs when an enabled NSG flow log targets the NSG on its subnet or
 *   on the NIC. A disabled flow log counts as none.
 * - A NIC seen by both kinds is counted twice at the collector, as is a NIC whose subnet NSG and NIC
 *   NSG both have enabled flow logs (Azure evaluates both NSGs and each flow log records the flow).
 * - A subnet seen only through its subnet NSG's flow log (no VNet flow log, no NIC NSG flow log)
 *   loses the traffic between its own VMs. That is issue 16's requirement ("with a subnet NSG and
 *   no NIC NSGs, traffic between VMs of the same subnet is invisible"). Note that Microsoft's "How
 *   network security groups filter network traffic" says a subnet NSG's rules are processed for
 *   intra-subnet traffic too; the finding stands on the issue's claim, and its fix (a VNet flow log,
 *   which records all traffic of the VNet) is right either way.
 * - NSG flow logs with format version other than 2 carry no byte or packet counts.
 * - Every NSG flow log must migrate: none can be created since 2025-06-30, they stop on 2027-09-30.
 *
 * Fixes follow Microsoft's migration ("migration with aggregation": one VNet flow log per VNet, the
 * NSG flow logs on its workloads disabled, as its recommendation to disable NSG flow logs before
 * enabling VNet flow logs on the same workloads asks), and per-subnet VNet flow logs where the
 * VNet's owner already logs per subnet or NIC, or to close one blind subnet without touching the
 * others.
 */
export function analyzeCoverage(estate: Estate, options: CoverageOptions): CoverageReport {
  const index = new EstateIndex(estate);
  const context = new FixContext(index, estate, {
    readStorageAccounts: options.readStorageAccounts ?? [],
    retentionDays: options.retentionDays ?? DEFAULT_FIX_RETENTION_DAYS,
  });
  const vnetStates = sortByName(estate.vnets).map((vnet) => vnetState(index, vnet));
  const findings: Finding[] = [];
  for (const state of vnetStates) findings.push(...vnetFindings(context, state));
  for (const flowLog of sortById(estate.flowLogs)) findings.push(...flowLogFindings(context, flowLog));
  findings.sort(
    (a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) || KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind) || compare(a.name, b.name),
  );

  const vnets = vnetStates.map((state) => vnetReport(state));
  const flowLogs = sortById(estate.flowLogs).map((log) => flowLogReport(context, log));
  const subnets = vnets.flatMap((vnet) => vnet.subnets);
  const subnetCoverage: Record<SubnetCoverageStatus, number> = { vnet: 0, nsg: 0, both: 0, mixed: 0, blind: 0 };
  for (const subnet of subnets) subnetCoverage[subnet.coverage]++;
  const bySeverity: Record<Severity, number> = { high: 0, medium: 0, low: 0, info: 0 };
  for (const finding of findings) bySeverity[finding.severity]++;
  return {
    scope: { subscriptions: [...(options.scope?.subscriptions ?? [])], managementGroups: [...(options.scope?.managementGroups ?? [])] },
    generatedAt: options.generatedAt,
    readStorageAccounts: [...(options.readStorageAccounts ?? [])],
    vnets,
    flowLogs,
    findings,
    summary: {
      vnets: vnets.length,
      subnets: subnets.length,
      nics: subnets.reduce((sum, subnet) => sum + subnet.nics.length, 0),
      flowLogs: {
        total: flowLogs.length,
        nsg: flowLogs.filter((log) => log.kind === 'nsg').length,
        vnet: flowLogs.filter((log) => log.kind === 'vnet').length,
        disabled: flowLogs.filter((log) => !log.enabled).length,
      },
      subnetCoverage,
      findings: { ...bySeverity, total: findings.length },
    },
  };
}

/** Findings of one severity and above (`--fail-on-findings [severity]`). */
export function findingsAtOrAbove(report: CoverageReport, severity: Severity): Finding[] {
  const limit = SEVERITIES.indexOf(severity);
  return report.findings.filter((finding) => SEVERITIES.indexOf(finding.severity) <= limit);
}

const KINDS: readonly FindingKind[] = [
  'blind',
  'double-counting-nsg-vnet',
  'double-counting-nsg-nsg',
  'nsg-flow-log-v1',
  'nics-unseen',
  'subnet-nsg-only',
  'storage-not-read',
  'nsg-flow-log-retiring',
  'flow-log-disabled',
];

// ---------------------------------------------------------------------------------------------
// Coverage of NICs, subnets and VNets

function vnetState(index: EstateIndex, vnet: EstateVnet): VnetState {
  const vnetLogs = index.logsAt(vnet.id, { enabled: true, kind: 'vnet' });
  const subnets = vnet.subnets.map((subnet) => subnetState(index, vnet, subnet, vnetLogs));
  let coverage: VnetCoverageStatus;
  if (subnets.length === 0) coverage = vnetLogs.length > 0 ? 'vnet' : 'blind';
  else if (subnets.every((s) => s.coverage === 'blind')) coverage = 'blind';
  else if (subnets.some((s) => s.coverage === 'blind')) coverage = 'partial';
  else if (subnets.some((s) => s.coverage === 'both')) coverage = 'both';
  else if (subnets.every((s) => s.coverage === subnets[0]!.coverage)) coverage = subnets[0]!.coverage;
  else coverage = 'mixed';
  return { vnet, vnetLogs, disabledVnetLogs: index.logsAt(vnet.id, { enabled: false, kind: 'vnet' }), subnets, coverage };
}

function subnetState(index: EstateIndex, vnet: EstateVnet, subnet: EstateSubnet, vnetLogs: readonly EstateFlowLog[]): SubnetState {
  const nsgId = index.subnetNsgOf(subnet);
  const subnetVnetLogs = [...vnetLogs, ...index.logsAt(subnet.id, { enabled: true, kind: 'vnet' })];
  const subnetNsgLogs = index.logsAt(nsgId, { enabled: true, kind: 'nsg' });
  const disabled = new Map<string, EstateFlowLog>();
  const noteDisabled = (id: string | undefined) => {
    for (const log of index.logsAt(id, { enabled: false })) disabled.set(idKey(log.id), log);
  };
  noteDisabled(vnet.id);
  noteDisabled(subnet.id);
  noteDisabled(nsgId);

  const nics = index.nicsIn(subnet).map((nic): NicState => {
    const nicNsg = index.nicNsgOf(nic);
    noteDisabled(nic.id);
    noteDisabled(nicNsg);
    const nicNsgLogs = nicNsg !== undefined && idKey(nicNsg) === idKey(nsgId ?? '') ? [] : index.logsAt(nicNsg, { enabled: true, kind: 'nsg' });
    const nicVnetLogs = index.logsAt(nic.id, { enabled: true, kind: 'vnet' });
    const vnetSeen = [...subnetVnetLogs, ...nicVnetLogs];
    const nsgSeen = [...subnetNsgLogs, ...nicNsgLogs];
    return {
      nic,
      nsgId: nicNsg,
      vnetLogs: vnetSeen,
      nsgLogs: nsgSeen,
      nicNsgLogs,
      nicVnetLogs,
      coverage: vnetSeen.length > 0 && nsgSeen.length > 0 ? 'both' : vnetSeen.length > 0 ? 'vnet' : nsgSeen.length > 0 ? 'nsg' : 'blind',
      nsgTwice: subnetNsgLogs.length > 0 && nicNsgLogs.length > 0,
    };
  });

  const anyVnet = subnetVnetLogs.length > 0 || nics.some((n) => n.vnetLogs.length > 0);
  const anyNsg = subnetNsgLogs.length > 0 || nics.some((n) => n.nsgLogs.length > 0);
  const overlap = nics.some((n) => n.coverage === 'both') || (nics.length === 0 && subnetVnetLogs.length > 0 && subnetNsgLogs.length > 0);
  const coverage: SubnetCoverageStatus = !anyVnet && !anyNsg ? 'blind' : overlap ? 'both' : anyVnet && anyNsg ? 'mixed' : anyVnet ? 'vnet' : 'nsg';

  const subnetNsgOnly =
    subnetNsgLogs.length > 0 && subnetVnetLogs.length === 0 ? nics.filter((n) => n.nicNsgLogs.length === 0 && n.nicVnetLogs.length === 0) : [];
  const reasons: CoverageReason[] = [];
  if (coverage === 'blind') reasons.push(disabled.size > 0 ? 'flow-log-disabled' : 'no-flow-log');
  else if (nics.some((n) => n.coverage === 'blind')) reasons.push('nics-unseen');
  if (subnetNsgLogs.length > 0 && subnetVnetLogs.length === 0 && (nics.length === 0 || subnetNsgOnly.length > 0)) reasons.push('subnet-nsg-only');
  if (overlap || nics.some((n) => n.nsgTwice)) reasons.push('double-counting');
  const seenByNsg = [...subnetNsgLogs, ...nics.flatMap((n) => n.nsgLogs)];
  if (seenByNsg.some((log) => log.formatVersion !== 2)) reasons.push('nsg-flow-log-v1');

  return {
    vnet,
    subnet,
    nsgId,
    subnetVnetLogs,
    subnetNsgLogs,
    nics,
    disabledLogs: [...disabled.values()],
    coverage,
    reasons,
    subnetNsgOnly,
  };
}

function vnetReport(state: VnetState): VnetCoverage {
  const { vnet } = state;
  return {
    ...resourceSummary(vnet),
    coverage: state.coverage,
    flowLogs: state.vnetLogs.map((log) => log.id),
    subnets: state.subnets.map((s): SubnetCoverage => ({
      id: s.subnet.id,
      name: s.subnet.name,
      coverage: s.coverage,
      reasons: s.reasons,
      ...(s.nsgId === undefined ? {} : { nsg: s.nsgId }),
      flowLogs: uniqueIds([...s.subnetVnetLogs, ...s.subnetNsgLogs, ...s.nics.flatMap((n) => [...n.vnetLogs, ...n.nsgLogs])]),
      nics: s.nics.map((n) => ({
        id: n.nic.id,
        name: n.nic.name,
        ...(n.nsgId === undefined ? {} : { nsg: n.nsgId }),
        coverage: n.coverage,
        flowLogs: uniqueIds([...n.vnetLogs, ...n.nsgLogs]),
      })),
    })),
  };
}

function resourceSummary(resource: EstateResource): ResourceSummary {
  return { id: resource.id, name: resource.name, subscription: resource.subscriptionId, resourceGroup: resource.resourceGroup, region: resource.location };
}

function flowLogReport(context: FixContext, log: EstateFlowLog): FlowLogSummary {
  return {
    ...resourceSummary(log),
    kind: flowLogKindOf(log),
    target: { id: log.targetResourceId, type: targetTypeOf(log.targetResourceId) },
    enabled: log.enabled,
    formatVersion: log.formatVersion ?? null,
    retentionDays: log.retentionEnabled === false ? null : (log.retentionDays ?? null),
    trafficAnalytics: {
      enabled: log.trafficAnalytics?.enabled ?? false,
      workspaceResourceId: log.trafficAnalytics?.workspaceResourceId ?? null,
      intervalMinutes: log.trafficAnalytics?.intervalMinutes ?? null,
    },
    storageId: log.storageId ?? null,
    storageRead: context.storageRead(log),
  };
}

// ---------------------------------------------------------------------------------------------
// Order (the findings themselves: findings.ts)

function sortByName(vnets: readonly EstateVnet[]): EstateVnet[] {
  return [...vnets].sort((a, b) => compare(a.subscriptionId, b.subscriptionId) || compare(a.resourceGroup, b.resourceGroup) || compare(a.name, b.name));
}

function sortById<T extends { readonly id: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => compare(a.id, b.id));
}
