import { describe, expect, it } from 'vitest';
import { interfacesFromRows } from '../../src/inventory/azureInterfaces.js';
import { nicRow, publicIpRow, scaleSetNicRow, STAND_IN_SUBSCRIPTION, vmRow } from '../helpers/resourceGraphStandIn.js';

describe('interfacesFromRows', () => {
  it('joins a NIC to its VM, subnet, public IP and tags', () => {
    const rows = [
      nicRow('vm-web-01-nic0', {
        mac: '00-0D-3A-F8-78-56',
        ips: ['10.1.0.4', '2001:db8:1::4'],
        vm: 'vm-web-01',
        publicIp: 'pip-web',
        tags: { env: 'dev', owner: 'net' },
      }),
      vmRow('vm-web-01', { env: 'prod', app: 'shop' }),
      publicIpRow('pip-web', '20.50.1.7', 'vm-web-01-nic0'),
    ];
    expect(interfacesFromRows(rows)).toEqual([
      {
        mac: '000D3AF87856',
        ips: ['10.1.0.4', '2001:db8:1::4', '20.50.1.7'],
        vm: 'vm-web-01',
        nic: 'vm-web-01-nic0',
        resourceGroup: 'rg-prod',
        subscription: STAND_IN_SUBSCRIPTION,
        region: 'westeurope',
        vnet: 'vnet-prod',
        subnet: 'web',
        // The VM's tags over the NIC's.
        tags: { env: 'prod', owner: 'net', app: 'shop' },
        resourceId: `/subscriptions/${STAND_IN_SUBSCRIPTION}/resourceGroups/rg-prod/providers/Microsoft.Network/networkInterfaces/vm-web-01-nic0`,
      },
    ]);
  });

  it('finds a public IP by the IP configuration it names, ids compared without case', () => {
    const nic = nicRow('nic-a', { mac: '000D3A000001', ips: ['10.1.0.5'] });
    const pip = publicIpRow('pip-a', '20.50.1.8', 'nic-a');
    pip.ipConfigurationId = String(pip.ipConfigurationId).toUpperCase();
    expect(interfacesFromRows([nic, pip])[0]!.ips).toEqual(['10.1.0.5', '20.50.1.8']);
  });

  it('names a Uniform scale-set instance {scale-set}_{instance-id}, or as its instance row says', () => {
    const rows = [
      scaleSetNicRow('vmss-api', '3', 'nic-api', '00-0D-3A-00-00-03', '10.1.2.7'),
      scaleSetNicRow('vmss-api', '4', 'nic-api', '00-0D-3A-00-00-04', '10.1.2.8'),
    ];
    const instance = {
      ...vmRow('ignored'),
      id: String(rows[1]!.virtualMachineId),
      name: 'vmss-api_4',
      type: 'microsoft.compute/virtualmachinescalesets/virtualmachines',
      tags: { tier: 'api' },
    };
    const scaleSet = {
      ...vmRow('vmss-api', { env: 'prod' }),
      id: String(rows[0]!.virtualMachineId).replace(/\/virtualMachines\/3$/, ''),
      type: 'microsoft.compute/virtualmachinescalesets',
    };
    const names = interfacesFromRows([...rows, instance, scaleSet]);
    expect(names.map((n) => [n.vm, n.nic, n.ips, n.subnet, n.tags])).toEqual([
      ['vmss-api_3', 'nic-api', ['10.1.2.7'], 'app', { env: 'prod' }],
      ['vmss-api_4', 'nic-api', ['10.1.2.8'], 'app', { env: 'prod', tier: 'api' }],
    ]);
  });

  it('derives the instance from a scale-set NIC id when the row names no VM', () => {
    const row = scaleSetNicRow('vmss-web', '0', 'nic0', '000D3A0000AA', '10.1.3.4');
    row.virtualMachineId = '';
    expect(interfacesFromRows([row])[0]!.vm).toBe('vmss-web_0');
  });

  it('names each address of a small IPv4 prefix assigned to a configuration', () => {
    const nic = nicRow('nic-pods', { mac: '000D3A000010', ips: ['10.1.4.16/30'] });
    expect(interfacesFromRows([nic])[0]!.ips).toEqual(['10.1.4.16', '10.1.4.17', '10.1.4.18', '10.1.4.19']);
  });

  it('keeps a NIC without a MAC (VM deallocated) by its addresses, and drops one with neither', () => {
    const names = interfacesFromRows([nicRow('nic-stopped', { ips: ['10.1.0.9'] }), nicRow('nic-empty', { ips: [] })]);
    expect(names).toHaveLength(1);
    expect(names[0]!.mac).toBeUndefined();
    expect(names[0]!.nic).toBe('nic-stopped');
    expect(names[0]!.vm).toBeUndefined();
  });

  it('takes the resource group as the id spells it (Resource Graph lower-cases the column)', () => {
    const nic = nicRow('nic-x', { mac: '000D3A000011', ips: ['10.1.0.10'] });
    nic.id = String(nic.id).replace('rg-prod', 'RG-Prod');
    expect(interfacesFromRows([nic])[0]!.resourceGroup).toBe('RG-Prod');
  });
});
