/**
 * The `eventhub` command end to end: the real CLI (the real @azure/event-hubs client and
 * BlobCheckpointStore) against the rhea-based Event Hubs protocol stand-in and Azurite, sending to
 * nfcapd and to the in-process decoder. Tuples are counted by key; waits are on counts, never on time.
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHubProducerClient } from '@azure/event-hubs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNfcapd, stopAll as stopAllNfcapd } from '../collectors/nfcapd.js';
import { AZURITE_KEY, AzureStyleBlobWriter, startAzurite, type AzuriteRun } from '../helpers/azurite.js';
import { EventHubStandIn, type StoredEvent } from '../helpers/eventHubStandIn.js';
import {
  cloudEventBlobCreated,
  connectorRecords,
  eventGridBlobCreated,
  nsgRecord,
  readCheckpoints,
  readOwners,
  startEventHubCliOn,
  TupleCollector,
  vnetRecord,
  waitForAsync,
  type RunningCli,
  type TupleKey,
} from './eventHubHarness.js';

let azurite: AzuriteRun;
const hubs: EventHubStandIn[] = [];
const tempDirs: string[] = [];
const running = new Set<RunningCli>();
const collectors: TupleCollector[] = [];

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await Promise.allSettled([...running].map((cli) => cli.stop('SIGKILL')));
  await stopAllNfcapd();
  await Promise.allSettled(collectors.map((c) => c.close()));
  await Promise.allSettled(hubs.map((h) => h.stop()));
  await azurite?.stop();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nsg2ipfix-eventhub-'));
  tempDirs.push(dir);
  return dir;
}

async function standIn(partitionCount: number): Promise<EventHubStandIn> {
  const hub = await EventHubStandIn.start({ partitionCount });
  hubs.push(hub);
  return hub;
}

async function collector(): Promise<TupleCollector> {
  const c = await TupleCollector.open();
  collectors.push(c);
  return c;
}

function cli(args: string[], hub: EventHubStandIn): RunningCli {
  return startEventHubCliOn(hub, azurite.connectionString, args, running);
}

const FAST = ['--biflow', 'rfc5103', '--max-pps', '0', '--load-balancing-interval', '1'];

/** The JSON log lines of a run. */
function logLines(run: RunningCli): Record<string, unknown>[] {
  return run
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('nsg2ipfix eventhub', () => {
  it('delivers every tuple of every body kind to nfcapd, skips unrecognized events, and never logs a secret', async () => {
    const hub = await standIn(2);
    const nfcapd = await startNfcapd();
    const listener = await collector();
    const expected: TupleKey[] = [];

    // 1. Forwarder payloads: {"records":[...]} as bytes through the real producer (a batch), a
    //    single record as decoded JSON (an AMQP map), an array of records as a string.
    const producer = new EventHubProducerClient(hub.connectionString);
    const v2 = nsgRecord(6);
    const vnet = vnetRecord(4);
    const batch = await producer.createBatch({ partitionId: '0' });
    expect(batch.tryAdd({ body: Buffer.from(JSON.stringify({ records: [v2.body, vnet.body] })) })).toBe(true);
    await producer.sendBatch(batch);
    await producer.close();
    expected.push(...v2.keys, ...vnet.keys);
    const single = vnetRecord(3);
    hub.append('1', single.body, { kind: 'value' });
    const v1 = nsgRecord(2, 1);
    const v2b = nsgRecord(3);
    hub.append('1', JSON.stringify([v1.body, v2b.body]), { kind: 'value' });
    expected.push(...single.keys, ...v1.keys, ...v2b.keys);

    // 2. The NSG connector's denormalized records: a {"records":[...]} bundle as bytes, and one
    //    record (words and numbers) as decoded JSON.
    const bundle = connectorRecords(7);
    hub.append('0', Buffer.from(JSON.stringify({ records: bundle.body })));
    const wordy = connectorRecords(1, true);
    hub.append('1', wordy.body[0], { kind: 'value' });
    expected.push(...bundle.keys, ...wordy.keys);

    // 3. Things that are none of these: counted, logged with partition and sequence number, skipped.
    const bad1 = hub.append('0', Buffer.from('{"hello":"world"}'));
    const bad2 = hub.append('1', 'not json at all', { kind: 'value' });
    const bad3 = hub.append('0', 42, { kind: 'value' });

    const flowlogs = azurite.service.getContainerClient('eh-flowlogs');
    const writer = await new AzureStyleBlobWriter(
      flowlogs,
      `resourceId=/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/DEMO-RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG/y=2026/m=11/d=25/h=06/m=00/macAddress=000D3AF87856/PT1H.json`,
    ).create();
    const blobUrl = flowlogs.getBlockBlobClient(writer.name).url;
    const minute1 = nsgRecord(5, 2, 1);
    await writer.appendRecords([minute1.body]);
    hub.append('0', Buffer.from(JSON.stringify(eventGridBlobCreated(blobUrl, 100))));
    // A notification of a blob that is not a flow log: ignored.
    hub.append('1', Buffer.from(JSON.stringify(eventGridBlobCreated(flowlogs.getBlockBlobClient('other/readme.json').url, 10))));

    const summaryPath = join(tempDir(), 'summary.json');
    const run = cli(
      [
        '--checkpoint-container',
        'eh-bodies',
        '--start-at',
        'earliest',
        '--state-dir',
        tempDir(),
        '-c',
        listener.address,
        '-c',
        `127.0.0.1:${nfcapd.port}`,
        '--summary-json',
        summaryPath,
        '--log-level',
        'debug',
        ...FAST,
      ],
      hub,
    );
    await listener.waitFor([...expected, ...minute1.keys], [run], 'forwarder, connector and first notification');

    // 4. Event Grid notifications, one per minute: each yields exactly that minute's tuples.
    const minute2 = nsgRecord(4, 2, 2);
    await writer.appendRecords([minute2.body]);
    // (Named by another host name of the same account: matched to --blob-connection-string by account.)
    hub.append('1', JSON.stringify([cloudEventBlobCreated(blobUrl.replace('127.0.0.1', 'localhost'), 200)]), { kind: 'value' });
    await listener.waitFor(minute2.keys, [run], 'second notification (CloudEvents)');
    const minute3 = nsgRecord(3, 2, 3);
    await writer.appendRecords([minute3.body]);
    hub.append('0', Buffer.from(JSON.stringify([eventGridBlobCreated(blobUrl, 300)])));
    await listener.waitFor(minute3.keys, [run], 'third notification (array)');
    // A repeated notification finds nothing new.
    hub.append('1', Buffer.from(JSON.stringify(eventGridBlobCreated(blobUrl, 300))));
    expected.push(...minute1.keys, ...minute2.keys, ...minute3.keys);

    // Checkpoints reach the last event of each partition, unrecognized ones included.
    const checkpoints = azurite.service.getContainerClient('eh-bodies');
    const last = (p: string) => hub.partitions.find((x) => x.id === p)!.events.length - 1;
    await waitForAsync(
      async () => {
        const stored = await readCheckpoints(checkpoints);
        return stored.get('0') === last('0') && stored.get('1') === last('1');
      },
      [run],
      'checkpoints at the last events',
    );
    const exit = await run.stop('SIGTERM');
    expect(exit.code).toBe(0);
    expect(listener.duplicates(expected)).toEqual([]);
    expect(listener.total).toBe(expected.length);

    const summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
    expect(summary.tuples).toBe(expected.length);
    expect(summary.eventHub).toMatchObject({ unrecognizedEvents: 3, ignoredNotifications: 1, checkpointFailures: 0 });
    expect(summary.eventHub.kinds).toMatchObject({ 'flow-log': 3, connector: 2, 'blob-created': 5 });
    const skipped = logLines(run).filter((l) => l['msg'] === 'skipped event: not a flow log payload, connector record or BlobCreated notification');
    expect(skipped.map((l) => [l['partition'], l['sequenceNumber']]).sort()).toEqual(
      ([bad1, bad2, bad3] as StoredEvent[]).map((e) => [e.partitionId, e.sequenceNumber]).sort(),
    );

    // nfcapd stored every tuple.
    const stored = await nfcapd.stop();
    const seen = new Set(stored.flows.map((f) => `${f.srcAddr}:${f.srcPort}>${f.dstAddr}:${f.dstPort}`));
    expect(expected.filter((k) => !seen.has(k))).toEqual([]);
    expect(stored.flows.length).toBe(expected.length);

    // No secret in the logs: not the Event Hubs key, not the storage account key.
    const output = run.output();
    expect(output).not.toContain('c3RhbmQtaW4tc2VjcmV0LWtleQ==');
    expect(output).not.toContain(AZURITE_KEY);
    expect(output).not.toContain('SharedAccessKey=');
  });

  it('on SIGTERM sends what is in flight and checkpoints it; after kill -9 a restart loses nothing', async () => {
    const hub = await standIn(2);
    const listener = await collector();
    const keysBySeq = new Map<string, TupleKey[]>();
    const all: TupleKey[] = [];
    const append = (count: number) => {
      for (let i = 0; i < count; i++) {
        const record = nsgRecord(8);
        const event = hub.append(String(i % 2), Buffer.from(JSON.stringify({ records: [record.body] })));
        keysBySeq.set(`${event.partitionId}#${event.sequenceNumber}`, record.keys);
        all.push(...record.keys);
      }
    };
    const checkpoints = azurite.service.getContainerClient('eh-restart');
    // One state directory, as a restarted sidecar has: the instance keeps its name there. The
    // ownership expiration stays at its default (60 s): a restart must not wait for it.
    const stateDir = tempDir();
    const args = [
      '--checkpoint-container',
      'eh-restart',
      '--start-at',
      'earliest',
      '--state-dir',
      stateDir,
      '-c',
      listener.address,
      '--biflow',
      'rfc5103',
      '--load-balancing-interval',
      '1',
    ];
    /** Keys of the events at or before (or after) each partition's checkpoint. */
    const split = (stored: Map<string, number>) => {
      const done: TupleKey[] = [];
      const rest: TupleKey[] = [];
      for (const [position, keys] of keysBySeq) {
        const [partition, sequence] = position.split('#') as [string, string];
        (Number(sequence) <= (stored.get(partition) ?? -1) ? done : rest).push(...keys);
      }
      return { done, rest };
    };

    // Paced slowly, so the SIGTERM lands while events are still being sent.
    append(60);
    const first = cli([...args, '--max-pps', '40'], hub);
    await listener.waitFor(keysBySeq.get('0#0')!, [first], 'first event');
    expect((await first.stop('SIGTERM')).code).toBe(0);
    // Exactly the events up to each checkpoint went out: in-flight ones were finished and checkpointed.
    const afterTerm = split(await readCheckpoints(checkpoints));
    expect(listener.missing(afterTerm.done)).toEqual([]);
    expect(afterTerm.rest.filter((k) => listener.counts.has(k))).toEqual([]);
    expect(first.output()).toContain('stopping: sending what is in flight and writing final checkpoints');

    // The next run takes the released partitions at once and sends the rest, each tuple once.
    const second = cli([...args, '--max-pps', '40'], hub);
    await listener.waitFor(all, [second], 'restart after SIGTERM');
    expect(listener.duplicates(all)).toEqual([]);

    // kill -9 while a new wave is being sent, more events while nothing runs, then a restart: it
    // releases the ownership records it left and takes its partitions back at once.
    append(40);
    await waitForAsync(async () => listener.total > all.length - 40 * 8 + 8, [second], 'second wave under way');
    expect((await second.stop('SIGKILL')).signal).toBe('SIGKILL');
    const atKill = split(await readCheckpoints(checkpoints));
    append(20);
    const third = cli([...args, '--max-pps', '0'], hub);
    await listener.waitFor(all, [third], 'restart after kill -9');
    expect(third.output()).toContain('released the partitions this instance held before it stopped');
    // At least once: only events after the last checkpoint may have been sent twice.
    const again = new Set(atKill.rest);
    expect(listener.duplicates(all).filter((k) => !again.has(k))).toEqual([]);
    expect((await third.stop('SIGTERM')).code).toBe(0);
  });

  it('two instances in one consumer group split the partitions, deliver every tuple, and take over a dead one', async () => {
    const hub = await standIn(4);
    const listenerA = await collector();
    const listenerB = await collector();
    const checkpoints = azurite.service.getContainerClient('eh-balance');
    // Started alike from one directory, as two sidecars on one host might be: each gets its own name.
    const stateDir = tempDir();
    // Renewed every second, expired after 8 s: a dead instance's partitions move soon, and a busy
    // machine does not let a live one's ownership lapse.
    const args = (target: TupleCollector) => [
      '--checkpoint-container',
      'eh-balance',
      '--start-at',
      'earliest',
      '--state-dir',
      stateDir,
      '-c',
      target.address,
      ...FAST,
      '--ownership-expiration',
      '8',
    ];
    const a = cli(args(listenerA), hub);
    await waitForAsync(async () => a.output().includes('receiving from the event hub'), [a], 'first instance up');
    const b = cli(args(listenerB), hub);

    // Balanced: two partitions each, one receiver per partition.
    await waitForAsync(
      async () => {
        const owners = [...(await readOwners(checkpoints)).values()];
        const counts = new Map<string, number>();
        for (const owner of owners) if (owner !== '') counts.set(owner, (counts.get(owner) ?? 0) + 1);
        const receivers = hub.openReceivers();
        return counts.size === 2 && [...counts.values()].every((n) => n === 2) && receivers.size === 4 && [...receivers.values()].every((n) => n === 1);
      },
      [a, b],
      'partitions split 2/2',
    );
    const nameOf = (run: RunningCli) => logLines(run).find((l) => l['msg'] === 'receiving from the event hub')!;
    expect(nameOf(a)['instanceIdOrigin']).toBe('new');
    expect(nameOf(b)['instanceIdOrigin']).toBe('shared-dir');
    const idOfA = nameOf(a)['instanceId'];

    const wave = (events: number): TupleKey[] => {
      const keys: TupleKey[] = [];
      for (let i = 0; i < events; i++) {
        const record = i % 3 === 0 ? vnetRecord(5) : nsgRecord(5);
        hub.append(String(i % 4), Buffer.from(JSON.stringify({ records: [record.body] })));
        keys.push(...record.keys);
      }
      return keys;
    };
    const first = wave(40);
    const both = {
      waitFor: (keys: TupleKey[], what: string) =>
        waitForAsync(async () => keys.every((k) => listenerA.counts.has(k) || listenerB.counts.has(k)), [a, b], what),
    };
    await both.waitFor(first, 'first wave');
    // Each instance sent its own partitions' tuples: together every tuple, none twice.
    const fromA = first.filter((k) => listenerA.counts.has(k));
    const fromB = first.filter((k) => listenerB.counts.has(k));
    expect(fromA.length).toBeGreaterThan(0);
    expect(fromB.length).toBeGreaterThan(0);
    expect(fromA.length + fromB.length).toBe(first.length);
    expect([...listenerA.duplicates(first), ...listenerB.duplicates(first)]).toEqual([]);

    // B dies without a word: A takes its partitions once their ownership expires.
    expect((await b.stop('SIGKILL')).signal).toBe('SIGKILL');
    const second = wave(40);
    await listenerA.waitFor(second, [a], 'second wave, all at A');
    const owners = await readOwners(checkpoints);
    expect([...owners.values()].every((o) => o === idOfA)).toBe(true);
    expect((await a.stop('SIGTERM')).code).toBe(0);
  });
});
