import { describe, expect, it } from 'vitest';
import { analyzeCoverage } from '../../src/coverage/analyze.js';
import { estateFromRows } from '../../src/inventory/estate.js';
import { EstateBuilder, SUB_A } from './estateBuilder.js';

describe('estateFromRows: Resource Graph rows as an Estate', () => {
  it('reads each type from the columns the query projects', () => {
    const b = new EstateBuilder();
    const nsg = b.nsg('nsg-web');
    const vnet = b.vnet('vnet-prod', [{ name: 'web', nsg }, { name: 'app' }], { resourceGroup: 'RG-Prod' });
    const nic = b.nic('nic-1', `${vnet}/subnets/web`, { nsg });
    const storage = b.storage('stlogs');
    const log = b.flowLog('fl', { target: nsg, storage, version: 2, retentionDays: 30, trafficAnalytics: { workspace: '/subscriptions/x/w', interval: 60 } });
    const estate = b.estate();
    expect(estate.vnets).toEqual([
      {
        id: vnet,
        name: 'vnet-prod',
        subscriptionId: SUB_A,
        // From the id: Resource Graph's resourceGroup column is lower-cased.
        resourceGroup: 'RG-Prod',
        location: 'westeurope',
        subnets: [
          { id: `${vnet}/subnets/web`, name: 'web', nsgId: nsg },
          { id: `${vnet}/subnets/app`, name: 'app' },
        ],
      },
    ]);
    expect(estate.nsgs).toEqual([expect.objectContaining({ id: nsg, subnetIds: [`${vnet}/subnets/web`], nicIds: [nic] })]);
    expect(estate.nics).toEqual([expect.objectContaining({ id: nic, nsgId: nsg, subnetIds: [`${vnet}/subnets/web`] })]);
    expect(estate.flowLogs).toEqual([
      {
        id: log,
        name: 'fl',
        subscriptionId: SUB_A,
        resourceGroup: 'NetworkWatcherRG',
        location: 'westeurope',
        targetResourceId: nsg,
        enabled: true,
        formatType: 'JSON',
        formatVersion: 2,
        retentionEnabled: true,
        retentionDays: 30,
        storageId: storage,
        trafficAnalytics: { enabled: true, workspaceResourceId: '/subscriptions/x/w', intervalMinutes: 60 },
        provisioningState: 'Succeeded',
      },
    ]);
    expect(estate.storageAccounts.map((s) => s.name)).toEqual(['stlogs']);
  });

  it('skips rows without an id, flow logs without a target and rows of other types; keeps one of each id', () => {
    const b = new EstateBuilder();
    const vnet = b.vnet('vnet', [{ name: 'web' }]);
    b.unrelated('vm-1');
    const rows = b.resources();
    const estate = estateFromRows([
      ...rows,
      ...rows,
      { type: 'microsoft.network/virtualnetworks', name: 'no-id' },
      {
        id: '/subscriptions/s/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/nw/flowLogs/x',
        type: 'microsoft.network/networkwatchers/flowlogs',
        targetResourceId: '',
      },
    ]);
    expect(estate.vnets.map((v) => v.id)).toEqual([vnet]);
    expect(estate.flowLogs).toEqual([]);
    expect(estate.nics).toEqual([]);
  });

  it('reads booleans and numbers Resource Graph returns as strings', () => {
    const [log] = estateFromRows([
      {
        id: '/subscriptions/s/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/nw/flowLogs/x',
        type: 'Microsoft.Network/networkWatchers/flowLogs',
        location: 'WestEurope',
        targetResourceId: '/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v',
        enabled: 'false',
        format: { type: 'JSON', version: '2' },
        retentionPolicy: { days: '0', enabled: 'false' },
      },
    ]).flowLogs;
    expect(log).toMatchObject({ enabled: false, formatVersion: 2, retentionEnabled: false, retentionDays: 0, location: 'westeurope', subscriptionId: 's' });
  });

  it('an association only the NSG lists (not the subnet or NIC) still counts', () => {
    const b = new EstateBuilder();
    const nsg = b.nsg('nsg-web');
    const vnet = b.vnet('vnet', [{ name: 'web', nsg }]);
    b.flowLog('fl', { target: nsg });
    // The subnet row without its networkSecurityGroup: only the NSG's subnets[] says it.
    const rows = b
      .resources()
      .map((row) =>
        row.type === 'microsoft.network/virtualnetworks'
          ? { ...row, subnets: (row.subnets as Array<Record<string, unknown>>).map((s) => ({ ...s, properties: { addressPrefix: '10.0.0.0/24' } })) }
          : row,
      );
    const report = analyzeCoverage(estateFromRows(rows), { generatedAt: '2026-12-03T10:00:00.000Z' });
    expect(report.vnets[0]!.subnets[0]).toMatchObject({ id: `${vnet}/subnets/web`, coverage: 'nsg', nsg });
  });
});
