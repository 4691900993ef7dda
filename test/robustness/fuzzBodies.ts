/**
 * Hostile flow log bodies for the robustness tests: a seeded PRNG and generators of mutated and
 * random inputs (mutated real samples, splices, wrong types, bad tuples, odd encodings, random
 * bytes, odd shapes, huge values). Everything is deterministic for a given seed.
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const SAMPLES_DIR = join(import.meta.dirname, '..', '..', 'samples');
export const MALFORMED_DIR = join(import.meta.dirname, '..', 'fixtures', 'malformed');

export type Rng = () => number;

/** sfc32, seeded: small, fast, reproducible. Returns floats in [0, 1). */
export function makeRng(seed: number): Rng {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = (seed >>> 0) ^ 0xdeadbeef;
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

export const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
export const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)]!;

function jsonFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? jsonFiles(path) : name.endsWith('.json') && name !== 'counts.json' ? [path] : [];
    });
}

/** The real sample logs and the malformed fixtures, as bytes. */
export function seedBodies(): { samples: Buffer[]; malformed: Buffer[] } {
  return { samples: jsonFiles(SAMPLES_DIR).map((f) => readFileSync(f)), malformed: jsonFiles(MALFORMED_DIR).map((f) => readFileSync(f)) };
}

/** The records of the real samples, parsed (for structural mutations). */
export function sampleRecords(samples: readonly Buffer[]): Record<string, unknown>[] {
  return samples.flatMap((s) => (JSON.parse(s.toString('utf8')) as { records: Record<string, unknown>[] }).records);
}

export interface Body {
  readonly kind: string;
  readonly bytes: Buffer;
}

const TOKENS = [
  '{',
  '}',
  '[',
  ']',
  '"',
  ',',
  ':',
  '\\',
  '\\"',
  '\\u',
  '\\ud800',
  'null',
  'true',
  '-',
  '0',
  '1e999',
  '"records"',
  '"records":[',
  ']}',
  '{"records":[',
  '\u0000',
  ' ',
  '\n',
].map((t) => Buffer.from(t, 'utf8'));

const BAD_UTF8 = [
  [0xc3, 0x28],
  [0xa0, 0xa1],
  [0xe2, 0x28, 0xa1],
  [0xf0, 0x28, 0x8c, 0xbc],
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate encoded as UTF-8 (CESU)
  [0xc0, 0xaf], // overlong '/'
  [0xc0, 0xa2], // overlong '"'
  [0xff],
  [0xfe],
  [0x00],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xe2, 0x80], // cut sequence
].map((b) => Buffer.from(b));

function randomRange(rng: Rng, length: number, maxSpan: number): [number, number] {
  const start = int(rng, length + 1);
  const span = 1 + int(rng, Math.max(1, Math.min(maxSpan, length - start)));
  return [start, Math.min(length, start + span)];
}

/** One byte-level mutation: flips, deletions, duplications, insertions, truncation, splices. */
function mutateOnce(rng: Rng, body: Buffer, others: readonly Buffer[]): Buffer {
  if (body.length === 0) return pick(rng, TOKENS);
  switch (int(rng, 9)) {
    case 0: {
      const copy = Buffer.from(body);
      const i = int(rng, copy.length);
      copy[i] = copy[i]! ^ (1 << int(rng, 8));
      return copy;
    }
    case 1: {
      const copy = Buffer.from(body);
      for (let n = 1 + int(rng, 8); n > 0; n--) copy[int(rng, copy.length)] = int(rng, 256);
      return copy;
    }
    case 2: {
      const [a, b] = randomRange(rng, body.length, rng() < 0.8 ? 16 : body.length);
      return Buffer.concat([body.subarray(0, a), body.subarray(b)]);
    }
    case 3: {
      const [a, b] = randomRange(rng, body.length, rng() < 0.7 ? 64 : body.length);
      const at = int(rng, body.length + 1);
      return Buffer.concat([body.subarray(0, at), body.subarray(a, b), body.subarray(at)]);
    }
    case 4: {
      const at = int(rng, body.length + 1);
      return Buffer.concat([body.subarray(0, at), pick(rng, TOKENS), body.subarray(at)]);
    }
    case 5:
      return body.subarray(0, int(rng, body.length + 1));
    case 6: {
      const other = pick(rng, others);
      return Buffer.concat([body.subarray(0, int(rng, body.length + 1)), other.subarray(int(rng, other.length + 1))]);
    }
    case 7: {
      const at = int(rng, body.length + 1);
      return Buffer.concat([body.subarray(0, at), pick(rng, BAD_UTF8), body.subarray(at)]);
    }
    default: {
      // Swap two ranges' bytes (records moved around, a tuple of one file in another).
      const [a, b] = randomRange(rng, body.length, 128);
      const [c, d] = randomRange(rng, body.length, 128);
      const parts = [body.subarray(0, a), body.subarray(c, d), body.subarray(b)];
      return Buffer.concat(parts);
    }
  }
}

export function mutate(rng: Rng, body: Buffer, others: readonly Buffer[], maxOps = 4): Buffer {
  let out = body;
  for (let n = 1 + int(rng, maxOps); n > 0; n--) out = mutateOnce(rng, out, others);
  return out;
}

const HOSTILE_VALUES: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  -0,
  '',
  'x',
  '2',
  '1',
  ' 2 ',
  'NaN',
  '99999999999999999999999',
  '0x1BB',
  [],
  {},
  [[]],
  [{}],
  [null],
  [1, 2, 3],
  ['a,b,c'],
  { flows: [] },
  { flowTuples: 'x' },
  '\u0000',
  '\ud800',
  'é',
];

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Every path to a value inside `value` (objects and arrays), up to `limit` paths. */
function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (out.length > 400) return out;
  const children: [string | number, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : typeof value === 'object' && value !== null
      ? Object.entries(value)
      : [];
  for (const [key, child] of children) {
    out.push([...prefix, key]);
    paths(child, [...prefix, key], out);
  }
  return out;
}

function parentOf(root: unknown, path: readonly (string | number)[]): Record<string | number, unknown> {
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  return node;
}

/** A record with one value replaced, deleted, renamed or retyped. */
function wrongTypes(rng: Rng, records: readonly Record<string, unknown>[]): Record<string, unknown> {
  const record = clone(pick(rng, records));
  for (let n = 1 + int(rng, 3); n > 0; n--) {
    const all = paths(record);
    const path = pick(rng, all);
    const parent = parentOf(record, path);
    const key = path.at(-1)!;
    const op = int(rng, 6);
    if (op === 0 && !Array.isArray(parent)) delete parent[key];
    else if (op === 1 && !Array.isArray(parent) && typeof key === 'string') {
      parent[key.toUpperCase() === key ? key.toLowerCase() : key.toUpperCase()] = parent[key];
      delete parent[key];
    } else if (op === 2 && typeof parent[key] === 'number') parent[key] = String(parent[key]);
    else if (op === 3 && typeof parent[key] === 'string') parent[key] = Number(parent[key]) || 0;
    else if (op === 4) parent[key] = [parent[key]];
    else parent[key] = clone(pick(rng, HOSTILE_VALUES));
  }
  return record;
}

const FIELD_NOISE = [
  '',
  ' ',
  ' 443',
  '443 ',
  '+443',
  '-1',
  '65536',
  '0x1BB',
  '1e3',
  '4.5',
  '\u0664\u0664\u0663', // Arabic-Indic digits
  '\uff14\uff14\uff13', // full-width digits
  '99999999999999999999999',
  '9007199254740993',
  '1.2.3',
  '256.1.1.1',
  '010.0.0.1',
  '::ffff:1.2.3.4',
  '2001:db8::1',
  'fe80::1%eth0',
  't',
  'TCP',
  'X',
  'NX',
  'NX;DROP',
  '\u0000',
  '\ufffd',
  'é',
];

function noisyTuple(rng: Rng, tuple: string): unknown {
  const r = rng();
  if (r < 0.05) return pick(rng, [1, null, true, [], {}, [tuple], { t: tuple }]);
  const fields = tuple.split(',');
  if (r < 0.15) fields.splice(int(rng, fields.length + 1), 0, pick(rng, FIELD_NOISE));
  else if (r < 0.25) fields.splice(int(rng, fields.length), 1);
  else for (let n = 1 + int(rng, 2); n > 0; n--) fields[int(rng, fields.length)] = pick(rng, FIELD_NOISE);
  return fields.join(',');
}

/** A real record whose tuples were made hostile one field at a time (most stay valid). */
function tupleNoise(rng: Rng, records: readonly Record<string, unknown>[]): Record<string, unknown> {
  const record = clone(pick(rng, records));
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (typeof node === 'object' && node !== null) {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'flowTuples' && Array.isArray(value)) {
          (node as Record<string, unknown>)[key] = value.map((t) => (typeof t === 'string' && rng() < 0.4 ? noisyTuple(rng, t) : t));
        } else visit(value);
      }
    }
  };
  visit(record);
  return record;
}

/** Records laid out as one of the accepted shapes (or a near miss). */
function shape(rng: Rng, records: readonly unknown[]): Buffer {
  const json = records.map((r) => JSON.stringify(r));
  switch (int(rng, 10)) {
    case 0:
      return Buffer.from(`[${json.join(',')}]`);
    case 1:
      return Buffer.from(json.join('\n'));
    case 2:
      return Buffer.from(json.join('\r\n') + '\r\n');
    case 3:
      return Buffer.from(`{"operationName":"x","records":[${json.join(',')}],"tail":{"records":[1]}}`);
    case 4:
      return Buffer.from(`{"records":[${json.join(',')}]}{"records":[${json.join(',')}]}`);
    case 5:
      return Buffer.from(`{"records":[${json.join(',')}`); // still being written
    case 6:
      return Buffer.from(`{"records":[${json.join(' , ')} ,]}`); // trailing comma
    case 7:
      return Buffer.from(`{"records":[{"records":[${json.join(',')}]}]}`); // wrapper inside the list
    case 8:
      return Buffer.from(`{ "records" : [ ${json.join(' ,\n ')} ] }`);
    default:
      return Buffer.from(`{"records":[${json.join(',')}]}`);
  }
}

function randomBytes(rng: Rng, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = int(rng, 256);
  return out;
}

function tokenSoup(rng: Rng): Buffer {
  const parts: Buffer[] = [];
  for (let n = int(rng, 200); n > 0; n--) parts.push(pick(rng, TOKENS));
  return Buffer.concat(parts);
}

function encodingVariant(rng: Rng, sample: Buffer): Buffer {
  const text = sample.toString('utf8');
  switch (int(rng, 9)) {
    case 0:
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    case 1: {
      const le = Buffer.from(text, 'utf16le');
      return Buffer.concat([Buffer.from([0xfe, 0xff]), le.swap16()]);
    }
    case 2:
      return Buffer.from(text, 'utf16le'); // no BOM
    case 3:
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), sample]);
    case 4:
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]), sample]); // two BOMs
    case 5:
      return Buffer.concat([Buffer.from([0xef, 0xbb]), sample]); // half a BOM
    case 6: {
      // Invalid UTF-8 inside strings (a rule name, a tuple).
      let out = sample;
      for (let n = 1 + int(rng, 3); n > 0; n--) {
        const quotes: number[] = [];
        for (let i = 0; i < out.length; i++) if (out[i] === 0x22) quotes.push(i);
        const at = quotes.length === 0 ? 0 : pick(rng, quotes) + 1;
        out = Buffer.concat([out.subarray(0, at), pick(rng, BAD_UTF8), out.subarray(at)]);
      }
      return out;
    }
    case 7:
      return Buffer.from(
        text.replace(/,/g, () => (rng() < 0.02 ? ',\u0000' : ',')),
        'utf8',
      ); // NULs
    default:
      return Buffer.from(text.replace(/Rule/g, 'Règle'), 'latin1'); // Latin-1, not UTF-8
  }
}

/**
 * The fuzz corpus: `count` bodies from `seed`. Huge and deeply nested bodies are made apart
 * (see {@link hugeBodies}); these stay small (at most a few tens of kB).
 */
export function* fuzzBodies(seed: number, count: number): Generator<Body> {
  const rng = makeRng(seed);
  const { samples, malformed } = seedBodies();
  const seeds = [...samples, ...malformed.filter((m) => m.length > 0)];
  const records = sampleRecords(samples);
  for (let i = 0; i < count; i++) {
    const r = rng();
    if (r < 0.4) yield { kind: 'mutated-sample', bytes: mutate(rng, pick(rng, seeds), seeds) };
    else if (r < 0.5) yield { kind: 'mutated-shape', bytes: mutate(rng, shape(rng, [pick(rng, records), pick(rng, records)]), seeds, 2) };
    else if (r < 0.62) yield { kind: 'wrong-types', bytes: shape(rng, [wrongTypes(rng, records), ...(rng() < 0.5 ? [pick(rng, records)] : [])]) };
    else if (r < 0.74) yield { kind: 'tuple-noise', bytes: shape(rng, [tupleNoise(rng, records)]) };
    else if (r < 0.82) yield { kind: 'encoding', bytes: encodingVariant(rng, pick(rng, samples)) };
    else if (r < 0.87) yield { kind: 'random-bytes', bytes: randomBytes(rng, int(rng, 4096)) };
    else if (r < 0.92) yield { kind: 'token-soup', bytes: tokenSoup(rng) };
    else if (r < 0.96)
      yield {
        kind: 'shapes',
        bytes: shape(
          rng,
          Array.from({ length: int(rng, 4) }, () => pick(rng, records)),
        ),
      };
    else if (r < 0.98)
      yield {
        kind: 'scalars',
        bytes: Buffer.from(
          pick(rng, ['1', '"x"', 'null', '[1,"a",null,true]', '{"records":[1,2]}', '{"records":"x"}', '{"records":{}}', '{}', '[{}]', '{"records":[[]]}']),
        ),
      };
    else yield { kind: 'whitespace', bytes: Buffer.from(pick(rng, ['', ' ', '\n\t\r ', '\ufeff', '\ufeff  \n'])) };
  }
}

const NSG_HEAD =
  '{"time":"2025-06-12T09:01:00.0000000Z","category":"NetworkSecurityGroupFlowEvent","resourceId":"/SUBSCRIPTIONS/0/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/N","properties":{"Version":2,"flows":[{"rule":"R","flows":[{"mac":"000D3AF87856","flowTuples":[';
const NSG_TAIL = ']}]}]}}';
const GOOD_TUPLE = '1749718800,10.1.0.4,203.0.113.50,44321,443,T,O,A,C,3,100,2,200';

/** A few bodies of several MB each: huge strings, huge numbers, huge whitespace, many tuples. */
export function hugeBodies(): Body[] {
  const big = (n: number, c = 'a'): string => c.repeat(n);
  const MB = 1 << 20;
  const nsg = (tuples: string[]): string => `{"records":[${NSG_HEAD}${tuples.map((t) => JSON.stringify(t)).join(',')}${NSG_TAIL}]}`;
  return [
    { kind: 'huge-tuple-string', bytes: Buffer.from(nsg([GOOD_TUPLE, big(6 * MB), GOOD_TUPLE])) },
    { kind: 'huge-rule-name', bytes: Buffer.from(`{"records":[${NSG_HEAD.replace('"rule":"R"', `"rule":"${big(6 * MB)}"`)}"${GOOD_TUPLE}"${NSG_TAIL}]}`) },
    { kind: 'huge-key', bytes: Buffer.from(`{"records":[${NSG_HEAD.replace('"category"', `"${big(4 * MB)}":1,"category"`)}"${GOOD_TUPLE}"${NSG_TAIL}]}`) },
    { kind: 'huge-number', bytes: Buffer.from(`{"records":[${NSG_HEAD.replace('"Version":2', `"Version":${big(4 * MB, '9')}`)}"${GOOD_TUPLE}"${NSG_TAIL}]}`) },
    { kind: 'huge-whitespace', bytes: Buffer.from(`{"records":[${big(6 * MB, ' ')}${NSG_HEAD}"${GOOD_TUPLE}"${NSG_TAIL}${big(6 * MB, '\n')}]}`) },
    { kind: 'many-tuples', bytes: Buffer.from(nsg(Array.from({ length: 30_000 }, (_, i) => GOOD_TUPLE.replace('44321', String(1024 + (i % 60000)))))) },
    { kind: 'many-records', bytes: Buffer.from(`{"records":[${Array.from({ length: 5_000 }, () => `${NSG_HEAD}"${GOOD_TUPLE}"${NSG_TAIL}`).join(',')}]}`) },
    { kind: 'many-bad-tuples', bytes: Buffer.from(nsg(Array.from({ length: 20_000 }, (_, i) => (i % 2 ? GOOD_TUPLE : 'x,y')))) },
    { kind: 'deep-objects', bytes: Buffer.from(`{"records":[${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}]}`) },
    { kind: 'deep-open-arrays', bytes: Buffer.from(`{"records":[${'['.repeat(100_000)}`) },
    { kind: 'deep-open-objects', bytes: Buffer.from('{"a":'.repeat(100_000)) },
    { kind: 'huge-escaped-string', bytes: Buffer.from(nsg([GOOD_TUPLE, '\\"'.repeat(2 * MB)])) },
  ];
}

/**
 * Bodies whose records hold arrays nested 100,000 deep where the readers describe the offending
 * value (the record itself, `properties`, a rule group, a tuple).
 */
export function deepArrayBodies(depth = 100_000): Body[] {
  const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
  return [
    { kind: 'deep-array-top-level', bytes: Buffer.from(`[${deep}]`) },
    { kind: 'deep-array-record', bytes: Buffer.from(`{"records":[${deep}]}`) },
    { kind: 'deep-array-properties', bytes: Buffer.from(`{"records":[{"category":"NetworkSecurityGroupFlowEvent","properties":${deep}}]}`) },
    {
      kind: 'deep-array-flows',
      bytes: Buffer.from(`{"records":[${NSG_HEAD.replace('"flows":[{"rule"', `"flows":[${deep},{"rule"`)}"${GOOD_TUPLE}"${NSG_TAIL}]}`),
    },
    { kind: 'deep-array-tuple', bytes: Buffer.from(`{"records":[${NSG_HEAD}"${GOOD_TUPLE}",${deep}${NSG_TAIL}]}`) },
  ];
}

export { NSG_HEAD, NSG_TAIL, GOOD_TUPLE };
