import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readTupleHead } from '../../src/azure/fast/tupleReaders.js';
import { FlowLogReader } from '../../src/azure/flowLogReader.js';
import { columnSink } from '../../src/azure/tupleSink.js';
import { FlowColumns } from '../../src/flow/flowColumns.js';
import type { ParseProblem } from '../../src/azure/problems.js';
import { parseAddress } from '../../src/azure/tupleFields.js';
import type { FlowRecord } from '../../src/flow/flowRecord.js';

/**
 * The fast record reader (src/azure/fast/) must be invisible: on any input, a
 * FlowLogReader with it gives exactly the FlowRecords and the problems (reasons, details, contexts)
 * of a FlowLogReader without it (JSON.parse + the record readers). Checked on the samples, the
 * malformed fixtures, generated logs, and seeded random documents (structured variations and raw
 * byte mutations). Deterministic: fixed seeds.
 */

const ROOT = join(import.meta.dirname, '..', '..');
/** More seeds for a longer hunt: NSG2IPFIX_FUZZ_SCALE=50 npx vitest run test/azure/fastFlowLog.test.ts */
const SCALE = Math.max(1, Number(process.env['NSG2IPFIX_FUZZ_SCALE'] ?? 1) || 1);

function jsonFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? jsonFiles(path) : name.endsWith('.json') ? [path] : [];
  });
}

interface Output {
  flows: FlowRecord[];
  problems: ParseProblem[];
  records: number;
  fastRecords: number;
}

/** The fast address reader on its own: the address, or undefined when the tuple would go to the reference reader. */
function fastParseAddress(text: string): { readonly family: 4 | 6; readonly bytes: Uint8Array } | undefined {
  const buf = Buffer.from(`1,${text},${text},1,1,"`, 'utf8');
  const out = new FlowColumns(1);
  const row = out.addRow();
  if (readTupleHead(buf, 0, out, row, new Uint16Array(8)) !== buf.length - 2) return undefined;
  const flow = out.recordAt(row);
  return { family: flow.family, bytes: flow.sourceAddress };
}

function read(bytes: Buffer, fastPath: boolean, chunkSizes?: () => number): Output {
  const flows: FlowRecord[] = [];
  const problems: ParseProblem[] = [];
  const reader = new FlowLogReader('test', { flow: (f) => flows.push(f), problem: (p) => problems.push(p) }, undefined, { fastPath });
  if (chunkSizes === undefined) reader.push(bytes);
  else
    for (let i = 0; i < bytes.length;) {
      const size = Math.max(1, chunkSizes());
      reader.push(bytes.subarray(i, i + size));
      i += size;
    }
  reader.end();
  return { flows, problems, records: reader.recordsRead, fastRecords: reader.fastRecords };
}

/** Every field, the address bytes as lists, the context by value, and the property order. */
function serialize(f: FlowRecord): string {
  const plain = {
    ...f,
    sourceAddress: [...f.sourceAddress],
    destinationAddress: [...f.destinationAddress],
    azure: { ...f.azure },
    keys: Object.keys(f),
    azureKeys: Object.keys(f.azure),
  };
  return JSON.stringify(plain, (_key, value: unknown) => (value === undefined ? '<undefined>' : value));
}

/** Reads `bytes` both ways and fails on the first difference. Returns the fast reading. */
function expectSameAsReference(bytes: Buffer, label: string, chunkSizes?: () => number): Output {
  const reference = read(bytes, false);
  const fast = read(bytes, true, chunkSizes);
  expect(fast.records, `${label}: records`).toBe(reference.records);
  expect(fast.problems, `${label}: problems`).toEqual(reference.problems);
  expect(fast.flows.length, `${label}: flow count`).toBe(reference.flows.length);
  for (let i = 0; i < fast.flows.length; i++) {
    const a = serialize(fast.flows[i]!);
    const b = serialize(reference.flows[i]!);
    if (a !== b) expect(JSON.parse(a), `${label}: flow ${i}`).toEqual(JSON.parse(b));
  }
  return fast;
}

/** sfc32, as the generator script uses. */
function random(seed: number) {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = (seed >>> 0) ^ 0xdeadbeef;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    chance: (p: number) => next() < p,
    pick: <T>(list: readonly T[]): T => list[int(list.length)]!,
  };
}
type Random = ReturnType<typeof random>;

// ---------------------------------------------------------------------------------------------

describe('fast record reader: same output as the JSON.parse path', () => {
  it('on the sample logs, reading every record fast', () => {
    for (const file of jsonFiles(join(ROOT, 'samples'))) {
      const out = expectSameAsReference(readFileSync(file), file);
      expect(out.flows.length).toBeGreaterThan(0);
      expect(out.fastRecords, file).toBe(out.records);
    }
  });

  it('on the malformed fixtures (problems and skip reasons included)', () => {
    for (const file of jsonFiles(join(ROOT, 'test', 'fixtures', 'malformed'))) {
      const bytes = readFileSync(file);
      expectSameAsReference(bytes, file);
      expectSameAsReference(bytes, `${file} in 5-byte chunks`, () => 5);
    }
  });

  it('on generated NSG v2 and VNet logs, reading every record fast', async () => {
    const generator = pathToFileURL(join(ROOT, 'scripts', 'generate-flow-log.mjs')).href;
    const { generateFlowLog } = (await import(generator)) as {
      generateFlowLog: (options: Record<string, unknown>) => Promise<{ tuples: number }>;
    };
    for (const [kind, seed] of [
      ['nsg-v2', 1],
      ['vnet', 2],
      ['nsg-v2', 3],
      ['vnet', 4],
    ] as const) {
      const parts: Buffer[] = [];
      const out = new Writable({
        write(chunk: Buffer, _encoding, done) {
          parts.push(chunk);
          done();
        },
      });
      await generateFlowLog({ tuples: 12_000, kind, seed, ipv6Share: 0.3, tuplesPerRecord: 700, macs: 3, out });
      const bytes = Buffer.concat(parts);
      const rng = random(seed);
      const result = expectSameAsReference(bytes, `${kind} seed ${seed}`, () => 1 + rng.int(64 * 1024));
      expect(result.flows).toHaveLength(12_000);
      expect(result.fastRecords).toBe(result.records);
    }
  });

  it('on seeded random documents: key order, whitespace, CRLF, BOM, escapes, unicode, odd values', () => {
    let records = 0;
    let fastRecords = 0;
    for (let seed = 1; seed <= 400 * SCALE; seed++) {
      const rng = random(seed);
      const bytes = randomDocument(rng);
      const out = expectSameAsReference(bytes, `seed ${seed}: ${bytes.subarray(0, 300).toString('utf8')}`, () => 1 + rng.int(300));
      records += out.records;
      fastRecords += out.fastRecords;
    }
    // Not vacuous: many records take the fast path, and some do not.
    expect(fastRecords / records).toBeGreaterThan(0.25);
    expect(fastRecords).toBeLessThan(records);
  });

  it('on seeded random byte mutations of valid documents', () => {
    const noise = [...'"\\,:{}[]0123456789.-+eE ABCDTUIOtrufalsn']
      .map((c) => c.charCodeAt(0))
      .concat([0x00, 0x0a, 0x0d, 0x09, 0x1f, 0x7f, 0xc3, 0xa9, 0xef, 0xbb, 0xbf, 0xff]);
    for (let seed = 1; seed <= 600 * SCALE; seed++) {
      const rng = random(1_000_000 + seed);
      const bytes = [...randomDocument(rng, { tame: true })];
      const mutations = 1 + rng.int(3);
      for (let m = 0; m < mutations; m++) {
        const at = rng.int(bytes.length);
        const what = rng.int(4);
        if (what === 0) bytes.splice(at, 1);
        else if (what === 1) bytes.splice(at, 0, rng.pick(noise));
        else if (what === 2) bytes[at] = rng.pick(noise);
        else {
          const length = 1 + rng.int(12);
          bytes.splice(rng.int(bytes.length), 0, ...bytes.slice(at, at + length));
        }
      }
      expectSameAsReference(Buffer.from(bytes), `mutation seed ${seed}`, () => 1 + rng.int(200));
    }
  });

  it('on hand-picked edge cases', () => {
    const nsg = (props: string, extra = '') =>
      `{"category":"NetworkSecurityGroupFlowEvent","resourceId":"/N/NSG","macAddress":"000D3AF87856"${extra},"properties":${props}}`;
    const tuples = (...t: string[]) =>
      `{"Version":2,"flows":[{"rule":"R","flows":[{"mac":"000D3AF87856","flowTuples":[${t.map((x) => JSON.stringify(x)).join(',')}]}]}]}`;
    const good = '1749718803,10.1.0.4,203.0.113.50,49731,443,T,O,A,B,,,,';
    const cases: Record<string, string> = {
      plain: nsg(tuples(good)),
      'escaped quote in the rule': nsg(`{"Version":2,"flows":[{"rule":"R\\"x","flows":[{"mac":"m","flowTuples":["${good}"]}]}]}`),
      'unicode escape in the mac': nsg(`{"Version":2,"flows":[{"rule":"R","flows":[{"mac":"\\u0030\\u0030","flowTuples":["${good}"]}]}]}`),
      'escaped category': nsg(tuples(good)).replace('"NetworkSecurityGroupFlowEvent"', '"NetworkSecurity\\u0047roupFlowEvent"'),
      'escaped key': nsg(tuples(good)).replace('"flowTuples"', '"flow\\u0054uples"'),
      'escape inside a tuple': nsg(
        `{"Version":2,"flows":[{"rule":"R","flows":[{"mac":"m","flowTuples":["\\u0031749718803,10.1.0.4,203.0.113.50,49731,443,T,O,A,B,,,,"]}]}]}`,
      ),
      'slash escape inside a tuple': nsg(`{"Version":2,"flows":[{"rule":"R","flows":[{"mac":"m","flowTuples":["${good.replace('443', '4\\/43')}"]}]}]}`),
      'unicode rule name': nsg(tuples(good)).replace('"rule":"R"', '"rule":"Règle_日本_😀"'),
      'properties before category': `{"properties":${tuples(good)},"resourceId":"/N","category":"NetworkSecurityGroupFlowEvent"}`,
      'no category, properties': `{"resourceId":"/N","properties":${tuples(good)}}`,
      'vnet category with properties': `{"category":"FlowLogFlowEvent","properties":${tuples(good)}}`,
      'duplicate category': nsg(tuples(good), ',"category":"FlowLogFlowEvent"'),
      'duplicate resourceId': nsg(tuples(good), ',"resourceId":"/SECOND"'),
      'numeric resourceId': nsg(tuples(good), ',"resourceId":12e3'),
      'null macAddress and no group mac': nsg(tuples(good).replace('"mac":"000D3AF87856",', ''), ',"macAddress":null'),
      'Version after flows': nsg(`{"flows":[{"flows":[{"flowTuples":["${good}"],"mac":"m"}],"rule":"R"}],"Version":2}`),
      'Version 1 with a v2 tuple': nsg(tuples(good).replace('"Version":2', '"Version":1')),
      'Version "2"': nsg(tuples(good).replace('"Version":2', '"Version":"2"')),
      'Version 2.0e0': nsg(tuples(good).replace('"Version":2', '"Version":2.0e0')),
      'Version null, version 1': nsg(tuples('1749718803,10.1.0.4,203.0.113.50,49731,443,T,O,A').replace('"Version":2', '"Version":null,"version":1')),
      'no Version, mixed tuples': nsg(tuples(good, '1749718803,10.1.0.4,203.0.113.50,49731,443,T,O,A').replace('"Version":2,', '')),
      'protocol toString': nsg(tuples(good.replace(',T,', ',toString,'))),
      'ipv6 forms': nsg(
        tuples(
          ...['::', '::1', '1::', 'fe80::1%eth0', '::ffff:10.0.0.1', '2001:DB8::A', '0:0:0:0:0:0:0:1', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8'].map(
            (a) => `1749718803,${a},${a},1,2,T,O,A,B,,,,`,
          ),
        ),
      ),
      '16-digit timestamp': nsg(tuples(good.replace('1749718803', '0001749718803000'))),
      'zero timestamp': nsg(tuples(good.replace('1749718803', '0000'))),
      'huge count': nsg(tuples('1749718803,10.1.0.4,203.0.113.50,49731,443,T,O,A,C,99999999999999999,1,2,3')),
      'leading zeros in port': nsg(tuples(good.replace('49731', '049731'))),
      'whitespace everywhere': spaced(nsg(tuples(good, good))),
      'raw control byte in a tuple': nsg(tuples(good)).replace(',A,B', ',A\u0001,B'),
      'non-ASCII in a tuple': nsg(tuples(good.replace('T', 'Ť'))),
      'deep unknown value': nsg(tuples(good), `,"deep":${'['.repeat(200)}${']'.repeat(200)}`),
      'tuple not a string': nsg(`{"Version":2,"flows":[{"rule":"R","flows":[{"mac":"m","flowTuples":[12,"${good}"]}]}]}`),
      'empty objects': nsg('{"Version":2,"flows":[{},{"rule":"R","flows":[{}]}]}'),
      'vnet plain':
        '{"category":"FlowLogFlowEvent","macAddress":"00-0D-3A","flowLogGUID":"g","targetResourceID":"/T","flowRecords":{"flows":[{"flowGroups":[{"flowTuples":["1749718803412,10.0.0.1,10.0.0.2,1,2,6,O,B,NX,,,,","1749718803413,10.0.0.1,10.0.0.2,1,2,6,O,C,X,1,2,3,4","1749718803414,10.0.0.1,10.0.0.2,1,2,6,O,E,NX,1,2,3,4"],"rule":"r"}],"aclID":"a"}]}}',
      'vnet bad encryption':
        '{"category":"FlowLogFlowEvent","flowRecords":{"flows":[{"aclID":"a","flowGroups":[{"rule":"r","flowTuples":["1749718803412,10.0.0.1,10.0.0.2,1,2,6,O,B,N-X,,,,"]}]}]}}',
      'vnet protocol 256':
        '{"category":"FlowLogFlowEvent","flowRecords":{"flows":[{"aclID":"a","flowGroups":[{"rule":"r","flowTuples":["1749718803412,10.0.0.1,10.0.0.2,1,2,256,O,B,NX,,,,"]}]}]}}',
      'trailing garbage': `${nsg(tuples(good))} x`,
      // Equal context values in both kinds of record: each keeps the key order its reader gives.
      'nsg and vnet contexts of equal values':
        `{"category":"NetworkSecurityGroupFlowEvent","properties":{"Version":2,"flows":[{"rule":"","flows":[{"mac":"","flowTuples":["${good}"]}]}]}},` +
        '{"category":"FlowLogFlowEvent","flowRecords":{"flows":[{"aclID":"","flowGroups":[{"rule":"","flowTuples":["1749718803412,10.0.0.1,10.0.0.2,1,2,6,O,B,,,,,"]}]}]}}',
    };
    for (const [name, record] of Object.entries(cases)) {
      for (const document of [record, `{"records":[${record}]}`, `\ufeff[${record},\r\n${record}]`, `${record}\r\n${record}\n`]) {
        expectSameAsReference(Buffer.from(document, 'utf8'), `${name}: ${document}`);
      }
    }
    expect(read(Buffer.from(cases['plain']!), true).fastRecords).toBe(1);
    expect(read(Buffer.from(cases['properties before category']!), true).fastRecords).toBe(1);
    expect(read(Buffer.from(cases['Version after flows']!), true).fastRecords).toBe(1);
    expect(read(Buffer.from(cases['whitespace everywhere']!), true).fastRecords).toBe(1);
    expect(read(Buffer.from(cases['vnet plain']!), true).fastRecords).toBe(1);
  });
});

describe('fast record reader: contexts', () => {
  it('gives equal rule groups of different records one AzureContext object, and different ones their own', () => {
    const group = (rule: string, mac: string, port: number) =>
      `{"rule":"${rule}","flows":[{"mac":"${mac}","flowTuples":["1749718803,10.1.0.4,203.0.113.50,${port},443,T,O,A,B,,,,"]}]}`;
    const record = (nsg: string, ...groups: string[]) =>
      `{"category":"NetworkSecurityGroupFlowEvent","resourceId":"/N/${nsg}","macAddress":"000D3AF87856","properties":{"Version":2,"flows":[${groups.join(',')}]}}`;
    const document = `{"records":[${[
      record('A', group('R1', 'M1', 1), group('R2', 'M1', 2), group('R1', 'M2', 3)),
      record('A', group('R1', 'M2', 4), group('R1', 'M1', 5), group('R2', 'M1', 6)),
      record('B', group('R1', 'M1', 7)),
    ].join(',')}]}`;
    const columns = new FlowColumns();
    const reader = new FlowLogReader(
      'test',
      columnSink(columns, () => expect.unreachable('no problem expected')),
    );
    reader.push(Buffer.from(document));
    reader.end();
    expect(reader.fastRecords).toBe(3);
    const byPort = new Map(Array.from({ length: columns.length }, (_, i) => [columns.ports[i * 2]!, columns.contexts[i]!]));
    expect(byPort.get(5)).toBe(byPort.get(1));
    expect(byPort.get(6)).toBe(byPort.get(2));
    expect(byPort.get(4)).toBe(byPort.get(3));
    expect(new Set([1, 2, 3].map((port) => byPort.get(port))).size).toBe(3);
    expect(byPort.get(7)).not.toBe(byPort.get(1));
    expect(byPort.get(7)).toMatchObject({ resourceId: '/N/B', rule: 'R1', mac: 'M1' });
    expect(byPort.get(1)).toMatchObject({ resourceId: '/N/A', rule: 'R1', mac: 'M1' });
  });
});

describe('fast address reader', () => {
  it('reads an address only as tupleFields.parseAddress (ipaddr.js for IPv6) reads it', () => {
    const rng = random(99);
    const candidates = [
      '::',
      '::1',
      '1::',
      '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7::',
      '::2:3:4:5:6:7:8',
      '1::2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8:9',
      ':1::',
      '1:::2',
      '12345::',
      'ABCD:ef01::',
      '0.0.0.0',
      '255.255.255.255',
      '01.2.3.4',
      '1.2.3',
      '256.0.0.1',
      '',
    ];
    const alphabet = '0123456789abcdefABCDEF:::::.';
    for (let i = 0; i < 20_000; i++) {
      let text = '';
      const length = rng.int(40);
      for (let k = 0; k < length; k++) text += alphabet[rng.int(alphabet.length)];
      candidates.push(text);
      const groups = Array.from({ length: 1 + rng.int(8) }, () => rng.int(0x10000).toString(16));
      const at = rng.int(groups.length + 1);
      candidates.push(groups.join(':'), [...groups.slice(0, at), '', ...groups.slice(at)].join(':').replace(/^:(?!:)|(?<!:):$/g, '::'));
      candidates.push([rng.int(300), rng.int(300), rng.int(300), rng.int(300)].join('.'));
    }
    let accepted = 0;
    for (const text of candidates) {
      const fast = fastParseAddress(text);
      if (fast === undefined) continue;
      accepted++;
      const reference = parseAddress(text);
      expect('bytes' in reference, text).toBe(true);
      if ('bytes' in reference) {
        expect(fast.family, text).toBe(reference.family);
        expect([...fast.bytes], text).toEqual([...reference.bytes]);
      }
    }
    expect(accepted).toBeGreaterThan(20_000);
  });
});

/** JSON text with whitespace around every structural character (outside strings). */
function spaced(json: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const ch = json[i]!;
    if (inString) {
      out += ch;
      if (ch === '\\') out += json[++i]!;
      else if (ch === '"') inString = false;
    } else if (ch === '"') {
      out += ch;
      inString = true;
    } else if ('{}[],:'.includes(ch)) out += ` \r\n\t${ch} \n`;
    else out += ch;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// random documents

interface Shape {
  /** Only variations that keep the document valid and mostly fast (for byte mutations). */
  tame?: boolean;
}

function randomDocument(rng: Random, shape: Shape = {}): Buffer {
  const count = 1 + rng.int(4);
  const records = Array.from({ length: count }, () => (rng.chance(0.5) ? nsgRecord(rng, shape) : vnetRecord(rng, shape)));
  const ws = () => whitespace(rng);
  let text: string;
  const layout = rng.int(4);
  if (layout === 0) text = `{"records":[${records.map((r) => ws() + r + ws()).join(',')}]${rng.chance(0.3) ? ',"tail":[1,{"x":"]"}]' : ''}}`;
  else if (layout === 1) text = `[${records.join(`,${ws()}`)}]`;
  else if (layout === 2) text = records.join(rng.pick(['\n', '\r\n', ' ', '']));
  else text = `${ws()}{${ws()}"records"${ws()}:${ws()}[${records.join(',')}]${ws()}}${ws()}`;
  if (rng.chance(0.2)) text = `\ufeff${text}`;
  return Buffer.from(text, 'utf8');
}

function whitespace(rng: Random): string {
  if (rng.chance(0.8)) return '';
  return Array.from({ length: 1 + rng.int(3) }, () => rng.pick([' ', '\n', '\r\n', '\t'])).join('');
}

type Member = [key: string, value: string];

/** An object with the members in random order, random whitespace, maybe extra and repeated keys. */
function object(rng: Random, members: Member[], shape: Shape): string {
  const list = [...members];
  if (rng.chance(0.5)) shuffle(rng, list);
  if (rng.chance(0.3)) list.splice(rng.int(list.length + 1), 0, [rng.pick(['extra', 'time', 'operationName', 'systemId', 'x']), jsonValue(rng, 3)]);
  if (!shape.tame && rng.chance(0.05) && list.length > 0) {
    const [key] = rng.pick(list);
    list.push([key, jsonValue(rng, 2)]);
  }
  const ws = () => whitespace(rng);
  return `{${ws()}${list.map(([k, v]) => `${key(rng, k, shape)}${ws()}:${ws()}${v}`).join(`${ws()},${ws()}`)}${ws()}}`;
}

function key(rng: Random, name: string, shape: Shape): string {
  return !shape.tame && rng.chance(0.02) ? escapeSome(rng, name, 0.5) : JSON.stringify(name);
}

function array(rng: Random, items: string[]): string {
  const ws = () => whitespace(rng);
  return `[${ws()}${items.join(`${ws()},${ws()}`)}${ws()}]`;
}

function shuffle<T>(rng: Random, list: T[]): void {
  for (let i = list.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
}

/** A JSON string for `text`, with some characters written as escapes. */
function escapeSome(rng: Random, text: string, share: number): string {
  let out = '"';
  for (const ch of text) {
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '/' && rng.chance(share)) out += '\\/';
    else if (rng.chance(share) && ch.length === 1)
      out += `\\u${ch
        .charCodeAt(0)
        .toString(16)
        .padStart(4, rng.chance(0.5) ? '0' : '0')}`;
    else out += JSON.stringify(ch).slice(1, -1);
  }
  return `${out}"`;
}

function text(rng: Random, shape: Shape, base: string): string {
  if (shape.tame || rng.chance(0.85)) return JSON.stringify(base);
  return rng.pick([
    () => escapeSome(rng, base, 0.3),
    () => JSON.stringify(`${base}_é日😀`),
    () => JSON.stringify(`${base}"\\\n`),
    () => rng.pick(['123', '-1.5e3', 'null', 'true', '{}', '[]']),
  ])();
}

function jsonValue(rng: Random, depth: number): string {
  const kind = rng.int(depth > 0 ? 9 : 6);
  switch (kind) {
    case 0:
      return rng.pick(['0', '-0', '12', '-3.25', '1e9', '2E-3', '6.02e+23', '123456789012345678901234567890']);
    case 1:
      return rng.pick(['true', 'false', 'null']);
    case 2:
      return JSON.stringify(rng.pick(['', 'plain', 'é', '日本', '😀', '\u0000\u001f', 'a"b', 'back\\slash', '/path/x', '\u2028']));
    case 3:
      return escapeSome(rng, rng.pick(['abc', 'FlowLogFlowEvent', 'x/y']), 0.5);
    case 4:
    case 5:
      return JSON.stringify(`v${rng.int(1000)}`);
    case 6:
      return array(
        rng,
        Array.from({ length: rng.int(4) }, () => jsonValue(rng, depth - 1)),
      );
    default:
      return object(
        rng,
        Array.from({ length: rng.int(4) }, (_, i): Member => [`k${i}`, jsonValue(rng, depth - 1)]),
        { tame: true },
      );
  }
}

const MACS = ['000D3AF87856', '00-0D-3A-1B-2C-3D', ''];
const RULES = ['DefaultRule_AllowInternetOutBound', 'UserRule_AllowHttpsInbound', 'DefaultRule_DenyAllInBound', ''];

function ipv4(rng: Random): string {
  return [rng.int(256), rng.int(256), rng.int(256), rng.int(256)].join('.');
}

function ipv6(rng: Random): string {
  const groups = Array.from({ length: 8 }, () => (rng.chance(0.4) ? '0' : rng.int(0x10000).toString(16)));
  const form = rng.int(5);
  if (form === 0) return groups.join(':');
  if (form === 1) return groups.join(':').toUpperCase();
  if (form === 2) return `${groups.slice(0, 2).join(':')}::${groups.slice(5).join(':')}`;
  if (form === 3) return `fd12:3456:789a:${groups[3]}::${groups[7]}`;
  return rng.pick(['::1', '::', '::ffff:10.1.2.3', 'fe80::1%eth0', '2001:db8::1']);
}

function addressPair(rng: Random): [string, string] {
  return rng.chance(0.8) ? [ipv4(rng), ipv4(rng)] : [ipv6(rng), ipv6(rng)];
}

function count(rng: Random): string {
  return rng.pick(['', '0', String(rng.int(100)), String(rng.int(1e9)), String(rng.int(1e6) * 1e6)]);
}

/** A field made wrong in one of the ways Azure or a forwarder could get it wrong. */
function spoil(rng: Random, fields: string[]): void {
  const i = rng.int(fields.length);
  fields[i] = rng.pick([
    '',
    'x',
    '-1',
    '65536',
    '1.5',
    ' 1',
    '00',
    '99999999999999999999',
    'toString',
    '__proto__',
    '1.2.3.4.5',
    '::g',
    'é',
    fields[i]!.toLowerCase(),
  ]);
  if (rng.chance(0.2)) fields.push('extra');
}

function nsgTuple(rng: Random, version: 1 | 2, tame: boolean): string {
  const [src, dst] = addressPair(rng);
  const ts = rng.chance(0.8) ? String(1_749_718_800 + rng.int(3600)) : String(1_749_718_800_000 + rng.int(3_600_000));
  const fields = [ts, src, dst, String(rng.int(65536)), String(rng.int(65536)), rng.pick(['T', 'U']), rng.pick(['I', 'O']), rng.pick(['A', 'D'])];
  if (version === 2) fields.push(rng.pick(['B', 'C', 'E']), count(rng), count(rng), count(rng), count(rng));
  if (!tame && rng.chance(0.04)) spoil(rng, fields);
  return fields.join(',');
}

function vnetTuple(rng: Random, tame: boolean): string {
  const [src, dst] = addressPair(rng);
  const ts = rng.chance(0.8) ? String(1_749_718_800_000 + rng.int(3_600_000)) : String(1_749_718_800 + rng.int(3600));
  const fields = [
    ts,
    src,
    dst,
    String(rng.int(65536)),
    String(rng.int(65536)),
    String(rng.pick([1, 6, 17, 47, 255, 0])),
    rng.pick(['I', 'O']),
    rng.pick(['B', 'C', 'E', 'D']),
    rng.pick(['X', 'NX', 'NX_HW_NOT_SUPPORTED', '', 'NX_LOCAL_DST']),
    count(rng),
    count(rng),
    count(rng),
    count(rng),
  ];
  if (!tame && rng.chance(0.04)) spoil(rng, fields);
  return fields.join(',');
}

function tupleString(rng: Random, tuple: string, shape: Shape): string {
  if (shape.tame || rng.chance(0.98)) return JSON.stringify(tuple);
  return rng.pick([() => escapeSome(rng, tuple, 0.2), () => rng.pick(['12', 'null', '{}', '[]'])])();
}

function nsgRecord(rng: Random, shape: Shape): string {
  const tame = shape.tame === true;
  const version: 1 | 2 = rng.chance(0.8) ? 2 : 1;
  const mixed = !tame && rng.chance(0.03);
  const groups = Array.from({ length: rng.int(4) }, () => {
    const macGroups = Array.from({ length: rng.int(3) }, () => {
      const tuples = Array.from({ length: rng.int(6) }, () => tupleString(rng, nsgTuple(rng, mixed && rng.chance(0.5) ? 1 : version, tame), shape));
      const members: Member[] = [['flowTuples', array(rng, tuples)]];
      if (rng.chance(0.9)) members.push(['mac', text(rng, shape, rng.pick(MACS))]);
      return object(rng, members, shape);
    });
    const members: Member[] = [['flows', array(rng, macGroups)]];
    if (rng.chance(0.95)) members.push(['rule', text(rng, shape, rng.pick(RULES))]);
    return object(rng, members, shape);
  });
  const properties: Member[] = [['flows', array(rng, groups)]];
  const versionText = tame ? String(version) : rng.pick([String(version), String(version), String(version), `"${version}"`, `${version}.0`, 'null', '3']);
  if (tame || rng.chance(0.95)) properties.push([rng.chance(0.9) ? 'Version' : 'version', versionText]);
  const record: Member[] = [
    ['time', JSON.stringify('2025-06-12T09:00:58.4316215Z')],
    ['resourceId', text(rng, shape, '/SUBSCRIPTIONS/0/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG')],
    ['macAddress', text(rng, shape, rng.pick(MACS))],
    ['properties', !tame && rng.chance(0.02) ? rng.pick(['null', '[]', '"x"']) : object(rng, properties, shape)],
  ];
  if (tame || rng.chance(0.95))
    record.push([
      'category',
      tame ? '"NetworkSecurityGroupFlowEvent"' : rng.pick(['"NetworkSecurityGroupFlowEvent"', '"NetworkSecurityGroupFlowEvent"', '"Other"', 'null']),
    ]);
  return object(rng, record, shape);
}

function vnetRecord(rng: Random, shape: Shape): string {
  const tame = shape.tame === true;
  const acls = Array.from({ length: rng.int(3) }, () => {
    const groups = Array.from({ length: rng.int(3) }, () => {
      const tuples = Array.from({ length: rng.int(6) }, () => tupleString(rng, vnetTuple(rng, tame), shape));
      const members: Member[] = [['flowTuples', array(rng, tuples)]];
      if (rng.chance(0.95)) members.push(['rule', text(rng, shape, rng.pick(RULES))]);
      return object(rng, members, shape);
    });
    const members: Member[] = [['flowGroups', array(rng, groups)]];
    if (rng.chance(0.95)) members.push(['aclID', text(rng, shape, rng.pick(['7b2e4d1c-3f5a-4e8b-9c6d-1a2b3c4d5e6f', 'unspecified']))]);
    return object(rng, members, shape);
  });
  const record: Member[] = [
    ['time', JSON.stringify('2025-06-12T09:00:59.8123411Z')],
    ['flowLogVersion', '4'],
    ['flowLogGUID', text(rng, shape, 'e4a7c1d2-5b3f-4a8e-b6c9-0d1f2e3a4b5c')],
    ['macAddress', text(rng, shape, rng.pick(MACS))],
    ['flowRecords', !tame && rng.chance(0.02) ? rng.pick(['null', '[]']) : object(rng, [['flows', array(rng, acls)]], shape)],
  ];
  if (rng.chance(0.8)) record.push(['flowLogResourceID', text(rng, shape, '/SUBSCRIPTIONS/0/FLOWLOGS/DEMO')]);
  if (rng.chance(0.5)) record.push(['targetResourceID', text(rng, shape, '/subscriptions/0/virtualNetworks/demo')]);
  if (tame || rng.chance(0.95))
    record.push(['category', tame ? '"FlowLogFlowEvent"' : rng.pick(['"FlowLogFlowEvent"', '"FlowLogFlowEvent"', '"NetworkSecurityGroupFlowEvent"', '7'])]);
  return object(rng, record, shape);
}
