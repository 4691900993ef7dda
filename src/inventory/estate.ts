import type { Logger } from 'pino';
import { Nsg2ipfixError } from '../flow/errors.js';
import type { QueryScope, ResourceGraph, ResourceRow } from './resourceGraph.js';

/**
 * The network estate `nsg2ipfix coverage` judges: VNets with their subnets, NSGs, NICs, Network
 * Watcher flow logs, Network Watchers and storage accounts, as Azure Resource Graph holds them.
 * Plain data (no I/O, no clock): src/coverage/ analyses it. Ids are kept as Azure spells them;
 * compare them case-insensitively (Resource Graph and flow logs disagree on case).
 */
export interface Estate {
  readonly vnets: readonly EstateVnet[];
  readonly nsgs: readonly EstateNsg[];
  readonly nics: readonly EstateNic[];
  readonly flowLogs: readonly EstateFlowLog[];
  readonly networkWatchers: readonly EstateResource[];
  readonly storageAccounts: readonly EstateResource[];
}

/** What every resource row carries. */
export interface EstateResource {
  readonly id: string;
  readonly name: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  /** Azure region (`westeurope`). */
  readonly location: string;
}

export interface EstateVnet extends EstateResource {
  readonly subnets: readonly EstateSubnet[];
}

export interface EstateSubnet {
  readonly id: string;
  readonly name: string;
  /** The NSG associated with the subnet (`properties.networkSecurityGroup.id`). */
  readonly nsgId?: string;
}

export interface EstateNsg extends EstateResource {
  /** Subnets and NICs the NSG is associated with (`properties.subnets[].id`, `properties.networkInterfaces[].id`). */
  readonly subnetIds: readonly string[];
  readonly nicIds: readonly string[];
}

export interface EstateNic extends EstateResource {
  /** The NSG associated with the NIC itself (`properties.networkSecurityGroup.id`). */
  readonly nsgId?: string;
  /** Subnets of its IP configurations (`properties.ipConfigurations[].properties.subnet.id`), usually one. */
  readonly subnetIds: readonly string[];
  readonly virtualMachineId?: string;
}

/**
 * A `Microsoft.Network/networkWatchers/flowLogs` resource (Microsoft's REST reference, Flow Logs -
 * Get, api-version 2023-09-01 to 2025-05-01): `properties.targetResourceId` (an NSG for NSG flow
 * logs; a VNet, subnet or NIC for VNet flow logs), `enabled`, `format.{type,version}`,
 * `retentionPolicy.{enabled,days}`, `storageId`,
 * `flowAnalyticsConfiguration.networkWatcherFlowAnalyticsConfiguration.{enabled,workspaceResourceId,trafficAnalyticsInterval}`.
 */
export interface EstateFlowLog extends EstateResource {
  readonly targetResourceId: string;
  readonly enabled: boolean;
  readonly formatType?: string;
  /** `format.version`: 1 or 2 for NSG flow logs; absent when Azure reports none. */
  readonly formatVersion?: number;
  readonly retentionEnabled?: boolean;
  readonly retentionDays?: number;
  readonly storageId?: string;
  readonly trafficAnalytics?: { readonly enabled: boolean; readonly workspaceResourceId?: string; readonly intervalMinutes?: number };
  readonly provisioningState?: string;
}

const TYPES = {
  vnet: 'microsoft.network/virtualnetworks',
  nsg: 'microsoft.network/networksecuritygroups',
  nic: 'microsoft.network/networkinterfaces',
  scaleSetNic: 'microsoft.compute/virtualmachinescalesets/virtualmachines/networkinterfaces',
  flowLog: 'microsoft.network/networkwatchers/flowlogs',
  networkWatcher: 'microsoft.network/networkwatchers',
  storageAccount: 'microsoft.storage/storageaccounts',
} as const;

/**
 * The columns every row projects, so one mapping reads all types (each fills the columns it has):
 * VNets their subnets (objects), NSGs their subnets and NICs (ids), NICs their NSG and IP
 * configurations, flow logs their settings. Only these paths leave Azure, not whole property bags.
 */
const COLUMNS = `| project id, name, type, resourceGroup, subscriptionId, location,
    subnets = properties.subnets,
    networkInterfaces = properties.networkInterfaces,
    networkSecurityGroupId = tostring(properties.networkSecurityGroup.id),
    ipConfigurations = properties.ipConfigurations,
    virtualMachineId = tostring(properties.virtualMachine.id),
    targetResourceId = tostring(properties.targetResourceId),
    enabled = properties.enabled,
    format = properties.format,
    retentionPolicy = properties.retentionPolicy,
    storageId = tostring(properties.storageId),
    trafficAnalytics = properties.flowAnalyticsConfiguration.networkWatcherFlowAnalyticsConfiguration,
    provisioningState = tostring(properties.provisioningState)`;

/** Everything but Uniform scale-set NICs, from the Resources table, in one paged query. */
export const ESTATE_QUERY = `Resources
| where type in~ ('${TYPES.vnet}', '${TYPES.nsg}', '${TYPES.nic}', '${TYPES.flowLog}', '${TYPES.networkWatcher}', '${TYPES.storageAccount}')
${COLUMNS}`;

/** NICs of Uniform scale-set instances live in the ComputeResources table (Microsoft's "Azure Resource Graph table and resource type reference"). */
export const ESTATE_SCALE_SET_NICS_QUERY = `ComputeResources
| where type in~ ('${TYPES.scaleSetNic}')
${COLUMNS}`;

export interface DiscoverEstateOptions {
  readonly signal?: AbortSignal;
  /** Called after each page with the rows read so far (progress for big estates). */
  readonly onProgress?: (rowsRead: number) => void;
}

/**
 * Reads the estate of `scope` through Resource Graph. A refused query throws (401/403: a one-line
 * UserError naming the Reader role); the ComputeResources query alone may be refused by a cloud
 * that lacks the table, and is then skipped with one warning (scale-set NICs are then not judged).
 */
export async function discoverEstate(graph: ResourceGraph, scope: QueryScope, logger: Logger, options: DiscoverEstateOptions = {}): Promise<Estate> {
  const rows: ResourceRow[] = [];
  const read = async (query: string): Promise<void> => {
    for await (const page of graph.pages(query, scope, options.signal)) {
      rows.push(...page);
      options.onProgress?.(rows.length);
    }
  };
  await read(ESTATE_QUERY);
  try {
    await read(ESTATE_SCALE_SET_NICS_QUERY);
  } catch (error) {
    if (!(error instanceof Nsg2ipfixError) || error.code !== 'resource-graph-query') throw error;
    logger.warn(`Azure Resource Graph: scale-set instance NICs not queried (${error.message})`);
  }
  return estateFromRows(rows);
}

/** The rows of both queries as an Estate; rows of other types are ignored, duplicates (same id) kept once. */
export function estateFromRows(rows: readonly ResourceRow[]): Estate {
  const vnets: EstateVnet[] = [];
  const nsgs: EstateNsg[] = [];
  const nics: EstateNic[] = [];
  const flowLogs: EstateFlowLog[] = [];
  const networkWatchers: EstateResource[] = [];
  const storageAccounts: EstateResource[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const base = resourceOf(row);
    if (base === undefined || seen.has(base.id.toLowerCase())) continue;
    seen.add(base.id.toLowerCase());
    switch (text(row.type)?.toLowerCase()) {
      case TYPES.vnet:
        vnets.push({ ...base, subnets: objects(row.subnets).flatMap((subnet) => subnetOf(subnet, base.id)) });
        break;
      case TYPES.nsg:
        nsgs.push({ ...base, subnetIds: idsOf(row.subnets), nicIds: idsOf(row.networkInterfaces) });
        break;
      case TYPES.nic:
      case TYPES.scaleSetNic:
        nics.push({
          ...base,
          ...optional('nsgId', text(row.networkSecurityGroupId)),
          subnetIds: unique(objects(row.ipConfigurations).flatMap((c) => text((properties(c).subnet as { id?: unknown } | undefined)?.id) ?? [])),
          ...optional('virtualMachineId', text(row.virtualMachineId)),
        });
        break;
      case TYPES.flowLog: {
        const flowLog = flowLogOf(row, base);
        if (flowLog !== undefined) flowLogs.push(flowLog);
        break;
      }
      case TYPES.networkWatcher:
        networkWatchers.push(base);
        break;
      case TYPES.storageAccount:
        storageAccounts.push(base);
        break;
      default:
        break;
    }
  }
  return { vnets, nsgs, nics, flowLogs, networkWatchers, storageAccounts };
}

function resourceOf(row: ResourceRow): EstateResource | undefined {
  const id = text(row.id);
  if (id === undefined) return undefined;
  return {
    id,
    name: text(row.name) ?? lastSegment(id),
    subscriptionId: text(row.subscriptionId) ?? /^\/subscriptions\/([^/]+)/i.exec(id)?.[1] ?? '',
    // From the id first: Resource Graph's resourceGroup column is lower-cased, the id keeps Azure's spelling.
    resourceGroup: /\/resourcegroups\/([^/]+)/i.exec(id)?.[1] ?? text(row.resourceGroup) ?? '',
    location: text(row.location)?.toLowerCase() ?? '',
  };
}

/** A VNet's subnet as Microsoft's VirtualNetworkGet response shows it: `{id, name, properties: {networkSecurityGroup: {id}}}`. */
function subnetOf(value: Record<string, unknown>, vnetId: string): EstateSubnet[] {
  const name = text(value.name);
  const id = text(value.id) ?? (name === undefined ? undefined : `${vnetId}/subnets/${name}`);
  if (id === undefined) return [];
  const nsgId = text((properties(value).networkSecurityGroup as { id?: unknown } | undefined)?.id);
  return [{ id, name: name ?? lastSegment(id), ...optional('nsgId', nsgId) }];
}

function flowLogOf(row: ResourceRow, base: EstateResource): EstateFlowLog | undefined {
  const targetResourceId = text(row.targetResourceId);
  if (targetResourceId === undefined) return undefined;
  const format = record(row.format);
  const retention = record(row.retentionPolicy);
  const analytics = record(row.trafficAnalytics);
  const version = integer(format.version);
  const days = integer(retention.days);
  const interval = integer(analytics.trafficAnalyticsInterval);
  const workspace = text(analytics.workspaceResourceId);
  return {
    ...base,
    targetResourceId,
    enabled: bool(row.enabled) ?? false,
    ...optional('formatType', text(format.type)),
    ...(version === undefined ? {} : { formatVersion: version }),
    ...(bool(retention.enabled) === undefined ? {} : { retentionEnabled: bool(retention.enabled) }),
    ...(days === undefined ? {} : { retentionDays: days }),
    ...optional('storageId', text(row.storageId)),
    ...(Object.keys(analytics).length === 0
      ? {}
      : {
          trafficAnalytics: {
            enabled: bool(analytics.enabled) ?? false,
            ...optional('workspaceResourceId', workspace),
            ...(interval === undefined ? {} : { intervalMinutes: interval }),
          },
        }),
    ...optional('provisioningState', text(row.provisioningState)),
  };
}

function objects(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter((item): item is Record<string, unknown> => item !== null && typeof item === 'object') : [];
}

function idsOf(value: unknown): string[] {
  return unique(objects(value).flatMap((item) => text(item.id) ?? []));
}

function properties(value: Record<string, unknown>): Record<string, unknown> {
  return record(value.properties);
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Resource Graph returns booleans; a string "true"/"false" (from tostring()) is read too. */
function bool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'True') return true;
  if (value === 'false' || value === 'False') return false;
  return undefined;
}

function integer(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) ? n : undefined;
}

/** Without repeats, ids compared case-insensitively; first spelling kept. */
function unique(values: readonly string[]): string[] {
  const seen = new Set<string>();
  const kept: string[] = [];
  for (const value of values) {
    const key = value.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    kept.push(value);
  }
  return kept;
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

function lastSegment(id: string): string {
  return id.slice(id.lastIndexOf('/') + 1);
}
