import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParseProblem } from '../../src/azure/problems.js';
import type { FlowColumns } from '../../src/flow/flowColumns.js';
import { NO_FILTERS } from '../../src/sources/blobPaths.js';
import { BlobSource, type BlobSourceOptions, type BlobSourceStats } from '../../src/sources/blobSource.js';
import { NotifiedBlobReader } from '../../src/sources/eventHubBlobs.js';
import { FileStateStore, readStateDirectory, STATE_FILE_NAME } from '../../src/state/fileStateStore.js';
import { sleep } from '../collectors/util.js';
import { AzureStyleBlobWriter, startAzurite, type AzuriteRun } from '../helpers/azurite.js';
import { blobName, liveHours, nsgRecord, nsgRoot, type TupleKey } from './blobHarness.js';

/**
 * The blob source in-process against Azurite: one pass at a time (`once`), every batch
 * acknowledged as the pipeline would, requests counted by kind. Shows when a changed blob is read
 * by one ranged read (the growth shortcut) and when its block list must decide.
 */

let azurite: AzuriteRun;
const tempDirs: string[] = [];

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.stop();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nsg2ipfix-growth-'));
  tempDirs.push(dir);
  return dir;
}

interface PassResult {
  readonly keys: TupleKey[];
  readonly stats: BlobSourceStats;
  readonly log: string;
  readonly problems: ParseProblem[];
}

function keysOf(columns: FlowColumns): TupleKey[] {
  const keys: TupleKey[] = [];
  for (let i = 0; i < columns.length; i++) {
    const flow = columns.at(i)!;
    keys.push(`${flow.sourceAddress.join('.')}:${flow.sourcePort}>${flow.destinationAddress.join('.')}:${flow.destinationPort}`);
  }
  return keys;
}

/** One discovery and read pass, from the beginning the first time, then from the stored cursors. */
async function followOnce(container: string, stateDir: string, options: Partial<BlobSourceOptions> = {}): Promise<PassResult> {
  const lines: string[] = [];
  const problems: ParseProblem[] = [];
  const source = await BlobSource.open({
    service: azurite.service,
    containers: [container],
    filters: NO_FILTERS,
    store: new FileStateStore(stateDir),
    startAt: existsSync(join(stateDir, STATE_FILE_NAME)) ? { kind: 'resume' } : { kind: 'beginning' },
    pollIntervalMs: 1000,
    once: true,
    maxBlobFailures: 3,
    onProblem: (problem) => problems.push(problem),
    logger: pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) }),
    ...options,
  });
  const keys: TupleKey[] = [];
  for await (const batch of source.batches(new AbortController().signal)) {
    keys.push(...keysOf(batch.records));
    await batch.ack?.();
  }
  return { keys, stats: source.stats, log: lines.join(''), problems };
}

async function blobLength(writer: AzureStyleBlobWriter): Promise<number> {
  return (await writer.container.getBlockBlobClient(writer.name).getProperties()).contentLength!;
}

describe('blob source: reading what changed', () => {
  it('reads a blob that only grew with one ranged read and no block list; the next block list finds where it stopped', async () => {
    const { current } = liveHours();
    const container = 'growth-pure';
    const writer = await new AzureStyleBlobWriter(azurite.service.getContainerClient(container), blobName(nsgRoot('G-NSG'), current, '000D3AF81001')).create();
    const state = tempDir();
    const key = `${container}/${writer.name}`;
    const m1 = nsgRecord('G-NSG', '000D3AF81001', current + 60_000, 3);
    await writer.appendRecords([m1.record]);

    const first = await followOnce(container, state);
    expect(first.keys).toEqual(m1.keys);
    expect(first.stats.requests).toMatchObject({ blockList: 1, download: 1 });

    const m2 = nsgRecord('G-NSG', '000D3AF81001', current + 120_000, 4);
    await writer.appendRecords([m2.record]);
    const grown = await followOnce(container, state);
    expect(grown.keys).toEqual(m2.keys);
    expect(grown.stats.requests).toMatchObject({ blockList: 0, download: 1 });
    expect(grown.stats.growthReads).toBe(1);
    const cursor = readStateDirectory(state)!.blobs[key]!;
    expect(cursor.grownToOffset).toBe((await blobLength(writer)) - 2);
    expect(cursor.lastBlockId).toBe(writer.dataIds[0]);

    // Growth larger than a batch goes through the block list, which must find a block ending
    // exactly where the growth read stopped: no rewrite, only the two new minutes.
    const m3 = nsgRecord('G-NSG', '000D3AF81001', current + 180_000, 20);
    const m4 = nsgRecord('G-NSG', '000D3AF81001', current + 240_000, 20);
    await writer.appendRecords([m3.record]);
    await writer.appendRecords([m4.record]);
    const listed = await followOnce(container, state, { maxBatchBytes: 2500 });
    expect(listed.keys).toEqual([...m3.keys, ...m4.keys]);
    expect(listed.stats.requests.blockList).toBe(1);
    expect(listed.stats.rewrites).toBe(0);
    const after = readStateDirectory(state)!.blobs[key]!;
    expect(after.lastBlockId).toBe(writer.dataIds.at(-1));
    expect(after.grownToOffset).toBeUndefined();

    // Nothing new: the listing's ETag says so, no request for the blob at all.
    const idle = await followOnce(container, state);
    expect(idle.keys).toEqual([]);
    expect(idle.stats.requests).toMatchObject({ blockList: 0, download: 0 });
  });

  it('sees a blob rewritten in place (same creation time, longer): the block list decides and it is read from the start', async () => {
    const { current } = liveHours();
    const container = 'growth-rewritten';
    const name = blobName(nsgRoot('R-NSG'), current, '000D3AF81002');
    const writer = await new AzureStyleBlobWriter(azurite.service.getContainerClient(container), name).create();
    const state = tempDir();
    const m1 = nsgRecord('R-NSG', '000D3AF81002', current + 60_000, 3);
    await writer.appendRecords([m1.record]);
    expect((await followOnce(container, state)).keys).toEqual(m1.keys);

    // Put Block List over the same blob: new blocks, longer, still `]}` at the end, and a comma
    // where the old tail was; only the bytes before it (and the block ids) differ.
    const rewritten = await new AzureStyleBlobWriter(azurite.service.getContainerClient(container), name).create();
    const again = [nsgRecord('R-NSG', '000D3AF81002', current + 60_000, 3), nsgRecord('R-NSG', '000D3AF81002', current + 120_000, 2)];
    for (const minute of again) await rewritten.appendRecords([minute.record]);
    const result = await followOnce(container, state);
    expect(result.keys).toEqual(again.flatMap((minute) => minute.keys));
    expect(result.stats.growthFallbacks).toBe(1);
    expect(result.stats.rewrites).toBe(1);
    expect(result.stats.requests).toMatchObject({ blockList: 1, download: 2 });
    expect(result.log).toMatch(/blob was rewritten/);
  });

  it('reads the block list when the creation time changed (deleted and written again)', async () => {
    const { current } = liveHours();
    const container = 'growth-recreated';
    const name = blobName(nsgRoot('C-NSG'), current, '000D3AF81003');
    const writer = await new AzureStyleBlobWriter(azurite.service.getContainerClient(container), name).create();
    const state = tempDir();
    const m1 = nsgRecord('C-NSG', '000D3AF81003', current + 60_000, 2);
    await writer.appendRecords([m1.record]);
    expect((await followOnce(container, state)).keys).toEqual(m1.keys);

    await writer.container.getBlobClient(name).delete();
    // Azurite's creation times have a one-second resolution.
    await sleep(1100);
    const recreated = await new AzureStyleBlobWriter(writer.container, name).create();
    const fresh = [nsgRecord('C-NSG', '000D3AF81003', current + 60_000, 2), nsgRecord('C-NSG', '000D3AF81003', current + 120_000, 2)];
    for (const minute of fresh) await recreated.appendRecords([minute.record]);
    const result = await followOnce(container, state);
    expect(result.keys).toEqual(fresh.flatMap((minute) => minute.keys));
    expect(result.stats.growthReads + result.stats.growthFallbacks).toBe(0);
    expect(result.stats.requests).toMatchObject({ blockList: 1, download: 1 });
    expect(result.log).toMatch(/creation time changed/);
  });

  it('reads the block list when the blob no longer ends with the `]}` tail, and again once it does', async () => {
    const { current } = liveHours();
    const container = 'growth-no-tail';
    const writer = await new AzureStyleBlobWriter(azurite.service.getContainerClient(container), blobName(nsgRoot('T-NSG'), current, '000D3AF81004')).create();
    const state = tempDir();
    const m1 = nsgRecord('T-NSG', '000D3AF81004', current + 60_000, 2);
    await writer.appendRecords([m1.record]);
    await followOnce(container, state);

    // A minute committed without the tail block.
    const m2 = nsgRecord('T-NSG', '000D3AF81004', current + 120_000, 3);
    await writer.appendRecords([m2.record]);
    await writer.container
      .getBlockBlobClient(writer.name)
      .commitBlockList([writer.headId, ...writer.dataIds], { blobHTTPHeaders: { blobContentType: 'application/json' } });
    const noTail = await followOnce(container, state);
    expect(noTail.keys).toEqual(m2.keys);
    expect(noTail.stats.growthFallbacks).toBe(1);
    expect(noTail.stats.requests.blockList).toBe(1);

    // The tail is back (staged again: a commit without it discarded it): the cursor did not end
    // before a `]}` this time, so the block list reads the new minute.
    await writer.container.getBlockBlobClient(writer.name).stageBlock(writer.tailId, ']}', 2);
    const m3 = nsgRecord('T-NSG', '000D3AF81004', current + 180_000, 2);
    await writer.appendRecords([m3.record]);
    const back = await followOnce(container, state);
    expect(back.keys).toEqual(m3.keys);
    expect(back.stats.requests.blockList).toBe(1);
    expect(back.stats.rewrites).toBe(0);
  });

  it('sends a growth holding a corrupt minute through the block list: the bad block is counted once, the next one arrives', async () => {
    const { current } = liveHours();
    const container = 'growth-corrupt';
    const writer = await new AzureStyleBlobWriter(azurite.service.getContainerClient(container), blobName(nsgRoot('X-NSG'), current, '000D3AF81005')).create();
    const state = tempDir();
    await writer.appendRecords([nsgRecord('X-NSG', '000D3AF81005', current + 60_000, 2).record]);
    await followOnce(container, state);

    await writer.appendRaw(
      ',{"time":"2026-01-01T00:00:00Z","category":"NetworkSecurityGroupFlowEvent","properties":{"Version":2,"flows":[{"rule":"R","flows":[{"mac":"X","flowTuples":["1,',
    );
    const good = nsgRecord('X-NSG', '000D3AF81005', current + 180_000, 3);
    await writer.appendRecords([good.record]);
    const result = await followOnce(container, state);
    expect(result.keys).toEqual(good.keys);
    expect(result.problems.map((problem) => problem.reason)).toEqual(['truncated-json']);
    expect(result.stats.growthFallbacks).toBe(1);
    expect(result.stats.requests).toMatchObject({ blockList: 1, download: 2 });
  });

  it('reads many blobs at once, each blob in order, a failing one holding up none of the others', async () => {
    const { current } = liveHours();
    const container = 'concurrent-order';
    const client = azurite.service.getContainerClient(container);
    const expected = new Map<string, TupleKey[]>();
    const writers: AzureStyleBlobWriter[] = [];
    for (let i = 0; i < 24; i++) {
      const mac = `000D3AF82${String(i).padStart(3, '0')}`;
      const writer = await new AzureStyleBlobWriter(client, blobName(nsgRoot(`N${i % 4}-NSG`), current, mac)).create();
      writers.push(writer);
      for (let minute = 1; minute <= 3; minute++) {
        const generated = nsgRecord(`N${i % 4}-NSG`, mac, current + minute * 60_000, 2);
        await writer.appendRecords([generated.record]);
        expected.set(writer.name, [...(expected.get(writer.name) ?? []), ...generated.keys]);
      }
    }
    // An append blob where a PT1H.json belongs: every read of it fails.
    await client.getAppendBlobClient(blobName(nsgRoot('N0-NSG'), current, '000D3AF8FFFF')).create();
    const state = tempDir();
    // One block per piece: every blob yields several pieces, interleaved with the other blobs'.
    const result = await followOnce(container, state, { maxBatchBytes: 1, readConcurrency: 8 });
    const all = [...expected.values()].flat();
    expect([...result.keys].sort()).toEqual([...all].sort());
    // Each blob's tuples came out in the order of its blocks.
    const position = new Map(result.keys.map((key, index) => [key, index]));
    for (const keys of expected.values()) {
      const order = keys.map((key) => position.get(key)!);
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    const stored = readStateDirectory(state)!;
    for (const writer of writers) expect(stored.blobs[`${container}/${writer.name}`]?.lastBlockId).toBe(writer.dataIds.at(-1));
    expect(Object.values(stored.blobs).filter((cursor) => cursor.failures === 1)).toHaveLength(1);
    expect((await followOnce(container, state)).keys).toEqual([]);
  });

  it('reads an Event Grid notified blob that only grew with one ranged read, and a repeated notification finds nothing', async () => {
    const { current } = liveHours();
    const container = 'growth-notified';
    const writer = await new AzureStyleBlobWriter(azurite.service.getContainerClient(container), blobName(nsgRoot('E-NSG'), current, '000D3AF81006')).create();
    const state = tempDir();
    const reader = await NotifiedBlobReader.open({
      store: new FileStateStore(state),
      serviceFor: () => azurite.service,
      connectionStringService: azurite.service,
      onProblem: () => {},
      logger: pino({ level: 'silent' }),
    });
    const notification = (n: number) => ({
      url: `${azurite.accountUrl}/${container}/${writer.name}`,
      api: 'PutBlockList',
      eventTime: new Date().toISOString(),
      id: `e${n}`,
    });
    const readAll = async (n: number): Promise<TupleKey[]> => {
      const keys: TupleKey[] = [];
      for await (const step of reader.read(notification(n), new AbortController().signal)) {
        keys.push(...keysOf(step.records));
        await step.commit();
      }
      return keys;
    };
    const m1 = nsgRecord('E-NSG', '000D3AF81006', current + 60_000, 2);
    await writer.appendRecords([m1.record]);
    expect(await readAll(1)).toEqual(m1.keys);
    const m2 = nsgRecord('E-NSG', '000D3AF81006', current + 120_000, 3);
    await writer.appendRecords([m2.record]);
    expect(await readAll(2)).toEqual(m2.keys);
    expect(reader.stats.growthReads).toBe(1);
    const before = { ...reader.stats.requests };
    expect(await readAll(3)).toEqual([]);
    // One ranged read finds the version already read: no block list.
    expect(reader.stats.requests).toEqual({ blockList: before.blockList, download: before.download + 1 });
    await reader.flush();
    expect(readStateDirectory(state)?.blobs[`${container}/${writer.name}`]?.grownToOffset).toBe((await blobLength(writer)) - 2);
  });
});
