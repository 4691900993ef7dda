/**
 * Hostile input through FlowLogReader, the one entry point of every source (files, blobs, event
 * bodies): mutated real samples, splices, wrong types, bad tuples, odd encodings, random bytes,
 * odd shapes, huge values, each fed in random chunk sizes. Deterministic (seeded PRNG).
 *
 * What every body must satisfy:
 * - no exception escapes push() / end();
 * - every problem is well formed (a known reason, unit, skipped count, a short excerpt);
 * - the fast path (default) fed in random chunks gives exactly the flows and problems of the
 *   JSON.parse path fed the whole body (the fast path's own promise: it changes speed only);
 * - nothing silently vanishes: a body yields flows or at least one problem. Empty and
 *   whitespace-only bodies are no exception: they are reported as 'empty-input'. Two kinds of
 *   body may yield nothing:
 *   - one that holds no record at all: an empty records list, complete or still open
 *     (`{"records":[`, `{"records":[]}`, `[]`, `[`), which is what Azure commits before the first
 *     minute of an hour. Keys after a wrapper's records list are ignored by design, so
 *     `{"records":[],"other":...}` counts as empty too;
 *   - one whose records hold no tuple (checked per record, next point);
 * - per record: a record the reader cut that yields neither flows nor problems must hold no
 *   tuple at the places the formats define (properties.flows[].flows[].flowTuples,
 *   flowRecords.flows[].flowGroups[].flowTuples), e.g. a record whose tuple lists are empty: a
 *   record without flows is read, not lost;
 * - memory: heap growth across the run stays under 200 MB (measured after a GC).
 */

import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { FlowLogReader } from '../../src/azure/flowLogReader.js';
import type { ParseProblem, SkipReason } from '../../src/azure/problems.js';
import { DEFAULT_MAX_RECORD_BYTES, RecordSplitter } from '../../src/azure/recordSplitter.js';
import type { FlowRecord } from '../../src/flow/flowRecord.js';
import { runCli } from '../helpers/cli.js';
import { deepArrayBodies, fuzzBodies, GOOD_TUPLE, hugeBodies, int, makeRng, NSG_HEAD, NSG_TAIL, type Body, type Rng } from './fuzzBodies.js';

/** Fixed for reproducible runs; FUZZ_SEED=n explores other corpora (a failure names the body index). */
const SEED = Number(process.env['FUZZ_SEED'] ?? 20_250_612);
const BODIES = 10_500;
const CLI_BODIES = 1_000;

const KNOWN_REASONS = new Set<SkipReason>([
  'invalid-json',
  'truncated-json',
  'empty-input',
  'oversized-record',
  'not-a-record',
  'unknown-record',
  'bad-properties',
  'bad-flows',
  'bad-tuple-type',
  'bad-field-count',
  'bad-timestamp',
  'bad-address',
  'bad-port',
  'bad-protocol',
  'bad-direction',
  'bad-decision',
  'bad-state',
  'bad-encryption',
  'bad-count',
  'ipv6-unsupported',
]);

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** global.gc, exposed at run time if the runner did not (the flag works once V8 is up). */
function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}
const gc = exposeGc();
const collect = (): void => {
  gc?.();
  gc?.();
};

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Everything a FlowRecord says, as one string (taken at once: the fast path pools addresses). */
function flowKey(f: FlowRecord): string {
  const a = f.azure;
  return [
    f.kind,
    f.timeMs,
    f.family,
    hex(f.sourceAddress),
    hex(f.destinationAddress),
    f.sourcePort,
    f.destinationPort,
    f.protocol,
    f.direction,
    f.decision,
    f.state,
    f.packetsForward,
    f.bytesForward,
    f.packetsReverse,
    f.bytesReverse,
    a.rule,
    a.mac,
    a.resourceId,
    a.aclId,
    a.encryption,
    a.flowLogGuid,
  ].join('|');
}

function problemKey(p: ParseProblem): string {
  return [p.reason, p.unit, p.skipped, p.context.recordIndex, p.context.tupleIndex, p.context.rule, p.context.mac, p.detail].join('|');
}

interface Reading {
  flows: string[];
  problems: ParseProblem[];
  recordsRead: number;
  /** Flows per record index (JSON.parse path only: records are parsed one at a time, in order). */
  flowsPerRecord: Map<number, number>;
  threw?: unknown;
}

type Chunking = { kind: 'whole' } | { kind: 'random'; rng: Rng; max: number };

function chunkingFor(rng: Rng, length: number): Chunking {
  const choice = int(rng, 5);
  if (choice === 0) return { kind: 'whole' };
  if (choice === 1 && length <= 8192) return { kind: 'random', rng, max: 1 };
  return { kind: 'random', rng, max: [16, 512, 65_536, 1 << 20][int(rng, 4)]! };
}

function read(bytes: Buffer, fastPath: boolean, chunking: Chunking): Reading {
  const result: Reading = { flows: [], problems: [], recordsRead: 0, flowsPerRecord: new Map() };
  const reader: FlowLogReader = new FlowLogReader(
    'fuzz',
    {
      flow: (f) => {
        result.flows.push(flowKey(f));
        const index = reader.recordsRead - 1;
        result.flowsPerRecord.set(index, (result.flowsPerRecord.get(index) ?? 0) + 1);
      },
      problem: (p) => result.problems.push(p),
    },
    undefined,
    { fastPath },
  );
  try {
    if (chunking.kind === 'whole') reader.push(bytes);
    else {
      for (let i = 0; i < bytes.length;) {
        const size = 1 + int(chunking.rng, chunking.max);
        reader.push(bytes.subarray(i, i + size));
        i += size;
      }
    }
    reader.end();
  } catch (error) {
    result.threw = error;
  }
  result.recordsRead = reader.recordsRead;
  return result;
}

/** Record slices as the splitter cuts them (no fast path), to look at a silent record's bytes. */
function recordSlices(bytes: Buffer): Buffer[] {
  const slices: Buffer[] = [];
  const splitter = new RecordSplitter({ record: (b) => slices.push(Buffer.from(b)), problem: () => {} });
  splitter.push(bytes);
  splitter.end();
  return slices;
}

/** Tuples at the places the NSG and VNet formats define, whatever the category says. */
function definedTuples(record: unknown): number {
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const r = obj(record);
  let n = 0;
  for (const group of list(obj(r['properties'])['flows'])) for (const mac of list(obj(group)['flows'])) n += list(obj(mac)['flowTuples']).length;
  for (const acl of list(obj(r['flowRecords'])['flows'])) for (const group of list(obj(acl)['flowGroups'])) n += list(obj(group)['flowTuples']).length;
  return n;
}

/**
 * A body with no record at all: an empty records list, complete or still being written. For the
 * wrapper, what follows its (first) records list is ignored by design (other top-level keys), so
 * only that list counts; stray commas in an empty list hold nothing either.
 */
function holdsNoRecord(bytes: Buffer): boolean {
  let text = bytes.toString('latin1');
  if (text.startsWith('\xef\xbb\xbf')) text = text.slice(3);
  text = text.replace(/[ \t\r\n]/g, '');
  if (/^(?:\[,*\]?)+$/.test(text)) return true;
  return /^\{(?:"[^"\\]*":(?:"[^"\\]*"|[-+.\w]+),)*"records":\[,*(?:\]|$)/.test(text);
}

function describeBody(body: Body, index: number): string {
  const head = body.bytes.subarray(0, 300);
  return `#${index} ${body.kind} (${body.bytes.length} bytes): ${JSON.stringify(head.toString('latin1'))}`;
}

/** Checks one body; returns what is wrong with it (empty when all is well) and the reading. */
function check(body: Body, index: number, rng: Rng): { errors: string[]; reference: Reading } {
  const where = describeBody(body, index);
  const reference = read(body.bytes, false, { kind: 'whole' });
  if (reference.threw !== undefined)
    return { reference, errors: [`${where}: JSON.parse path threw ${String((reference.threw as Error).stack ?? reference.threw).slice(0, 600)}`] };
  const chunking = chunkingFor(rng, body.bytes.length);
  const fast = read(body.bytes, true, chunking);
  if (fast.threw !== undefined) return { reference, errors: [`${where}: fast path threw ${String((fast.threw as Error).stack ?? fast.threw).slice(0, 600)}`] };
  return { reference, errors: compare(body, where, reference, fast, chunking) };
}

function compare(body: Body, where: string, reference: Reading, fast: Reading, chunking: Chunking): string[] {
  const errors: string[] = [];

  for (const p of reference.problems) {
    if (!KNOWN_REASONS.has(p.reason)) errors.push(`${where}: unknown reason ${p.reason}`);
    if (p.unit !== 'record' && p.unit !== 'tuple') errors.push(`${where}: unit ${String(p.unit)}`);
    if (!(p.skipped === 1 || (p.skipped === 0 && p.reason === 'empty-input'))) errors.push(`${where}: ${p.reason} skipped ${p.skipped}`);
    if (typeof p.detail !== 'string' || p.detail.length === 0) errors.push(`${where}: ${p.reason} without a detail`);
    if ((p.context.excerpt?.length ?? 0) > 200) errors.push(`${where}: ${p.reason} excerpt of ${p.context.excerpt!.length} chars`);
  }

  const chunkText = chunking.kind === 'whole' ? 'whole' : `chunks of 1..${chunking.max}`;
  if (fast.flows.length !== reference.flows.length || fast.flows.some((f, i) => f !== reference.flows[i])) {
    const i = fast.flows.findIndex((f, k) => f !== reference.flows[k]);
    errors.push(
      `${where}: fast path (${chunkText}) gave ${fast.flows.length} flows, JSON.parse path ${reference.flows.length}; first difference at ${i}: ${fast.flows[i]} vs ${reference.flows[i]}`,
    );
  }
  const fastProblems = fast.problems.map(problemKey);
  const referenceProblems = reference.problems.map(problemKey);
  if (fastProblems.join('\n') !== referenceProblems.join('\n')) {
    errors.push(
      `${where}: fast path (${chunkText}) problems ${JSON.stringify(fastProblems.slice(0, 5))} vs JSON.parse path ${JSON.stringify(referenceProblems.slice(0, 5))}`,
    );
  }
  if (fast.recordsRead !== reference.recordsRead) errors.push(`${where}: fast path read ${fast.recordsRead} records, JSON.parse path ${reference.recordsRead}`);

  if (reference.flows.length === 0 && reference.problems.length === 0 && reference.recordsRead === 0 && !holdsNoRecord(body.bytes)) {
    errors.push(`${where}: silently vanished (no flow, no problem, ${reference.recordsRead} records cut)`);
  }
  const withProblems = new Set(reference.problems.map((p) => p.context.recordIndex));
  let slices: Buffer[] | undefined;
  for (let r = 0; r < reference.recordsRead; r++) {
    if ((reference.flowsPerRecord.get(r) ?? 0) > 0 || withProblems.has(r)) continue;
    slices ??= recordSlices(body.bytes);
    const slice = slices[r];
    let tuples: number;
    try {
      tuples = definedTuples(JSON.parse(slice?.toString('utf8') ?? ''));
    } catch (error) {
      errors.push(`${where}: record ${r} is not JSON (${(error as Error).message}) yet yielded no problem`);
      continue;
    }
    if (tuples > 0) errors.push(`${where}: record ${r} holds ${tuples} tuples but yielded no flow and no problem`);
  }
  return errors;
}

describe('hostile input through FlowLogReader', () => {
  it(`${BODIES.toLocaleString('en')} mutated and random bodies in random chunks: no exception, nothing silently vanishes, fast path = JSON.parse path, memory bounded`, () => {
    const rng = makeRng(SEED ^ 0x5a5a);
    collect();
    const heapBefore = process.memoryUsage().heapUsed;
    const failures: string[] = [];
    const kinds = new Map<string, number>();
    const timeByKind = new Map<string, number>();
    let flows = 0;
    let problems = 0;
    let silentAllowed = 0;
    let index = 0;
    for (const body of [...hugeBodies(), ...fuzzBodies(SEED, BODIES)]) {
      kinds.set(body.kind, (kinds.get(body.kind) ?? 0) + 1);
      const started = performance.now();
      const { errors, reference } = check(body, index, rng);
      const ms = performance.now() - started;
      timeByKind.set(body.kind, (timeByKind.get(body.kind) ?? 0) + ms);
      if (errors.length > 0 && failures.length < 40) failures.push(...errors);
      flows += reference.flows.length;
      problems += reference.problems.length;
      if (reference.flows.length === 0 && reference.problems.length === 0) silentAllowed++;
      index++;
    }
    if (process.env['FUZZ_TIMINGS']) console.log([...timeByKind].map(([k, ms]) => `${k} ${Math.round(ms)} ms`).join('\n'));
    collect();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    expect(failures, failures.join('\n\n')).toEqual([]);
    expect(index).toBeGreaterThanOrEqual(10_000);
    // The corpus is what it claims to be: each kind well represented, and both outcomes common.
    for (const kind of [
      'mutated-sample',
      'mutated-shape',
      'wrong-types',
      'tuple-noise',
      'encoding',
      'random-bytes',
      'token-soup',
      'shapes',
      'scalars',
      'whitespace',
    ]) {
      expect(kinds.get(kind) ?? 0, kind).toBeGreaterThan(50);
    }
    expect(flows).toBeGreaterThan(50_000);
    expect(problems).toBeGreaterThan(10_000);
    expect(silentAllowed).toBeLessThan(index / 20);
    expect(heapGrowth).toBeLessThan(200 * 1024 * 1024);
  });

  it('refuses a 300 MB record as oversized-record with its real size, without keeping it, and reads the record after it', () => {
    const head = Buffer.from(`{"records":[${NSG_HEAD}`);
    const tuple = `${JSON.stringify(GOOD_TUPLE)},`;
    const chunk = Buffer.from(tuple.repeat(Math.floor((1 << 20) / tuple.length)));
    const close = Buffer.from(`${JSON.stringify(GOOD_TUPLE)}${NSG_TAIL}`);
    const next = Buffer.from(`,${NSG_HEAD}${JSON.stringify(GOOD_TUPLE.replace('44321', '50000'))}${NSG_TAIL}]}`);

    /** Streams the record chunk by chunk (the same buffer again and again: never materialised). */
    const feed = (limit: number | undefined) => {
      const flows: string[] = [];
      const problems: ParseProblem[] = [];
      const reader = new FlowLogReader('oversized', { flow: (f) => flows.push(flowKey(f)), problem: (p) => problems.push(p) }, limit);
      collect();
      const base = process.memoryUsage().arrayBuffers;
      let peak = 0;
      reader.push(head);
      let recordBytes = head.length - '{"records":['.length;
      while (recordBytes < 300 * 1024 * 1024) {
        reader.push(chunk);
        recordBytes += chunk.length;
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
      }
      reader.push(close);
      recordBytes += close.length;
      reader.push(next);
      reader.end();
      collect();
      return { flows, problems, recordBytes, peak, after: process.memoryUsage().arrayBuffers - base, recordsRead: reader.recordsRead };
    };

    const MB = 1024 * 1024;
    const byDefault = feed(undefined);
    expect(byDefault.recordBytes).toBeGreaterThan(300 * MB);
    expect(byDefault.problems.map((p) => [p.reason, p.unit, p.skipped, p.context.recordIndex])).toEqual([['oversized-record', 'record', 1, 0]]);
    expect(byDefault.problems[0]!.detail).toBe(`record of ${byDefault.recordBytes} bytes exceeds the ${DEFAULT_MAX_RECORD_BYTES}-byte limit`);
    // The record after it still goes out (record index 1).
    expect(byDefault.flows).toHaveLength(1);
    expect(byDefault.flows[0]).toContain('|50000|443|');
    // At most the limit is ever buffered (a whole 300 MB record would be more), and it is let go.
    expect(byDefault.peak).toBeLessThan(DEFAULT_MAX_RECORD_BYTES + 16 * MB);
    if (gc !== undefined) expect(byDefault.after).toBeLessThan(32 * MB);

    // With a small limit the same record costs no more than that limit.
    const small = feed(16 * MB);
    expect(small.problems.map((p) => p.reason)).toEqual(['oversized-record']);
    expect(small.problems[0]!.detail).toBe(`record of ${small.recordBytes} bytes exceeds the ${16 * MB}-byte limit`);
    expect(small.flows).toHaveLength(1);
    expect(small.peak).toBeLessThan(16 * MB + 8 * MB);
  });

  it('reads a top-level key with escapes the same whatever the chunk boundaries', () => {
    // Found by this fuzz: with the key cut into 1-byte chunks, `rec\"ords` was taken for the
    // "records" wrapper (the escaped bytes were not counted), read whole it was not.
    const record = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'malformed', 'single-record.json'), 'utf8').trim();
    for (const key of ['rec\\"ords', 'records\\\\', 're\\u0063ords', 'rec\\nords', '\\"records']) {
      const body = Buffer.from(`{"${key}":[${record},${record}]}`);
      const whole = read(body, false, { kind: 'whole' });
      for (const max of [1, 2, 3, 5]) {
        const chunked = read(body, true, { kind: 'random', rng: makeRng(max), max });
        expect({ key, max, flows: chunked.flows, problems: chunked.problems.map(problemKey) }).toEqual({
          key,
          max,
          flows: whole.flows,
          problems: whole.problems.map(problemKey),
        });
      }
    }
  });

  it('counts records holding arrays nested 100,000 deep instead of throwing', () => {
    const failures: string[] = [];
    for (const [i, body] of deepArrayBodies().entries()) {
      const r = read(body.bytes, true, { kind: 'whole' });
      if (r.threw !== undefined)
        failures.push(
          `${body.kind}: ${String((r.threw as Error).stack ?? r.threw)
            .split('\n')
            .slice(0, 3)
            .join(' / ')}`,
        );
      else if (r.problems.length === 0) failures.push(`${describeBody(body, i)}: no problem`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });

  it('replays a file with a 100,000-deep array record: the record is counted, the rest of the file still goes out, exit 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsg2ipfix-deep-'));
    tempDirs.push(dir);
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    writeFileSync(
      join(dir, 'PT1H.json'),
      `{"records":[${NSG_HEAD}"${GOOD_TUPLE}"${NSG_TAIL},${deep},${NSG_HEAD}"${GOOD_TUPLE.replace('44321', '50001')}"${NSG_TAIL}]}`,
    );
    const summaryPath = join(dir, 'summary.json');
    const result = await runCli(['replay', dir, '--pcap', join(dir, 'out.pcap'), '--summary-json', summaryPath, '-q'], { timeoutMs: 60_000 });
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as { tuples: number; skippedRecords: Record<string, number> };
    expect(summary.tuples).toBe(2);
    expect(summary.skippedRecords).toEqual({ 'not-a-record': 1 });
  });

  it('keeps problem details short when a tuple field is huge (they become log lines)', async () => {
    const huge = '7'.repeat(1 << 20);
    const fields = GOOD_TUPLE.split(',');
    const bodies = [0, 1, 3, 9].map((field) => {
      const tuple = fields.map((f, i) => (i === field ? (field === 1 ? `10.${huge}` : `x${huge}`) : f)).join(',');
      return `{"records":[${NSG_HEAD}${JSON.stringify(tuple)}${NSG_TAIL}]}`;
    });
    const details: { reason: string; chars: number }[] = [];
    for (const body of bodies) {
      const r = read(Buffer.from(body), true, { kind: 'whole' });
      expect(r.threw).toBeUndefined();
      expect(r.problems).toHaveLength(1);
      details.push({ reason: r.problems[0]!.reason, chars: r.problems[0]!.detail.length });
    }
    // Through the CLI: the first problems of each reason are logged, one JSON line each.
    const dir = mkdtempSync(join(tmpdir(), 'nsg2ipfix-hugefield-'));
    tempDirs.push(dir);
    bodies.forEach((body, i) => writeFileSync(join(dir, `huge-${i}.json`), body));
    const result = await runCli(['replay', dir, '--pcap', join(dir, 'out.pcap'), '-q'], { timeoutMs: 60_000 });
    expect(result.code, result.stderr.slice(0, 2000)).toBe(0);
    const longestLine = Math.max(...result.stderr.split('\n').map((line) => line.length));
    expect(
      details.filter((d) => d.chars > 1000),
      JSON.stringify(details),
    ).toEqual([]);
    expect(longestLine).toBeLessThan(16 * 1024);
  });

  it(`replays ${CLI_BODIES.toLocaleString('en')} mutated bodies through the CLI: exit 0, and the summary's counts add up`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsg2ipfix-fuzz-'));
    tempDirs.push(dir);
    const input = join(dir, 'in');
    const expected = { tuples: 0, azureRecords: 0, skippedRecords: new Map<string, number>(), skippedTuples: new Map<string, number>() };
    const mutated = new Set(['mutated-sample', 'mutated-shape', 'wrong-types', 'tuple-noise', 'encoding']);
    let written = 0;
    for (const body of fuzzBodies(SEED + 1, CLI_BODIES * 3)) {
      if (!mutated.has(body.kind)) continue;
      const r = read(body.bytes, false, { kind: 'whole' });
      expect(r.threw).toBeUndefined();
      expect(r.flows.length + r.problems.length > 0 || r.recordsRead > 0 || holdsNoRecord(body.bytes)).toBe(true);
      expected.tuples += r.flows.length;
      expected.azureRecords += r.recordsRead;
      for (const p of r.problems) {
        const counts = p.unit === 'tuple' ? expected.skippedTuples : expected.skippedRecords;
        if (p.skipped > 0) counts.set(p.reason, (counts.get(p.reason) ?? 0) + p.skipped);
      }
      const sub = join(input, String(written % 10));
      if (written < 10) mkdirSync(sub, { recursive: true });
      writeFileSync(join(sub, `body-${String(written).padStart(4, '0')}.json`), body.bytes);
      if (++written === CLI_BODIES) break;
    }
    expect(written).toBe(CLI_BODIES);

    const pcap = join(dir, 'out.pcap');
    const summaryPath = join(dir, 'summary.json');
    const result = await runCli(['replay', input, '--pcap', pcap, '--summary-json', summaryPath, '-q', '--log-level', 'warn'], { timeoutMs: 60_000 });
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as {
      files: number;
      azureRecords: number;
      tuples: number;
      exportedRecords: number;
      skippedRecords: Record<string, number>;
      skippedTuples: Record<string, number>;
    };
    const nonZero = (counts: Record<string, number>) => Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
    expect(summary.files).toBe(CLI_BODIES);
    expect(summary.tuples).toBe(expected.tuples);
    expect(summary.azureRecords).toBe(expected.azureRecords);
    expect(nonZero(summary.skippedRecords)).toEqual(Object.fromEntries(expected.skippedRecords));
    expect(nonZero(summary.skippedTuples)).toEqual(Object.fromEntries(expected.skippedTuples));
    expect(summary.exportedRecords).toBeGreaterThanOrEqual(summary.tuples);
    expect(statSync(pcap).size).toBeGreaterThan(24);
  });
});
