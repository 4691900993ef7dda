/**
 * A doubly-logged estate, end to end into nfcapd: NIC A is logged by its subnet's NSG and by its
 * own NSG (every tuple twice), NIC B by an NSG flow log and a VNet flow log (every flow twice, in
 * two formats), NIC C by a VNet flow log only, NIC D by a version-1 NSG flow log. Without help the
 * collector counts A's and B's bytes twice; with `--dedup` and `--prefer vnet` nfdump's byte totals
 * equal the true ones, every byte once, and what was taken out is counted as declined.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNfcapd, stopAll as stopAllNfcapd, type NfdumpFlow } from '../collectors/nfcapd.js';
import { runCli } from '../helpers/cli.js';
import { requireDecoders } from '../helpers/decoders.js';

requireDecoders();

const SUB = '00000000-0000-0000-0000-000000000000';
const nsgId = (name: string) => `/SUBSCRIPTIONS/${SUB}/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/${name}`;
const FLOW_LOG_ID = `/SUBSCRIPTIONS/${SUB}/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_EASTUS/FLOWLOGS/VNET-FLOWLOG`;
const T0 = Date.UTC(2026, 10, 30, 10, 0, 0);

interface Flow {
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  readonly outbound: boolean;
  readonly bytes: [number, number];
  readonly packets: [number, number];
  readonly second: number;
}

/** The true traffic of each NIC: what a collector must count once. */
function flows(local: string, count: number, seed: number): Flow[] {
  return Array.from({ length: count }, (_, i) => ({
    src: local,
    dst: `203.0.113.${10 + ((seed + i) % 200)}`,
    sport: 40_000 + seed * 100 + i,
    dport: 443,
    outbound: true,
    bytes: [1000 + 17 * i + seed, 5000 + 31 * i],
    packets: [10 + i, 12 + i],
    second: i,
  }));
}

function nsgTuple(f: Flow, version: 1 | 2): string {
  const seconds = Math.floor(T0 / 1000) + f.second;
  const head = `${seconds},${f.src},${f.dst},${f.sport},${f.dport},T,${f.outbound ? 'O' : 'I'},A`;
  return version === 1 ? head : `${head},E,${f.packets[0]},${f.bytes[0]},${f.packets[1]},${f.bytes[1]}`;
}

function vnetTuple(f: Flow): string {
  return `${T0 + f.second * 1000},${f.src},${f.dst},${f.sport},${f.dport},6,${f.outbound ? 'O' : 'I'},E,NX,${f.packets[0]},${f.bytes[0]},${f.packets[1]},${f.bytes[1]}`;
}

function nsgFile(nsg: string, mac: string, list: Flow[], version: 1 | 2 = 2): object {
  return {
    records: [
      {
        time: new Date(T0).toISOString(),
        systemId: 'x',
        macAddress: mac,
        category: 'NetworkSecurityGroupFlowEvent',
        resourceId: nsgId(nsg),
        operationName: 'NetworkSecurityGroupFlowEvents',
        properties: { Version: version, flows: [{ rule: `UserRule_${nsg}`, flows: [{ mac, flowTuples: list.map((f) => nsgTuple(f, version)) }] }] },
      },
    ],
  };
}

function vnetFile(mac: string, list: Flow[]): object {
  return {
    records: [
      {
        time: new Date(T0).toISOString(),
        flowLogVersion: 4,
        flowLogGUID: 'e4a7c1d2-5b3f-4a8e-b6c9-0d1f2e3a4b5c',
        macAddress: mac,
        category: 'FlowLogFlowEvent',
        flowLogResourceID: FLOW_LOG_ID,
        targetResourceID: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet`,
        operationName: 'FlowLogFlowEvent',
        flowRecords: { flows: [{ aclID: 'acl', flowGroups: [{ rule: 'DefaultRule_AllowInternetOutBound', flowTuples: list.map(vnetTuple) }] }] },
      },
    ],
  };
}

const A = flows('10.5.0.4', 40, 1);
const B = flows('10.5.0.5', 30, 2);
const C = flows('10.5.0.6', 20, 3);
const D = flows('10.5.0.7', 10, 4);
/** True byte totals per NIC (forward + reverse), as a collector must show them; v1 carries none. */
const truth = (list: Flow[]) => list.reduce((sum, f) => sum + f.bytes[0] + f.bytes[1], 0);

const dir = mkdtempSync(join(tmpdir(), 'nsg2ipfix-overlap-'));
const logs = join(dir, 'logs');

beforeAll(() => {
  mkdirSync(logs);
  const write = (name: string, content: object) => writeFileSync(join(logs, name), JSON.stringify(content));
  // B's VNet log first: what --prefer vnet must decline is B's NSG log, which comes after.
  write('1-b-vnet.json', vnetFile('000D3A000002', B));
  write('2-a-subnet-nsg.json', nsgFile('SUBNET-NSG', '000D3A000001', A));
  write('3-a-nic-nsg.json', nsgFile('NIC-A-NSG', '000D3A000001', A));
  write('4-b-nsg.json', nsgFile('B-NSG', '000D3A000002', B));
  write('5-c-vnet.json', vnetFile('000D3A000003', C));
  write('6-d-v1.json', nsgFile('D-NSG', '000D3A000004', D, 1));
});

afterAll(async () => {
  await stopAllNfcapd();
  rmSync(dir, { recursive: true, force: true });
});

async function replay(extra: string[]): Promise<{ stored: NfdumpFlow[]; summary: Record<string, unknown>; stderr: string }> {
  const nfcapd = await startNfcapd();
  const summaryPath = join(dir, `summary-${extra.join('')}.json`);
  const run = await runCli(['replay', logs, '-c', `127.0.0.1:${nfcapd.port}`, '--summary-json', summaryPath, '--quiet', ...extra]);
  expect(run.code, run.stderr).toBe(0);
  const stored = (await nfcapd.stop()).flows;
  return { stored, summary: JSON.parse(readFileSync(summaryPath, 'utf8')) as Record<string, unknown>, stderr: run.stderr };
}

function bytesOf(stored: NfdumpFlow[], local: string): number {
  return stored.filter((f) => f.srcAddr === local || f.dstAddr === local).reduce((sum, f) => sum + f.inBytes, 0);
}

describe('flows counted twice', () => {
  it('without help: the collector counts the doubly-logged NICs twice, and the log says so once per NIC and per version-1 NSG', async () => {
    const { stored, stderr } = await replay([]);
    expect(bytesOf(stored, '10.5.0.4')).toBe(2 * truth(A));
    expect(bytesOf(stored, '10.5.0.5')).toBe(2 * truth(B));
    expect(bytesOf(stored, '10.5.0.6')).toBe(truth(C));
    const lines = stderr.split('\n').filter((line) => line.startsWith('{'));
    const overlap = lines.filter((line) => line.includes('NIC logged by both an NSG flow log and a VNet flow log'));
    expect(overlap).toHaveLength(1);
    expect(overlap[0]).toContain('000D3A000002');
    const v1 = lines.filter((line) => line.includes('NSG flow log of version 1'));
    expect(v1).toHaveLength(1);
    expect(v1[0]).toContain('D-NSG');
  });

  it('with --dedup and --prefer vnet: every byte once, what was taken out counted as declined', async () => {
    const { stored, summary } = await replay(['--dedup', '--prefer', 'vnet']);
    expect(bytesOf(stored, '10.5.0.4')).toBe(truth(A));
    expect(bytesOf(stored, '10.5.0.5')).toBe(truth(B));
    expect(bytesOf(stored, '10.5.0.6')).toBe(truth(C));
    expect(summary['declined']).toEqual({ duplicate: A.length, 'prefer-vnet': B.length });
    expect(summary['tuples']).toBe(2 * A.length + 2 * B.length + C.length + D.length);
  });

  it('with --prefer nsg: the NSG flow log of a doubly-logged NIC is kept and its VNet flow log declined', async () => {
    const { stored, summary } = await replay(['--prefer', 'nsg']);
    expect(bytesOf(stored, '10.5.0.5')).toBe(truth(B));
    // Only NSG records of B remain: their exporter domain is B-NSG's, and there are B.length of them per direction.
    expect((summary['declined'] as Record<string, number>)['prefer-nsg']).toBe(B.length);
  });
});
