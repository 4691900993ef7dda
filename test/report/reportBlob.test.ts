/**
 * `report` over Blob Storage, against Azurite: the blobs of the hours in --since / --until are
 * read, only the tuples inside the window count, and nothing is written anywhere (no container,
 * no blob, no state directory).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowReport } from '../../src/report/flowReport.js';
import { NSG_CONTAINER, VNET_CONTAINER } from '../../src/sources/blobPaths.js';
import { AzureStyleBlobWriter, startAzurite, type AzuriteRun } from '../helpers/azurite.js';
import { CLI } from '../helpers/cli.js';
import { blobName, nsgRecord, nsgRoot, vnetRecord, vnetRoot } from '../sources/blobHarness.js';

const run = promisify(execFile);
const HOUR = 3_600_000;
const H9 = Date.UTC(2025, 5, 12, 9);
let azurite: AzuriteRun;
const tempDirs: string[] = [];

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.stop();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** Every container and blob with its ETag and last change: what "nothing written" compares. */
async function accountState(service: BlobServiceClient): Promise<string[]> {
  const state: string[] = [];
  for await (const container of service.listContainers()) {
    state.push(`container ${container.name} ${container.properties.etag}`);
    for await (const blob of service.getContainerClient(container.name).listBlobsFlat({ includeMetadata: true }))
      state.push(`blob ${container.name}/${blob.name} ${blob.properties.etag} ${blob.properties.lastModified?.toISOString()}`);
  }
  return state.sort();
}

async function report(args: string[], cwd: string): Promise<{ code: number; report?: FlowReport; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'report', '--output', 'json', '--log-level', 'info', ...args], {
      cwd,
      env: { ...process.env, NSG2IPFIX_CONNECTION_STRING: azurite.connectionString, NSG2IPFIX_ACCOUNT_URL: '' },
      maxBuffer: 16 << 20,
    });
    return { code: 0, report: JSON.parse(stdout) as FlowReport, stderr };
  } catch (error) {
    const e = error as { code?: number; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stderr: e.stderr ?? '' };
  }
}

describe('nsg2ipfix report over Blob Storage', () => {
  it('reads the hours of the window, counts the tuples inside it, and writes nothing', async () => {
    const nsg = azurite.service.getContainerClient(NSG_CONTAINER);
    const vnet = azurite.service.getContainerClient(VNET_CONTAINER);
    const mac = '000D3AF87856';
    const blob = async (container: typeof nsg, name: string, records: { record: object; keys: string[] }[]) => {
      const writer = await new AzureStyleBlobWriter(container, name).create();
      for (const r of records) await writer.appendRecords([r.record]);
      return records.reduce((sum, r) => sum + r.keys.length, 0);
    };
    // h=08: outside. h=09: inside. h=10: a late record of 09:59:30 (inside) and one of 10:00:30 (outside).
    await blob(nsg, blobName(nsgRoot('WEB-NSG'), H9 - HOUR, mac), [nsgRecord('WEB-NSG', mac, H9 - HOUR + 60_000, 4)]);
    const inH9 = await blob(nsg, blobName(nsgRoot('WEB-NSG'), H9, mac), [
      nsgRecord('WEB-NSG', mac, H9 + 60_000, 5),
      nsgRecord('WEB-NSG', mac, H9 + 120_000, 3),
    ]);
    const late = nsgRecord('WEB-NSG', mac, H9 + HOUR - 30_000, 2);
    await blob(nsg, blobName(nsgRoot('WEB-NSG'), H9 + HOUR, mac), [late, nsgRecord('WEB-NSG', mac, H9 + HOUR + 30_000, 6)]);
    const inDb = await blob(nsg, blobName(nsgRoot('DB-NSG'), H9, '000D3AF80000'), [nsgRecord('DB-NSG', '000D3AF80000', H9 + 300_000, 7)]);
    const inVnet = await blob(vnet, blobName(vnetRoot('DEMO-VNET-FLOWLOG'), H9, '000D3A1B2C3D'), [
      vnetRecord('DEMO-VNET-FLOWLOG', '000D3A1B2C3D', H9 + 90_000, 4),
    ]);
    await blob(vnet, blobName(vnetRoot('DEMO-VNET-FLOWLOG'), H9 + 3 * HOUR, '000D3A1B2C3D'), [
      vnetRecord('DEMO-VNET-FLOWLOG', '000D3A1B2C3D', H9 + 3 * HOUR, 9),
    ]);

    const before = await accountState(azurite.service);
    const cwd = mkdtempSync(join(tmpdir(), 'nsg2ipfix-report-cwd-'));
    tempDirs.push(cwd);
    const window = ['--since', '2025-06-12T09:00:00Z', '--until', '2025-06-12T10:00:00Z'];

    const all = await report([...window, '--top', '100'], cwd);
    expect(all.code, all.stderr).toBe(0);
    const expectedFlows = inH9 + late.keys.length + inDb + inVnet;
    // Files read: the h=09 blobs of both NSGs and the flow log, and the h=10 blob (for its late record).
    expect(all.report!.totals).toMatchObject({ files: 4, flows: expectedFlows, outsideWindow: 6 });
    expect(all.report!.rules.map((r) => [r.resource.split('/').at(-1), r.flows]).sort()).toEqual(
      [
        ['DB-NSG', inDb],
        ['DEMO-VNET-FLOWLOG', inVnet],
        ['WEB-NSG', inH9 + late.keys.length],
      ].sort(),
    );
    expect(all.report!.timeRange).toMatchObject({ since: '2025-06-12T09:00:00.000Z', until: '2025-06-12T10:00:00.000Z' });

    const one = await report([...window, '--nsg', 'DB-NSG', '--container', NSG_CONTAINER], cwd);
    expect(one.code, one.stderr).toBe(0);
    expect(one.report!.totals).toMatchObject({ files: 1, flows: inDb });

    // Read-only: the account is as it was, and no state file or directory appeared.
    expect(await accountState(azurite.service)).toEqual(before);
    expect(readdirSync(cwd)).toEqual([]);
    // The account key never reaches the logs.
    expect(all.stderr).not.toContain(azurite.connectionString.match(/AccountKey=([^;]+)/)![1]);
  });

  it('exits 2 with one line when the account refuses the key', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'nsg2ipfix-report-cwd-'));
    tempDirs.push(cwd);
    const wrongKey = azurite.connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${Buffer.from('x'.repeat(64)).toString('base64')}`);
    const result = await (async () => {
      try {
        await run(process.execPath, [CLI, 'report', '--since', '2025-06-12T09:00:00Z', '--until', '2025-06-12T10:00:00Z'], {
          cwd,
          env: { ...process.env, NSG2IPFIX_CONNECTION_STRING: wrongKey, NSG2IPFIX_ACCOUNT_URL: '' },
        });
        return { code: 0, stderr: '' };
      } catch (error) {
        const e = error as { code?: number; stderr?: string };
        return { code: e.code, stderr: e.stderr ?? '' };
      }
    })();
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot list container .*Storage Blob Data Reader/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
