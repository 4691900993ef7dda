/**
 * What coverage finds wrong, resource by resource, each with the commands that fix it: the
 * findings of a VNet (blind, double counted, seen only by a subnet NSG) and of a flow log (version
 * 1, disabled, writing elsewhere, NSG flow logs to migrate).
 */
import type { EstateFlowLog, EstateNic, EstateResource, EstateSubnet, EstateVnet } from '../inventory/estate.js';
import { deleteFlowLog, enableFlowLog, NSG_FLOW_LOG_MIGRATION_DOC, setFlowLogStorage, setFlowLogVersion2 } from './azCommands.js';
import { FixContext, FixPlan, ref } from './fixPlan.js';
import { EstateIndex, flowLogKindOf, idKey, lastSegment, targetTypeOf } from './estateIndex.js';
import {
  type CoverageReason,
  type Finding,
  type FindingKind,
  type NicCoverage,
  type PolicyFix,
  type Severity,
  type SubnetCoverageStatus,
  type VnetCoverageStatus,
} from './report.js';

/** NSG flow logs: none can be created since this day, and those left stop on the next (FORMATS.md; Microsoft's NSG flow logs overview). */
export const NSG_FLOW_LOG_CREATION_ENDED = '2025-06-30';
export const NSG_FLOW_LOG_RETIREMENT = '2027-09-30';

export interface NicState {
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

export interface SubnetState {
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

export interface VnetState {
  readonly vnet: EstateVnet;
  readonly vnetLogs: readonly EstateFlowLog[];
  readonly disabledVnetLogs: readonly EstateFlowLog[];
  readonly subnets: readonly SubnetState[];
  readonly coverage: VnetCoverageStatus;
}

export function vnetFindings(context: FixContext, state: VnetState): Finding[] {
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

export function flowLogFindings(context: FixContext, log: EstateFlowLog): Finding[] {
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

export function uniqueIds(logs: readonly EstateFlowLog[]): string[] {
  return uniqueLogs(logs).map((log) => log.id);
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
