import type { PolicyFix } from './report.js';

/**
 * The `az` commands `coverage` prints, built as argv and quoted for bash in one place.
 *
 * Parameters as Azure CLI defines them (Azure/azure-cli, command_modules/network, `network watcher
 * flow-log create|update|delete`: aaz/latest/network/watcher/flow_log/_create.py and
 * operations/latest/network/watcher/flow_log/_create.py, which add --vnet, --subnet, --nic, --nsg,
 * --retention, --workspace, --traffic-analytics, --interval and find the Network Watcher from
 * --location; reference: https://learn.microsoft.com/cli/azure/network/watcher/flow-log). The
 * storage account must be in the flow log's region (the command's help and Microsoft's "Virtual
 * network flow logs" overview). `--subscription` is Azure CLI's global argument: the Network
 * Watcher is looked up in that subscription.
 */

/** Azure's own names for the Network Watcher it creates per region ("Enable or disable Azure Network Watcher"). */
export const DEFAULT_NETWORK_WATCHER_RESOURCE_GROUP = 'NetworkWatcherRG';
export const defaultNetworkWatcherName = (region: string): string => `NetworkWatcher_${region}`;

export interface FlowLogRef {
  readonly subscriptionId: string;
  /** The flow log's region (its Network Watcher's). */
  readonly location: string;
  readonly name: string;
}

export interface CreateVnetFlowLog {
  readonly subscriptionId: string;
  readonly region: string;
  readonly name: string;
  readonly target: { readonly type: 'vnet' | 'subnet'; readonly id: string };
  readonly storageId: string;
  readonly retentionDays: number;
}

/** A VNet flow log on a VNet (`--vnet ID`) or a subnet (`--subnet ID`), JSON format version 2. */
export function createVnetFlowLog(command: CreateVnetFlowLog): string {
  return az([
    'network', 'watcher', 'flow-log', 'create',
    '--subscription', command.subscriptionId,
    '--location', command.region,
    '--name', command.name,
    command.target.type === 'vnet' ? '--vnet' : '--subnet', command.target.id,
    '--storage-account', command.storageId,
    '--format', 'JSON',
    '--log-version', '2',
    '--retention', String(command.retentionDays),
  ]); // prettier-ignore
}

export function enableFlowLog(flowLog: FlowLogRef, enabled: boolean): string {
  return az(['network', 'watcher', 'flow-log', 'update', ...where(flowLog), '--enabled', String(enabled)]);
}

export function setFlowLogVersion2(flowLog: FlowLogRef): string {
  return az(['network', 'watcher', 'flow-log', 'update', ...where(flowLog), '--format', 'JSON', '--log-version', '2']);
}

export function setFlowLogStorage(flowLog: FlowLogRef, storageId: string): string {
  return az(['network', 'watcher', 'flow-log', 'update', ...where(flowLog), '--storage-account', storageId]);
}

export function deleteFlowLog(flowLog: FlowLogRef): string {
  return az(['network', 'watcher', 'flow-log', 'delete', ...where(flowLog)]);
}

/** Enables Network Watcher in a region that has none (the flow log commands need one; Azure's help example). */
export function configureNetworkWatcher(subscriptionId: string, region: string): string {
  return az([
    'network',
    'watcher',
    'configure',
    '--subscription',
    subscriptionId,
    '--resource-group',
    DEFAULT_NETWORK_WATCHER_RESOURCE_GROUP,
    '--locations',
    region,
    '--enabled',
    'true',
  ]);
}

function where(flowLog: FlowLogRef): string[] {
  return ['--subscription', flowLog.subscriptionId, '--location', flowLog.location, '--name', flowLog.name];
}

/**
 * Built-in policies, ids as published in Azure/azure-policy (built-in-policies/policyDefinitions/
 * Network/VirtualNetwork_FlowLog_DINE.json, version 1.1.1, and VirtualNetwork_FlowLog_Audit.json)
 * and described in Microsoft's "Audit and deploy virtual network flow logs using Azure Policy".
 */
export const VNET_FLOW_LOG_DEPLOY_POLICY = {
  displayName: 'Deploy a Flow Log resource with target virtual network',
  definitionId: '/providers/Microsoft.Authorization/policyDefinitions/cd6f7aff-2845-4dab-99f2-6d1754a754b0',
} as const;

export const VNET_FLOW_LOG_AUDIT_POLICY = {
  displayName: 'Flow logs should be configured for every virtual network',
  definitionId: '/providers/Microsoft.Authorization/policyDefinitions/4c3c6c5f-0d47-4402-99b8-aa543dd8bcee',
} as const;

export const VNET_FLOW_LOG_POLICY_DOC = 'https://learn.microsoft.com/azure/network-watcher/vnet-flow-logs-policy';
export const NSG_FLOW_LOG_MIGRATION_DOC = 'https://learn.microsoft.com/azure/network-watcher/nsg-flow-logs-migrate';

export interface PolicyTarget {
  readonly subscriptionId: string;
  readonly region: string;
  readonly storageId: string;
  readonly networkWatcher: { readonly resourceGroup: string; readonly name: string };
  readonly retentionDays: number;
}

/**
 * The DeployIfNotExists policy for the VNets of one region of one subscription: assigned with a
 * system-assigned identity holding Contributor (the role its definition names,
 * b24988ac-6180-42a0-ab88-20f7382dd24c) and the parameters its definition declares (vnetRegion,
 * storageId, networkWatcherRG, networkWatcherName, retentionDays), then a remediation task for the
 * VNets that exist already (Microsoft's "Remediate non-compliant resources with Azure Policy").
 */
export function vnetFlowLogPolicy(target: PolicyTarget): PolicyFix {
  const scope = `/subscriptions/${target.subscriptionId}`;
  const assignment = `vnet-flow-logs-${target.region}`.slice(0, 64);
  const params = {
    vnetRegion: { value: target.region },
    storageId: { value: target.storageId },
    networkWatcherRG: { value: target.networkWatcher.resourceGroup },
    networkWatcherName: { value: target.networkWatcher.name },
    retentionDays: { value: String(target.retentionDays) },
  };
  return {
    ...VNET_FLOW_LOG_DEPLOY_POLICY,
    docUrl: VNET_FLOW_LOG_POLICY_DOC,
    az: [
      az([
        'policy', 'assignment', 'create',
        '--name', assignment,
        '--display-name', `${VNET_FLOW_LOG_DEPLOY_POLICY.displayName} (${target.region})`,
        '--policy', VNET_FLOW_LOG_DEPLOY_POLICY.definitionId,
        '--scope', scope,
        '--params', JSON.stringify(params),
        '--mi-system-assigned',
        '--location', target.region,
        '--identity-scope', scope,
        '--role', 'Contributor',
      ]), // prettier-ignore
      az([
        'policy', 'remediation', 'create',
        '--subscription', target.subscriptionId,
        '--name', assignment,
        '--policy-assignment', `${scope}/providers/Microsoft.Authorization/policyAssignments/${assignment}`,
      ]), // prettier-ignore
    ],
    audit: {
      ...VNET_FLOW_LOG_AUDIT_POLICY,
      az: az([
        'policy',
        'assignment',
        'create',
        '--name',
        'audit-vnet-flow-logs',
        '--display-name',
        VNET_FLOW_LOG_AUDIT_POLICY.displayName,
        '--policy',
        VNET_FLOW_LOG_AUDIT_POLICY.definitionId,
        '--scope',
        scope,
      ]),
    },
  };
}

/** `az` and its arguments as one bash command line. */
export function az(args: readonly string[]): string {
  return ['az', ...args].map(shellQuote).join(' ');
}

/** Bash single quotes around anything but plain words (ids, names, regions pass as they are). */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
