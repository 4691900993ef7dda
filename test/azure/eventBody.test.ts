import { describe, expect, it } from 'vitest';
import { isFlowLogBlobUrl, readBinaryCloudEvent, readGridEvent } from '../../src/azure/blobCreatedEvent.js';
import type { ParseProblem } from '../../src/azure/problems.js';
import { formatAddress } from '../../src/flow/addresses.js';
import type { FlowRecord } from '../../src/flow/flowRecord.js';
import { type AmqpBodyType, type BodyOutcome, readEventBody } from '../../src/azure/eventBody.js';
import { ParseCache } from '../../src/azure/parseCache.js';
import { parseBlobUrl } from '../../src/sources/eventHubBlobs.js';
import { eventPositionFor, parseEventHubStartAt } from '../../src/sources/eventHubSource.js';
import { cloudEventBlobCreated, connectorRecords, eventGridBlobCreated, NSG_ID, nsgRecord, vnetRecord } from '../sources/eventHubHarness.js';

interface Decoded {
  result: BodyOutcome & { kindNames: string[] };
  flows: FlowRecord[];
  problems: ParseProblem[];
}

function decode(body: unknown, properties?: Record<string, unknown>, bodyType?: AmqpBodyType): Decoded {
  const flows: FlowRecord[] = [];
  const problems: ParseProblem[] = [];
  const outcome = readEventBody(
    body,
    bodyType,
    properties,
    'hub/0#7',
    { flow: (f) => flows.push(f), problem: (p) => problems.push(p) },
    { cache: new ParseCache() },
  );
  const names: [keyof BodyOutcome['kinds'], string][] = [
    ['flowLog', 'flow-log'],
    ['connector', 'connector'],
    ['blobCreated', 'blob-created'],
    ['otherEvent', 'other-event'],
  ];
  return { result: { ...outcome, kindNames: names.filter(([key]) => outcome.kinds[key] > 0).map(([, name]) => name) }, flows, problems };
}

const keyOf = (f: FlowRecord) => `${formatAddress(f.sourceAddress)}:${f.sourcePort}>${formatAddress(f.destinationAddress)}:${f.destinationPort}`;

/** A connector record as the NSG flow logs connector serializes it (strings, nulls dropped). */
function connector(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    time: '2026-11-25T06:01:00.0000000Z',
    category: 'NetworkSecurityGroupFlowEvent',
    operationName: 'NetworkSecurityGroupFlowEvents',
    resourceId: NSG_ID,
    version: 2.0,
    nsgRuleName: 'UserRule_DenySsh',
    mac: '000D3AF87856',
    startTime: '1795586460',
    sourceAddress: '198.51.100.9',
    destinationAddress: '10.0.0.4',
    sourcePort: '51234',
    destinationPort: '22',
    transportProtocol: 'T',
    deviceDirection: 'I',
    deviceAction: 'D',
    flowState: 'B',
    ...overrides,
  };
}

describe('event bodies: forwarder payloads', () => {
  const v2 = nsgRecord(3);
  const vnet = vnetRecord(2);
  const v1 = nsgRecord(2, 1);
  const keys = [...v2.keys, ...vnet.keys, ...v1.keys];
  const wrapped = { records: [v2.body, vnet.body, v1.body] };

  it.each([
    ['{"records":[...]} as bytes', Buffer.from(JSON.stringify(wrapped))],
    ['{"records":[...]} as a string', JSON.stringify(wrapped)],
    ['{"records":[...]} already decoded', wrapped],
    ['an array of records as bytes', Buffer.from(JSON.stringify(wrapped.records))],
    ['an array of records already decoded', wrapped.records],
    ['records one per line', Buffer.from(wrapped.records.map((r) => JSON.stringify(r)).join('\n'))],
  ])('reads %s, NSG v1/v2 and VNet alike', (_name, body) => {
    const { result, flows, problems } = decode(body);
    expect(result.recognized).toBe(true);
    expect(result.kindNames).toEqual(['flow-log']);
    expect(result.azureRecords).toBe(3);
    expect(flows.map(keyOf)).toEqual(keys);
    expect(problems).toEqual([]);
  });

  it.each<[string, unknown, AmqpBodyType | undefined]>([
    ['as bytes', Buffer.from(JSON.stringify([wrapped, wrapped])), 'data'],
    ['as an AMQP value list', [wrapped, wrapped], 'value'],
    ['as AMQP sequences', [[wrapped], [wrapped]], 'sequence'],
    ['as a JSON string inside an AMQP value string', JSON.stringify(JSON.stringify([wrapped, wrapped])), 'value'],
  ])('reads a list of {"records":[...]} wrappers %s (forwarders batching whole blobs)', (_name, body, bodyType) => {
    const { result, flows, problems } = decode(body, undefined, bodyType);
    expect(result.recognized).toBe(true);
    expect(flows.map(keyOf)).toEqual([...keys, ...keys]);
    expect(problems).toEqual([]);
  });

  it('reads one record as bytes and as decoded JSON the same way (fast path and reference path agree)', () => {
    const fast = decode(Buffer.from(JSON.stringify(v2.body))).flows;
    const reference = decode(v2.body).flows;
    expect(fast).toEqual(reference);
    expect(fast.map((f) => [f.kind, f.state, f.packetsForward])).toEqual([
      ['nsg-v2', 'continue', 3],
      ['nsg-v2', 'begin', undefined],
      ['nsg-v2', 'continue', 3],
    ]);
  });

  it('skips and reports a bad tuple or a bad record inside a payload, and reads the rest', () => {
    const bad = JSON.stringify(v2.body).replace('10.1.0.4', '10.1.0.999');
    const { result, flows, problems } = decode(Buffer.from(`{"records":[${bad},{"broken": tru},${JSON.stringify(vnet.body)}]}`));
    expect(result.recognized).toBe(true);
    expect(flows.map(keyOf)).toEqual([...v2.keys.slice(1), ...vnet.keys]);
    expect(problems.map((p) => [p.reason, p.unit])).toEqual([
      ['bad-address', 'tuple'],
      ['invalid-json', 'record'],
    ]);
    expect(problems[0]!.context.source).toBe('hub/0#7');
  });

  it('takes an empty {"records":[]} as a (recognized) forwarder payload', () => {
    const { result, flows } = decode(Buffer.from('{"records":[]}'));
    expect(result.recognized).toBe(true);
    expect(flows).toEqual([]);
  });
});

describe('event bodies: NSG connector records', () => {
  it('maps every field of a denormalized record to a FlowRecord', () => {
    const { result, flows, problems } = decode({
      records: [connector(), connector({ flowState: 'E', deviceAction: 'A', packetsStoD: '7', bytesStoD: '700', packetsDtoS: '6', bytesDtoS: '600' })],
    });
    expect(problems).toEqual([]);
    expect(result.kindNames).toEqual(['connector']);
    expect(result.azureRecords).toBe(2);
    const [begin, end] = flows as [FlowRecord, FlowRecord];
    expect(begin).toMatchObject({
      kind: 'nsg-v2',
      timeMs: 1_795_586_460_000,
      family: 4,
      sourcePort: 51234,
      destinationPort: 22,
      protocol: 6,
      direction: 'inbound',
      decision: 'deny',
      state: 'begin',
      packetsForward: undefined,
      bytesForward: undefined,
      packetsReverse: undefined,
      bytesReverse: undefined,
      azure: { rule: 'UserRule_DenySsh', mac: '000D3AF87856', resourceId: NSG_ID, aclId: '', encryption: '', flowLogGuid: '' },
    });
    expect(formatAddress(begin.sourceAddress)).toBe('198.51.100.9');
    expect(formatAddress(begin.destinationAddress)).toBe('10.0.0.4');
    expect(end).toMatchObject({ decision: 'allow', state: 'end', packetsForward: 7, bytesForward: 700, packetsReverse: 6, bytesReverse: 600 });
    // Records of one NSG, rule and NIC share their Azure context.
    expect(end.azure).toBe(begin.azure);
  });

  it('reads words, numbers, UDP, outbound, IPv6 and v1 records (no state, no counts)', () => {
    const { flows, problems } = decode([
      connector({
        transportProtocol: 'UDP',
        deviceDirection: 'Outbound',
        deviceAction: 'Allow',
        flowState: 'C',
        sourcePort: 53,
        packetsStoD: 1,
        bytesStoD: 80,
        packetsDtoS: 1,
        bytesDtoS: 120,
      }),
      connector({
        transportProtocol: 'U',
        deviceDirection: 'O',
        deviceAction: 'A',
        flowState: undefined,
        version: 1,
        sourceAddress: '2001:db8::1',
        destinationAddress: '2001:db8::2',
      }),
      connector({ transportProtocol: '6', startTime: undefined }),
    ]);
    expect(problems).toEqual([]);
    expect(flows.map((f) => [f.kind, f.protocol, f.direction, f.decision, f.state, f.family, f.sourcePort, f.bytesReverse])).toEqual([
      ['nsg-v2', 17, 'outbound', 'allow', 'continue', 4, 53, 120],
      ['nsg-v1', 17, 'outbound', 'allow', undefined, 6, 51234, undefined],
      ['nsg-v2', 6, 'inbound', 'deny', 'begin', 4, 51234, undefined],
    ]);
    // Without startTime the record's own time is the tuple time.
    expect(flows[2]!.timeMs).toBe(Date.parse('2026-11-25T06:01:00Z'));
  });

  it('skips a bad record with its reason and context, and reads the rest of the bundle', () => {
    const good = connectorRecords(2);
    const { result, flows, problems } = decode(
      Buffer.from(
        JSON.stringify({
          records: [
            connector({ transportProtocol: 'X' }),
            good.body[0],
            connector({ deviceDirection: 'sideways' }),
            connector({ deviceAction: 'maybe' }),
            connector({ flowState: 'Z' }),
            connector({ sourcePort: '70000' }),
            connector({ destinationAddress: 'nope' }),
            connector({ packetsStoD: '-1' }),
            connector({ startTime: 'soon', time: undefined }),
            good.body[1],
          ],
        }),
      ),
    );
    expect(result.recognized).toBe(true);
    expect(flows.map(keyOf)).toEqual(good.keys);
    expect(problems.map((p) => p.reason)).toEqual([
      'bad-protocol',
      'bad-direction',
      'bad-decision',
      'bad-state',
      'bad-port',
      'bad-address',
      'bad-count',
      'bad-timestamp',
    ]);
    expect(problems[0]).toMatchObject({
      unit: 'tuple',
      skipped: 1,
      context: { source: 'hub/0#7', recordIndex: 0, rule: 'UserRule_DenySsh', mac: '000D3AF87856', resourceId: NSG_ID },
    });
  });
});

describe('event bodies: Event Grid BlobCreated notifications', () => {
  const url =
    'https://flowlogs.blob.core.windows.net/insights-logs-networksecuritygroupflowevent/resourceId%3D/SUB/y%3D2026/m%3D11/d%3D25/h%3D06/m%3D00/macAddress%3D000D3AF87856/PT1H.json';

  it.each([
    ['one Event Grid event as bytes', Buffer.from(JSON.stringify(eventGridBlobCreated(url, 10)))],
    ['an array of Event Grid events as a string', JSON.stringify([eventGridBlobCreated(url, 10)])],
    ['one CloudEvent already decoded', cloudEventBlobCreated(url, 10)],
    ['an array of CloudEvents as bytes', Buffer.from(JSON.stringify([cloudEventBlobCreated(url, 10)]))],
  ])('reads %s', (_name, body) => {
    const { result, flows } = decode(body);
    expect(result.recognized).toBe(true);
    expect(result.kindNames).toEqual(['blob-created']);
    expect(result.notifications.map((n) => [n.url, n.api])).toEqual([[url, 'PutBlockList']]);
    expect(flows).toEqual([]);
  });

  it('reads a binary-mode CloudEvent (attributes in the application properties)', () => {
    const data = (cloudEventBlobCreated(url, 10) as { data: object }).data;
    const { result } = decode(Buffer.from(JSON.stringify(data)), {
      'cloudEvents:type': 'Microsoft.Storage.BlobCreated',
      'cloudEvents:id': 'x1',
      'cloudEvents:time': '2026-11-25T06:01:00Z',
    });
    expect(result.notifications).toEqual([{ url, api: 'PutBlockList', eventTime: '2026-11-25T06:01:00Z', id: 'x1' }]);
  });

  it('recognizes other event types without reading anything', () => {
    const deleted = { ...eventGridBlobCreated(url, 10), eventType: 'Microsoft.Storage.BlobDeleted' };
    const { result } = decode(deleted);
    expect(result.recognized).toBe(true);
    expect(result.notifications).toEqual([]);
    expect(result.otherEvents).toEqual(['Microsoft.Storage.BlobDeleted']);
    expect(readGridEvent({ eventType: 'Microsoft.Storage.BlobCreated', subject: 'x', data: {} })).toEqual({
      kind: 'other',
      eventType: 'Microsoft.Storage.BlobCreated without data.url',
    });
    expect(readBinaryCloudEvent({ other: 1 }, () => ({}))).toBeUndefined();
  });

  it('tells PT1H.json blobs from others', () => {
    expect(isFlowLogBlobUrl(url)).toBe(true);
    expect(isFlowLogBlobUrl('https://a.blob.core.windows.net/c/readme.json')).toBe(false);
    expect(isFlowLogBlobUrl('not a url')).toBe(false);
  });

  it('splits blob URLs into account, container and name (virtual-host and path style)', () => {
    expect(parseBlobUrl(url)).toEqual({
      accountUrl: 'https://flowlogs.blob.core.windows.net',
      accountName: 'flowlogs',
      container: 'insights-logs-networksecuritygroupflowevent',
      name: 'resourceId=/SUB/y=2026/m=11/d=25/h=06/m=00/macAddress=000D3AF87856/PT1H.json',
    });
    expect(parseBlobUrl('http://127.0.0.1:10000/devstoreaccount1/c/a/b/PT1H.json')).toEqual({
      accountUrl: 'http://127.0.0.1:10000/devstoreaccount1',
      accountName: 'devstoreaccount1',
      container: 'c',
      name: 'a/b/PT1H.json',
    });
    expect(parseBlobUrl('https://a.blob.core.windows.net/only-container')).toBeUndefined();
    expect(parseBlobUrl('ftp://a/b/c')).toBeUndefined();
  });
});

describe('event bodies: hostile input', () => {
  it('keeps problem details short when a connector field is huge', () => {
    const huge = 'x'.repeat(1 << 20);
    const { problems } = decode([connector({ transportProtocol: huge }), connector({ sourcePort: huge }), connector({ startTime: huge })]);
    expect(problems.map((p) => p.reason)).toEqual(['bad-protocol', 'bad-port', 'bad-timestamp']);
    for (const problem of problems) expect(problem.detail.length + (problem.context.excerpt?.length ?? 0)).toBeLessThan(1000);
  });

  it('survives bodies nested 100,000 deep', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    for (const body of [Buffer.from(deep), Buffer.from(`{"records":[${deep}]}`), `{"records":[{"sourceAddress":${deep}}]}`]) {
      expect(() => decode(body)).not.toThrow();
    }
  });
});

describe('event bodies: none of these', () => {
  it.each([
    ['a JSON object of another kind', Buffer.from('{"hello":"world"}')],
    ['text that is not JSON', 'not json at all'],
    ['a number', 42],
    ['an empty body', Buffer.alloc(0)],
    ['an array of strings', ['a', 'b']],
  ])('reports %s as unrecognized, with no parse problems', (_name, body) => {
    const { result, flows, problems } = decode(body);
    expect(result.recognized).toBe(false);
    expect(result.why).toEqual(expect.any(String));
    expect(flows).toEqual([]);
    expect(problems).toEqual([]);
  });
});

describe('--start-at', () => {
  it('reads earliest, latest and ISO times', () => {
    expect(parseEventHubStartAt('earliest')).toEqual({ kind: 'earliest' });
    expect(parseEventHubStartAt('LATEST')).toEqual({ kind: 'latest' });
    expect(parseEventHubStartAt('2026-11-25T06:00:00Z')).toEqual({ kind: 'time', ms: Date.UTC(2026, 10, 25, 6) });
    expect(parseEventHubStartAt('yesterday')).toBeUndefined();
    expect(parseEventHubStartAt('2026-13-45')).toBeUndefined();
  });

  it('maps to the SDK positions for partitions without a checkpoint', () => {
    expect(eventPositionFor({ kind: 'earliest' })).toEqual({ offset: '-1' });
    expect(eventPositionFor({ kind: 'latest' })).toEqual({ offset: '@latest' });
    expect(eventPositionFor({ kind: 'time', ms: 1_795_586_400_000 })).toEqual({ enqueuedOn: new Date(1_795_586_400_000) });
  });
});
