import type { Logger } from 'pino';
import ipaddr from 'ipaddr.js';
import { Nsg2ipfixError } from '../flow/errors.js';
import { normalizeIp, type InterfaceNames } from '../flow/interfaceNames.js';
import { normalizeMac } from '../flow/mac.js';
import type { QueryScope, ResourceGraph, ResourceRow } from './resourceGraph.js';

/**
 * The columns both queries project, so one mapping reads the rows of either table. Every type
 * fills the columns it has (a NIC its MAC and IP configurations, a public IP its address and the IP
 * configuration it is attached to) and leaves the others empty.
 */
const COLUMNS = `| project id, name, type, resourceGroup, subscriptionId, location, tags,
    macAddress = tostring(properties.macAddress),
    ipConfigurations = properties.ipConfigurations,
    virtualMachineId = tostring(properties.virtualMachine.id),
    ipAddress = tostring(properties.ipAddress),
    ipConfigurationId = tostring(properties.ipConfiguration.id)`;

/**
 * NICs (with their IP configurations: private addresses, subnets, public IP ids), public IP
 * addresses, VMs (names and tags; scale-set VMs in Flexible mode are VMs too) and scale sets (tags)
 * from the Resources table. Joined here rather than in KQL: Resource Graph limits joins, and rows
 * of one shape are simpler to page and to check.
 */
export const INTERFACES_QUERY = `Resources
| where type in~ ('microsoft.network/networkinterfaces', 'microsoft.network/publicipaddresses', 'microsoft.compute/virtualmachines', 'microsoft.compute/virtualmachinescalesets')
${COLUMNS}`;

/**
 * Scale-set instances of Uniform orchestration live in the ComputeResources table (Microsoft's
 * "Azure Resource Graph table and resource type reference"): their NICs, their instance-level
 * public IPs and the instances themselves (names `{scale-set}_{instance-id}`, tags).
 */
export const SCALE_SET_INTERFACES_QUERY = `ComputeResources
| where type in~ ('microsoft.compute/virtualmachinescalesets/virtualmachines/networkinterfaces', 'microsoft.compute/virtualmachinescalesets/virtualmachines/networkinterfaces/ipconfigurations/publicipaddresses', 'microsoft.compute/virtualmachinescalesets/virtualmachines')
${COLUMNS}`;

/** IPv4 prefixes assigned to an IP configuration (`10.1.0.16/28`) are named address by address up to this many. */
const MAX_PREFIX_ADDRESSES = 256;

/**
 * Every NIC the scope holds, with its addresses, VM, network and tags. A failing query throws (the
 * caller keeps its last good map); the ComputeResources query alone may be refused by a cloud that
 * lacks the table, and is then skipped with one warning.
 */
export async function discoverInterfaces(graph: ResourceGraph, scope: QueryScope, logger: Logger, signal?: AbortSignal): Promise<InterfaceNames[]> {
  const rows = await graph.query(INTERFACES_QUERY, scope, signal);
  try {
    rows.push(...(await graph.query(SCALE_SET_INTERFACES_QUERY, scope, signal)));
  } catch (error) {
    if (!(error instanceof Nsg2ipfixError) || error.code !== 'resource-graph-query') throw error;
    logger.warn(`Azure Resource Graph: scale-set instance NICs not queried (${error.message})`);
  }
  return interfacesFromRows(rows);
}

interface VmRow {
  readonly name: string;
  readonly tags: Record<string, string>;
}

/** The rows of both queries, joined into one InterfaceNames per NIC (Resource Graph ids are case-insensitive). */
export function interfacesFromRows(rows: readonly ResourceRow[]): InterfaceNames[] {
  const publicIpById = new Map<string, string>();
  const publicIpsByIpConfiguration = new Map<string, string[]>();
  const vmsById = new Map<string, VmRow>();
  const nics: ResourceRow[] = [];
  for (const row of rows) {
    const type = text(row.type)?.toLowerCase() ?? '';
    const id = text(row.id)?.toLowerCase() ?? '';
    if (type.endsWith('/networkinterfaces')) {
      nics.push(row);
    } else if (type.endsWith('/publicipaddresses')) {
      const address = normalizeIp(text(row.ipAddress) ?? '');
      if (address === undefined) continue;
      publicIpById.set(id, address);
      const configuration = text(row.ipConfigurationId)?.toLowerCase();
      if (configuration !== undefined) publicIpsByIpConfiguration.set(configuration, [...(publicIpsByIpConfiguration.get(configuration) ?? []), address]);
    } else if (type.startsWith('microsoft.compute/')) {
      vmsById.set(id, { name: text(row.name) ?? lastSegment(id), tags: tagsOf(row.tags) });
    }
  }
  const interfaces: InterfaceNames[] = [];
  for (const nic of nics) {
    const names = nicNames(nic, publicIpById, publicIpsByIpConfiguration, vmsById);
    if (names !== undefined) interfaces.push(names);
  }
  return interfaces;
}

function nicNames(
  nic: ResourceRow,
  publicIpById: ReadonlyMap<string, string>,
  publicIpsByIpConfiguration: ReadonlyMap<string, string[]>,
  vmsById: ReadonlyMap<string, VmRow>,
): InterfaceNames | undefined {
  const resourceId = text(nic.id) ?? '';
  const mac = normalizeMac(text(nic.macAddress) ?? '');
  const ips: string[] = [];
  const add = (address: string | undefined): void => {
    if (address !== undefined && !ips.includes(address)) ips.push(address);
  };
  const configurations = Array.isArray(nic.ipConfigurations) ? (nic.ipConfigurations as unknown[]) : [];
  let subnetId: string | undefined;
  for (const configuration of configurations) {
    const c = configuration as { id?: unknown; properties?: Record<string, unknown> };
    const properties = c.properties ?? {};
    for (const address of addressesOf(text(properties.privateIPAddress), properties.privateIPAddressPrefixLength)) add(address);
    const subnet = text((properties.subnet as { id?: unknown } | undefined)?.id);
    if (subnet !== undefined && (subnetId === undefined || properties.primary === true)) subnetId = subnet;
  }
  // Public addresses after the private ones: by the id each configuration names, and by the configuration a public IP names.
  for (const configuration of configurations) {
    const c = configuration as { id?: unknown; properties?: Record<string, unknown> };
    const publicId = text((c.properties?.publicIPAddress as { id?: unknown } | undefined)?.id)?.toLowerCase();
    if (publicId !== undefined) add(publicIpById.get(publicId));
    for (const address of publicIpsByIpConfiguration.get(text(c.id)?.toLowerCase() ?? '') ?? []) add(address);
  }
  if (mac === '' && ips.length === 0) return undefined;

  const vmId = text(nic.virtualMachineId) ?? scaleSetInstanceOf(resourceId);
  const vm = vmId === undefined ? undefined : vmsById.get(vmId.toLowerCase());
  const scaleSet = vmId === undefined ? undefined : /^(.*\/virtualmachinescalesets\/[^/]+)\/virtualmachines\/[^/]+$/i.exec(vmId)?.[1];
  // VM (or scale-set instance) tags over the scale set's over the NIC's: the most specific wins.
  const tags = { ...tagsOf(nic.tags), ...(scaleSet === undefined ? {} : vmsById.get(scaleSet.toLowerCase())?.tags), ...vm?.tags };
  const vmName = vm?.name ?? (vmId === undefined ? undefined : vmNameFromId(vmId));
  const subnetParts = subnetId === undefined ? undefined : /\/virtualnetworks\/([^/]+)\/subnets\/([^/]+)/i.exec(subnetId);
  const names: Record<string, unknown> = {
    ...(mac === '' ? {} : { mac }),
    ips,
    ...optional('vm', vmName),
    ...optional('nic', text(nic.name) ?? lastSegment(resourceId)),
    ...optional('resourceGroup', /\/resourcegroups\/([^/]+)/i.exec(resourceId)?.[1] ?? text(nic.resourceGroup)),
    ...optional('subscription', text(nic.subscriptionId) ?? /^\/subscriptions\/([^/]+)/i.exec(resourceId)?.[1]),
    ...optional('region', text(nic.location)),
    ...optional('vnet', subnetParts?.[1]),
    ...optional('subnet', subnetParts?.[2]),
    ...(Object.keys(tags).length === 0 ? {} : { tags }),
    ...optional('resourceId', resourceId === '' ? undefined : resourceId),
  };
  return names as unknown as InterfaceNames;
}

/**
 * A Uniform scale-set instance's NIC id is `…/virtualMachineScaleSets/{ss}/virtualMachines/{n}/networkInterfaces/{nic}`:
 * its instance is the part before `/networkInterfaces/`.
 */
function scaleSetInstanceOf(nicId: string): string | undefined {
  return /^(.*\/virtualmachinescalesets\/[^/]+\/virtualmachines\/[^/]+)\/networkinterfaces\/[^/]+$/i.exec(nicId)?.[1];
}

/** Azure names a Uniform scale-set instance `{scale-set}_{instance-id}`; any other VM by its id's last segment. */
function vmNameFromId(vmId: string): string {
  const instance = /\/virtualmachinescalesets\/([^/]+)\/virtualmachines\/([^/]+)$/i.exec(vmId);
  return instance === null ? lastSegment(vmId) : `${instance[1]}_${instance[2]}`;
}

/** `10.1.0.4`, or each address of an IPv4 prefix assigned to the configuration (`10.1.0.16/28`); an IPv6 prefix by its first address. */
function addressesOf(privateIp: string | undefined, prefixLength: unknown): string[] {
  if (privateIp === undefined) return [];
  const [base = '', length] = privateIp.split('/');
  const address = normalizeIp(base);
  if (address === undefined) return [];
  const bits = Number(length ?? (typeof prefixLength === 'number' ? prefixLength : NaN));
  if (!Number.isInteger(bits) || address.includes(':') || bits >= 32 || bits < 0 || 2 ** (32 - bits) > MAX_PREFIX_ADDRESSES) return [address];
  const first = ipaddr.IPv4.networkAddressFromCIDR(`${address}/${bits}`).toByteArray();
  const start = ((first[0]! << 24) | (first[1]! << 16) | (first[2]! << 8) | first[3]!) >>> 0;
  return Array.from({ length: 2 ** (32 - bits) }, (_, i) => {
    const n = start + i;
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  });
}

function tagsOf(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
  const tags: Record<string, string> = {};
  for (const [key, tag] of Object.entries(value as Record<string, unknown>)) if (typeof tag === 'string') tags[key] = tag;
  return tags;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function optional(key: string, value: string | undefined): Record<string, string> {
  return value === undefined ? {} : { [key]: value };
}

function lastSegment(id: string): string {
  return id.slice(id.lastIndexOf('/') + 1);
}
