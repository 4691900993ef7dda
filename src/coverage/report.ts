/**
 * The shape `nsg2ipfix coverage --output json` prints: stable keys, documented in docs/coverage.md.
 * Add keys, never rename or remove them.
 */
export interface CoverageReport {
  /** Where Resource Graph looked; both empty: every subscription the identity can read. */
  readonly scope: { readonly subscriptions: readonly string[]; readonly managementGroups: readonly string[] };
  /** ISO 8601 time of the run. */
  readonly generatedAt: string;
  /** The storage accounts nsg2ipfix reads (`--storage-account`), as given; empty: not checked. */
  readonly readStorageAccounts: readonly string[];
  readonly vnets: readonly VnetCoverage[];
  readonly flowLogs: readonly FlowLogSummary[];
  /** Most severe first. */
  readonly findings: readonly Finding[];
  readonly summary: CoverageSummary;
}

/**
 * Which kinds of enabled flow log see a subnet's traffic: `vnet` (VNet flow logs only), `nsg` (NSG
 * flow logs only), `both` (the same NIC by both kinds: every byte counted twice), `mixed` (some
 * NICs by one kind, others by the other, none by both), `blind` (none).
 */
export type SubnetCoverageStatus = 'vnet' | 'nsg' | 'both' | 'mixed' | 'blind';

/** A VNet's: its subnets' status when they agree; `partial` when some subnets are blind and others not. */
export type VnetCoverageStatus = SubnetCoverageStatus | 'partial';

/** Why a subnet is (partly) blind or counted twice. */
export type CoverageReason =
  /** No flow log, enabled or not, targets it, its VNet, its NSGs or its NICs. */
  | 'no-flow-log'
  /** Flow logs target it, but every one of them is disabled. */
  | 'flow-log-disabled'
  /** Some NICs are seen (NIC-level flow logs), others not. */
  | 'nics-unseen'
  /** Only the subnet NSG's flow log sees it: traffic between its VMs is unseen (issue 16). */
  | 'subnet-nsg-only'
  /** A NIC is logged twice: NSG + VNet flow logs, or subnet NSG + NIC NSG flow logs. */
  | 'double-counting'
  /** An NSG flow log that sees it writes format version 1 (no byte or packet counts). */
  | 'nsg-flow-log-v1';

/** How the report names an Azure resource it lists (these keys first, in this order). */
export interface ResourceSummary {
  readonly id: string;
  readonly name: string;
  readonly subscription: string;
  readonly resourceGroup: string;
  readonly region: string;
}

export interface VnetCoverage extends ResourceSummary {
  readonly coverage: VnetCoverageStatus;
  /** Enabled VNet flow logs targeting the VNet itself (ids). */
  readonly flowLogs: readonly string[];
  readonly subnets: readonly SubnetCoverage[];
}

export interface SubnetCoverage {
  readonly id: string;
  readonly name: string;
  readonly coverage: SubnetCoverageStatus;
  readonly reasons: readonly CoverageReason[];
  /** The subnet's NSG (id), if any. */
  readonly nsg?: string;
  /** Enabled flow logs that see some of its traffic (ids). */
  readonly flowLogs: readonly string[];
  readonly nics: readonly NicCoverage[];
}

export interface NicCoverage {
  readonly id: string;
  readonly name: string;
  /** The NIC's own NSG (id), if any. */
  readonly nsg?: string;
  readonly coverage: 'vnet' | 'nsg' | 'both' | 'blind';
  /** Enabled flow logs that see it (ids). */
  readonly flowLogs: readonly string[];
}

export type FlowLogKind = 'nsg' | 'vnet';
export type FlowLogTargetType = 'nsg' | 'vnet' | 'subnet' | 'nic' | 'unknown';

export interface FlowLogSummary extends ResourceSummary {
  /** `nsg`: an NSG flow log (targets an NSG); `vnet`: a VNet flow log (targets a VNet, subnet or NIC). */
  readonly kind: FlowLogKind;
  readonly target: { readonly id: string; readonly type: FlowLogTargetType };
  readonly enabled: boolean;
  /** `format.version` (1 or 2 for NSG flow logs), null when Azure reports none. */
  readonly formatVersion: number | null;
  /** Days kept; null when retention is off (kept until deleted) or not reported. */
  readonly retentionDays: number | null;
  readonly trafficAnalytics: { readonly enabled: boolean; readonly workspaceResourceId: string | null; readonly intervalMinutes: number | null };
  readonly storageId: string | null;
  /** Whether nsg2ipfix reads its storage account; null without `--storage-account`. */
  readonly storageRead: boolean | null;
}

export type Severity = 'high' | 'medium' | 'low' | 'info';

/** Most severe first. */
export const SEVERITIES: readonly Severity[] = ['high', 'medium', 'low', 'info'];

export type FindingKind =
  | 'blind'
  | 'nics-unseen'
  | 'subnet-nsg-only'
  | 'double-counting-nsg-vnet'
  | 'double-counting-nsg-nsg'
  | 'nsg-flow-log-v1'
  | 'storage-not-read'
  | 'nsg-flow-log-retiring'
  | 'flow-log-disabled';

export interface Finding {
  readonly kind: FindingKind;
  readonly severity: Severity;
  /** The resource at fault: a VNet, a subnet or a flow log (id). */
  readonly resource: string;
  readonly resourceType: 'vnet' | 'subnet' | 'flowLog';
  /** Short name for people: `vnet-prod`, `vnet-prod/web`, `NetworkWatcher_westeurope/nsg-web-flowlog`. */
  readonly name: string;
  readonly subscription: string;
  readonly region: string;
  readonly message: string;
  readonly fix: Fix;
}

export interface Fix {
  /** `az` commands to run in this order (Azure CLI, bash quoting). Empty when only `note` applies. */
  readonly az: readonly string[];
  /** What else to know: a placeholder to fill, a choice to make. */
  readonly note?: string;
  /** The built-in Azure Policy that prevents the finding at scale (VNet flow logs in every VNet of a region). */
  readonly policy?: PolicyFix;
}

export interface PolicyFix {
  readonly displayName: string;
  readonly definitionId: string;
  /** Microsoft's page on using it. */
  readonly docUrl: string;
  /** Assign it (DeployIfNotExists, with a managed identity) and remediate the existing VNets. */
  readonly az: readonly string[];
  /** The audit-only policy, to see compliance without deploying anything. */
  readonly audit: { readonly displayName: string; readonly definitionId: string; readonly az: string };
}

export interface CoverageSummary {
  readonly vnets: number;
  readonly subnets: number;
  readonly nics: number;
  readonly flowLogs: { readonly total: number; readonly nsg: number; readonly vnet: number; readonly disabled: number };
  /** Subnets by status. */
  readonly subnetCoverage: Readonly<Record<SubnetCoverageStatus, number>>;
  readonly findings: Readonly<Record<Severity, number>> & { readonly total: number };
}
