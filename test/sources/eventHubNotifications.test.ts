/**
 * Event Grid notifications at volume: the real CLI (the real @azure/event-hubs consumer and
 * BlobCheckpointStore, against the rhea Event Hubs stand-in and Azurite) reads the blobs that many
 * BlobCreated notifications name side by side. The notifications are sent by the real
 * EventHubProducerClient, each as Event Grid delivers it to Event Hubs: a JSON array of one event
 * in a data section. Waits are on counts, never on time.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHubProducerClient } from '@azure/event-hubs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureStyleBlobWriter, startAzurite, type AzuriteRun } from '../helpers/azurite.js';
import { EventHubStandIn } from '../helpers/eventHubStandIn.js';
import { FileStateStore } from '../../src/state/fileStateStore.js';
import { eventGridBlobCreated, readCheckpoints, startEventHubCliOn, TupleCollector, waitForAsync, type RunningCli, type TupleKey } from './eventHubHarness.js';

let azurite: AzuriteRun;
let hub: EventHubStandIn;
let listener: TupleCollector;
const stateDir = mkdtempSync(join(tmpdir(), 'nsg2ipfix-eh-notified-'));
const running = new Set<RunningCli>();

beforeAll(async () => {
  azurite = await startAzurite();
  hub = await EventHubStandIn.start({ partitionCount: 2 });
  listener = await TupleCollector.open();
});

afterAll(async () => {
  await Promise.allSettled([...running].map((run) => run.stop('SIGKILL')));
  await listener?.close();
  await hub?.stop();
  await azurite?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

const BLOBS = 24;
const SUB = '00000000-0000-0000-0000-000000000000';
/** The current hour: cursors of blobs whose hour ended over a day ago are dropped, as Azure no longer writes them. */
const HOUR_MS = Math.floor(Date.now() / 3_600_000) * 3_600_000;
const two = (n: number) => String(n).padStart(2, '0');
const hour = new Date(HOUR_MS);
const HOUR = `y=${hour.getUTCFullYear()}/m=${two(hour.getUTCMonth() + 1)}/d=${two(hour.getUTCDate())}/h=${two(hour.getUTCHours())}/m=00`;

/** One tuple a minute per blob, its source port telling blob and minute apart. */
function minuteRecord(blob: number, minute: number): { body: object; key: TupleKey } {
  const mac = `000D3AF8${(0x1000 + blob).toString(16).toUpperCase()}`;
  const port = 20_000 + blob * 100 + minute;
  const seconds = Math.floor((HOUR_MS + minute * 60_000) / 1000);
  return {
    key: `10.1.0.4:${port}>203.0.113.50:443`,
    body: {
      time: new Date(seconds * 1000).toISOString(),
      systemId: '3f6c2a9e-8d41-4b7a-a5e2-6c9d0f1b7e34',
      macAddress: mac,
      category: 'NetworkSecurityGroupFlowEvent',
      resourceId: `/SUBSCRIPTIONS/${SUB}/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG-${blob % 3}`,
      operationName: 'NetworkSecurityGroupFlowEvents',
      properties: {
        Version: 2,
        flows: [
          { rule: 'DefaultRule_AllowInternetOutBound', flows: [{ mac, flowTuples: [`${seconds},10.1.0.4,203.0.113.50,${port},443,T,O,A,C,3,300,2,200`] }] },
        ],
      },
    },
  };
}

function cli(args: string[]): RunningCli {
  return startEventHubCliOn(hub, azurite.connectionString, args, running);
}

describe('eventhub: many Event Grid notifications', () => {
  it('reads the notified blobs side by side, never checkpoints past a blob not yet sent, and after kill -9 a restart loses nothing', async () => {
    const container = azurite.service.getContainerClient('eh-notified');
    const writers: AzureStyleBlobWriter[] = [];
    for (let blob = 0; blob < BLOBS; blob++) {
      const mac = `000D3AF8${(0x1000 + blob).toString(16).toUpperCase()}`;
      const name = `resourceId=/SUBSCRIPTIONS/${SUB}/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG-${blob % 3}/${HOUR}/macAddress=${mac}/PT1H.json`;
      writers.push(await new AzureStyleBlobWriter(container, name).create());
    }
    const producer = new EventHubProducerClient(hub.connectionString);
    /** Keys sent to the collector by each notification event, by `partition#sequence`. */
    const keysByEvent = new Map<string, TupleKey[]>();
    const all: TupleKey[] = [];
    const nextSequence = [0, 0];
    /** Appends a minute to every blob, and announces each (the blob's partition fixed, as with PartitionKey = subject). */
    const round = async (minute: number): Promise<TupleKey[]> => {
      const keys: TupleKey[] = [];
      for (let blob = 0; blob < BLOBS; blob++) {
        const record = minuteRecord(blob, minute);
        await writers[blob]!.appendRecords([record.body]);
        const partition = blob % 2;
        const url = container.getBlockBlobClient(writers[blob]!.name).url;
        await producer.sendBatch([{ body: Buffer.from(JSON.stringify([eventGridBlobCreated(url, 1000 + minute * 300)])) }], { partitionId: String(partition) });
        keysByEvent.set(`${partition}#${nextSequence[partition]!++}`, [record.key]);
        keys.push(record.key);
      }
      all.push(...keys);
      return keys;
    };
    const args = [
      '--checkpoint-container',
      'eh-notified-checkpoints',
      '--start-at',
      'earliest',
      '--state-dir',
      stateDir,
      '--read-concurrency',
      '8',
      '--max-pps',
      '0',
      '--load-balancing-interval',
      '1',
      '-c',
      listener.address,
    ];

    await round(1);
    await round(2);
    const first = cli(args);
    await listener.waitFor(all, [first], 'two rounds of notifications');
    expect(listener.duplicates(all)).toEqual([]);
    // The cursors of those minutes are stored (about once a second) before the kill below, so
    // that only the third round may come twice.
    const cursors = new FileStateStore(stateDir);
    await waitForAsync(
      async () => {
        const state = await cursors.load();
        return state !== undefined && Object.values(state.blobs).filter((cursor) => (cursor.lastBlockIndex ?? 0) >= 2).length === BLOBS;
      },
      [first],
      'cursors of two rounds stored',
    );

    // A third round, and kill -9 while its blobs are being read.
    const third = round(3);
    await waitForAsync(async () => listener.total > BLOBS * 2, [first], 'third round under way');
    expect((await first.stop('SIGKILL')).signal).toBe('SIGKILL');
    const received = new Set(all.filter((key) => listener.counts.has(key)));
    // Every notification at or before a partition's checkpoint had its blob's minute sent.
    const stored = await readCheckpoints(azurite.service.getContainerClient('eh-notified-checkpoints'));
    for (const [position, keys] of keysByEvent) {
      const [partition, sequence] = position.split('#') as [string, string];
      if (Number(sequence) <= (stored.get(partition) ?? -1))
        expect(
          keys.filter((key) => !received.has(key)),
          position,
        ).toEqual([]);
    }
    await third;
    await round(4);

    // The restart reads what was left: every minute of every blob arrives; only the third round's
    // (in flight at the kill) may arrive twice.
    const second = cli(args);
    await listener.waitFor(all, [second], 'restart after kill -9');
    expect((await second.stop('SIGTERM')).code).toBe(0);
    const thirdRound = new Set(all.slice(BLOBS * 2, BLOBS * 3));
    expect(listener.duplicates(all).filter((key) => !thirdRound.has(key))).toEqual([]);
    expect(second.output()).not.toMatch(/"level":50/);
    await producer.close();
  });
});
