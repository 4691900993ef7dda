import { describe, expect, it } from 'vitest';
import { analyzeCoverage, findingsAtOrAbove, type CoverageOptions } from '../../src/coverage/analyze.js';
import { VNET_FLOW_LOG_AUDIT_POLICY, VNET_FLOW_LOG_DEPLOY_POLICY } from '../../src/coverage/azCommands.js';
import type { CoverageReport, Finding, FindingKind } from '../../src/coverage/report.js';
import { estateFromRows } from '../../src/inventory/estate.js';
import { checkAzCommand, shellWords } from './azSyntax.js';
import { EstateBuilder, REGION, SUB_A, SUB_B } from './estateBuilder.js';

const GENERATED_AT = '2026-12-03T10:00:00.000Z';

function analyze(builder: EstateBuilder, options: Partial<CoverageOptions> = {}): CoverageReport {
  const report = analyzeCoverage(builder.estate(), { generatedAt: GENERATED_AT, ...options });
  for (const finding of report.findings) {
    for (const command of [...finding.fix.az, ...(finding.fix.policy?.az ?? []), ...(finding.fix.policy === undefined ? [] : [finding.fix.policy.audit.az])]) {
      checkAzCommand(command);
    }
  }
  return report;
}

function only(report: CoverageReport, kind: FindingKind): Finding {
  const found = report.findings.filter((f) => f.kind === kind);
  expect(found, `one ${kind} finding in ${JSON.stringify(report.findings.map((f) => [f.kind, f.name]))}`).toHaveLength(1);
  return found[0]!;
}

function kinds(report: CoverageReport): string[] {
  return report.findings.map((f) => `${f.kind} ${f.name}`);
}

/** The value of `flag` in an az command line. */
function flag(command: string, name: string): string | undefined {
  const words = shellWords(command);
  const at = words.indexOf(name);
  return at < 0 ? undefined : words[at + 1];
}

/** A fresh estate with a Network Watcher and a storage account in the region. */
function estate(): { b: EstateBuilder; storage: string } {
  const b = new EstateBuilder();
  b.watcher();
  const storage = b.storage('stflowlogs');
  return { b, storage };
}

describe('coverage analysis: what each NIC, subnet and VNet is seen by', () => {
  it('a VNet with an enabled VNet flow log is covered, every subnet and NIC by it, with no finding', () => {
    const { b, storage } = estate();
    const vnet = b.vnet('vnet-covered', [{ name: 'web' }, { name: 'app' }]);
    const nic = b.nic('nic-web-1', `${vnet}/subnets/web`);
    const log = b.flowLog('vnet-covered-flowlog', {
      target: vnet,
      storage,
      retentionDays: 7,
      trafficAnalytics: { workspace: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/la', interval: 10 },
    });
    const report = analyze(b, { readStorageAccounts: ['stflowlogs'] });
    expect(report.findings).toEqual([]);
    expect(report.vnets).toEqual([
      {
        id: vnet,
        name: 'vnet-covered',
        subscription: SUB_A,
        resourceGroup: 'rg-net',
        region: REGION,
        coverage: 'vnet',
        flowLogs: [log],
        subnets: [
          {
            id: `${vnet}/subnets/web`,
            name: 'web',
            coverage: 'vnet',
            reasons: [],
            flowLogs: [log],
            nics: [{ id: nic, name: 'nic-web-1', coverage: 'vnet', flowLogs: [log] }],
          },
          { id: `${vnet}/subnets/app`, name: 'app', coverage: 'vnet', reasons: [], flowLogs: [log], nics: [] },
        ],
      },
    ]);
    expect(report.flowLogs).toEqual([
      {
        id: log,
        name: 'vnet-covered-flowlog',
        subscription: SUB_A,
        resourceGroup: 'NetworkWatcherRG',
        region: REGION,
        kind: 'vnet',
        target: { id: vnet, type: 'vnet' },
        enabled: true,
        formatVersion: 2,
        retentionDays: 7,
        trafficAnalytics: {
          enabled: true,
          workspaceResourceId: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/la',
          intervalMinutes: 10,
        },
        storageId: storage,
        storageRead: true,
      },
    ]);
    expect(report.summary).toEqual({
      vnets: 1,
      subnets: 2,
      nics: 1,
      flowLogs: { total: 1, nsg: 0, vnet: 1, disabled: 0 },
      subnetCoverage: { vnet: 2, nsg: 0, both: 0, mixed: 0, blind: 0 },
      findings: { high: 0, medium: 0, low: 0, info: 0, total: 0 },
    });
    expect(report.generatedAt).toBe(GENERATED_AT);
  });

  it('a VNet no flow log sees is blind: one finding with the VNet flow log to create and the policy that deploys them', () => {
    const { b, storage } = estate();
    const vnet = b.vnet('vnet-blind', [{ name: 'app' }, { name: 'db' }]);
    b.nic('nic-app-1', `${vnet}/subnets/app`);
    const report = analyze(b, { readStorageAccounts: ['stflowlogs'] });
    expect(report.vnets[0]!.coverage).toBe('blind');
    expect(report.vnets[0]!.subnets.map((s) => [s.coverage, s.reasons])).toEqual([
      ['blind', ['no-flow-log']],
      ['blind', ['no-flow-log']],
    ]);
    const blind = only(report, 'blind');
    expect(blind).toMatchObject({ severity: 'high', resource: vnet, resourceType: 'vnet', name: 'vnet-blind', subscription: SUB_A, region: REGION });
    expect(blind.message).toBe('no enabled flow log sees VNet vnet-blind (2 subnets, 1 NIC): no flow log targets it, its subnets, its NSGs or its NICs');
    expect(blind.fix.az).toEqual([
      `az network watcher flow-log create --subscription ${SUB_A} --location westeurope --name vnet-blind-rg-net-flowlog --vnet ${vnet} --storage-account ${storage} --format JSON --log-version 2 --retention 7`,
    ]);
    expect(blind.fix.note).toBeUndefined();
    const policy = blind.fix.policy!;
    expect(policy.definitionId).toBe(VNET_FLOW_LOG_DEPLOY_POLICY.definitionId);
    expect(policy.audit.definitionId).toBe(VNET_FLOW_LOG_AUDIT_POLICY.definitionId);
    expect(flag(policy.az[0]!, '--policy')).toBe('/providers/Microsoft.Authorization/policyDefinitions/cd6f7aff-2845-4dab-99f2-6d1754a754b0');
    expect(JSON.parse(flag(policy.az[0]!, '--params')!)).toEqual({
      vnetRegion: { value: REGION },
      storageId: { value: storage },
      networkWatcherRG: { value: 'NetworkWatcherRG' },
      networkWatcherName: { value: 'NetworkWatcher_westeurope' },
      retentionDays: { value: '7' },
    });
    expect(flag(policy.az[0]!, '--scope')).toBe(`/subscriptions/${SUB_A}`);
    expect(flag(policy.az[0]!, '--role')).toBe('Contributor');
    expect(policy.az[1]).toBe(
      `az policy remediation create --subscription ${SUB_A} --name vnet-flow-logs-westeurope --policy-assignment /subscriptions/${SUB_A}/providers/Microsoft.Authorization/policyAssignments/vnet-flow-logs-westeurope`,
    );
  });

  it('a subnet only its subnet NSG flow log sees: intra-subnet traffic unseen, fixed by a VNet flow log with the NSG flow log disabled', () => {
    const { b, storage } = estate();
    const nsg = b.nsg('nsg-web');
    const vnet = b.vnet('vnet-nsg', [{ name: 'web', nsg }]);
    b.nic('nic-a', `${vnet}/subnets/web`);
    b.nic('nic-b', `${vnet}/subnets/web`);
    const log = b.flowLog('nsg-web-flowlog', { target: nsg, storage });
    const report = analyze(b);
    const subnet = report.vnets[0]!.subnets[0]!;
    expect(subnet).toMatchObject({ coverage: 'nsg', reasons: ['subnet-nsg-only'], nsg, flowLogs: [log] });
    expect(subnet.nics.map((n) => n.coverage)).toEqual(['nsg', 'nsg']);
    const finding = only(report, 'subnet-nsg-only');
    expect(finding).toMatchObject({ severity: 'medium', resource: `${vnet}/subnets/web`, resourceType: 'subnet', name: 'vnet-nsg/web' });
    expect(finding.message).toContain('traffic between VMs of the same subnet is unseen');
    expect(finding.message).toContain('2 of 2 NICs without a NIC NSG flow log');
    expect(finding.fix.az).toEqual([
      `az network watcher flow-log create --subscription ${SUB_A} --location westeurope --name vnet-nsg-rg-net-flowlog --vnet ${vnet} --storage-account ${storage} --format JSON --log-version 2 --retention 7`,
      `az network watcher flow-log update --subscription ${SUB_A} --location westeurope --name nsg-web-flowlog --enabled false`,
    ]);
    // Every NSG flow log must migrate: a low finding of its own, with the same end state.
    const retiring = only(report, 'nsg-flow-log-retiring');
    expect(retiring).toMatchObject({ severity: 'low', resource: log, resourceType: 'flowLog', name: 'NetworkWatcher_westeurope/nsg-web-flowlog' });
    expect(retiring.message).toContain('cannot be created since 2025-06-30 and stop on 2027-09-30');
    expect(retiring.fix.az).toEqual(finding.fix.az);
  });

  it('a subnet whose NICs have their own NSG flow logs is not subnet-NSG-only', () => {
    const { b, storage } = estate();
    const nsgSubnet = b.nsg('nsg-subnet');
    const nsgNic = b.nsg('nsg-nic');
    const vnet = b.vnet('vnet', [{ name: 'web', nsg: nsgSubnet }]);
    b.nic('nic-a', `${vnet}/subnets/web`, { nsg: nsgNic });
    b.flowLog('fl-subnet', { target: nsgSubnet, storage });
    const report = analyze(b);
    expect(report.vnets[0]!.subnets[0]!.reasons).toEqual(['subnet-nsg-only']);
    b.flowLog('fl-nic', { target: nsgNic, storage });
    const both = analyze(b);
    // Now traffic of nic-a is logged by both NSGs' flow logs: counted twice instead.
    expect(both.vnets[0]!.subnets[0]!.reasons).toEqual(['double-counting']);
    expect(both.findings.some((f) => f.kind === 'subnet-nsg-only')).toBe(false);
  });

  it('a subnet with no NICs behind a subnet NSG flow log is flagged for the VMs to come', () => {
    const { b, storage } = estate();
    const nsg = b.nsg('nsg-empty');
    const vnet = b.vnet('vnet-empty', [{ name: 'spare', nsg }]);
    b.flowLog('fl-empty', { target: nsg, storage });
    const report = analyze(b);
    expect(report.vnets[0]!.subnets[0]).toMatchObject({ coverage: 'nsg', reasons: ['subnet-nsg-only'], nics: [] });
    expect(only(report, 'subnet-nsg-only').message).toContain('(no NICs yet)');
    expect(vnet).toContain('vnet-empty');
  });

  it('an NSG flow log on version 1 is a high finding fixed by switching it to version 2', () => {
    const { b, storage } = estate();
    const nsg = b.nsg('nsg-v1');
    b.vnet('vnet-v1', [{ name: 'web', nsg }]);
    const log = b.flowLog('nsg-v1-flowlog', { target: nsg, storage, version: 1 });
    const report = analyze(b);
    expect(report.vnets[0]!.subnets[0]!.reasons).toContain('nsg-flow-log-v1');
    const v1 = only(report, 'nsg-flow-log-v1');
    expect(v1).toMatchObject({ severity: 'high', resource: log });
    expect(v1.message).toBe(
      'NSG flow log nsg-v1-flowlog (NSG nsg-v1) writes format version 1: its records carry no byte or packet counts, so the collector sees flows without volume',
    );
    expect(v1.fix.az).toEqual([
      `az network watcher flow-log update --subscription ${SUB_A} --location westeurope --name nsg-v1-flowlog --format JSON --log-version 2`,
    ]);
    expect(report.flowLogs[0]!.formatVersion).toBe(1);
  });

  it('an NSG flow log that reports no format version is treated as not version 2', () => {
    const { b, storage } = estate();
    const nsg = b.nsg('nsg-x');
    b.vnet('vnet-x', [{ name: 'web', nsg }]);
    b.flowLog('fl-x', { target: nsg, storage, version: null });
    const report = analyze(b);
    expect(only(report, 'nsg-flow-log-v1').message).toContain('writes no format version (not 2)');
    expect(report.flowLogs[0]!.formatVersion).toBeNull();
  });

  it('a NIC seen by an NSG flow log and a VNet flow log is counted twice: the NSG flow log is disabled', () => {
    const { b, storage } = estate();
    const nsg = b.nsg('nsg-nic');
    const vnet = b.vnet('vnet-overlap', [{ name: 'web' }]);
    const nic = b.nic('nic-overlap', `${vnet}/subnets/web`, { nsg });
    const vnetLog = b.flowLog('vnet-overlap-flowlog', { target: vnet, storage });
    const nsgLog = b.flowLog('nsg-nic-flowlog', { target: nsg, storage });
    const report = analyze(b);
    expect(report.vnets[0]!.coverage).toBe('both');
    expect(report.vnets[0]!.subnets[0]).toMatchObject({ coverage: 'both', reasons: ['double-counting'] });
    expect(report.vnets[0]!.subnets[0]!.nics).toEqual([{ id: nic, name: 'nic-overlap', nsg, coverage: 'both', flowLogs: [vnetLog, nsgLog] }]);
    const twice = only(report, 'double-counting-nsg-vnet');
    expect(twice.severity).toBe('high');
    expect(twice.message).toBe(
      '1 NIC of vnet-overlap/web (nic-overlap) logged by NSG flow log nsg-nic-flowlog and VNet flow log vnet-overlap-flowlog: every byte counted twice at the collector (Microsoft: disable NSG flow logs before enabling VNet flow logs on the same workloads)',
    );
    expect(twice.fix.az).toEqual([`az network watcher flow-log update --subscription ${SUB_A} --location westeurope --name nsg-nic-flowlog --enabled false`]);
  });

  it('flow logs on both the subnet NSG and the NIC NSG count a NIC twice: one VNet flow log replaces both', () => {
    const { b, storage } = estate();
    const nsgSubnet = b.nsg('nsg-subnet');
    const nsgNic = b.nsg('nsg-nic');
    const vnet = b.vnet('vnet-twice', [{ name: 'web', nsg: nsgSubnet }]);
    b.nic('nic-1', `${vnet}/subnets/web`, { nsg: nsgNic });
    b.nic('nic-2', `${vnet}/subnets/web`);
    b.flowLog('fl-subnet', { target: nsgSubnet, storage });
    b.flowLog('fl-nic', { target: nsgNic, storage });
    const report = analyze(b);
    const twice = only(report, 'double-counting-nsg-nsg');
    expect(twice.message).toBe(
      "1 NIC of vnet-twice/web (nic-1) logged by both subnet NSG nsg-subnet's flow log and NIC NSG nsg-nic's: every byte counted twice at the collector",
    );
    expect(twice.fix.az).toEqual([
      `az network watcher flow-log create --subscription ${SUB_A} --location westeurope --name vnet-twice-rg-net-flowlog --vnet ${vnet} --storage-account ${storage} --format JSON --log-version 2 --retention 7`,
      `az network watcher flow-log update --subscription ${SUB_A} --location westeurope --name fl-subnet --enabled false`,
      `az network watcher flow-log update --subscription ${SUB_A} --location westeurope --name fl-nic --enabled false`,
    ]);
    // nic-2 relies on the subnet NSG's flow log alone.
    expect(only(report, 'subnet-nsg-only').message).toContain('1 of 2 NICs without a NIC NSG flow log');
  });
});

describe('coverage analysis: disabled flow logs, partial coverage, granular VNet flow logs', () => {
  it('a VNet whose only flow log is disabled is blind for that reason, and the fix enables it again', () => {
    const { b, storage } = estate();
    const vnet = b.vnet('vnet-off', [{ name: 'web' }]);
    b.flowLog('vnet-off-flowlog', { target: vnet, storage, enabled: false });
    const report = analyze(b);
    expect(report.vnets[0]!.subnets[0]!.reasons).toEqual(['flow-log-disabled']);
    const blind = only(report, 'blind');
    expect(blind.message).toBe('no enabled flow log sees VNet vnet-off (1 subnet, 0 NICs): its flow log is disabled (vnet-off-flowlog)');
    expect(blind.fix.az).toEqual([`az network watcher flow-log update --subscription ${SUB_A} --location westeurope --name vnet-off-flowlog --enabled true`]);
    // The fix turns it back on: no separate "disabled" finding.
    expect(report.findings.map((f) => f.kind)).toEqual(['blind']);
    expect(report.summary.flowLogs.disabled).toBe(1);
  });

  it('a disabled NSG flow log where a VNet flow log already sees everything is an info finding: delete it', () => {
    const { b, storage } = estate();
    const nsg = b.nsg('nsg-old');
    const vnet = b.vnet('vnet-migrated', [{ name: 'web', nsg }]);
    b.flowLog('vnet-migrated-flowlog', { target: vnet, storage });
    const old = b.flowLog('nsg-old-flowlog', { target: nsg, storage, enabled: false });
    const report = analyze(b);
    expect(report.vnets[0]!.subnets[0]!.coverage).toBe('vnet');
    const disabled = only(report, 'flow-log-disabled');
    expect(disabled).toMatchObject({ severity: 'info', resource: old });
    expect(disabled.fix.az).toEqual([`az network watcher flow-log delete --subscription ${SUB_A} --location westeurope --name nsg-old-flowlog`]);
    expect(kinds(report)).toEqual(['flow-log-disabled NetworkWatcher_westeurope/nsg-old-flowlog']);
  });

  it('a subnet where only some NICs have NIC NSG flow logs: the others are unseen', () => {
    const { b, storage } = estate();
    const nsg = b.nsg('nsg-one');
    const vnet = b.vnet('vnet-part', [{ name: 'web' }]);
    b.nic('nic-logged', `${vnet}/subnets/web`, { nsg });
    b.nic('nic-dark-1', `${vnet}/subnets/web`);
    b.nic('nic-dark-2', `${vnet}/subnets/web`);
    b.flowLog('fl-one', { target: nsg, storage });
    const report = analyze(b);
    expect(report.vnets[0]!.subnets[0]).toMatchObject({ coverage: 'nsg', reasons: ['nics-unseen'] });
    const unseen = only(report, 'nics-unseen');
    expect(unseen.message).toBe('2 of 3 NICs in vnet-part/web are seen by no flow log (nic-dark-1, nic-dark-2): only NIC-level flow logs cover this subnet');
    expect(unseen.fix.az).toEqual([
      `az network watcher flow-log create --subscription ${SUB_A} --location westeurope --name vnet-part-rg-net-flowlog --vnet ${vnet} --storage-account ${storage} --format JSON --log-version 2 --retention 7`,
      `az network watcher flow-log update --subscription ${SUB_A} --location westeurope --name fl-one --enabled false`,
    ]);
  });

  it('a VNet flow log on one subnet: that subnet is covered, the other blind, the VNet partial, the fix per subnet', () => {
    const { b, storage } = estate();
    const vnet = b.vnet('vnet-granular', [{ name: 'web' }, { name: 'app' }]);
    const log = b.flowLog('web-flowlog', { target: `${vnet}/subnets/web`, storage });
    const report = analyze(b);
    expect(report.vnets[0]!.coverage).toBe('partial');
    expect(report.vnets[0]!.flowLogs).toEqual([]);
    expect(report.vnets[0]!.subnets.map((s) => [s.name, s.coverage, s.flowLogs])).toEqual([
      ['web', 'vnet', [log]],
      ['app', 'blind', []],
    ]);
    expect(report.flowLogs[0]!.target).toEqual({ id: `${vnet}/subnets/web`, type: 'subnet' });
    const blind = only(report, 'blind');
    expect(blind).toMatchObject({ resource: `${vnet}/subnets/app`, resourceType: 'subnet', name: 'vnet-granular/app' });
    expect(blind.fix.az).toEqual([
      `az network watcher flow-log create --subscription ${SUB_A} --location westeurope --name vnet-granular-app-flowlog --subnet ${vnet}/subnets/app --storage-account ${storage} --format JSON --log-version 2 --retention 7`,
    ]);
  });

  it('one blind subnet in a VNet otherwise seen by NSG flow logs gets its own VNet flow log, leaving the others alone', () => {
    const { b, storage } = estate();
    const nsg = b.nsg('nsg-web');
    const nsgNic = b.nsg('nsg-nic');
    const vnet = b.vnet('vnet-mix', [{ name: 'web', nsg }, { name: 'dark' }]);
    b.nic('nic-web', `${vnet}/subnets/web`, { nsg: nsgNic });
    b.flowLog('fl-web', { target: nsg, storage });
    b.flowLog('fl-nic', { target: nsgNic, storage });
    const report = analyze(b);
    const blind = report.findings.find((f) => f.kind === 'blind')!;
    expect(blind.name).toBe('vnet-mix/dark');
    expect(blind.fix.az).toEqual([
      `az network watcher flow-log create --subscription ${SUB_A} --location westeurope --name vnet-mix-dark-flowlog --subnet ${vnet}/subnets/dark --storage-account ${storage} --format JSON --log-version 2 --retention 7`,
    ]);
  });

  it('a VNet flow log on a NIC sees that NIC only; NICs of Uniform scale sets (ComputeResources) count like the others', () => {
    const { b, storage } = estate();
    const vnet = b.vnet('vnet-nic', [{ name: 'web' }]);
    const nic = b.nic('nic-one', `${vnet}/subnets/web`);
    b.nic('vmss-nic', `${vnet}/subnets/web`, { scaleSet: true });
    b.flowLog('nic-flowlog', { target: nic, storage });
    const report = analyze(b);
    const subnet = report.vnets[0]!.subnets[0]!;
    expect(subnet.nics.map((n) => [n.name, n.coverage])).toEqual([
      ['nic-one', 'vnet'],
      ['vmss-nic', 'blind'],
    ]);
    expect(subnet).toMatchObject({ coverage: 'vnet', reasons: ['nics-unseen'] });
    // The owner logs per NIC: the fix covers the subnet, not the whole VNet.
    expect(only(report, 'nics-unseen').fix.az[0]).toContain(`--subnet ${vnet}/subnets/web`);
  });
});

describe('coverage analysis: mixed kinds in one subnet', () => {
  it('one NIC seen by a VNet flow log, another by its NSG flow log, none by both: mixed, not counted twice', () => {
    const { b, storage } = estate();
    const nsg = b.nsg('nsg-nic');
    const vnet = b.vnet('vnet-mixed', [{ name: 'web' }]);
    const nic = b.nic('nic-vnet', `${vnet}/subnets/web`);
    b.nic('nic-nsg', `${vnet}/subnets/web`, { nsg });
    b.flowLog('nic-flowlog', { target: nic, storage });
    b.flowLog('nsg-flowlog', { target: nsg, storage });
    const report = analyze(b);
    expect(report.vnets[0]!.coverage).toBe('mixed');
    expect(report.vnets[0]!.subnets[0]).toMatchObject({ coverage: 'mixed', reasons: [] });
    expect(report.summary.subnetCoverage.mixed).toBe(1);
    expect(kinds(report)).toEqual(['nsg-flow-log-retiring NetworkWatcher_westeurope/nsg-flowlog']);
    // The owner logs per NIC: retiring the NSG flow log covers the subnet with a VNet flow log of its own.
    expect(only(report, 'nsg-flow-log-retiring').fix.az.map((c) => flag(c, '--subnet') ?? flag(c, '--enabled'))).toEqual([`${vnet}/subnets/web`, 'false']);
  });
});

describe('coverage analysis: storage accounts, subscriptions, Network Watchers', () => {
  it('flow logs writing to an account nsg2ipfix does not read are findings, given the account by name, URL or id', () => {
    const { b, storage } = estate();
    const other = b.storage('stother');
    const vnet = b.vnet('vnet-s', [{ name: 'web' }]);
    const vnet2 = b.vnet('vnet-t', [{ name: 'web' }]);
    b.flowLog('fl-read', { target: vnet, storage });
    const log = b.flowLog('fl-elsewhere', { target: vnet2, storage: other });
    for (const given of ['stflowlogs', 'https://stflowlogs.blob.core.windows.net/', storage.toUpperCase()]) {
      const report = analyze(b, { readStorageAccounts: [given] });
      expect(report.flowLogs.map((f) => [f.name, f.storageRead])).toEqual([
        ['fl-elsewhere', false],
        ['fl-read', true],
      ]);
      const finding = only(report, 'storage-not-read');
      expect(finding).toMatchObject({ severity: 'medium', resource: log });
      expect(finding.message).toBe(
        `VNet flow log fl-elsewhere (VNet vnet-t) writes to storage account stother, which nsg2ipfix is not reading (--storage-account ${given})`,
      );
      expect(finding.fix.az).toEqual([
        `az network watcher flow-log update --subscription ${SUB_A} --location westeurope --name fl-elsewhere --storage-account ${storage}`,
      ]);
      expect(finding.fix.note).toBe('or read this account too: nsg2ipfix blob --account-url https://stother.blob.core.windows.net');
    }
    // Without --storage-account nothing is judged.
    const unchecked = analyze(b);
    expect(unchecked.flowLogs.map((f) => f.storageRead)).toEqual([null, null]);
    expect(unchecked.findings).toEqual([]);
  });

  it('an account nsg2ipfix reads in another region cannot take a flow log: the note says to read this one', () => {
    const { b } = estate();
    b.storage('stnorth', { region: 'northeurope' });
    const other = b.storage('stwest');
    const vnet = b.vnet('vnet-w', [{ name: 'web' }]);
    b.flowLog('fl-w', { target: vnet, storage: other });
    const finding = only(analyze(b, { readStorageAccounts: ['stnorth'] }), 'storage-not-read');
    expect(finding.fix.az).toEqual([]);
    expect(finding.fix.note).toContain('none of the accounts nsg2ipfix reads is in westeurope');
  });

  it('resources of other subscriptions and ids in other case are matched; commands name the subscription of what they change', () => {
    const { b, storage } = estate();
    b.watcher({ subscription: SUB_B });
    const covered = b.vnet('vnet-b', [{ name: 'web' }], { subscription: SUB_B, resourceGroup: 'rg-b' });
    b.nic('nic-b', `${covered}/subnets/web`, { subscription: SUB_B, resourceGroup: 'rg-b' });
    // Azure writes flow log targets in upper case at times.
    b.flowLog('vnet-b-flowlog', { target: covered.toUpperCase(), storage, subscription: SUB_B });
    const blind = b.vnet('vnet-b-dark', [{ name: 'web' }], { subscription: SUB_B, resourceGroup: 'rg-b' });
    const report = analyze(b, { readStorageAccounts: [storage], scope: { subscriptions: [SUB_A, SUB_B] } });
    expect(report.scope).toEqual({ subscriptions: [SUB_A, SUB_B], managementGroups: [] });
    expect(report.vnets.map((v) => [v.name, v.coverage])).toEqual([
      ['vnet-b', 'vnet'],
      ['vnet-b-dark', 'blind'],
    ]);
    const finding = only(report, 'blind');
    expect(finding.subscription).toBe(SUB_B);
    expect(flag(finding.fix.az[0]!, '--subscription')).toBe(SUB_B);
    expect(flag(finding.fix.az[0]!, '--vnet')).toBe(blind);
    // The account nsg2ipfix reads is in subscription A, same region, same tenant: allowed for VNet flow logs.
    expect(flag(finding.fix.az[0]!, '--storage-account')).toBe(storage);
    expect(flag(finding.fix.policy!.az[0]!, '--scope')).toBe(`/subscriptions/${SUB_B}`);
  });

  it('an NSG on subnets of two VNets: retiring its flow log first gives both VNets a VNet flow log', () => {
    const { b, storage } = estate();
    const nsg = b.nsg('nsg-shared');
    const one = b.vnet('vnet-one', [{ name: 'web', nsg }]);
    const two = b.vnet('vnet-two', [{ name: 'web', nsg }]);
    b.flowLog('fl-shared', { target: nsg, storage });
    const retiring = only(analyze(b), 'nsg-flow-log-retiring');
    expect(retiring.fix.az.map((c) => flag(c, '--vnet') ?? `${flag(c, '--name')} ${flag(c, '--enabled')}`)).toEqual([one, two, 'fl-shared false']);
  });

  it('a region without a Network Watcher gets one enabled first; with no storage account known, a placeholder to fill', () => {
    const b = new EstateBuilder();
    const vnet = b.vnet('vnet-new', [{ name: 'web' }], { region: 'swedencentral' });
    const blind = only(analyze(b), 'blind');
    expect(blind.fix.az).toEqual([
      `az network watcher configure --subscription ${SUB_A} --resource-group NetworkWatcherRG --locations swedencentral --enabled true`,
      `az network watcher flow-log create --subscription ${SUB_A} --location swedencentral --name vnet-new-rg-net-flowlog --vnet ${vnet} --storage-account '<storage-account-id-in-swedencentral>' --format JSON --log-version 2 --retention 7`,
    ]);
    expect(blind.fix.note).toContain('no Network Watcher in swedencentral');
    expect(blind.fix.note).toContain('replace <storage-account-id-in-swedencentral> with a Standard storage account in swedencentral');
    expect(JSON.parse(flag(blind.fix.policy!.az[0]!, '--params')!)).toMatchObject({ networkWatcherName: { value: 'NetworkWatcher_swedencentral' } });
  });

  it("without an account nsg2ipfix reads, new flow logs write where the region's flow logs already do", () => {
    const { b, storage } = estate();
    const nsg = b.nsg('nsg-a');
    b.vnet('vnet-a', [{ name: 'web', nsg }]);
    b.flowLog('fl-a', { target: nsg, storage });
    const blindVnet = b.vnet('vnet-z', [{ name: 'web' }]);
    const blind = report(b).findings.find((f) => f.kind === 'blind')!;
    expect(flag(blind.fix.az[0]!, '--vnet')).toBe(blindVnet);
    expect(flag(blind.fix.az[0]!, '--storage-account')).toBe(storage);
    expect(blind.fix.note).toBe('stflowlogs is what the flow logs of westeurope write to');

    function report(builder: EstateBuilder) {
      return analyze(builder);
    }
  });

  it('new flow log names avoid the names the Network Watcher already uses', () => {
    const { b, storage } = estate();
    const vnet = b.vnet('vnet-n', [{ name: 'web' }]);
    const other = b.vnet('vnet-other', [{ name: 'web' }]);
    b.flowLog('vnet-n-rg-net-flowlog', { target: other, storage });
    expect(flag(only(analyze(b), 'blind').fix.az[0]!, '--name')).toBe('vnet-n-rg-net-flowlog-2');
    expect(vnet).toContain('vnet-n');
  });
});

describe('coverage analysis: the report as a whole', () => {
  function plantedEstate(): EstateBuilder {
    const { b, storage } = estate();
    const covered = b.vnet('vnet-covered', [{ name: 'web' }]);
    b.nic('nic-c', `${covered}/subnets/web`);
    b.flowLog('vnet-covered-flowlog', { target: covered, storage });
    b.vnet('vnet-blind', [{ name: 'app' }]);
    const nsg = b.nsg('nsg-web');
    const nsgVnet = b.vnet('vnet-nsg', [{ name: 'web', nsg }]);
    b.nic('nic-n1', `${nsgVnet}/subnets/web`);
    b.flowLog('nsg-web-flowlog', { target: nsg, storage, version: 1 });
    b.unrelated('vm-1');
    return b;
  }

  it('is the same whatever the order of the rows', () => {
    const b = plantedEstate();
    const rows = [...b.resources(), ...b.computeResources()];
    const forward = analyzeCoverage(estateFromRows(rows), { generatedAt: GENERATED_AT });
    const backward = analyzeCoverage(estateFromRows([...rows].reverse()), { generatedAt: GENERATED_AT });
    expect(JSON.stringify(backward)).toBe(JSON.stringify(forward));
  });

  it('orders findings most severe first, and findingsAtOrAbove picks those at a severity and above', () => {
    const report = analyze(plantedEstate());
    expect(kinds(report)).toEqual([
      'blind vnet-blind',
      'nsg-flow-log-v1 NetworkWatcher_westeurope/nsg-web-flowlog',
      'subnet-nsg-only vnet-nsg/web',
      'nsg-flow-log-retiring NetworkWatcher_westeurope/nsg-web-flowlog',
    ]);
    expect(report.summary.findings).toEqual({ high: 2, medium: 1, low: 1, info: 0, total: 4 });
    expect(findingsAtOrAbove(report, 'high')).toHaveLength(2);
    expect(findingsAtOrAbove(report, 'medium')).toHaveLength(3);
    expect(findingsAtOrAbove(report, 'low')).toHaveLength(4);
    expect(findingsAtOrAbove(report, 'info')).toHaveLength(4);
  });

  it('an empty estate has nothing to say', () => {
    const report = analyze(new EstateBuilder());
    expect(report.vnets).toEqual([]);
    expect(report.findings).toEqual([]);
    expect(report.summary.vnets).toBe(0);
  });
});
