#!/usr/bin/env node
/**
 * Throughput benchmark: how far is a full replay from the cost of just parsing the JSON?
 *
 *   npm run bench [-- --tuples 1000000] [--runs 1] [--json results.json] [--keep] [--profile]
 *   npm run bench -- --live [...]   the live-follow benchmark of `blob` instead (scripts/bench-live.mjs)
 *
 * Generates (or reuses from os.tmpdir()/nsg2ipfix-bench/) a synthetic NSG v2 flow log, then
 * measures in one go, each in its own child process so they do not share a heap or a JIT:
 *
 *   a. bare JSON.parse        `node -e` reading the file and JSON.parse-ing it, nothing else
 *   b. parse                  the file read by the replay's file source (dist readFlowLogFile) into FlowColumns
 *   c. encode only            flows parsed and enriched up front (FlowColumns), then only IpfixEncoder.addRows/flush timed
 *   d. end-to-end, unpaced    the real CLI (`replay --max-pps 0`) to a UDP receiver (a separate
 *                             process at nice 19 that only counts)
 *   e. end-to-end, default    the same at the default pacing (no --max-pps), once
 *   f. big file, unpaced      the replay of a ~1 GiB file of the same kind, once, for its peak RSS
 *   g. / h. small records     a and d again on the same number of tuples in records of 50 tuples
 *                             (3 rules x 4 NICs each: quiet VMs, the common shape of real blobs),
 *                             where the cost per record and per rule group shows
 *   i. report                 `report --output json` on the file of d, run right after d in every
 *                             run (alternating), so the two compare on the same machine state
 *   j. report, big file       the report of f's file, once, for its peak RSS
 *   k. names                  d with `--enrich-file` of 10,000 NICs (default --enrich-fields: the
 *                             names of both endpoints in every data record), right after d
 *   l. names, options only    k with `--enrich-fields ''`: the same lookups, the names only in the
 *                             interface options records (nfdump %inam, Wireshark), no strings per record
 *
 * Wall times are from spawn to exit (node start-up included, as for a user); in-child times come
 * from performance.now() inside the child (JSON.parse alone, the streaming loop, the encode loop,
 * the CLI's own summary elapsedMs). Peak RSS comes from `/usr/bin/time -f %M` when available, else
 * from polling /proc/PID/status VmHWM, else it is not measured.
 *
 * The table goes to stdout, progress to stderr. Only node built-ins are used. dist/ is rebuilt
 * (`npm run build`) first when it is missing or older than src/ (NSG2IPFIX_BENCH_NO_BUILD=1:
 * never rebuild, just warn; the smoke test uses it so a test run never compiles dist/).
 *
 * Options:
 *   --tuples N    flow tuples in the synthetic file (default 1000000)
 *   --runs N      repeat stages a-d N times; report the median and the best (default 3)
 *   --big-bytes N also replay a file of about N bytes (default 1 GiB, generated once) for peak RSS
 *   --no-big      skip that
 *   --receiver-nice N  CPU priority of the receiving process (default 19: it must not take the
 *                 exporter's CPU; 0 measures with a collector competing for the cores)
 *   --json FILE   also write the results as JSON
 *   --keep        keep this run's scratch directory (summary JSON, child logs, CPU profile);
 *                 the generated input is a cache and is always kept for the next run
 *   --profile     also run the unpaced replay once under `node --cpu-prof` and print the top
 *                 self-time functions and files (not counted in the timings)
 *   --top N       rows in the profile listing (default 10)
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(ROOT, 'src');
const DIST = path.join(ROOT, 'dist');
const CLI = path.join(ROOT, 'bin', 'nsg2ipfix.js');
const GENERATOR = path.join(ROOT, 'scripts', 'generate-flow-log.mjs');
const CACHE_DIR = path.join(os.tmpdir(), 'nsg2ipfix-bench');
const NODE = process.execPath;
const RECV_BUFFER_BYTES = 64 << 20;
/** NICs in the enrichment file of stage i: an estate of this size, the bench's own NICs among them. */
const NAMED_NICS = 10_000;

/**
 * An enrichment file naming the bench file's NICs (scripts/generate-flow-log.mjs: 000D3A1B2C00 +
 * i * 0x111 at 10.1.0.(4 + i)), the VNet peers it writes (10.1.1-8.x) and enough others to make
 * `nics` NICs: most internet peers stay unnamed, as they would.
 */
function ensureNamesFile(nics) {
  const file = path.join(CACHE_DIR, `names-${nics}.json`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const interfaces = [];
  for (let i = 0; i < nics; i++) {
    const own = i < 4;
    const mac = own ? '000D3A' + (0x1b2c00 + i * 0x111).toString(16).toUpperCase().padStart(6, '0') : (0x7c1e52000000 + i).toString(16).toUpperCase();
    const ip = own ? `10.1.0.${4 + i}` : `10.${1 + Math.floor((i - 4) / 1600)}.${1 + (Math.floor((i - 4) / 200) % 8)}.${4 + ((i - 4) % 200)}`;
    interfaces.push({
      mac,
      ips: [ip],
      vm: `vm-bench-${String(i).padStart(5, '0')}`,
      nic: `vm-bench-${String(i).padStart(5, '0')}-nic0`,
      resourceGroup: `rg-bench-${i % 40}`,
      subscription: '00000000-0000-0000-0000-000000000000',
      vnet: `vnet-bench-${i % 8}`,
      subnet: `subnet-${i % 32}`,
    });
  }
  fs.writeFileSync(file, JSON.stringify({ interfaces }));
  return file;
}

/** Tuples a record in the small-records stages (g, h). */
const SMALL_RECORD_TUPLES = 50;

const USAGE = `usage: npm run bench -- [--tuples N] [--runs N] [--big-bytes N | --no-big] [--receiver-nice N] [--json FILE] [--keep] [--profile] [--top N]`;

const log = (line) => process.stderr.write(`bench: ${line}\n`);

// ---------------------------------------------------------------------------------------------
// options

function parseArgs(argv) {
  const opts = { tuples: 1_000_000, runs: 3, json: undefined, keep: false, profile: false, top: 10, bigBytes: 1 << 30, receiverNice: 19 };
  const positiveInt = (name, text) => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} needs a positive whole number, got '${text}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const next = () => {
      if (value !== undefined) return value;
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--tuples':
        opts.tuples = positiveInt(arg, next());
        break;
      case '--runs':
        opts.runs = positiveInt(arg, next());
        break;
      case '--big-bytes':
        opts.bigBytes = positiveInt(arg, next());
        break;
      case '--no-big':
        opts.bigBytes = 0;
        break;
      case '--receiver-nice':
        opts.receiverNice = Number(next());
        break;
      case '--top':
        opts.top = positiveInt(arg, next());
        break;
      case '--json':
        opts.json = path.resolve(next());
        break;
      case '--keep':
        opts.keep = true;
        break;
      case '--profile':
        opts.profile = true;
        break;
      case '--help':
      case '-h':
        return null;
      default:
        throw new Error(`unknown option ${argv[i]}`);
    }
  }
  return opts;
}

// ---------------------------------------------------------------------------------------------
// build

/** Why dist/ must be rebuilt, or undefined when every src/*.ts has an up-to-date dist/*.js. */
function staleReason() {
  if (!fs.existsSync(DIST)) return 'dist/ is missing';
  for (const rel of ['cli.js', 'azure/flowLogReader.js', 'ipfix/encoder.js']) {
    if (!fs.existsSync(path.join(DIST, rel))) return `dist/${rel} is missing`;
  }
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        const reason = walk(full);
        if (reason) return reason;
        continue;
      }
      if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
      const rel = path.relative(SRC, full);
      const out = path.join(DIST, rel.replace(/\.ts$/, '.js'));
      let outStat;
      try {
        outStat = fs.statSync(out);
      } catch {
        return `dist/${path.relative(DIST, out)} is missing`;
      }
      if (fs.statSync(full).mtimeMs > outStat.mtimeMs) return `src/${rel} is newer than dist/`;
    }
    return undefined;
  };
  return walk(SRC);
}

function ensureBuild() {
  const reason = staleReason();
  if (reason === undefined) {
    log('dist/ is up to date');
    return;
  }
  if (process.env.NSG2IPFIX_BENCH_NO_BUILD === '1') {
    if (!fs.existsSync(path.join(DIST, 'cli.js'))) throw new Error(`${reason}, and NSG2IPFIX_BENCH_NO_BUILD=1 forbids building it`);
    log(`warning: ${reason}; not rebuilding (NSG2IPFIX_BENCH_NO_BUILD=1)`);
    return;
  }
  log(`${reason}: running npm run build`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (result.error) throw new Error(`cannot run npm run build: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`npm run build failed (exit ${result.status}); fix the build and run again`);
  const still = staleReason();
  if (still !== undefined) log(`warning: after the build, ${still} (was src/ edited meanwhile?)`);
}

// ---------------------------------------------------------------------------------------------
// input

async function ensureInput(tuples, overrides = {}) {
  const params = { kind: 'nsg-v2', tuples, ipv6Share: 0.05, tuplesPerRecord: 2000, seed: 1, start: '2025-06-12T09:00:00Z', macs: 4, ...overrides };
  const generatorHash = createHash('sha256').update(fs.readFileSync(GENERATOR)).digest('hex').slice(0, 16);
  const key = createHash('sha256').update(JSON.stringify({ params, generatorHash })).digest('hex').slice(0, 12);
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const file = path.join(CACHE_DIR, `nsg-v2-${tuples}${params.tuplesPerRecord === 2000 ? '' : `-r${params.tuplesPerRecord}`}-${key}.json`);
  const metaFile = `${file}.meta`;
  try {
    const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
    if (meta.key === key && fs.statSync(file).size === meta.result.bytes) {
      log(`reusing ${file} (${(meta.result.bytes / 1e6).toFixed(1)} MB)`);
      return { file, params, ...meta.result };
    }
  } catch {
    // no usable cache entry: generate
  }
  const { generateFlowLog } = await import(pathToFileURL(GENERATOR).href);
  const tmp = `${file}.tmp-${process.pid}`;
  log(`generating ${tuples} tuples into ${file}`);
  let result;
  try {
    result = await generateFlowLog({
      ...params,
      out: tmp,
      progress: (p) =>
        log(`  generate ${((100 * p.tuples) / p.totalTuples).toFixed(0).padStart(3)}%  ${(p.bytes / 1e6).toFixed(1)} MB  ${(p.elapsedMs / 1000).toFixed(1)} s`),
    });
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  const kept = { tuples: result.tuples, records: result.records, bytes: result.bytes, stateCounts: result.stateCounts };
  fs.writeFileSync(metaFile, `${JSON.stringify({ key, params, generatorHash, result: kept }, null, 2)}\n`);
  log(`generated ${(result.bytes / 1e6).toFixed(1)} MB in ${(result.elapsedMs / 1000).toFixed(1)} s`);
  return { file, params, ...kept };
}

// ---------------------------------------------------------------------------------------------
// child processes and peak RSS

/** How peak RSS is measured: GNU time if it works, else /proc polling, else not at all. */
function detectRssMethod(scratch) {
  const which = spawnSync('which', ['time'], { encoding: 'utf8' });
  const timePath = which.status === 0 ? which.stdout.trim().split('\n')[0] : '';
  if (timePath) {
    const out = path.join(scratch, 'time-probe.txt');
    const probe = spawnSync(timePath, ['-f', '%M', '-o', out, NODE, '-e', '0'], { stdio: 'ignore' });
    try {
      if (probe.status === 0 && /^\d+\s*$/m.test(fs.readFileSync(out, 'utf8'))) return { kind: 'time', timePath, label: `${timePath} -f %M` };
    } catch {
      // fall through
    }
  }
  if (process.platform === 'linux' && fs.existsSync(`/proc/${process.pid}/status`)) return { kind: 'proc', label: '/proc/PID/status VmHWM (polled)' };
  return { kind: 'none', label: 'not measured (no GNU time, no /proc)' };
}

let rssMethod = { kind: 'none', label: 'not measured' };
let childSeq = 0;

/**
 * Spawns `node ...args` and resolves when it exits: wall time from spawn to exit, exit status,
 * stdout, stderr, peak RSS in KiB (or undefined).
 */
function runNode(args, scratch) {
  const seq = ++childSeq;
  const rssFile = path.join(scratch, `rss-${seq}.txt`);
  let command = NODE;
  let argv = args;
  if (rssMethod.kind === 'time') {
    command = rssMethod.timePath;
    argv = ['-f', '%M', '-o', rssFile, NODE, ...args];
  }
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let exitedAt;
    let status;
    let polledKb;
    let poll;
    const stdout = [];
    const stderr = [];
    child.stdout.on('data', (b) => stdout.push(b));
    child.stderr.on('data', (b) => stderr.push(b));
    if (rssMethod.kind === 'proc') {
      const read = () => {
        try {
          const m = /VmHWM:\s+(\d+)\s*kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m) polledKb = Math.max(polledKb ?? 0, Number(m[1]));
        } catch {
          // exited between polls
        }
      };
      poll = setInterval(read, 20);
      read();
    }
    child.on('error', (error) => {
      clearInterval(poll);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      exitedAt = performance.now();
      status = { code, signal };
      clearInterval(poll);
    });
    child.on('close', () => {
      let peakRssKb = polledKb;
      if (rssMethod.kind === 'time') {
        try {
          const lines = fs.readFileSync(rssFile, 'utf8').trim().split('\n');
          const n = Number(lines[lines.length - 1]);
          if (Number.isFinite(n)) peakRssKb = n;
        } catch {
          // no figure
        }
      }
      resolve({
        wallMs: (exitedAt ?? performance.now()) - started,
        code: status?.code ?? null,
        signal: status?.signal ?? null,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        peakRssKb,
      });
    });
  });
}

function failed(label, result) {
  const tail = (result.stderr || result.stdout).trim().split('\n').slice(-15).join('\n');
  return new Error(`${label}: child exited with ${result.signal ?? `code ${result.code}`}\n${tail}`);
}

/** Last stdout line of a child as JSON. */
function childJson(label, result) {
  if (result.code !== 0) throw failed(label, result);
  const lines = result.stdout.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1]);
  } catch {
    throw new Error(`${label}: no JSON result on stdout:\n${result.stdout.slice(-2000)}\n${result.stderr.slice(-2000)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// stage children (the file path is argv[1] of `node -e`)

const BARE_PARSE = `
const fs = require('node:fs');
const file = process.argv[1];
const t0 = performance.now();
const text = fs.readFileSync(file, 'utf8');
const t1 = performance.now();
const doc = JSON.parse(text);
const t2 = performance.now();
// touch the result so the parse cannot be dropped
const records = doc.records.length;
const last = doc.records[records - 1];
if (typeof last !== 'object' || last === null) throw new Error('unexpected document');
process.stdout.write(JSON.stringify({ readMs: t1 - t0, parseMs: t2 - t1, records, chars: text.length }) + '\\n');
`;

const readerPreamble = () => `
import { readFlowLogFile } from ${JSON.stringify(pathToFileURL(path.join(DIST, 'sources', 'files.js')).href)};
const file = process.argv[1];
let problems = 0;
let skipped = 0;
// As the replay reads: the file source's batches of FlowColumns.
async function readAll(onBatch) {
  let azureRecords = 0;
  for await (const batch of readFlowLogFile(file, (p) => { problems++; skipped += p.skipped ?? 0; })) {
    azureRecords += batch.azureRecords;
    onBatch(batch.records);
  }
  return azureRecords;
}
`;

const PARSE_TO_RECORDS = () => `${readerPreamble()}
let tuples = 0;
let ipv6 = 0;
const stateNames = ['none', 'begin', 'continue', 'end', 'deny'];
const states = { begin: 0, continue: 0, end: 0, deny: 0, none: 0 };
let denied = 0;
const t0 = performance.now();
const azureRecords = await readAll((flows) => {
  tuples += flows.length;
  for (let i = 0; i < flows.length; i++) {
    const flags = flows.flags[i];
    if (flags & 4) ipv6++;
    if (flags & 2) denied++;
    states[stateNames[flows.states[i]]]++;
  }
});
const t1 = performance.now();
process.stdout.write(JSON.stringify({ ms: t1 - t0, tuples, ipv6, states, denied, azureRecords, problems, skipped }) + '\\n');
`;

const ENCODE_ONLY = () => `
import { readFileSync } from 'node:fs';
import { FlowLogReader } from ${JSON.stringify(pathToFileURL(path.join(DIST, 'azure', 'flowLogReader.js')).href)};
import { columnSink } from ${JSON.stringify(pathToFileURL(path.join(DIST, 'azure', 'tupleSink.js')).href)};
import { FlowEnricher } from ${JSON.stringify(pathToFileURL(path.join(DIST, 'enrich', 'flowEnricher.js')).href)};
import { IpfixEncoder } from ${JSON.stringify(pathToFileURL(path.join(DIST, 'ipfix', 'encoder.js')).href)};
import { FlowColumns } from ${JSON.stringify(pathToFileURL(path.join(DIST, 'flow', 'flowColumns.js')).href)};
const file = process.argv[1];
let problems = 0;
const flows = new FlowColumns();
const p0 = performance.now();
const reader = new FlowLogReader(file, columnSink(flows, () => problems++));
reader.push(readFileSync(file));
reader.end();
new FlowEnricher({ flowTableSize: 262144 }).enrich(flows, 0, flows.length);
const p1 = performance.now();
let bytes = 0;
let messages = 0;
const enc = new IpfixEncoder({}, (message) => { bytes += message.bytes.length; messages++; });
const now = Date.now();
const t0 = performance.now();
// As the pipeline encodes: steps of 2048 rows, message buffers reused after each.
for (let from = 0; from < flows.length; from += 2048) {
  enc.addRows(flows, from, Math.min(flows.length, from + 2048), now);
  enc.reuseBuffers();
}
enc.flush(now);
const t1 = performance.now();
process.stdout.write(JSON.stringify({
  parseMs: p1 - p0, ms: t1 - t0, tuples: flows.length, problems,
  flowRecords: enc.counters.flowRecords, optionsRecords: enc.counters.optionsRecords,
  messages, bytes, declined: Object.fromEntries(enc.declined),
}) + '\\n');
`;

// ---------------------------------------------------------------------------------------------
// UDP receiver

/**
 * The collector stand-in: a separate process at the lowest CPU priority that only counts what
 * arrives. In this process, or at normal priority, its ~10 us of work per datagram would compete
 * with the exporter for the same cores and be measured as exporter time; at nice 19 it drains its
 * socket whenever a core is free (the unpaced stage may overflow its buffer: that is reported).
 */
const RECEIVER = `
const dgram = require('node:dgram');
const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: Number(process.argv[1]) });
const counts = { datagrams: 0, bytes: 0, lastAt: 0 };
socket.on('message', (msg) => { counts.datagrams++; counts.bytes += msg.length; counts.lastAt = Date.now(); });
socket.bind(0, '127.0.0.1', () => process.send({ port: socket.address().port, recvBufferSize: socket.getRecvBufferSize() }));
process.on('message', (m) => {
  if (m === 'reset') { counts.datagrams = 0; counts.bytes = 0; counts.lastAt = 0; }
  process.send({ counts });
});
process.on('disconnect', () => process.exit(0));
`;

async function startReceiver(nice) {
  const child = spawn(NODE, ['-e', RECEIVER, String(RECV_BUFFER_BYTES)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    os.setPriority(child.pid, nice);
  } catch {
    log('warning: could not lower the receiver priority; it competes with the exporter for CPU');
  }
  const replies = [];
  const waiters = [];
  child.on('message', (m) => {
    const waiter = waiters.shift();
    if (waiter) waiter(m);
    else replies.push(m);
  });
  const next = () => (replies.length > 0 ? Promise.resolve(replies.shift()) : new Promise((resolve) => waiters.push(resolve)));
  const ready = await Promise.race([next(), new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`receiver exited (${code})`))))]);
  const counts = { datagrams: 0, bytes: 0, lastAt: 0 };
  const ask = async (what) => {
    child.send(what);
    Object.assign(counts, (await next()).counts);
    return counts;
  };
  return {
    port: ready.port,
    recvBufferSize: ready.recvBufferSize,
    counts,
    reset: () => ask('reset'),
    /** Waits until nothing has arrived for `quietMs` (at most `maxMs`): drains what is queued. */
    async settle(quietMs = 250, maxMs = 5000) {
      const began = Date.now();
      for (;;) {
        await new Promise((r) => setTimeout(r, 50));
        const { lastAt } = await ask('counts');
        const now = Date.now();
        if (now - Math.max(lastAt, began) >= quietMs || now - began >= maxMs) return;
      }
    },
    close: async () => {
      child.disconnect();
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// stages

async function stageBareParse(input, scratch) {
  const result = await runNode(['-e', BARE_PARSE, input.file], scratch);
  const out = childJson('bare JSON.parse', result);
  return { wallMs: result.wallMs, childMs: out.parseMs, readMs: out.readMs, peakRssKb: result.peakRssKb, records: out.records };
}

async function stageReport(input, scratch) {
  const result = await runNode([CLI, 'report', input.file, '--output', 'json', '--quiet'], scratch);
  if (result.code !== 0) throw failed('report', result);
  const report = JSON.parse(result.stdout);
  return {
    wallMs: result.wallMs,
    peakRssKb: result.peakRssKb,
    tuples: report.totals.tuples,
    flows: report.totals.flows,
    approximate: report.approximate,
    approximateLists: report.approximations.map((a) => a.list),
  };
}

async function stageParse(input, scratch) {
  const result = await runNode(['--input-type=module', '-e', PARSE_TO_RECORDS(), input.file], scratch);
  const out = childJson('parse', result);
  return {
    wallMs: result.wallMs,
    childMs: out.ms,
    peakRssKb: result.peakRssKb,
    tuples: out.tuples,
    ipv6: out.ipv6,
    states: out.states,
    denied: out.denied,
    azureRecords: out.azureRecords,
    problems: out.problems,
    skipped: out.skipped,
  };
}

async function stageEncode(input, scratch) {
  const result = await runNode(['--input-type=module', '-e', ENCODE_ONLY(), input.file], scratch);
  const out = childJson('encode', result);
  return {
    wallMs: result.wallMs,
    childMs: out.ms,
    parseMs: out.parseMs,
    peakRssKb: result.peakRssKb,
    tuples: out.tuples,
    flowRecords: out.flowRecords,
    optionsRecords: out.optionsRecords,
    messages: out.messages,
    bytes: out.bytes,
    declined: out.declined,
  };
}

async function stageReplay(input, scratch, receiver, { paced, extraNodeArgs = [], extraArgs = [], tag }) {
  const summaryFile = path.join(scratch, `summary-${tag}-${++childSeq}.json`);
  const args = [
    ...extraNodeArgs,
    CLI,
    'replay',
    input.file,
    '--collector',
    `127.0.0.1:${receiver.port}`,
    ...(paced ? [] : ['--max-pps', '0']),
    '--quiet',
    '--summary-json',
    summaryFile,
    ...extraArgs,
  ];
  await receiver.reset();
  const result = await runNode(args, scratch);
  await receiver.settle();
  if (result.code !== 0) throw failed(`replay (${tag})`, result);
  const summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8'));
  const sent = summary.collectors?.[0];
  return {
    wallMs: result.wallMs,
    childMs: summary.elapsedMs,
    peakRssKb: result.peakRssKb,
    tuples: summary.tuples,
    exportedRecords: summary.exportedRecords,
    optionsRecords: summary.optionsRecords,
    messages: summary.messages,
    templateMessages: summary.templateMessages,
    bytesSent: summary.bytesSent,
    datagramsSent: sent?.datagrams,
    sendErrors: sent?.errors,
    datagramsReceived: receiver.counts.datagrams,
    bytesReceived: receiver.counts.bytes,
    skippedTuples: sumValues(summary.skippedTuples),
    skippedRecords: sumValues(summary.skippedRecords),
    stderrLines: result.stderr.trim() === '' ? 0 : result.stderr.trim().split('\n').length,
  };
}

function sumValues(obj) {
  return Object.values(obj ?? {}).reduce((a, b) => a + b, 0);
}

// ---------------------------------------------------------------------------------------------
// CPU profile

async function profileReplay(input, scratch, receiver, top) {
  const dir = path.join(scratch, 'cpu-prof');
  fs.mkdirSync(dir, { recursive: true });
  const run = await stageReplay(input, scratch, receiver, { paced: false, extraNodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir], tag: 'profile' });
  // One profile per thread: CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main one.
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const threadOf = (f) => Number(f.split('.')[4]);
  const main = files.find((f) => threadOf(f) === 0);
  if (main === undefined) throw new Error('node --cpu-prof wrote no main-thread profile');
  const sender = files.find((f) => threadOf(f) !== 0);
  return {
    wallMs: run.wallMs,
    main: summarizeProfile(path.join(dir, main), top),
    sender: sender === undefined ? undefined : summarizeProfile(path.join(dir, sender), top),
    profileFile: path.join(dir, main),
  };
}

function summarizeProfile(profileFile, top) {
  const profile = JSON.parse(fs.readFileSync(profileFile, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  const { samples, timeDeltas } = profile;
  // A sample's time is the gap to the next sample (what DevTools shows as self time).
  for (let i = 0; i < samples.length; i++) {
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const totalUs = profile.endTime - profile.startTime;
  const fns = new Map();
  const filesSelf = new Map();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber, columnNumber } = byId.get(id).callFrame;
    const where = shortUrl(url);
    const key = `${functionName || '(anonymous)'}${where ? ` ${where}:${lineNumber + 1}:${columnNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const fileKey = where || functionName || '(unknown)';
    filesSelf.set(fileKey, (filesSelf.get(fileKey) ?? 0) + us);
  }
  const rank = (m) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: us / 1000, share: us / totalUs }));
  return { totalMs: totalUs / 1000, functions: rank(fns), files: rank(filesSelf) };
}

function shortUrl(url) {
  if (!url) return '';
  let p = url;
  if (p.startsWith('file://')) p = fileURLToPath(p);
  if (p.startsWith(ROOT + path.sep)) return path.relative(ROOT, p);
  return p;
}

// ---------------------------------------------------------------------------------------------
// statistics and output

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median of the runs' main time; details from the run closest to it. */
function combine(runs, timeOf) {
  const times = runs.map(timeOf);
  const med = median(times);
  let pick = runs[0];
  for (const r of runs) if (Math.abs(timeOf(r) - med) < Math.abs(timeOf(pick) - med)) pick = r;
  const rss = runs.map((r) => r.peakRssKb).filter((v) => v !== undefined);
  return { ...pick, ms: med, bestMs: Math.min(...times), allMs: times, peakRssKb: rss.length ? Math.max(...rss) : undefined };
}

const fmtS = (ms) => (ms / 1000).toFixed(2);
const fmtInt = (n) => (n === undefined || n === null ? '-' : Math.round(n).toLocaleString('en-US'));
const fmtRate = (tuples, ms) => (ms > 0 ? fmtInt((tuples / ms) * 1000) : '-');
const fmtRss = (kb) => (kb === undefined ? 'n/m' : `${(kb / 1024).toFixed(0)} MiB`);
const fmtRatio = (x) => `${x.toFixed(2)}x`;

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === 0 || i === cells.length - 1 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function report(ctx) {
  const { input, opts, bare, parse, encode, e2e, named, namedOptionsOnly, report: reportStage, paced, big, small, receiver, profile } = ctx;
  const tuples = input.tuples;
  const base = bare.ms;
  const showBest = opts.runs > 1;
  const header = ['stage', 'seconds', ...(showBest ? ['best'] : []), 'tuples/s', 'vs bare parse', 'in-child s', 'peak RSS', 'notes'];
  const row = (name, s, inChild, notes) => [
    name,
    fmtS(s.ms),
    ...(showBest ? [fmtS(s.bestMs)] : []),
    fmtRate(tuples, s.ms),
    fmtRatio(s.ms / base),
    inChild === undefined ? '-' : fmtS(inChild),
    fmtRss(s.peakRssKb),
    notes,
  ];
  const loss = (r) => (r.messages > 0 ? `${(100 * (1 - r.datagramsReceived / r.messages)).toFixed(1)}% lost` : '');
  const rows = [
    row(
      'a. bare JSON.parse (node -e)',
      bare,
      bare.childMs,
      `JSON.parse ${fmtS(bare.childMs)} s + readFileSync ${fmtS(bare.readMs)} s; ${fmtInt(bare.records)} Azure records`,
    ),
    row('b. parse (file source)', parse, parse.childMs, `${fmtInt(parse.tuples)} tuples (${fmtInt(parse.ipv6)} IPv6), ${fmtInt(parse.problems)} problems`),
    row(
      'c. encode only (in-child)',
      encode,
      encode.childMs,
      `${fmtInt(encode.flowRecords)} records, ${fmtInt(encode.messages)} messages, ${fmtInt(encode.bytes)} B; whole child ${fmtS(encode.wallMs)} s (parse ${fmtS(encode.parseMs)} s)`,
    ),
    row(
      'd. end-to-end --max-pps 0',
      e2e,
      e2e.childMs,
      `${fmtInt(e2e.exportedRecords)} records, ${fmtInt(e2e.messages)} msgs sent, ${fmtInt(e2e.datagramsReceived)} received (${loss(e2e)})`,
    ),
    row(
      `k. d with names of ${fmtInt(NAMED_NICS)} NICs`,
      named,
      named.childMs,
      `--enrich-file, ${fmtInt(named.bytesSent)} B sent; ${fmtRatio(named.ms / e2e.ms)} of d`,
    ),
    row(
      `l. d with names in options records only`,
      namedOptionsOnly,
      namedOptionsOnly.childMs,
      `--enrich-file --enrich-fields '', ${fmtInt(namedOptionsOnly.bytesSent)} B sent (${fmtInt(namedOptionsOnly.optionsRecords)} options records); ${fmtRatio(namedOptionsOnly.ms / e2e.ms)} of d`,
    ),
    row(
      'e. end-to-end default pacing',
      paced,
      paced.childMs,
      `${fmtInt(paced.exportedRecords)} records, ${fmtInt(paced.messages)} msgs sent, ${fmtInt(paced.datagramsReceived)} received (${loss(paced)}); one run`,
    ),
  ];
  rows.push(
    row(
      'i. report --output json',
      reportStage,
      undefined,
      `${fmtInt(reportStage.tuples)} tuples; ${reportStage.approximate ? `approximate: ${reportStage.approximateLists.join(', ')}` : 'exact'}; runs alternate with d`,
    ),
  );
  if (big !== undefined) {
    const name = `f. ${(big.input.bytes / 2 ** 30).toFixed(2)} GiB file --max-pps 0`;
    rows.push([
      name,
      fmtS(big.ms),
      ...(showBest ? ['-'] : []),
      fmtRate(big.input.tuples, big.ms),
      '-',
      fmtS(big.childMs),
      fmtRss(big.peakRssKb),
      `${fmtInt(big.input.tuples)} tuples, ${(big.input.bytes / 1e6).toFixed(0)} MB; ${fmtInt(big.messages)} msgs sent; one run`,
    ]);
    rows.push([
      `j. report of f's file`,
      fmtS(big.report.wallMs),
      ...(showBest ? ['-'] : []),
      fmtRate(big.input.tuples, big.report.wallMs),
      '-',
      '-',
      fmtRss(big.report.peakRssKb),
      `${big.report.approximate ? `approximate: ${big.report.approximateLists.join(', ')}` : 'exact'}; one run`,
    ]);
  }
  const smallShape = `${fmtInt(small.input.records)} records of ${SMALL_RECORD_TUPLES}, ${(small.input.bytes / 1e6).toFixed(1)} MB`;
  rows.push([
    `g. bare JSON.parse, small records`,
    fmtS(small.bare.ms),
    ...(showBest ? [fmtS(small.bare.bestMs)] : []),
    fmtRate(small.input.tuples, small.bare.ms),
    '1.00x',
    '-',
    fmtRss(small.bare.peakRssKb),
    smallShape,
  ]);
  rows.push([
    `h. end-to-end, small records`,
    fmtS(small.e2e.ms),
    ...(showBest ? [fmtS(small.e2e.bestMs)] : []),
    fmtRate(small.input.tuples, small.e2e.ms),
    fmtRatio(small.e2e.ms / small.bare.ms),
    '-',
    fmtRss(small.e2e.peakRssKb),
    `--max-pps 0; ratio vs g`,
  ]);
  const out = [];
  out.push(
    `nsg2ipfix bench: ${fmtInt(tuples)} tuples, ${(input.bytes / 1e6).toFixed(1)} MB NSG v2 (${fmtInt(input.records)} records, ~${(input.params.ipv6Share * 100).toFixed(0)}% IPv6 flows)`,
  );
  out.push(
    `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), runs: ${opts.runs}${opts.runs > 1 ? ' (median; best shown)' : ''}`,
  );
  out.push(`seconds = wall time from spawn to exit, except c (encode loop only); tuples/s on seconds; in-child = time measured inside the child`);
  out.push('');
  out.push(table(header, rows));
  out.push('');
  out.push(
    `key figure: end-to-end (unpaced) / bare JSON.parse = ${fmtRatio(e2e.ms / bare.ms)} wall (${fmtRatio(e2e.childMs / bare.childMs)} in-child: replay elapsed vs JSON.parse alone)`,
  );
  out.push(`            parse / bare JSON.parse         = ${fmtRatio(parse.ms / bare.ms)} wall (${fmtRatio(parse.childMs / bare.childMs)} in-child)`);
  out.push(`            report / end-to-end (unpaced)   = ${fmtRatio(reportStage.ms / e2e.ms)} wall (median of each)`);
  out.push(`            small records: end-to-end / bare JSON.parse = ${fmtRatio(small.e2e.ms / small.bare.ms)} wall`);
  out.push(
    `            names of ${fmtInt(NAMED_NICS)} NICs: end-to-end with / without = ${fmtRatio(named.ms / e2e.ms)} wall (target <= 1.20x; ${fmtRatio(named.datagramsSent / e2e.datagramsSent)} the datagrams: the names in every data record)`,
  );
  out.push(`            the same names in options records only: with / without = ${fmtRatio(namedOptionsOnly.ms / e2e.ms)} wall (lookups without the strings)`);
  if (big !== undefined)
    out.push(
      `            peak RSS replaying a ${(big.input.bytes / 1e9).toFixed(2)} GB file: ${fmtRss(big.peakRssKb)} (1M-tuple file: ${fmtRss(e2e.peakRssKb)})`,
    );
  const detail = (name, r) =>
    `${name}: tuples ${fmtInt(r.tuples)}, exported records ${fmtInt(r.exportedRecords)} (+${fmtInt(r.optionsRecords)} options), messages ${fmtInt(r.messages)} (${fmtInt(r.templateMessages)} template), bytes sent ${fmtInt(r.bytesSent)}, datagrams sent ${fmtInt(r.datagramsSent)} (send errors ${fmtInt(r.sendErrors)}), received ${fmtInt(r.datagramsReceived)} / ${fmtInt(r.bytesReceived)} B, skipped tuples ${fmtInt(r.skippedTuples)}, records ${fmtInt(r.skippedRecords)}`;
  out.push('');
  out.push(detail('d', e2e));
  out.push(detail('e', paced));
  out.push(
    `tuple states (b): ${Object.entries(parse.states)
      .map(([k, v]) => `${k} ${fmtInt(v)}`)
      .join(', ')}, of which denied ${fmtInt(parse.denied)}; generator: ${Object.entries(input.stateCounts ?? {})
      .map(([k, v]) => `${k} ${fmtInt(v)}`)
      .join(', ')}`,
  );
  out.push(
    `receiver: a separate process at nice ${opts.receiverNice} on 127.0.0.1:${receiver.port}, SO_RCVBUF asked ${fmtInt(RECV_BUFFER_BYTES)}, got ${fmtInt(receiver.recvBufferSize)} (capped by net.core.rmem_max)`,
  );
  out.push(`peak RSS: ${rssMethod.label}`);
  if (profile) {
    const rows = (list) => list.map((f) => [f.selfMs.toFixed(0), `${(f.share * 100).toFixed(1)}%`, f.name]);
    out.push('');
    out.push(
      `CPU profile of one unpaced replay (node --cpu-prof, wall ${fmtS(profile.wallMs)} s), main thread (profiled ${fmtS(profile.main.totalMs)} s), top ${opts.top} by self time:`,
    );
    out.push(table(['self ms', 'share', 'function'], rows(profile.main.functions)));
    out.push('');
    out.push(`by file:`);
    out.push(table(['self ms', 'share', 'file'], rows(profile.main.files)));
    if (profile.sender) {
      out.push('');
      out.push(`exporting thread: encode and send (profiled ${fmtS(profile.sender.totalMs)} s; "(idle)" is time waiting for rows from the main thread):`);
      out.push(table(['self ms', 'share', 'function'], rows(profile.sender.functions.slice(0, opts.top))));
    }
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (opts === null) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  ensureBuild();
  const input = await ensureInput(opts.tuples);
  const smallInput = await ensureInput(opts.tuples, { tuplesPerRecord: SMALL_RECORD_TUPLES });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nsg2ipfix-bench-run-'));
  rssMethod = detectRssMethod(scratch);
  log(`peak RSS via ${rssMethod.label}`);
  const receiver = await startReceiver(opts.receiverNice);
  try {
    const namesFile = ensureNamesFile(NAMED_NICS);
    const runs = { bare: [], parse: [], encode: [], e2e: [], named: [], namedOptionsOnly: [], report: [], paced: [], smallBare: [], smallE2e: [] };
    for (let run = 1; run <= opts.runs; run++) {
      const tag = opts.runs > 1 ? ` (run ${run}/${opts.runs})` : '';
      const step = async (name, list, fn, show) => {
        log(`${name}${tag}...`);
        const r = await fn();
        list.push(r);
        log(`  ${show(r)}`);
      };
      await step(
        'a. bare JSON.parse',
        runs.bare,
        () => stageBareParse(input, scratch),
        (r) => `${fmtS(r.wallMs)} s wall, JSON.parse ${fmtS(r.childMs)} s`,
      );
      await step(
        'b. parse (file source)',
        runs.parse,
        () => stageParse(input, scratch),
        (r) => `${fmtS(r.wallMs)} s wall, ${fmtS(r.childMs)} s in child, ${fmtInt(r.tuples)} tuples`,
      );
      await step(
        'c. encode only',
        runs.encode,
        () => stageEncode(input, scratch),
        (r) => `${fmtS(r.childMs)} s encoding, ${fmtInt(r.messages)} messages`,
      );
      await step(
        'd. end-to-end, --max-pps 0',
        runs.e2e,
        () => stageReplay(input, scratch, receiver, { paced: false, tag: 'unpaced' }),
        (r) => `${fmtS(r.wallMs)} s wall, ${fmtInt(r.messages)} sent, ${fmtInt(r.datagramsReceived)} received`,
      );
      // Right after d, run for run: the ratio of the two is the cost of the names.
      await step(
        `k. end-to-end --max-pps 0, names of ${fmtInt(NAMED_NICS)} NICs`,
        runs.named,
        () => stageReplay(input, scratch, receiver, { paced: false, tag: 'named', extraArgs: ['--enrich-file', namesFile, '--no-options-records'] }),
        (r) => `${fmtS(r.wallMs)} s wall, ${fmtInt(r.messages)} sent`,
      );
      // The same names, looked up for every tuple but carried only by the interface options
      // records (what nfdump and Wireshark show): k less the strings in every data record.
      await step(
        `l. end-to-end --max-pps 0, names of ${fmtInt(NAMED_NICS)} NICs in options records only`,
        runs.namedOptionsOnly,
        () => stageReplay(input, scratch, receiver, { paced: false, tag: 'named-options', extraArgs: ['--enrich-file', namesFile, '--enrich-fields', ''] }),
        (r) => `${fmtS(r.wallMs)} s wall, ${fmtInt(r.messages)} sent`,
      );
      await step(
        'i. report --output json',
        runs.report,
        () => stageReport(input, scratch),
        (r) => `${fmtS(r.wallMs)} s wall, ${fmtInt(r.tuples)} tuples${r.approximate ? ` (approximate: ${r.approximateLists.join(', ')})` : ''}`,
      );
      await step(
        'g. bare JSON.parse, small records',
        runs.smallBare,
        () => stageBareParse(smallInput, scratch),
        (r) => `${fmtS(r.wallMs)} s wall, JSON.parse ${fmtS(r.childMs)} s`,
      );
      await step(
        'h. end-to-end, --max-pps 0, small records',
        runs.smallE2e,
        () => stageReplay(smallInput, scratch, receiver, { paced: false, tag: 'small' }),
        (r) => `${fmtS(r.wallMs)} s wall, ${fmtInt(r.messages)} sent`,
      );
      // Paced, a replay takes as long as the rate says: one run tells whether it is lossless.
      if (run === 1)
        await step(
          'e. end-to-end, default pacing',
          runs.paced,
          () => stageReplay(input, scratch, receiver, { paced: true, tag: 'paced' }),
          (r) => `${fmtS(r.wallMs)} s wall, ${fmtInt(r.messages)} sent, ${fmtInt(r.datagramsReceived)} received`,
        );
    }
    let big;
    if (opts.bigBytes > 0) {
      // Same generator, as many tuples as make about --big-bytes: memory must not grow with the input.
      const bigInput = await ensureInput(Math.max(1, Math.round(opts.bigBytes / (input.bytes / input.tuples))));
      log(`f. ${(bigInput.bytes / 2 ** 30).toFixed(2)} GiB file, --max-pps 0...`);
      big = { ...(await stageReplay(bigInput, scratch, receiver, { paced: false, tag: 'big' })), input: bigInput };
      log(`  ${fmtS(big.wallMs)} s wall, peak RSS ${fmtRss(big.peakRssKb)}`);
      log(`j. report of the ${(bigInput.bytes / 2 ** 30).toFixed(2)} GiB file...`);
      big.report = await stageReport(bigInput, scratch);
      log(`  ${fmtS(big.report.wallMs)} s wall, peak RSS ${fmtRss(big.report.peakRssKb)}`);
    }
    const wall = (r) => r.wallMs;
    const results = {
      input,
      opts,
      receiver,
      bare: combine(runs.bare, wall),
      parse: combine(runs.parse, wall),
      encode: combine(runs.encode, (r) => r.childMs),
      e2e: combine(runs.e2e, wall),
      named: combine(runs.named, wall),
      namedOptionsOnly: combine(runs.namedOptionsOnly, wall),
      report: combine(runs.report, wall),
      paced: combine(runs.paced, wall),
      big: big === undefined ? undefined : { ...big, ms: big.wallMs },
      small: { input: smallInput, bare: combine(runs.smallBare, wall), e2e: combine(runs.smallE2e, wall) },
    };
    // bare.ms is the wall median; the in-child ratio uses the median JSON.parse time.
    results.bare.childMs = median(runs.bare.map((r) => r.childMs));
    results.parse.childMs = median(runs.parse.map((r) => r.childMs));
    results.e2e.childMs = median(runs.e2e.map((r) => r.childMs));
    if (opts.profile) {
      log('profiling one unpaced replay with node --cpu-prof...');
      results.profile = await profileReplay(input, scratch, receiver, opts.top);
      if (opts.keep) log(`CPU profile: ${results.profile.profileFile} (open in Chrome DevTools)`);
      else delete results.profile.profileFile;
    }
    process.stdout.write(`${report(results)}\n`);
    if (opts.json) {
      const json = {
        date: new Date().toISOString(),
        node: process.version,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        rssMethod: rssMethod.label,
        input: { file: input.file, tuples: input.tuples, records: input.records, bytes: input.bytes, params: input.params, stateCounts: input.stateCounts },
        runs: opts.runs,
        receiverBufferBytes: receiver.recvBufferSize,
        stages: {
          bareJsonParse: results.bare,
          parse: results.parse,
          encode: results.encode,
          endToEndUnpaced: results.e2e,
          endToEndUnpacedWithNames: results.named,
          endToEndUnpacedWithNamesInOptionsRecordsOnly: results.namedOptionsOnly,
          report: results.report,
          endToEndDefaultPacing: results.paced,
          smallRecordsBareJsonParse: results.small.bare,
          smallRecordsEndToEndUnpaced: results.small.e2e,
          ...(results.big
            ? {
                bigFileUnpaced: { ...results.big, input: { file: results.big.input.file, tuples: results.big.input.tuples, bytes: results.big.input.bytes } },
                bigFileReport: results.big.report,
              }
            : {}),
        },
        ratios: {
          endToEndVsBareParseWall: results.e2e.ms / results.bare.ms,
          reportVsEndToEndUnpacedWall: results.report.ms / results.e2e.ms,
          endToEndVsBareParseInChild: results.e2e.childMs / results.bare.childMs,
          parseVsBareParseWall: results.parse.ms / results.bare.ms,
          smallRecordsEndToEndVsBareParseWall: results.small.e2e.ms / results.small.bare.ms,
          namesVsNoNamesWall: results.named.ms / results.e2e.ms,
          namesInOptionsRecordsOnlyVsNoNamesWall: results.namedOptionsOnly.ms / results.e2e.ms,
        },
        ...(results.profile ? { profile: results.profile } : {}),
      };
      fs.writeFileSync(opts.json, `${JSON.stringify(json, null, 2)}\n`);
      log(`results written to ${opts.json}`);
    }
  } finally {
    await receiver.close();
    if (opts.keep) log(`kept scratch files in ${scratch}`);
    else fs.rmSync(scratch, { recursive: true, force: true });
  }
  return 0;
}

// `npm run bench -- --live`: the live-follow benchmark of `nsg2ipfix blob` (scripts/bench-live.mjs).
const run = process.argv.slice(2).includes('--live') ? () => import('./bench-live.mjs').then(() => 0) : main;

run().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
