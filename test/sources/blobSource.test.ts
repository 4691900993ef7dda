import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NSG_CONTAINER, VNET_CONTAINER } from '../../src/sources/blobPaths.js';
import { startNfcapd, stopAll as stopAllNfcapd } from '../collectors/nfcapd.js';
import { waitUntil } from '../collectors/util.js';
import { azuriteAccountSas, AzureStyleBlobWriter, startAzurite, type AzuriteRun } from '../helpers/azurite.js';
import { runCli } from '../helpers/cli.js';
import { BlobStateStore } from '../../src/state/blobStateStore.js';
import { emptyState, StateError, type SourceState } from '../../src/state/sourceState.js';
import {
  blobName,
  liveHours,
  nsgRecord,
  nsgRoot,
  readStateFile,
  startBlobCli,
  TupleCollector,
  vnetRecord,
  vnetRoot,
  waitForStoredEtag,
  type RunningCli,
  type TupleKey,
} from './blobHarness.js';

let azurite: AzuriteRun;
const tempDirs: string[] = [];
const running = new Set<RunningCli>();

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await Promise.allSettled([...running].map((cli) => cli.stop('SIGKILL')));
  await stopAllNfcapd();
  await azurite?.stop();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nsg2ipfix-blob-'));
  tempDirs.push(dir);
  return dir;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const run = startBlobCli(args, env);
  running.add(run);
  void run.exited.then(() => running.delete(run));
  return run;
}

const EXPORT_ARGS = ['--biflow', 'rfc5103', '--max-pps', '0', '--poll-interval', '1', '--log-level', 'debug'];

describe('nsg2ipfix blob', () => {
  it('follows NSG and VNet blobs block by block across an hour rollover, each tuple exactly once', async () => {
    const { previous, current } = liveHours();
    const nsg = azurite.service.getContainerClient(NSG_CONTAINER);
    const vnet = azurite.service.getContainerClient(VNET_CONTAINER);
    const web = await new AzureStyleBlobWriter(nsg, blobName(nsgRoot('WEB-NSG'), previous, '000D3AF87856')).create();
    const flowLog = await new AzureStyleBlobWriter(vnet, blobName(vnetRoot('DEMO-VNET-FLOWLOG'), previous, '000D3A1B2C3D')).create();
    const expected: TupleKey[] = [];
    const append = async (writer: AzureStyleBlobWriter, generated: { record: object; keys: TupleKey[] }) => {
      await writer.appendRecords([generated.record]);
      expected.push(...generated.keys);
    };
    await append(web, nsgRecord('WEB-NSG', '000D3AF87856', previous + 60_000, 5));
    await append(web, nsgRecord('WEB-NSG', '000D3AF87856', previous + 120_000, 4));
    await append(flowLog, vnetRecord('DEMO-VNET-FLOWLOG', '000D3A1B2C3D', previous + 60_000, 3));

    const collector = await TupleCollector.open();
    const state = tempDir();
    const run = cli(['--start-at', 'beginning', '--state-dir', state, '-c', collector.address, ...EXPORT_ARGS], {
      NSG2IPFIX_CONNECTION_STRING: azurite.connectionString,
    });
    try {
      await collector.waitFor(expected, run, 'blocks present at start');

      // Appended while the source runs.
      await append(web, nsgRecord('WEB-NSG', '000D3AF87856', previous + 180_000, 6));
      await append(flowLog, vnetRecord('DEMO-VNET-FLOWLOG', '000D3A1B2C3D', previous + 120_000, 2));
      await collector.waitFor(expected, run, 'appended blocks');

      // Hour rollover: a new PT1H.json for the next hour, while the old one gets a late minute.
      const next = await new AzureStyleBlobWriter(nsg, blobName(nsgRoot('WEB-NSG'), current, '000D3AF87856')).create();
      await append(next, nsgRecord('WEB-NSG', '000D3AF87856', current + 60_000, 3));
      await append(web, nsgRecord('WEB-NSG', '000D3AF87856', previous + 240_000, 2));
      await append(next, nsgRecord('WEB-NSG', '000D3AF87856', current + 120_000, 4));
      await collector.waitFor(expected, run, 'next hour');
      await waitForStoredEtag(() => readStateFile(state), `${NSG_CONTAINER}/${next.name}`, await next.etag(), run);

      const exit = await run.stop('SIGTERM');
      expect(exit.code).toBe(0);
      expect(collector.duplicates()).toEqual([]);
      expect(collector.total).toBe(expected.length);
      const stored = readStateFile(state)!;
      // Each cursor is past the last data block: by id, or by the offset the growth shortcut reached.
      for (const [container, writer] of [
        [NSG_CONTAINER, web],
        [VNET_CONTAINER, flowLog],
      ] as const) {
        const cursor = stored.blobs[`${container}/${writer.name}`]!;
        if (cursor.grownToOffset === undefined) expect(cursor.lastBlockId).toBe(writer.dataIds.at(-1));
        const length = (await writer.container.getBlockBlobClient(writer.name).getProperties()).contentLength!;
        expect(cursor.grownToOffset ?? cursor.endOffset).toBe(length - 2);
      }
      expect(run.output()).toContain('stopping: no new intake');
      // The account key never reaches the logs.
      expect(run.output()).not.toContain(azurite.connectionString.match(/AccountKey=([^;]+)/)![1]);
    } finally {
      await run.stop('SIGKILL');
      await collector.close();
      await nsg.deleteIfExists();
      await vnet.deleteIfExists();
    }
  });

  it('resumes after SIGKILL mid-hour: every tuple reaches nfcapd once', async () => {
    const { current } = liveHours();
    const container = azurite.service.getContainerClient('kill-restart');
    const writer = await new AzureStyleBlobWriter(container, blobName(nsgRoot('APP-NSG'), current, '000D3AF80001')).create();
    const expected: TupleKey[] = [];
    for (let minute = 1; minute <= 3; minute++) {
      const generated = nsgRecord('APP-NSG', '000D3AF80001', current + minute * 60_000, 4);
      await writer.appendRecords([generated.record]);
      expected.push(...generated.keys);
    }
    const nfcapd = await startNfcapd();
    const collector = await TupleCollector.open();
    const state = tempDir();
    const args = ['--container', 'kill-restart', '--state-dir', state, '-c', collector.address, '-c', `127.0.0.1:${nfcapd.port}`, ...EXPORT_ARGS];
    const key = `kill-restart/${writer.name}`;

    const first = cli(['--start-at', 'beginning', ...args, '--connection-string', azurite.connectionString]);
    await collector.waitFor(expected, first, 'first run');
    await waitForStoredEtag(() => readStateFile(state), key, await writer.etag(), first);
    const killed = await first.stop('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');

    // More minutes while nothing runs, then a restart with the default --start-at resume.
    for (let minute = 4; minute <= 5; minute++) {
      const generated = nsgRecord('APP-NSG', '000D3AF80001', current + minute * 60_000, 5);
      await writer.appendRecords([generated.record]);
      expected.push(...generated.keys);
    }
    const second = cli([...args, '--connection-string', azurite.connectionString]);
    try {
      await collector.waitFor(expected, second, 'second run');
      await waitForStoredEtag(() => readStateFile(state), key, await writer.etag(), second);
      // And one more minute while it runs.
      const late = nsgRecord('APP-NSG', '000D3AF80001', current + 6 * 60_000, 3);
      await writer.appendRecords([late.record]);
      expected.push(...late.keys);
      await collector.waitFor(expected, second, 'live after restart');
      await waitForStoredEtag(() => readStateFile(state), key, await writer.etag(), second);
      expect((await second.stop('SIGTERM')).code).toBe(0);
      expect(second.output()).toContain('resuming from stored cursors');
    } finally {
      await second.stop('SIGKILL');
      await collector.close();
    }
    expect(collector.duplicates()).toEqual([]);
    expect(collector.total).toBe(expected.length);

    const result = await nfcapd.stop();
    const seen = result.flows.map((f) => `${f.srcAddr}:${f.srcPort}>${f.dstAddr}:${f.dstPort}`);
    expect(seen.length).toBe(expected.length);
    expect(new Set(seen)).toEqual(new Set(expected));
    // The restarted exporter starts its IPFIX sequence numbers again (same address and domain):
    // nfcapd counts exactly that one jump, no lost datagram.
    expect(result.sequenceErrors ?? 0).toBeLessThanOrEqual(1);
  });

  it('stores a start from the beginning before sending: killed before its first cursor save, the restart (resume) sends every tuple', async () => {
    const { current } = liveHours();
    const container = azurite.service.getContainerClient('start-kill');
    const expected: TupleKey[] = [];
    for (const mac of ['000D3AF80011', '000D3AF80012']) {
      const writer = await new AzureStyleBlobWriter(container, blobName(nsgRoot('K-NSG'), current, mac)).create();
      for (let minute = 1; minute <= 3; minute++) {
        const generated = nsgRecord('K-NSG', mac, current + minute * 60_000, 30);
        await writer.appendRecords([generated.record]);
        expected.push(...generated.keys);
      }
    }
    const nfcapd = await startNfcapd();
    const collector = await TupleCollector.open();
    const state = tempDir();
    const common = ['--container', 'start-kill', '--state-dir', state, '-c', collector.address, '-c', `127.0.0.1:${nfcapd.port}`, '--biflow', 'rfc5103'];
    // One datagram a second: the first batch takes seconds to hand over, so no cursor can have
    // been saved when its first records arrive.
    const first = cli([...common, '--start-at', 'beginning', '--max-pps', '1', '--poll-interval', '1', '--log-level', 'debug'], {
      NSG2IPFIX_CONNECTION_STRING: azurite.connectionString,
    });
    await waitUntil(() => collector.total > 0, {
      timeoutMs: 30_000,
      exited: first.exited,
      what: 'the first records',
      describe: () => first.output().slice(-4000),
    });
    const stored = readStateFile(state);
    expect((await first.stop('SIGKILL')).signal).toBe('SIGKILL');
    expect(stored?.scanFromMs).toBe(0);
    expect(Object.values(stored?.blobs ?? {}).filter((cursor) => cursor.lastBlockId !== undefined)).toEqual([]);
    expect(collector.total).toBeLessThan(expected.length);

    const second = cli([...common, ...EXPORT_ARGS], { NSG2IPFIX_CONNECTION_STRING: azurite.connectionString });
    try {
      await collector.waitFor(expected, second, 'every tuple after the restart');
      expect((await second.stop('SIGTERM')).code).toBe(0);
    } finally {
      await second.stop('SIGKILL');
      await collector.close();
    }
    expect(second.output()).toContain('resuming from stored cursors');
    expect(second.output()).not.toContain('starting now');
    // At least once: nfcapd holds every tuple (those sent before the kill possibly twice).
    const result = await nfcapd.stop();
    expect(new Set(result.flows.map((f) => `${f.srcAddr}:${f.srcPort}>${f.dstAddr}:${f.dstPort}`))).toEqual(new Set(expected));
  });

  it('starts a rewritten blob over, says so, and skips a corrupt block while later blocks still arrive', async () => {
    const { current } = liveHours();
    const container = azurite.service.getContainerClient('rewrite-corrupt');
    const name = blobName(nsgRoot('DB-NSG'), current, '000D3AF80002');
    const writer = await new AzureStyleBlobWriter(container, name).create();
    const expected: TupleKey[] = [];
    const first = nsgRecord('DB-NSG', '000D3AF80002', current + 60_000, 3);
    await writer.appendRecords([first.record]);
    expected.push(...first.keys);

    const collector = await TupleCollector.open();
    const state = tempDir();
    const summary = join(state, 'summary.json');
    const run = cli(
      ['--container', 'rewrite-corrupt', '--start-at', 'beginning', '--state-dir', state, '--summary-json', summary, '-c', collector.address, ...EXPORT_ARGS],
      {
        NSG2IPFIX_CONNECTION_STRING: azurite.connectionString,
      },
    );
    try {
      await collector.waitFor(expected, run, 'first block');
      // A corrupt minute (cut-off JSON), then a good one: the good one must still arrive.
      await writer.appendRaw(
        ',{"time":"2026-01-01T00:00:00Z","category":"NetworkSecurityGroupFlowEvent","properties":{"Version":2,"flows":[{"rule":"R","flows":[{"mac":"X","flowTuples":["1,',
      );
      const afterCorrupt = nsgRecord('DB-NSG', '000D3AF80002', current + 180_000, 4);
      await writer.appendRecords([afterCorrupt.record]);
      expected.push(...afterCorrupt.keys);
      await collector.waitFor(expected, run, 'block after the corrupt one');
      await waitForStoredEtag(() => readStateFile(state), `rewrite-corrupt/${name}`, await writer.etag(), run);

      // The blob is written again from scratch (new block list): read from the start, once.
      const rewritten = await new AzureStyleBlobWriter(container, name).create();
      const again = nsgRecord('DB-NSG', '000D3AF80002', current + 60_000, 5);
      await rewritten.appendRecords([again.record]);
      expected.push(...again.keys);
      await collector.waitFor(expected, run, 'rewritten blob');
      await waitForStoredEtag(() => readStateFile(state), `rewrite-corrupt/${name}`, await rewritten.etag(), run);
      expect((await run.stop('SIGTERM')).code).toBe(0);
    } finally {
      await run.stop('SIGKILL');
      await collector.close();
    }
    expect(run.output()).toMatch(/blob was rewritten/);
    expect(collector.duplicates()).toEqual([]);
    expect(collector.total).toBe(expected.length);
    const written = JSON.parse(readFileSync(summary, 'utf8')) as { skippedRecords: Record<string, number>; blobSource: { rewrites: number } };
    expect(written.skippedRecords).toEqual({ 'truncated-json': 1 });
    expect(written.blobSource.rewrites).toBeGreaterThanOrEqual(1);
  });

  it('poisons a blob that keeps failing, keeps the others flowing, and drops deleted blobs from the state', async () => {
    const { current } = liveHours();
    const container = azurite.service.getContainerClient('poison-delete');
    await container.createIfNotExists();
    // An append blob where a PT1H.json block blob belongs: every read fails (409 InvalidBlobType).
    const poisonName = blobName(nsgRoot('BAD-NSG'), current, '000D3AF80003');
    await container.getAppendBlobClient(poisonName).create();
    const good = await new AzureStyleBlobWriter(container, blobName(nsgRoot('GOOD-NSG'), current, '000D3AF80004')).create();
    const expected: TupleKey[] = [];
    const generated = nsgRecord('GOOD-NSG', '000D3AF80004', current + 60_000, 4);
    await good.appendRecords([generated.record]);
    expected.push(...generated.keys);

    const collector = await TupleCollector.open();
    const state = tempDir();
    const run = cli(
      ['--container', 'poison-delete', '--start-at', 'beginning', '--max-blob-failures', '2', '--state-dir', state, '-c', collector.address, ...EXPORT_ARGS],
      {
        NSG2IPFIX_CONNECTION_STRING: azurite.connectionString,
      },
    );
    try {
      await collector.waitFor(expected, run, 'good blob');
      let stored = readStateFile(state);
      const poisonKey = `poison-delete/${poisonName}`;
      const goodKey = `poison-delete/${good.name}`;
      const deadline = Date.now() + 20_000;
      while (stored?.blobs[poisonKey]?.poisoned === undefined && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        stored = readStateFile(state);
      }
      expect(stored?.blobs[poisonKey]?.poisoned?.reason).toMatch(/blob type/i);
      expect(run.output()).toMatch(/marked poisoned/);

      // Still flowing after the poisoning.
      const more = nsgRecord('GOOD-NSG', '000D3AF80004', current + 120_000, 3);
      await good.appendRecords([more.record]);
      expected.push(...more.keys);
      await collector.waitFor(expected, run, 'good blob after poisoning');

      // Retention deletes the good blob: its cursor leaves the state.
      await container.getBlobClient(good.name).delete();
      while (readStateFile(state)?.blobs[goodKey] !== undefined && Date.now() < deadline + 20_000) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(readStateFile(state)?.blobs[goodKey]).toBeUndefined();
      expect(readStateFile(state)?.blobs[poisonKey]?.poisoned).toBeDefined();
      expect((await run.stop('SIGTERM')).code).toBe(0);
    } finally {
      await run.stop('SIGKILL');
      await collector.close();
    }
    expect(run.output()).toMatch(/blob no longer exists/);
    expect(collector.duplicates()).toEqual([]);
    expect(collector.total).toBe(expected.length);
  });

  it('starts at the end of existing blobs on first start, and keeps its state in a blob with --state-container', async () => {
    const { current } = liveHours();
    const container = azurite.service.getContainerClient('start-now');
    const writer = await new AzureStyleBlobWriter(container, blobName(nsgRoot('OLD-NSG'), current, '000D3AF80005')).create();
    const old = nsgRecord('OLD-NSG', '000D3AF80005', current + 60_000, 4);
    await writer.appendRecords([old.record]);

    const collector = await TupleCollector.open();
    const stateContainer = azurite.service.getContainerClient('nsg2ipfix-state');
    const readBlobState = async () => {
      try {
        return JSON.parse((await stateContainer.getBlobClient('start-now.json').downloadToBuffer()).toString('utf8')) as SourceState;
      } catch {
        return undefined;
      }
    };
    const args = [
      '--container',
      'start-now',
      '--state-container',
      'nsg2ipfix-state',
      '--state-blob',
      'start-now.json',
      '-c',
      collector.address,
      ...EXPORT_ARGS,
    ];
    const run = cli(args, { NSG2IPFIX_CONNECTION_STRING: azurite.connectionString });
    const expected: TupleKey[] = [];
    try {
      await waitForStoredEtag(readBlobState, `start-now/${writer.name}`, await writer.etag(), run);
      const fresh = nsgRecord('OLD-NSG', '000D3AF80005', current + 120_000, 3);
      await writer.appendRecords([fresh.record]);
      expected.push(...fresh.keys);
      await collector.waitFor(expected, run, 'blocks appended after start');
      await waitForStoredEtag(readBlobState, `start-now/${writer.name}`, await writer.etag(), run);
      expect((await run.stop('SIGTERM')).code).toBe(0);
    } finally {
      await run.stop('SIGKILL');
    }
    expect(run.output()).toContain('no stored cursors: starting now');
    // A second instance resumes from the state blob: one more minute, read with --once.
    const last = nsgRecord('OLD-NSG', '000D3AF80005', current + 180_000, 2);
    await writer.appendRecords([last.record]);
    expected.push(...last.keys);
    const once = await runCli(['blob', '--once', ...args], { env: { NSG2IPFIX_CONNECTION_STRING: azurite.connectionString } });
    expect(once.code, once.stderr).toBe(0);
    await collector.waitFor(expected, { ...run, exited: new Promise(() => {}) }, 'second instance');
    await collector.close();
    for (const key of old.keys) expect(collector.counts.has(key)).toBe(false);
    expect(collector.duplicates()).toEqual([]);
    expect(collector.total).toBe(expected.length);
  });

  it('reads with a SAS account URL, applies the filters, and never logs the SAS', async () => {
    const { current } = liveHours();
    const container = azurite.service.getContainerClient('filters-sas');
    const wanted = await new AzureStyleBlobWriter(container, blobName(nsgRoot('WEB-NSG', 'PROD-RG'), current, '000D3AF80006')).create();
    const otherMac = await new AzureStyleBlobWriter(container, blobName(nsgRoot('WEB-NSG', 'PROD-RG'), current, '000D3AF80007')).create();
    const otherNsg = await new AzureStyleBlobWriter(container, blobName(nsgRoot('JUMP-NSG', 'PROD-RG'), current, '000D3AF80006')).create();
    const otherRg = await new AzureStyleBlobWriter(container, blobName(nsgRoot('WEB-NSG', 'TEST-RG'), current, '000D3AF80006')).create();
    const expected = nsgRecord('WEB-NSG', '000D3AF80006', current + 60_000, 4, 'PROD-RG');
    await wanted.appendRecords([expected.record]);
    const unwanted: TupleKey[] = [];
    for (const [writer, nsg, mac, rg] of [
      [otherMac, 'WEB-NSG', '000D3AF80007', 'PROD-RG'],
      [otherNsg, 'JUMP-NSG', '000D3AF80006', 'PROD-RG'],
      [otherRg, 'WEB-NSG', '000D3AF80006', 'TEST-RG'],
    ] as const) {
      const generated = nsgRecord(nsg, mac, current + 60_000, 2, rg);
      await writer.appendRecords([generated.record]);
      unwanted.push(...generated.keys);
    }
    const sas = azuriteAccountSas(new Date(Date.now() + 3_600_000));
    const signature = new URLSearchParams(sas).get('sig')!;
    const collector = await TupleCollector.open();
    const state = tempDir();
    const result = await runCli([
      'blob',
      '--once',
      '--account-url',
      `${azurite.accountUrl}?${sas}`,
      '--container',
      'filters-sas',
      '--start-at',
      'beginning',
      '--subscription',
      '00000000-0000-0000-0000-000000000000',
      '--resource-group',
      'prod-rg',
      '--nsg',
      'web-nsg',
      '--mac',
      '00-0d-3a-f8-00-06',
      '--state-dir',
      state,
      '-c',
      collector.address,
      ...EXPORT_ARGS,
    ]);
    expect(result.code, result.stderr).toBe(0);
    await collector.waitFor(expected.keys, { ...startedNothing(), output: () => result.stderr }, 'filtered tuples');
    await collector.close();
    for (const key of unwanted) expect(collector.counts.has(key)).toBe(false);
    expect(collector.total).toBe(expected.keys.length);
    expect(result.stderr).toContain('"auth":"sas"');
    expect(result.stderr).not.toContain(signature);
    expect(result.stderr).not.toContain(encodeURIComponent(signature));

    // A bad signature: a one-line error naming the role, exit 2, and still no secret.
    const forged = sas.replace(/sig=[^&]+/, 'sig=Zm9yZ2VkLXNpZ25hdHVyZQ%3D%3D');
    const denied = await runCli([
      'blob',
      '--once',
      '--account-url',
      `${azurite.accountUrl}?${forged}`,
      '--container',
      'filters-sas',
      '--state-dir',
      tempDir(),
      '-c',
      '127.0.0.1:9',
      '--log-level',
      'debug',
    ]);
    expect(denied.code).toBe(2);
    expect(denied.stderr).toMatch(/Storage Blob Data Reader/);
    expect(denied.stderr).not.toContain('Zm9yZ2VkLXNpZ25hdHVyZQ');
  });

  it('starts at a given time: earlier hours and earlier flows of that hour are skipped', async () => {
    const { previous, current } = liveHours();
    const container = azurite.service.getContainerClient('start-time');
    const older = await new AzureStyleBlobWriter(container, blobName(nsgRoot('T-NSG'), previous, '000D3AF80008')).create();
    const writer = await new AzureStyleBlobWriter(container, blobName(nsgRoot('T-NSG'), current, '000D3AF80008')).create();
    const skipped = [nsgRecord('T-NSG', '000D3AF80008', previous + 60_000, 2), nsgRecord('T-NSG', '000D3AF80008', current + 60_000, 2)];
    await older.appendRecords([skipped[0]!.record]);
    await writer.appendRecords([skipped[1]!.record]);
    const wanted = nsgRecord('T-NSG', '000D3AF80008', current + 3 * 60_000, 3);
    await writer.appendRecords([wanted.record]);
    const collector = await TupleCollector.open();
    const result = await runCli(
      [
        'blob',
        '--once',
        '--container',
        'start-time',
        '--start-at',
        new Date(current + 2 * 60_000).toISOString(),
        '--state-dir',
        tempDir(),
        '-c',
        collector.address,
        ...EXPORT_ARGS,
      ],
      { env: { NSG2IPFIX_CONNECTION_STRING: azurite.connectionString } },
    );
    expect(result.code, result.stderr).toBe(0);
    await collector.waitFor(wanted.keys, startedNothing(), 'flows after the start time');
    await collector.close();
    expect(collector.total).toBe(wanted.keys.length);
  });

  it('refuses to overwrite a state blob another instance wrote since it was read', async () => {
    const container = azurite.service.getContainerClient('state-conflict');
    const first = new BlobStateStore(container, 'shared.json');
    const second = new BlobStateStore(container, 'shared.json');
    expect(await first.load()).toBeUndefined();
    expect(await second.load()).toBeUndefined();
    await first.save(emptyState(1));
    await first.save(emptyState(2));
    await expect(second.save(emptyState(3))).rejects.toBeInstanceOf(StateError);
    const third = new BlobStateStore(container, 'shared.json');
    expect((await third.load())?.scanFromMs).toBe(2);
    await third.save(emptyState(4));
    await expect(first.save(emptyState(5))).rejects.toThrow(/another nsg2ipfix instance/);
  });

  it('refuses ambiguous or missing account options with a one-line error', async () => {
    const none = await runCli(['blob', '-c', '127.0.0.1:9'], { env: { NSG2IPFIX_CONNECTION_STRING: '', NSG2IPFIX_ACCOUNT_URL: '' } });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no storage account/);
    const both = await runCli([
      'blob',
      '-c',
      '127.0.0.1:9',
      '--account-url',
      'https://x.blob.core.windows.net',
      '--connection-string',
      'AccountName=x;AccountKey=c2VjcmV0',
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).not.toContain('c2VjcmV0');
    const badStart = await runCli(['blob', '-c', '127.0.0.1:9', '--connection-string', azurite.connectionString, '--start-at', 'yesterday']);
    expect(badStart.code).toBe(2);
    expect(badStart.stderr).toMatch(/--start-at/);
  });
});

/** A stand-in for a CLI already finished (waitFor needs an exit promise that never settles). */
function startedNothing(): RunningCli {
  return { exited: new Promise(() => {}) } as unknown as RunningCli;
}
