import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { FlowLogReader, readFlowLogDocument } from '../../src/azure/flowLogReader.js';
import type { ParseProblem } from '../../src/azure/problems.js';
import { parseAddress, parseDottedQuad } from '../../src/azure/tupleFields.js';
import { formatAddress } from '../../src/flow/addresses.js';
import type { FlowRecord } from '../../src/flow/flowRecord.js';

const SAMPLES = join(import.meta.dirname, '..', '..', 'samples');
const MALFORMED = join(import.meta.dirname, '..', 'fixtures', 'malformed');
const EXPECTED = join(import.meta.dirname, '..', 'fixtures', 'samples-expected.json');

function jsonFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? jsonFiles(path) : name.endsWith('.json') ? [path] : [];
  });
}

function read(document: Buffer | string, chunkSize?: number): { flows: FlowRecord[]; problems: ParseProblem[]; records: number } {
  const flows: FlowRecord[] = [];
  const problems: ParseProblem[] = [];
  const reader = new FlowLogReader('test', { flow: (f) => flows.push(f), problem: (p) => problems.push(p) });
  const bytes = typeof document === 'string' ? Buffer.from(document) : document;
  const step = chunkSize ?? bytes.length;
  for (let i = 0; i < bytes.length; i += step) reader.push(bytes.subarray(i, i + step));
  reader.end();
  return { flows, problems, records: reader.recordsRead };
}

/** The view of a FlowRecord that expected.json describes. */
function plain(f: FlowRecord) {
  return {
    kind: f.kind,
    timeMs: f.timeMs,
    srcAddr: formatAddress(f.sourceAddress),
    dstAddr: formatAddress(f.destinationAddress),
    srcPort: f.sourcePort,
    dstPort: f.destinationPort,
    protocol: f.protocol,
    direction: f.direction,
    decision: f.decision,
    state: f.state ?? null,
    packetsForward: f.packetsForward ?? null,
    bytesForward: f.bytesForward ?? null,
    packetsReverse: f.packetsReverse ?? null,
    bytesReverse: f.bytesReverse ?? null,
    rule: f.azure.rule,
    mac: f.azure.mac,
  };
}

describe('reading the bundled sample logs', () => {
  const expected = JSON.parse(readFileSync(EXPECTED, 'utf8')) as (ReturnType<typeof plain> & { file: string; recordIndex: number })[];

  it('turns every tuple of NSG v1, NSG v2 and VNet samples into the FlowRecord an independent reading expects', () => {
    const actual = jsonFiles(SAMPLES).flatMap((file) => {
      const { flows, problems } = read(readFileSync(file));
      expect(problems).toEqual([]);
      return flows.map((f) => ({ file: relative(SAMPLES, file), ...plain(f) }));
    });
    const strip = ({ recordIndex: _, ...rest }: (typeof expected)[number]) => rest;
    const byKey = (a: { file: string; timeMs: number; srcPort: number }, b: typeof a) =>
      a.file.localeCompare(b.file) || a.timeMs - b.timeMs || a.srcPort - b.srcPort;
    expect(actual.sort(byKey)).toEqual(expected.map(strip).sort(byKey));
    expect(new Set(actual.map((a) => a.kind))).toEqual(new Set(['nsg-v1', 'nsg-v2', 'vnet']));
  });

  it('gives the same flows whatever the chunk boundaries (1, 7, 4096 bytes)', () => {
    for (const file of jsonFiles(SAMPLES)) {
      const bytes = readFileSync(file);
      const whole = read(bytes).flows.map(plain);
      for (const size of [1, 7, 4096]) expect(read(bytes, size).flows.map(plain)).toEqual(whole);
    }
  });
});

describe('malformed input', () => {
  const counts = JSON.parse(readFileSync(join(MALFORMED, 'counts.json'), 'utf8')) as Record<
    string,
    { goodTuples: number; records: number; fileError: string | null; badTuples: unknown[]; badRecords: unknown[] }
  >;

  for (const [file, expected] of Object.entries(counts)) {
    it(`${file}: skips and counts each bad part, and still reads all ${expected.goodTuples} good tuples`, () => {
      for (const size of [undefined, 5]) {
        const { flows, problems } = read(readFileSync(join(MALFORMED, file)), size);
        expect(flows).toHaveLength(expected.goodTuples);
        const tupleSkips = problems.filter((p) => p.unit === 'tuple');
        const recordSkips = problems.filter((p) => p.unit === 'record' && p.skipped > 0);
        expect(tupleSkips).toHaveLength(expected.badTuples.length);
        expect(recordSkips).toHaveLength(expected.badRecords.length);
        if (expected.fileError === 'empty') expect(problems.map((p) => p.reason)).toEqual(['empty-input']);
        if (expected.fileError === 'truncated') expect(recordSkips.map((p) => p.reason)).toEqual(['truncated-json']);
        for (const problem of problems) {
          expect(problem.context.source).toBe('test');
          expect(problem.detail.length).toBeGreaterThan(0);
        }
      }
    });
  }

  it('names the reason of each kind of bad tuple', () => {
    const reasons = (file: string) => read(readFileSync(join(MALFORMED, file))).problems.map((p) => p.reason);
    expect(reasons('bad-ipv4.json')).toEqual(['bad-address', 'bad-address']);
    expect(reasons('bad-port.json')).toEqual(['bad-port', 'bad-port']);
    expect(reasons('bad-protocol.json')).toEqual(['bad-protocol']);
    expect(reasons('wrong-field-count.json')).toEqual(['bad-field-count', 'bad-field-count']);
    expect(reasons('bad-counts.json')).toEqual(['bad-count', 'bad-count']);
    expect(reasons('properties-not-object.json')).toEqual(['bad-properties']);
  });

  it('gives tuple problems their record context for the log', () => {
    const [problem] = read(readFileSync(join(MALFORMED, 'bad-protocol.json'))).problems;
    expect(problem!.context).toMatchObject({ recordIndex: 0, tupleIndex: expect.any(Number), rule: expect.any(String), mac: expect.any(String) });
    expect(problem!.context.resourceId).toMatch(/NETWORKSECURITYGROUPS/);
    expect(problem!.context.excerpt).toContain(',X,');
  });

  it('reports invalid JSON inside one record and keeps the records around it', () => {
    const good =
      '{"category":"FlowLogFlowEvent","flowRecords":{"flows":[{"aclID":"a","flowGroups":[{"rule":"r","flowTuples":["1749718803412,10.0.0.1,10.0.0.2,1,2,6,O,B,NX,,,,"]}]}]}}';
    const { flows, problems } = read(`{"records":[${good},{"category": nope},${good}]}`);
    expect(flows).toHaveLength(2);
    expect(problems.map((p) => p.reason)).toEqual(['invalid-json']);
  });

  it('rejects a document that is not JSON at all with one problem', () => {
    const { flows, problems } = read('hello world');
    expect(flows).toEqual([]);
    expect(problems.map((p) => p.reason)).toEqual(['invalid-json']);
  });

  it('reads records concatenated one per line (JSON Lines)', () => {
    const record = (port: number) =>
      `{"category":"FlowLogFlowEvent","flowRecords":{"flows":[{"aclID":"a","flowGroups":[{"rule":"r","flowTuples":["1749718803412,10.0.0.1,10.0.0.2,${port},2,6,O,B,NX,,,,"]}]}]}}`;
    const { flows } = read(`${record(1)}\n${record(2)}\r\n{"records":[${record(3)}]}\n`);
    expect(flows.map((f) => f.sourcePort)).toEqual([1, 2, 3]);
  });

  it('reads the NSG connector records an Event Hub carries from a file too, and names Event Grid events it cannot follow', () => {
    const connector = {
      time: '2026-11-25T06:01:00.0000000Z',
      category: 'NetworkSecurityGroupFlowEvent',
      resourceId: '/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG',
      nsgRuleName: 'UserRule_AllowHttps',
      mac: '000D3AF87856',
      startTime: '1795586460',
      sourceAddress: '10.3.0.4',
      destinationAddress: '192.0.2.80',
      sourcePort: '50001',
      destinationPort: '8443',
      transportProtocol: 'T',
      deviceDirection: 'I',
      deviceAction: 'A',
      flowState: 'E',
      packetsStoD: '7',
      bytesStoD: '700',
      packetsDtoS: '6',
      bytesDtoS: '600',
    };
    const notification = { eventType: 'Microsoft.Storage.BlobCreated', subject: 's', data: { url: 'https://a.blob.core.windows.net/c/PT1H.json' } };
    const { flows, problems } = read(JSON.stringify({ records: [connector, notification] }));
    expect(flows.map((f) => [f.kind, f.sourcePort, f.bytesForward, f.bytesReverse, f.azure.rule])).toEqual([
      ['nsg-v2', 50001, 700, 600, 'UserRule_AllowHttps'],
    ]);
    expect(problems.map((p) => p.reason)).toEqual(['unfollowed-event']);
  });

  it('refuses a record larger than the limit without holding it in memory', () => {
    const flows: FlowRecord[] = [];
    const problems: ParseProblem[] = [];
    const reader = new FlowLogReader('test', { flow: (f) => flows.push(f), problem: (p) => problems.push(p) }, 1000);
    reader.push(Buffer.from(`[{"category":"FlowLogFlowEvent","pad":"${'x'.repeat(5000)}"}]`));
    reader.end();
    expect(problems.map((p) => p.reason)).toEqual(['oversized-record']);
  });
});

describe('tuple fields', () => {
  it('reads VNet timestamps in milliseconds and in seconds', () => {
    const tuple = (ts: string) =>
      `{"category":"FlowLogFlowEvent","flowRecords":{"flows":[{"aclID":"a","flowGroups":[{"rule":"r","flowTuples":["${ts},10.0.0.1,10.0.0.2,1,2,6,O,B,NX,,,,"]}]}]}}`;
    const times: number[] = [];
    readFlowLogDocument(tuple('1749718803412'), 't', { flow: (f) => times.push(f.timeMs), problem: () => {} });
    readFlowLogDocument(tuple('1749718803'), 't', { flow: (f) => times.push(f.timeMs), problem: () => {} });
    expect(times).toEqual([1749718803412, 1749718803000]);
  });

  it('reads dotted quads exactly as ipaddr.js does, and refuses what it refuses', () => {
    const candidates = [
      '0.0.0.0',
      '255.255.255.255',
      '10.1.2.3',
      '01.2.3.4',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '1..2.3',
      ' 1.2.3.4',
      '1.2.3.4 ',
      '1.2.3.-4',
      'a.b.c.d',
      '',
      '1.2.3.004',
    ];
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      candidates.push([seed & 0xff, (seed >> 8) & 0x1ff, (seed >> 3) & 0xff, seed % 300].join('.'));
    }
    for (const text of candidates) {
      const ours = parseDottedQuad(text);
      const reference = ipaddr.IPv4.isValidFourPartDecimal(text) && !/(^|\.)0\d/.test(text) ? ipaddr.IPv4.parse(text).toByteArray() : undefined;
      expect(ours === undefined ? undefined : [...ours], text).toEqual(reference);
    }
  });

  it('reads IPv6 in every text form Azure could write', () => {
    for (const text of ['2001:db8::1', '::1', 'fe80::1ff:fe23:4567:890a', '2001:0db8:0000:0000:0000:ff00:0042:8329', '::ffff:10.0.0.1']) {
      const parsed = parseAddress(text);
      expect('bytes' in parsed && parsed.family).toBe(6);
    }
  });
});
