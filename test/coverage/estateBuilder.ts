import { estateFromRows, type Estate } from '../../src/inventory/estate.js';

/**
 * Hand-built estates, as Azure Resource Graph rows projected by ESTATE_QUERY (src/inventory/estate.ts).
 * The property bags follow Microsoft's REST examples (VirtualNetworkGet.json, NetworkSecurityGroupGet.json,
 * NetworkInterfaceGet.json, NetworkWatcherFlowLogGet.json): subnets as objects with
 * `properties.networkSecurityGroup.id`, NSGs listing `subnets[]` and `networkInterfaces[]` by id, NICs
 * with `ipConfigurations[].properties.subnet.id`, flow logs with `format`, `retentionPolicy` and the
 * Traffic Analytics configuration. `tostring()` of a missing path is '' in KQL, a missing dynamic null.
 */

export const SUB_A = '11111111-1111-1111-1111-111111111111';
export const SUB_B = '22222222-2222-2222-2222-222222222222';
export const REGION = 'westeurope';

type Row = Record<string, unknown>;

interface Common {
  subscription?: string;
  resourceGroup?: string;
  region?: string;
}

export interface FlowLogSpec extends Common {
  target: string;
  enabled?: boolean;
  version?: number | null;
  storage?: string;
  retentionDays?: number;
  trafficAnalytics?: { workspace: string; interval: number };
  /** Override the Network Watcher part of the id. */
  watcher?: string;
}

const BLANK = {
  subnets: null,
  networkInterfaces: null,
  networkSecurityGroupId: '',
  ipConfigurations: null,
  virtualMachineId: '',
  targetResourceId: '',
  enabled: null,
  format: null,
  retentionPolicy: null,
  storageId: '',
  trafficAnalytics: null,
  provisioningState: 'Succeeded',
};

export class EstateBuilder {
  private readonly vnets: Array<{ row: Row; subnets: Array<{ id: string; name: string; nsg?: string }> }> = [];
  private readonly nsgs: Array<{ id: string; row: Row }> = [];
  private readonly nics: Array<{ id: string; subnet: string; nsg?: string; row: Row; computeTable: boolean }> = [];
  private readonly others: Row[] = [];
  private readonly computeOthers: Row[] = [];

  /** A VNet with subnets (`nsg`: the id of the subnet's NSG); returns its id. */
  vnet(name: string, subnets: Array<{ name: string; nsg?: string }>, options: Common = {}): string {
    const { id, base } = resource(options, 'Microsoft.Network/virtualNetworks', name, 'microsoft.network/virtualnetworks');
    this.vnets.push({
      row: base,
      subnets: subnets.map((subnet) => ({ id: `${id}/subnets/${subnet.name}`, name: subnet.name, ...(subnet.nsg === undefined ? {} : { nsg: subnet.nsg }) })),
    });
    return id;
  }

  nsg(name: string, options: Common = {}): string {
    const { id, base } = resource(options, 'Microsoft.Network/networkSecurityGroups', name, 'microsoft.network/networksecuritygroups');
    this.nsgs.push({ id, row: base });
    return id;
  }

  /** A NIC in `subnet` (an id), with its own NSG if given. `scaleSet`: a Uniform scale-set NIC (ComputeResources table). */
  nic(name: string, subnet: string, options: Common & { nsg?: string; scaleSet?: boolean } = {}): string {
    const computeTable = options.scaleSet === true;
    const { id, base } = computeTable
      ? resourceAt(
          options,
          `Microsoft.Compute/virtualMachineScaleSets/vmss-${name}/virtualMachines/0/networkInterfaces/${name}`,
          name,
          'microsoft.compute/virtualmachinescalesets/virtualmachines/networkinterfaces',
        )
      : resource(options, 'Microsoft.Network/networkInterfaces', name, 'microsoft.network/networkinterfaces');
    this.nics.push({ id, subnet, ...(options.nsg === undefined ? {} : { nsg: options.nsg }), row: base, computeTable });
    return id;
  }

  flowLog(name: string, spec: FlowLogSpec): string {
    const region = spec.region ?? REGION;
    const watcher = spec.watcher ?? `NetworkWatcher_${region}`;
    const { id, base } = resource(
      { resourceGroup: 'NetworkWatcherRG', ...spec },
      `Microsoft.Network/networkWatchers/${watcher}/flowLogs`,
      name,
      'microsoft.network/networkwatchers/flowlogs',
    );
    this.others.push({
      ...base,
      targetResourceId: spec.target,
      enabled: spec.enabled ?? true,
      format: spec.version === null ? { type: 'JSON' } : { type: 'JSON', version: spec.version ?? 2 },
      retentionPolicy: spec.retentionDays === undefined ? { days: 0, enabled: false } : { days: spec.retentionDays, enabled: true },
      storageId: spec.storage ?? '',
      trafficAnalytics:
        spec.trafficAnalytics === undefined
          ? { enabled: false }
          : {
              enabled: true,
              workspaceId: '00000000-0000-0000-0000-00000000a11a',
              workspaceRegion: region,
              workspaceResourceId: spec.trafficAnalytics.workspace,
              trafficAnalyticsInterval: spec.trafficAnalytics.interval,
            },
    });
    return id;
  }

  watcher(options: Common = {}): string {
    const region = options.region ?? REGION;
    const { id, base } = resource(
      { resourceGroup: 'NetworkWatcherRG', ...options },
      'Microsoft.Network/networkWatchers',
      `NetworkWatcher_${region}`,
      'microsoft.network/networkwatchers',
    );
    this.others.push(base);
    return id;
  }

  storage(name: string, options: Common = {}): string {
    const { id, base } = resource({ resourceGroup: 'rg-logs', ...options }, 'Microsoft.Storage/storageAccounts', name, 'microsoft.storage/storageaccounts');
    this.others.push(base);
    return id;
  }

  /** A row of a type coverage does not read (a VM), to see it ignored. */
  unrelated(name: string): void {
    this.others.push(resource({}, 'Microsoft.Compute/virtualMachines', name, 'microsoft.compute/virtualmachines').base);
  }

  /** The Resources table rows (what ESTATE_QUERY returns). */
  resources(): Row[] {
    return [...this.vnetRows(), ...this.nsgRows(), ...this.nics.filter((n) => !n.computeTable).map((n) => this.nicRow(n)), ...this.others];
  }

  /** The ComputeResources table rows (what ESTATE_SCALE_SET_NICS_QUERY returns). */
  computeResources(): Row[] {
    return [...this.nics.filter((n) => n.computeTable).map((n) => this.nicRow(n)), ...this.computeOthers];
  }

  estate(): Estate {
    return estateFromRows([...this.resources(), ...this.computeResources()]);
  }

  private vnetRows(): Row[] {
    return this.vnets.map(({ row, subnets }) => ({
      ...row,
      subnets: subnets.map((subnet) => ({
        name: subnet.name,
        id: subnet.id,
        etag: 'W/"00000000-0000-0000-0000-000000000000"',
        type: 'Microsoft.Network/virtualNetworks/subnets',
        properties: {
          provisioningState: 'Succeeded',
          addressPrefix: '10.0.0.0/24',
          ...(subnet.nsg === undefined ? {} : { networkSecurityGroup: { id: subnet.nsg } }),
          ipConfigurations: this.nics.filter((n) => n.subnet === subnet.id).map((n) => ({ id: `${n.id}/ipConfigurations/ipconfig1` })),
          privateEndpointNetworkPolicies: 'Disabled',
          privateLinkServiceNetworkPolicies: 'Enabled',
        },
      })),
    }));
  }

  /** NSGs list their subnets and NICs, as Azure keeps both sides of the association. */
  private nsgRows(): Row[] {
    return this.nsgs.map(({ id, row }) => ({
      ...row,
      subnets: this.vnets.flatMap((v) => v.subnets.filter((s) => s.nsg === id).map((s) => ({ id: s.id }))),
      networkInterfaces: this.nics.filter((n) => n.nsg === id).map((n) => ({ id: n.id })),
    }));
  }

  private nicRow(nic: { id: string; subnet: string; nsg?: string; row: Row }): Row {
    return {
      ...nic.row,
      networkSecurityGroupId: nic.nsg ?? '',
      ipConfigurations: [
        {
          name: 'ipconfig1',
          id: `${nic.id}/ipConfigurations/ipconfig1`,
          properties: {
            provisioningState: 'Succeeded',
            privateIPAddress: '10.0.0.4',
            privateIPAllocationMethod: 'Dynamic',
            subnet: { id: nic.subnet },
            primary: true,
          },
        },
      ],
    };
  }
}

function resource(options: Common, path: string, name: string, type: string): { id: string; base: Row } {
  return resourceAt(options, `${path}/${name}`, name, type);
}

function resourceAt(options: Common, path: string, name: string, type: string): { id: string; base: Row } {
  const subscription = options.subscription ?? SUB_A;
  const resourceGroup = options.resourceGroup ?? 'rg-net';
  const id = `/subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/${path}`;
  return {
    id,
    base: { ...BLANK, id, name, type, resourceGroup: resourceGroup.toLowerCase(), subscriptionId: subscription, location: options.region ?? REGION },
  };
}
