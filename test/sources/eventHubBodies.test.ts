/**
 * Every body shape a producer puts on the wire reaches the collector: sent with the REAL
 * @azure/event-hubs EventHubProducerClient (string, object, array, Buffer, Uint8Array bodies, and
 * AmqpAnnotatedMessage value / sequence sections, which the JS SDK can send too), through the
 * rhea-based Event Hubs protocol stand-in (it stores each AMQP section as it arrived and delivers it
 * back in the same section), read by the real `eventhub` CLI, into nfcapd and the in-process decoder.
 * The stand-in's own `append` is used only for an AMQP value section holding a raw binary, which the
 * JS SDK cannot produce (it encodes a Buffer in a value section as a data-like section on receive),
 * as other AMQP clients do.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AmqpAnnotatedMessage } from '@azure/core-amqp';
import { EventHubProducerClient, type EventData } from '@azure/event-hubs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNfcapd, stopAll as stopAllNfcapd } from '../collectors/nfcapd.js';
import { startAzurite, type AzuriteRun } from '../helpers/azurite.js';
import { EventHubStandIn } from '../helpers/eventHubStandIn.js';
import {
  connectorRecords,
  nsgRecord,
  startEventHubCli,
  TupleCollector,
  vnetRecord,
  waitForAsync,
  readCheckpoints,
  type RunningCli,
  type TupleKey,
} from './eventHubHarness.js';

let azurite: AzuriteRun;
let hub: EventHubStandIn;
const tempDirs: string[] = [];
const running = new Set<RunningCli>();
let listener: TupleCollector;

beforeAll(async () => {
  azurite = await startAzurite();
  hub = await EventHubStandIn.start({ partitionCount: 2 });
  listener = await TupleCollector.open();
});

afterAll(async () => {
  await Promise.allSettled([...running].map((cli) => cli.stop('SIGKILL')));
  await stopAllNfcapd();
  await listener?.close();
  await hub?.stop();
  await azurite?.stop();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nsg2ipfix-bodies-'));
  tempDirs.push(dir);
  return dir;
}

const BOM = '\ufeff';

/** A PT1H.json as Azure writes it (pretty-printed, CRLF), as a forwarder reads it from the blob. */
function pt1h(records: object[]): string {
  return JSON.stringify({ records }, null, 2).replaceAll('\n', '\r\n');
}

interface Shape {
  readonly name: string;
  readonly keys: TupleKey[];
  readonly event: EventData | AmqpAnnotatedMessage;
}

/** One event of each shape, each with tuples of its own. */
function shapes(): Shape[] {
  const list: Shape[] = [];
  const add = (name: string, keys: TupleKey[], event: EventData | AmqpAnnotatedMessage) => list.push({ name, keys, event });
  const a = nsgRecord(3);
  const b = vnetRecord(2);
  add('a string (JS SDK: JSON string in a data section)', [...a.keys, ...b.keys], { body: pt1h([a.body, b.body]) });
  const c = nsgRecord(2, 1);
  add('a string with a BOM', c.keys, { body: BOM + pt1h([c.body]) });
  const d = vnetRecord(3);
  add('an object (JS SDK: JSON in a data section)', d.keys, { body: { records: [d.body] } });
  const e = nsgRecord(2);
  const f = vnetRecord(1);
  add('an array of records', [...e.keys, ...f.keys], { body: [e.body, f.body] });
  const g = nsgRecord(4);
  add('a Buffer (.NET / Python / Java SDKs: UTF-8 bytes)', g.keys, { body: Buffer.from(pt1h([g.body])) });
  const h = vnetRecord(2);
  add('a Uint8Array', h.keys, { body: new TextEncoder().encode(JSON.stringify({ records: [h.body] })) });
  const i = nsgRecord(2);
  add('UTF-8 bytes with a BOM', i.keys, { body: Buffer.from(BOM + pt1h([i.body])) });
  const j = nsgRecord(5);
  add('gzip-compressed bytes', j.keys, { body: gzipSync(Buffer.from(pt1h([j.body]))) });
  const k = connectorRecords(4);
  add('connector records as a string', k.keys, { body: JSON.stringify({ records: k.body }) });
  const l = vnetRecord(2);
  add('an AMQP value section holding a string', l.keys, { body: JSON.stringify({ records: [l.body] }), bodyType: 'value' });
  const m = nsgRecord(3);
  add('an AMQP value section holding a map', m.keys, { body: m.body, bodyType: 'value' });
  const n = nsgRecord(1);
  const o = vnetRecord(1);
  add('an AMQP value section holding a list', [...n.keys, ...o.keys], { body: [n.body, o.body], bodyType: 'value' });
  const p = nsgRecord(2);
  const q = vnetRecord(2);
  add('an AMQP sequence section', [...p.keys, ...q.keys], { body: [JSON.stringify(p.body), q.body], bodyType: 'sequence' });
  return list;
}

function cli(args: string[]): RunningCli {
  const run = startEventHubCli(args, {
    NSG2IPFIX_EVENTHUB_CONNECTION_STRING: hub.connectionString,
    NSG2IPFIX_CHECKPOINT_CONNECTION_STRING: azurite.connectionString,
  });
  running.add(run);
  void run.exited.then(() => running.delete(run));
  return run;
}

async function send(events: readonly (EventData | AmqpAnnotatedMessage)[], partitionId: string): Promise<void> {
  const producer = new EventHubProducerClient(hub.connectionString);
  try {
    // One event per send: each shape is its own AMQP message, as a forwarder sends them.
    for (const event of events) await producer.sendBatch([event], { partitionId });
  } finally {
    await producer.close();
  }
}

describe('nsg2ipfix eventhub: every body shape', () => {
  it('delivers every tuple of every shape to nfcapd across a kill -9 and restart; refuses a zip bomb and logs unrecognised bodies once', async () => {
    const nfcapd = await startNfcapd();
    const stateDir = tempDir();
    const all = shapes();
    const before = all.slice(0, 7);
    const after = all.slice(7);
    const binary = nsgRecord(3);
    const args = [
      '--checkpoint-container',
      'bodies',
      '--start-at',
      'earliest',
      '--state-dir',
      stateDir,
      '-c',
      listener.address,
      '-c',
      `127.0.0.1:${nfcapd.port}`,
    ];
    args.push('--max-pps', '0', '--load-balancing-interval', '1');

    await send(
      before.map((shape) => shape.event),
      '0',
    );
    const first = cli(args);
    const firstKeys = before.flatMap((shape) => shape.keys);
    await listener.waitFor(firstKeys, [first], `the first ${before.length} shapes`);
    // Checkpointed before the kill, so the restart starts after these events.
    await waitForAsync(async () => (await readCheckpoints(azurite.service.getContainerClient('bodies'))).get('0') === before.length - 1, [first], 'checkpoint');
    await first.stop('SIGKILL');

    await send(
      after.map((shape) => shape.event),
      '1',
    );
    // A binary value in an AMQP value section: what other AMQP clients send (not the JS SDK).
    hub.append('1', Buffer.from(JSON.stringify({ records: [binary.body] })), { kind: 'value' });
    // A zip bomb (64 MiB + 1 of zeros): refused and counted, never inflated.
    await send([{ body: gzipSync(Buffer.alloc(64 * 1024 * 1024 + 1)) }], '1');
    // Not flow data: logged once each with partition, sequence number and decoded text.
    await send([{ body: 'hello, not json' }, { body: gzipSync(Buffer.from('{"unexpected":"shape"}')) }], '1');
    const second = cli([...args, '--log-level', 'info']);
    const secondKeys = [...after.flatMap((shape) => shape.keys), ...binary.keys];
    await listener.waitFor(secondKeys, [second], `the other ${after.length} shapes`);
    await waitForAsync(
      async () =>
        (await readCheckpoints(azurite.service.getContainerClient('bodies'))).get('1') ===
        hub.partitions.find((partition) => partition.id === '1')!.events.length - 1,
      [second],
      'checkpoint of partition 1',
    );
    expect((await second.stop('SIGTERM')).code).toBe(0);

    const expected = [...firstKeys, ...secondKeys];
    expect(listener.missing(expected)).toEqual([]);
    // Every shape, tuple by tuple, at nfcapd too (at-least-once across the kill).
    const stored = await nfcapd.stop();
    const seen = new Set(stored.flows.map((flow) => `${flow.srcAddr}:${flow.srcPort}>${flow.dstAddr}:${flow.dstPort}`));
    for (const shape of [...all, { name: 'binary value section', keys: binary.keys }]) {
      expect(
        shape.keys.filter((key) => !seen.has(key)),
        shape.name,
      ).toEqual([]);
    }

    const lines = second
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const refused = lines.filter((line) => line['reason'] === 'refused-body');
    expect(refused).toHaveLength(1);
    expect(String(refused[0]!['msg'])).toContain('inflates past');
    const unrecognized = lines.filter((line) => String(line['msg']).startsWith('skipped event'));
    expect(unrecognized.map((line) => [line['partition'], line['excerpt']])).toEqual([
      ['1', 'hello, not json'],
      ['1', '{"unexpected":"shape"}'],
    ]);
    for (const line of unrecognized) expect(typeof line['sequenceNumber']).toBe('number');
  });
});
