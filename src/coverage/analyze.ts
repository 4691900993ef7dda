import type { Estate, EstateFlowLog, EstateNic, EstateResource, EstateSubnet, EstateVnet } from '../inventory/estate.js';
import { deleteFlowLog, enableFlowLog, NSG_FLOW_LOG_MIGRATION_DOC, setFlowLogStorage, setFlowLogVersion2 } from './azCommands.js';
import { compare, FixContext, FixPlan, ref } from './fixPlan.js';
import { EstateIndex, flowLogKindOf, idKey, lastSegment, targetTypeOf } from './estateIndex.js';
import {
  SEVERITIES,
  type CoverageReason,
  type CoverageReport,
  type Finding,
  type FindingKind,
  type FlowLogSummary,
  type NicCoverage,
  type PolicyFix,
  type Severity,
  type SubnetCoverage,
  type SubnetCoverageStatus,
  type VnetCoverage,
  type VnetCoverageStatus,
} from './report.js';

/** NSG flow logs: none can be created since this day, and those left stop on the next (FORMATS.md; Microsoft's NSG flow logs overview). */
export const NSG_FLOW_LOG_CREATION_ENDED = '2025-06-30';
export const NSG_FLOW_LOG_RETIREMENT = '2027-09-30';

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

interface NicState {
  readonly nic: EstateNic;
  readonly nsgId: string | undefined;
  /** Enabled VNet flow logs on its VNet, subnet or itself. */
  readonly vnetLogs: readonly EstateFlowLog[];
  /** Enabled NSG flow logs on its subnet NSG and its own NSG. */
  readonly nsgLogs: readonly EstateFlowLog[];
  readonly nicNsgLogs: readonly EstateFlowLog[];
  /** Enabled VNet flow logs on the NIC itself. */
  readonly nicVnetLogs: readonly EstateFlowLog[];
  readonly coverage: NicCoverage['coverage'];
  /** Its subnet NSG's and its own NSG's flow logs both log it. */
  readonly nsgTwice: boolean;
}

interface SubnetState {
  readonly vnet: EstateVnet;
  readonly subnet: EstateSubnet;
  readonly nsgId: string | undefined;
  /** Enabled VNet flow logs on the VNet or the subnet: every NIC, present and future. */
  readonly subnetVnetLogs: readonly EstateFlowLog[];
  /** Enabled flow logs of the subnet NSG. */
  readonly subnetNsgLogs: readonly EstateFlowLog[];
  readonly nics: readonly NicState[];
  /** Disabled flow logs that would have seen it. */
  readonly disabledLogs: readonly EstateFlowLog[];
  readonly coverage: SubnetCoverageStatus;
  readonly reasons: readonly CoverageReason[];
  /** NICs that only the subnet NSG's flow log sees (the intra-subnet rule). */
  readonly subnetNsgOnly: readonly NicState[];
}

interface VnetState {
  readonly vnet: EstateVnet;
  readonly vnetLogs: readonly EstateFlowLog[];
  readonly disabledVnetLogs: readonly EstateFlowLog[];
  readonly subnets: readonly SubnetState[];
  readonly coverage: VnetCoverageStatus;
}

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
    id: vnet.id,
    name: vnet.name,
    subscription: vnet.subscriptionId,
    resourceGroup: vnet.resourceGroup,
    region: vnet.location,
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

function flowLogReport(context: FixContext, log: EstateFlowLog): FlowLogSummary {
  return {
    id: log.id,
    name: log.name,
    subscription: log.subscriptionId,
    resourceGroup: log.resourceGroup,
    region: log.location,
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
// Findings

function vnetFindings(context: FixContext, state: VnetState): Finding[] {
  const { vnet } = state;
  const findings: Finding[] = [];
  if (state.coverage === 'blind') {
    const nics = state.subnets.reduce((sum, s) => sum + s.nics.length, 0);
    const disabled = uniqueLogs([...state.disabledVnetLogs, ...state.subnets.flatMap((s) => s.disabledLogs)]);
    const plan = context.plan();
    plan.cover(vnet, vnet.subnets, { preferVnetLevel: true });
    findings.push(
      finding(vnet, 'vnet', 'blind', 'high', vnet.name, plan, {
        message: `no enabled flow log sees VNet ${vnet.name} (${count(vnet.subnets.length, 'subnet')}, ${count(nics, 'NIC')}): ${whyBlind(disabled)}`,
        policy: true,
      }),
    );
    return findings;
  }
  for (const s of state.subnets) {
    const where = `${vnet.name}/${s.subnet.name}`;
    if (s.coverage === 'blind') {
      const plan = context.plan();
      plan.cover(vnet, [s.subnet], { preferVnetLevel: false });
      findings.push(
        finding(s.subnet, 'subnet', 'blind', 'high', where, plan, {
          vnet,
          message: `no enabled flow log sees subnet ${where} (${count(s.nics.length, 'NIC')}): ${whyBlind(s.disabledLogs)}`,
          policy: true,
        }),
      );
      continue;
    }
    const unseen = s.nics.filter((n) => n.coverage === 'blind');
    if (unseen.length > 0) {
      const plan = context.plan();
      plan.cover(vnet, [s.subnet], { preferVnetLevel: true });
      findings.push(
        finding(s.subnet, 'subnet', 'nics-unseen', 'medium', where, plan, {
          vnet,
          message: `${unseen.length} of ${count(s.nics.length, 'NIC')} in ${where} are seen by no flow log (${names(unseen.map((n) => n.nic.name))}): only NIC-level flow logs cover this subnet`,
          policy: true,
        }),
      );
    }
    if (s.reasons.includes('subnet-nsg-only')) {
      const plan = context.plan();
      plan.cover(vnet, [s.subnet], { preferVnetLevel: true });
      const affected = s.nics.length === 0 ? 'no NICs yet' : `${s.subnetNsgOnly.length} of ${count(s.nics.length, 'NIC')} without a NIC NSG flow log`;
      findings.push(
        finding(s.subnet, 'subnet', 'subnet-nsg-only', 'medium', where, plan, {
          vnet,
          message: `only the flow log of subnet NSG ${context.index.nsgName(s.nsgId ?? '')} (${logNames(s.subnetNsgLogs)}) sees ${where} (${affected}): traffic between VMs of the same subnet is unseen; a VNet flow log records all of it`,
          policy: true,
        }),
      );
    }
    const both = s.nics.filter((n) => n.coverage === 'both');
    if (both.length > 0 || (s.nics.length === 0 && s.coverage === 'both')) {
      const nsgLogs = uniqueLogs(s.nics.length === 0 ? s.subnetNsgLogs : both.flatMap((n) => n.nsgLogs));
      const vnetLogs = uniqueLogs(s.nics.length === 0 ? s.subnetVnetLogs : both.flatMap((n) => n.vnetLogs));
      const plan = context.plan();
      for (const log of nsgLogs) plan.retire(log);
      const who = s.nics.length === 0 ? `subnet ${where} (no NICs yet)` : `${count(both.length, 'NIC')} of ${where} (${names(both.map((n) => n.nic.name))})`;
      findings.push(
        finding(s.subnet, 'subnet', 'double-counting-nsg-vnet', 'high', where, plan, {
          vnet,
          message: `${who} logged by NSG flow log ${logNames(nsgLogs)} and VNet flow log ${logNames(vnetLogs)}: every byte counted twice at the collector (Microsoft: disable NSG flow logs before enabling VNet flow logs on the same workloads)`,
        }),
      );
    }
    const twice = s.nics.filter((n) => n.nsgTwice);
    if (twice.length > 0) {
      const plan = context.plan();
      plan.cover(vnet, [s.subnet], { preferVnetLevel: true });
      const nicNsgs = [...new Set(twice.map((n) => context.index.nsgName(n.nsgId ?? '')))];
      findings.push(
        finding(s.subnet, 'subnet', 'double-counting-nsg-nsg', 'high', where, plan, {
          vnet,
          message: `${count(twice.length, 'NIC')} of ${where} (${names(twice.map((n) => n.nic.name))}) logged by both subnet NSG ${context.index.nsgName(s.nsgId ?? '')}'s flow log and NIC NSG ${names(nicNsgs)}'s: every byte counted twice at the collector`,
          policy: true,
        }),
      );
    }
  }
  return findings;
}

function flowLogFindings(context: FixContext, log: EstateFlowLog): Finding[] {
  const findings: Finding[] = [];
  const kind = flowLogKindOf(log);
  const label = `${kind === 'nsg' ? 'NSG' : 'VNet'} flow log ${log.name}`;
  const target = targetLabel(context.index, log);
  if (!log.enabled) {
    if (context.reEnabled.has(idKey(log.id))) return findings;
    const plan = context.plan();
    plan.commands.push(deleteFlowLog(ref(log)));
    findings.push(
      finding(log, 'flowLog', 'flow-log-disabled', 'info', flowLogName(log), plan, {
        message: `${label} (${target}) is disabled: it logs nothing, and nothing depends on it`,
        note: kind === 'vnet' ? `or enable it again instead: ${enableFlowLog(ref(log), true)}` : undefined,
      }),
    );
    return findings;
  }
  if (kind === 'nsg' && log.formatVersion !== 2) {
    const plan = context.plan();
    plan.commands.push(setFlowLogVersion2(ref(log)));
    const version = log.formatVersion === undefined ? 'no format version (not 2)' : `format version ${log.formatVersion}`;
    findings.push(
      finding(log, 'flowLog', 'nsg-flow-log-v1', 'high', flowLogName(log), plan, {
        message: `${label} (${target}) writes ${version}: its records carry no byte or packet counts, so the collector sees flows without volume`,
        note: 'the lasting fix is migrating to a VNet flow log (see its nsg-flow-log-retiring finding)',
      }),
    );
  }
  const read = context.storageRead(log);
  if (read === false) {
    const plan = context.plan();
    const storage = context.readAccountIn(log.location);
    if (storage !== undefined) plan.commands.push(setFlowLogStorage(ref(log), storage.id));
    const account = log.storageId === undefined ? 'no storage account' : `storage account ${lastSegment(log.storageId)}`;
    const readAlso = `nsg2ipfix blob --account-url https://${log.storageId === undefined ? '<account>' : lastSegment(log.storageId)}.blob.core.windows.net`;
    findings.push(
      finding(log, 'flowLog', 'storage-not-read', 'medium', flowLogName(log), plan, {
        message: `${label} (${target}) writes to ${account}, which nsg2ipfix is not reading (--storage-account ${context.readAccounts.join(', ')})`,
        note:
          storage === undefined
            ? `none of the accounts nsg2ipfix reads is in ${log.location} (flow logs write to an account in their own region): read this one too (${readAlso})`
            : `or read this account too: ${readAlso}`,
      }),
    );
  }
  if (kind === 'nsg') {
    const plan = context.plan();
    plan.retire(log);
    findings.push(
      finding(log, 'flowLog', 'nsg-flow-log-retiring', 'low', flowLogName(log), plan, {
        message: `${label} (${target}): NSG flow logs cannot be created since ${NSG_FLOW_LOG_CREATION_ENDED} and stop on ${NSG_FLOW_LOG_RETIREMENT}; migrate its workloads to VNet flow logs`,
        note: `Microsoft's migration tool does the same: ${NSG_FLOW_LOG_MIGRATION_DOC}`,
        policy: true,
      }),
    );
  }
  return findings;
}

function finding(
  resource: { readonly id: string },
  resourceType: Finding['resourceType'],
  kind: FindingKind,
  severity: Severity,
  name: string,
  plan: FixPlan,
  details: { message: string; vnet?: EstateVnet; note?: string | undefined; policy?: boolean },
): Finding {
  const anchor = details.vnet ?? (resource as Partial<EstateResource>);
  const subscription = anchor.subscriptionId ?? '';
  const region = anchor.location ?? '';
  const notes = [details.note, ...plan.notes].filter((note): note is string => note !== undefined && note !== '');
  const policy: PolicyFix | undefined = details.policy === true ? plan.context.policyFor(subscription, region) : undefined;
  return {
    kind,
    severity,
    resource: resource.id,
    resourceType,
    name,
    subscription,
    region,
    message: details.message,
    fix: {
      az: unique(plan.commands),
      ...(notes.length === 0 ? {} : { note: unique(notes).join('; ') }),
      ...(policy === undefined ? {} : { policy }),
    },
  };
}

function whyBlind(disabled: readonly EstateFlowLog[]): string {
  return disabled.length > 0
    ? `its flow log${disabled.length === 1 ? ' is' : 's are'} disabled (${logNames(disabled)})`
    : 'no flow log targets it, its subnets, its NSGs or its NICs';
}

function targetLabel(index: EstateIndex, log: EstateFlowLog): string {
  const type = targetTypeOf(log.targetResourceId);
  if (type === 'nsg') return `NSG ${index.nsgName(log.targetResourceId)}`;
  if (type === 'subnet') {
    const placement = index.placementOf(log.targetResourceId);
    return `subnet ${placement === undefined ? lastSegment(log.targetResourceId) : `${placement.vnet.name}/${placement.subnet.name}`}`;
  }
  if (type === 'unknown') return `target ${log.targetResourceId}`;
  return `${type === 'vnet' ? 'VNet' : 'NIC'} ${lastSegment(log.targetResourceId)}`;
}

function flowLogName(log: EstateFlowLog): string {
  const watcher = /\/networkwatchers\/([^/]+)\/flowlogs\//i.exec(log.id)?.[1];
  return watcher === undefined ? log.name : `${watcher}/${log.name}`;
}

function logNames(logs: readonly EstateFlowLog[]): string {
  return names(logs.map((log) => log.name));
}

/** `a, b, c` or `a, b, c, d, e and 3 more`. */
function names(values: readonly string[]): string {
  const shown = values.slice(0, 5).join(', ');
  return values.length > 5 ? `${shown} and ${values.length - 5} more` : shown;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function uniqueLogs(logs: readonly EstateFlowLog[]): EstateFlowLog[] {
  const byId = new Map<string, EstateFlowLog>();
  for (const log of logs) if (!byId.has(idKey(log.id))) byId.set(idKey(log.id), log);
  return [...byId.values()];
}

function uniqueIds(logs: readonly EstateFlowLog[]): string[] {
  return uniqueLogs(logs).map((log) => log.id);
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function sortByName(vnets: readonly EstateVnet[]): EstateVnet[] {
  return [...vnets].sort((a, b) => compare(a.subscriptionId, b.subscriptionId) || compare(a.resourceGroup, b.resourceGroup) || compare(a.name, b.name));
}

function sortById<T extends { readonly id: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => compare(a.id, b.id));
}
