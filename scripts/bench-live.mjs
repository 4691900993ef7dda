#!/usr/bin/env node
/**
 * Live-follow benchmark (issue 17): how long does `nsg2ipfix blob` take to poll N live blobs, at
 * what CPU, memory and number of storage requests, and how late does a committed minute arrive?
 *
 *   npm run bench -- --live [--sizes 1000,2000,10000] [--delay-ms 20] [--steady-passes 2]
 *                           [--poll-interval S] [--latency-seconds 90] [--latency-poll 5]
 *                           [--cli PATH] [--label NAME] [--cli-arg ARG]... [--json FILE] [--keep]
 *                           [--profile DIR]   (CPU profiles of the CLI's steady passes, node --cpu-prof)
 *                           [--cli-log FILE]  (the CLI's log lines, appended)
 *                           [--cli-node-option OPT]...  (node options for the CLI, e.g. --max-old-space-size=192)
 *                           [--azurites K]    (Azurite instances; default one per 1,000 blobs)
 *                           [--event-grid [--rate N] [--partitions P]]  (the Event Grid path instead:
 *                              `eventhub` reading the blobs N BlobCreated notifications a minute name,
 *                              default one per blob per minute, through a P-partition stand-in)
 *   (or: node scripts/bench-live.mjs ...)
 *
 * Everything runs on this machine, each part in its own process:
 *   - Azurite (node_modules/.bin/azurite-blob, in memory) holding the estate: N PT1H.json blobs of
 *     the current hour, 50 NSGs x N/50 MACs, each a head block, 2 minute blocks and a tail, built
 *     block by block as Azure does (stage, commit the whole list). Azurite scans every blob it
 *     holds to find one, so a request costs it time in proportion to its blobs: the NSGs are dealt
 *     out over one Azurite (and one container, all followed by the CLI) per 1,000 blobs, which
 *     keeps the rig's cost per request the same at every size;
 *   - a delay proxy (this script, --role proxy) in front of Azurite: every request waits
 *     --delay-ms before it is forwarded (Azure-like latency) to the Azurite of its container, and
 *     is counted by kind (list, block list, download, other); the CLI reaches storage only
 *     through it;
 *   - a receiver (this script, --role receiver): the project's IPFIX decoder on a UDP port, noting
 *     when each tuple first arrives and counting duplicates;
 *   - the CLI under test: `node <cli> blob --start-at beginning --poll-interval S ...`.
 * Every tuple carries a marker (source address = blob, source port = minute number), so the
 * receiver can tell what arrived, when, and how often.
 *
 * Stages per size:
 *   1. first pass: the CLI starts from the beginning and reads every blob whole;
 *   2. steady passes: right after a pass ends, the CLI is paused (SIGSTOP), one minute block is
 *      appended to every blob (straight to Azurite, not through the proxy), and the CLI goes on
 *      (SIGCONT); the next pass must read them all (a pass that read fewer blobs, because it had
 *      begun before the pause, is reported as partial and not counted);
 *   3. latency: the CLI is restarted (resuming its state) with --poll-interval = --latency-poll,
 *      and for --latency-seconds every blob gets one new minute block a minute, at staggered
 *      times, as Azure writes them; commit -> datagram p50/p95/max are reported once every marker
 *      arrived. Missing and duplicated tuples are counted over all stages (exactly-once check).
 * Pass time is from the pass's first storage request (seen by the proxy) to the CLI's pass-end log
 * line, so any version of the CLI can be measured the same way (--cli: an older build, e.g. a
 * worktree of main built with `npm ci`). CPU is the CLI process's (all threads, /proc/PID/stat)
 * from the end of the previous pass to the end of the pass; peak RSS is VmHWM. The machine's load
 * average is printed next to every size: on a shared machine, compare runs made side by side.
 */
import { fork, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const AZURITE = path.join(ROOT, 'node_modules', '.bin', 'azurite-blob');
const ACCOUNT = 'devstoreaccount1';
/** Azurite's well-known development key (public, documented by Microsoft). */
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const NSGS = 50;
const BLOBS_PER_AZURITE = 1000;
/** Every child process started, so an interrupted bench leaves none behind. */
const tracked = new Set();
const SUB = '00000000-0000-0000-0000-000000000000';
const WRITE_CONCURRENCY = 48;

function valueOf(argv, name) {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

function log(text) {
  process.stderr.write(`[bench-live ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}

// ---------------------------------------------------------------------------------------------
// role: delay proxy

async function runProxy() {
  // CONTAINER=PORT,...: each container lives in an Azurite of its own (see shards in main).
  const routes = new Map(
    valueOf(process.argv, '--routes')
      .split(',')
      .map((route) => route.split('=')),
  );
  const fallbackPort = Number(routes.values().next().value);
  const portFor = (url) => Number(routes.get(decodeURIComponent(url.pathname.split('/')[2] ?? '')) ?? fallbackPort);
  const delayMs = Number(valueOf(process.argv, '--delay-ms') ?? 0);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const counts = { list: 0, blockList: 0, download: 0, other: 0 };
  let firstSinceMark;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const comp = url.searchParams.get('comp');
    const kind =
      comp === 'list' ? 'list' : comp === 'blocklist' && req.method === 'GET' ? 'blockList' : req.method === 'GET' && comp === null ? 'download' : 'other';
    counts[kind]++;
    firstSinceMark ??= Date.now();
    const forward = () => {
      const upstream = http.request({ host: '127.0.0.1', port: portFor(url), method: req.method, path: req.url, headers: req.headers, agent }, (response) => {
        res.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(res);
      });
      upstream.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      req.pipe(upstream);
    };
    if (delayMs > 0) setTimeout(forward, delayMs);
    else forward();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.on('message', (message) => {
    if (message.cmd === 'stats') process.send({ id: message.id, counts: { ...counts }, firstSinceMark });
    else if (message.cmd === 'mark') {
      firstSinceMark = undefined;
      process.send({ id: message.id });
    }
  });
  process.send({ ready: true, port: server.address().port });
}

// ---------------------------------------------------------------------------------------------
// role: receiver

async function runReceiver() {
  const { FlowListener } = await import(pathToFileURL(path.join(ROOT, 'dist', 'listen', 'flowListener.js')).href);
  const arrivals = new Map();
  let records = 0;
  let duplicates = 0;
  const listener = await FlowListener.open({
    host: '127.0.0.1',
    port: 0,
    enterpriseNumber: 32473,
    receiveBufferBytes: 32 << 20,
    onRecord: (record) => {
      // Only the forward records carry a marker (the reverse record of a split biflow comes from 203.0.113.9).
      if (record.options || !String(record.fields.sourceIPv4Address).startsWith('10.')) return;
      records++;
      const key = `${record.fields.sourceIPv4Address}:${record.fields.sourceTransportPort}`;
      if (arrivals.has(key)) duplicates++;
      else arrivals.set(key, Date.now());
    },
  });
  process.on('message', (message) => {
    if (message.cmd === 'stats') process.send({ id: message.id, records, unique: arrivals.size, duplicates });
    else if (message.cmd === 'latency') {
      // [marker, commitMs][]: how long after its commit each marker arrived.
      const delays = [];
      let missing = 0;
      for (const [marker, commitMs] of message.commits) {
        const at = arrivals.get(marker);
        if (at === undefined) missing++;
        else delays.push(at - commitMs);
      }
      delays.sort((a, b) => a - b);
      const pick = (q) => (delays.length === 0 ? NaN : delays[Math.min(delays.length - 1, Math.floor(q * delays.length))]);
      process.send({ id: message.id, count: delays.length, missing, p50: pick(0.5), p95: pick(0.95), max: delays.at(-1) ?? NaN });
    } else if (message.cmd === 'has') {
      process.send({ id: message.id, missing: message.markers.filter((m) => !arrivals.has(m)).length });
    }
  });
  process.send({ ready: true, port: listener.address.port });
}

// ---------------------------------------------------------------------------------------------
// role: Event Hubs stand-in (for the Event Grid stage)

/**
 * The tests' Event Hubs stand-in (test/helpers/eventHubStandIn.ts, an AMQP endpoint the real
 * @azure/event-hubs client runs against), transpiled with the project's TypeScript into
 * node_modules/.cache so this plain-Node script can load it.
 */
async function loadStandIn() {
  const ts = (await import('typescript')).default;
  const source = fs.readFileSync(path.join(ROOT, 'test', 'helpers', 'eventHubStandIn.ts'), 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } });
  const dir = path.join(ROOT, 'node_modules', '.cache', 'nsg2ipfix-bench');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'eventHubStandIn.mjs');
  fs.writeFileSync(file, outputText);
  return import(pathToFileURL(file).href);
}

/** A BlobCreated event in the Event Grid schema, as Microsoft documents it for Blob Storage. */
function eventGridBlobCreated(url, contentLength, id) {
  const { pathname } = new URL(url);
  const [, , container, ...name] = pathname.split('/');
  return {
    topic: `/subscriptions/${SUB}/resourceGroups/bench-rg/providers/Microsoft.Storage/storageAccounts/${ACCOUNT}`,
    subject: `/blobServices/default/containers/${container}/blobs/${name.join('/')}`,
    eventType: 'Microsoft.Storage.BlobCreated',
    eventTime: new Date().toISOString(),
    id: `bench-${id}`,
    data: {
      api: 'PutBlockList',
      clientRequestId: randomUUID(),
      requestId: randomUUID(),
      eTag: '0x8D4BCC2E4835CD0',
      contentType: 'application/json',
      contentLength,
      blobType: 'BlockBlob',
      url,
      sequencer: String(id).padStart(32, '0'),
      storageDiagnostics: { batchId: randomUUID() },
    },
    dataVersion: '',
    metadataVersion: '1',
  };
}

async function runEventHub() {
  const { EventHubStandIn } = await loadStandIn();
  const hub = await EventHubStandIn.start({ partitionCount: Number(valueOf(process.argv, '--partitions') ?? 4) });
  let appended = 0;
  process.on('message', (message) => {
    if (message.cmd === 'notify') {
      // Event Grid delivers each event to Event Hubs as a JSON array of one event, in a data section.
      for (const { partition, url, length } of message.blobs) {
        appended++;
        hub.append(String(partition), Buffer.from(JSON.stringify([eventGridBlobCreated(url, length, appended)])));
      }
      process.send({ id: message.id, appended });
    }
  });
  process.send({ ready: true, connectionString: hub.connectionString });
}

// ---------------------------------------------------------------------------------------------
// children and their messages

function startRole(name, args) {
  const child = fork(SELF, ['--role', name, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  tracked.add(child);
  let nextId = 0;
  const waiting = new Map();
  let ready;
  const readyPromise = new Promise((resolve, reject) => {
    ready = resolve;
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it was ready`)));
  });
  child.on('message', (message) => {
    if (message.ready) ready(message);
    else waiting.get(message.id)?.(message);
  });
  return {
    child,
    ready: readyPromise,
    ask(cmd, extra = {}) {
      const id = ++nextId;
      return new Promise((resolve) => {
        waiting.set(id, (message) => {
          waiting.delete(id);
          resolve(message);
        });
        child.send({ cmd, id, ...extra });
      });
    },
    stop: () => stopProcess(child),
  };
}

function stopProcess(child, signal = 'SIGTERM', graceMs = 15_000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

async function startAzurite() {
  const port = await freePort();
  const child = spawn(
    AZURITE,
    ['--blobHost', '127.0.0.1', '--blobPort', String(port), '--inMemoryPersistence', '--disableTelemetry', '--skipApiVersionCheck', '--silent'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 30_000;
  while (!output.includes('successfully listens')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`azurite did not start: ${output}`);
    await sleep(100);
  }
  return { port, child, stop: () => stopProcess(child) };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = http.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function connectionString(port) {
  return `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};BlobEndpoint=http://127.0.0.1:${port}/${ACCOUNT};`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function pool(items, concurrency, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// the estate

function blobNameFor(nsg, mac, hourMs) {
  const d = new Date(hourMs);
  const two = (n) => String(n).padStart(2, '0');
  return (
    `resourceId=/SUBSCRIPTIONS/${SUB}/RESOURCEGROUPS/BENCH-RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/${nsg}/` +
    `y=${d.getUTCFullYear()}/m=${two(d.getUTCMonth() + 1)}/d=${two(d.getUTCDate())}/h=${two(d.getUTCHours())}/m=00/macAddress=${mac}/PT1H.json`
  );
}

/** One NSG v2 record of one tuple whose source address names the blob and source port the minute. */
function minuteRecord(blob, minute, timeMs) {
  const i = blob.index + 1;
  const source = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const seconds = Math.floor(timeMs / 1000);
  return JSON.stringify({
    time: new Date(timeMs).toISOString(),
    systemId: '3f6c2a9e-8d41-4b7a-a5e2-6c9d0f1b7e34',
    macAddress: blob.mac,
    category: 'NetworkSecurityGroupFlowEvent',
    resourceId: `/SUBSCRIPTIONS/${SUB}/RESOURCEGROUPS/BENCH-RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/${blob.nsg}`,
    operationName: 'NetworkSecurityGroupFlowEvents',
    properties: {
      Version: 2,
      flows: [
        {
          rule: 'DefaultRule_AllowInternetOutBound',
          flows: [{ mac: blob.mac, flowTuples: [`${seconds},${source},203.0.113.9,${minute},443,T,O,A,C,3,1200,2,800`] }],
        },
      ],
    },
  });
}

const blockId = () => randomBytes(24).toString('base64');

class Estate {
  /** `shards`: [{ service, container }], the NSGs dealt out over them. */
  constructor(shards, size) {
    this.shards = shards.map(({ service, container }) => service.getContainerClient(container));
    const hourMs = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    this.blobs = Array.from({ length: size }, (_, index) => {
      const nsg = `NSG-${String(index % NSGS).padStart(3, '0')}`;
      const mac = `000D3A${(Math.floor(index / NSGS) + 1).toString(16).toUpperCase().padStart(6, '0')}`;
      const container = this.shards[(index % NSGS) % this.shards.length];
      return { index, nsg, mac, container, name: blobNameFor(nsg, mac, hourMs), ids: [], minutes: 0 };
    });
    /** [marker, commitMs] of every minute block committed. */
    this.commits = [];
  }

  marker(blob, minute) {
    const i = blob.index + 1;
    return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:${minute}`;
  }

  async build(minutes) {
    for (const container of this.shards) await container.createIfNotExists();
    await pool(this.blobs, WRITE_CONCURRENCY, async (blob) => {
      const client = blob.container.getBlockBlobClient(blob.name);
      const head = blockId();
      const tail = blockId();
      await client.stageBlock(head, '{"records":[', 12);
      await client.stageBlock(tail, ']}', 2);
      blob.head = head;
      blob.tail = tail;
      for (let m = 0; m < minutes; m++) await this.stageMinute(client, blob);
      await this.commit(client, blob);
    });
  }

  async stageMinute(client, blob) {
    blob.minutes++;
    const text = `${blob.ids.length === 0 ? '' : ','}${minuteRecord(blob, blob.minutes, Date.now())}`;
    const id = blockId();
    await client.stageBlock(id, text, Buffer.byteLength(text));
    blob.ids.push(id);
  }

  async commit(client, blob) {
    await client.commitBlockList([blob.head, ...blob.ids, blob.tail], { blobHTTPHeaders: { blobContentType: 'application/json' } });
    const now = Date.now();
    for (let m = blob.committed ?? 0; m < blob.minutes; m++) this.commits.push([this.marker(blob, m + 1), now]);
    blob.committed = blob.minutes;
  }

  /** One more minute block in `blob`, committed; returns the commit time. */
  async appendMinute(blob) {
    const client = blob.container.getBlockBlobClient(blob.name);
    await this.stageMinute(client, blob);
    await this.commit(client, blob);
  }

  async appendToAll() {
    await pool(this.blobs, WRITE_CONCURRENCY, (blob) => this.appendMinute(blob));
  }
}

// ---------------------------------------------------------------------------------------------
// the CLI under test

class CliRun {
  static nodeOptions = [];

  constructor(cliPath, args, profileDir, command = 'blob') {
    const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
    this.child = spawn(process.execPath, [...CliRun.nodeOptions, ...profile, cliPath, command, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    tracked.add(this.child);
    this.passes = [];
    this.tail = [];
    this.waiters = [];
    let buffered = '';
    this.child.stderr.on('data', (chunk) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        this.onLine(line);
      }
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.received = false;
  }

  onLine(line) {
    if (CliRun.logFile !== undefined) fs.appendFileSync(CliRun.logFile, `${line}\n`);
    this.tail.push(line);
    if (this.tail.length > 50) this.tail.shift();
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      return;
    }
    if (entry.msg === 'new blocks read' || entry.msg === 'nothing new') {
      const pass = {
        endMs: entry.time,
        blobs: entry.blobs ?? 0,
        tuples: entry.tuples ?? 0,
        cliPassMs: entry.passMs,
        cliRequests: entry.requests,
        cpuMs: cpuMs(this.child.pid),
      };
      this.passes.push(pass);
      for (const wake of this.waiters.splice(0)) wake();
    }
    if (entry.msg === 'receiving from the event hub') {
      this.received = true;
      for (const wake of this.waiters.splice(0)) wake();
    }
    if (entry.level >= 50) log(`cli error: ${line.slice(0, 400)}`);
  }

  async nextPass(timeoutMs) {
    const count = this.passes.length;
    const deadline = Date.now() + timeoutMs;
    while (this.passes.length === count) {
      if (this.child.exitCode !== null) throw new Error(`the CLI exited (${this.child.exitCode}):\n${this.tail.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`no pass ended within ${Math.round(timeoutMs / 1000)} s:\n${this.tail.slice(-10).join('\n')}`);
      await Promise.race([new Promise((resolve) => this.waiters.push(resolve)), sleep(1000)]);
    }
    return this.passes[count];
  }

  async receiving(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (!this.received) {
      if (this.child.exitCode !== null) throw new Error(`the CLI exited (${this.child.exitCode}):\n${this.tail.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`the CLI did not start receiving:\n${this.tail.slice(-10).join('\n')}`);
      await Promise.race([new Promise((resolve) => this.waiters.push(resolve)), sleep(1000)]);
    }
  }

  peakRssMb() {
    return statusField(this.child.pid, 'VmHWM') / 1024;
  }

  async stop() {
    await stopProcess(this.child);
    return this.exited;
  }
}

/** user + system CPU of a process (all threads), ms. */
function cpuMs(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

function statusField(pid, name) {
  try {
    const match = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? NaN : Number(match[1]);
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------------------------------------
// main

function parseArgs(argv) {
  const options = {
    sizes: [1000, 2000, 10000],
    delayMs: 20,
    steadyPasses: 2,
    pollInterval: undefined,
    latencySeconds: 90,
    latencyPoll: 5,
    cli: path.join(ROOT, 'bin', 'nsg2ipfix.js'),
    label: undefined,
    cliArgs: [],
    json: undefined,
    keep: false,
    profile: undefined,
    shards: undefined,
    eventGrid: false,
    partitions: 4,
    rate: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--live':
        break;
      case '--sizes':
        options.sizes = value()
          .split(',')
          .map((s) => Number(s.replace(/_/g, '')));
        break;
      case '--delay-ms':
        options.delayMs = Number(value());
        break;
      case '--steady-passes':
        options.steadyPasses = Number(value());
        break;
      case '--poll-interval':
        options.pollInterval = Number(value());
        break;
      case '--latency-seconds':
        options.latencySeconds = Number(value());
        break;
      case '--latency-poll':
        options.latencyPoll = Number(value());
        break;
      case '--cli':
        options.cli = path.resolve(value());
        break;
      case '--label':
        options.label = value();
        break;
      case '--cli-arg':
        options.cliArgs.push(value());
        break;
      case '--json':
        options.json = value();
        break;
      case '--keep':
        options.keep = true;
        break;
      case '--profile':
        options.profile = path.resolve(value());
        break;
      case '--event-grid':
        options.eventGrid = true;
        break;
      case '--partitions':
        options.partitions = Number(value());
        break;
      case '--rate':
        options.rate = Number(value().replace(/_/g, ''));
        break;
      case '--azurites':
        options.shards = Number(value());
        break;
      case '--cli-node-option':
        CliRun.nodeOptions.push(value());
        break;
      case '--cli-log':
        CliRun.logFile = path.resolve(value());
        break;
      default:
        throw new Error(`unknown option ${arg} (see the header of scripts/bench-live.mjs)`);
    }
  }
  options.label ??= options.cli === path.join(ROOT, 'bin', 'nsg2ipfix.js') ? 'this tree' : path.dirname(path.dirname(options.cli));
  return options;
}

function ensureBuild(cli) {
  if (cli !== path.join(ROOT, 'bin', 'nsg2ipfix.js')) return;
  log('npm run build');
  const result = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) throw new Error('npm run build failed');
}

/**
 * Default poll interval of the pass stages: longer than a steady pass, so the CLI sleeps when the
 * bench pauses it to append (the first pass may take longer: the pass after it is then partial).
 */
function pollIntervalFor(size) {
  return Math.max(15, Math.ceil((size * 6) / 1000));
}

function load() {
  return os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
}

/**
 * The storage side of a stage: Azurite instances holding the estate, the delay proxy in front of
 * them and the receiver. Azurite finds a blob by scanning all it holds (LokiJS, one index used per
 * query): a request costs time in proportion to the blobs of its instance. One instance per 1,000
 * blobs keeps the rig's cost per request the same at every size, so it does not grow with N² itself.
 */
class Rig {
  shards = [];
  proxy;
  receiver;

  async start(options, size, prefix) {
    const { BlobServiceClient } = await import('@azure/storage-blob');
    this.shardCount = options.shards ?? Math.max(1, Math.ceil(size / BLOBS_PER_AZURITE));
    for (let k = 0; k < this.shardCount; k++) {
      const azurite = await startAzurite();
      tracked.add(azurite.child);
      this.shards.push({ azurite, container: `${prefix}-${k}`, service: BlobServiceClient.fromConnectionString(connectionString(azurite.port)) });
    }
    this.proxy = startRole('proxy', [
      '--routes',
      this.shards.map((shard) => `${shard.container}=${shard.azurite.port}`).join(','),
      '--delay-ms',
      String(options.delayMs),
    ]);
    this.receiver = startRole('receiver', []);
    this.proxyPort = (await this.proxy.ready).port;
    this.receiverPort = (await this.receiver.ready).port;
  }

  /** CPU of the rig's processes (and of `others`), ms. */
  cpuMs(...others) {
    return this.shards.reduce(
      (sum, shard) => sum + cpuMs(shard.azurite.child.pid),
      cpuMs(this.proxy.child.pid) + others.reduce((sum, child) => sum + cpuMs(child.pid), 0),
    );
  }

  async stop() {
    await this.proxy?.stop();
    await this.receiver?.stop();
    for (const shard of this.shards) await shard.azurite.stop();
  }
}

async function measureSize(options, size, run) {
  const rig = new Rig();
  let cli;
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsg2ipfix-bench-live-'));
  const result = { size, delayMs: options.delayMs, cli: options.label, loadAtStart: load() };
  try {
    await rig.start(options, size, `live-${run}`);
    const { shards, proxy, receiver, proxyPort, receiverPort, shardCount } = rig;
    result.azurites = shardCount;
    const estate = new Estate(shards, size);
    log(`${size} blobs: building the estate in ${shardCount} Azurite instance(s), a container each (head + 2 minutes + tail each blob)`);
    const buildStart = Date.now();
    await estate.build(2);
    log(`${size} blobs: built in ${((Date.now() - buildStart) / 1000).toFixed(1)} s; load ${load()}`);
    const pollSeconds = options.pollInterval ?? pollIntervalFor(size);
    const args = (poll, startAt) => [
      '--connection-string',
      connectionString(proxyPort),
      ...shards.flatMap((shard) => ['--container', shard.container]),
      '--start-at',
      startAt,
      '--poll-interval',
      String(poll),
      '--state-dir',
      stateDir,
      '-c',
      `127.0.0.1:${receiverPort}`,
      '--log-level',
      'debug',
      ...options.cliArgs,
    ];
    const requestsSince = async (before) => {
      const { counts } = await proxy.ask('stats');
      return Object.fromEntries(Object.entries(counts).map(([kind, n]) => [kind, n - (before?.[kind] ?? 0)]));
    };
    // The rig's own CPU (Azurite, the proxy) shares the 2 cores with the CLI: reported beside it.
    const rigCpu = () => rig.cpuMs();
    let rigBefore = rigCpu();
    const passFigures = async (pass, previousCpuMs, requestsBefore, startMs) => {
      const rig = rigCpu();
      const figures = {
        wallMs: pass.endMs - startMs,
        cliPassMs: pass.cliPassMs,
        cpuMs: pass.cpuMs - previousCpuMs,
        rigCpuMs: rig - rigBefore,
        blobs: pass.blobs,
        requests: await requestsSince(requestsBefore),
      };
      rigBefore = rig;
      return figures;
    };

    // 1. first pass
    await proxy.ask('mark');
    let before = (await proxy.ask('stats')).counts;
    rigBefore = rigCpu();
    cli = new CliRun(options.cli, args(pollSeconds, 'beginning'));
    let pass = await cli.nextPass(30 * 60_000);
    let stats = await proxy.ask('stats');
    result.first = await passFigures(pass, 0, before, stats.firstSinceMark);
    log(
      `${size} blobs: first pass ${(result.first.wallMs / 1000).toFixed(1)} s, CPU ${(result.first.cpuMs / 1000).toFixed(1)} s (Azurite + proxy ${(result.first.rigCpuMs / 1000).toFixed(1)} s), ${pass.blobs} blobs`,
    );

    // A pass longer than the poll interval is followed at once by the next: let that one (which
    // finds nothing new) go by, so the CLI is asleep when it is paused for the appends below.
    if (pass.cliPassMs === undefined || pass.cliPassMs > pollSeconds * 1000) pass = await cli.nextPass(30 * 60_000);

    // 2. steady passes: one new block per blob between two passes
    if (options.profile !== undefined) {
      // Profiled from here on: a CLI restarted (resuming) under --cpu-prof, its first pass done.
      await cli.stop();
      cli = new CliRun(options.cli, args(pollSeconds, 'resume'), options.profile);
      pass = await cli.nextPass(30 * 60_000);
    }
    result.steady = [];
    for (let attempt = 0; result.steady.length < options.steadyPasses && attempt < options.steadyPasses + 3; attempt++) {
      // The CLI is paused while the blocks are appended (it is between passes, or a pass that
      // began meanwhile is reported as partial), so the appends never overlap a pass.
      cli.child.kill('SIGSTOP');
      const pausedAt = Date.now();
      const appendStart = Date.now();
      await estate.appendToAll();
      const appendMs = Date.now() - appendStart;
      await proxy.ask('mark');
      before = (await proxy.ask('stats')).counts;
      const previousCpu = pass.cpuMs;
      rigBefore = rigCpu();
      cli.child.kill('SIGCONT');
      pass = await cli.nextPass(30 * 60_000);
      stats = await proxy.ask('stats');
      const figures = await passFigures(pass, previousCpu, before, stats.firstSinceMark);
      figures.appendMs = appendMs;
      // A pass that had begun before the pause (the CLI says when it began) is not a steady one.
      const overlapped = pass.cliPassMs !== undefined && pass.endMs - pass.cliPassMs < pausedAt;
      const steady = pass.blobs === size && !overlapped;
      if (steady) result.steady.push(figures);
      log(
        `${size} blobs: ${steady ? 'steady' : `partial (${pass.blobs} blobs${overlapped ? ', began before the appends' : ''}; not counted)`} pass ${(figures.wallMs / 1000).toFixed(1)} s, CPU ${(figures.cpuMs / 1000).toFixed(1)} s (Azurite + proxy ${(figures.rigCpuMs / 1000).toFixed(1)} s), requests ${JSON.stringify(figures.requests)} (appends took ${(appendMs / 1000).toFixed(1)} s); load ${load()}`,
      );
    }
    result.peakRssMb = cli.peakRssMb();
    await cli.stop();

    // 3. latency: Azure's rhythm, one minute block per blob per minute, staggered
    cli = new CliRun(options.cli, args(options.latencyPoll, 'resume'));
    await cli.nextPass(30 * 60_000);
    const firstCommit = estate.commits.length;
    const durationMs = options.latencySeconds * 1000;
    const startMs = Date.now();
    const perBlobMs = 60_000 / size;
    const order = estate.blobs.map((blob) => blob);
    let next = 0;
    const inFlight = new Set();
    while (Date.now() - startMs < durationMs) {
      const due = Math.floor((Date.now() - startMs) / perBlobMs);
      while (next <= due && Date.now() - startMs < durationMs) {
        const blob = order[next++ % order.length];
        const write = estate.appendMinute(blob).finally(() => inFlight.delete(write));
        inFlight.add(write);
        if (inFlight.size >= WRITE_CONCURRENCY) await Promise.race(inFlight);
      }
      await sleep(Math.max(1, Math.min(50, perBlobMs)));
    }
    await Promise.all(inFlight);
    const commits = estate.commits.slice(firstCommit);
    const markers = commits.map(([marker]) => marker);
    const waitUntil = Date.now() + Math.max(120_000, 4 * options.latencyPoll * 1000);
    while ((await receiver.ask('has', { markers })).missing > 0 && Date.now() < waitUntil) await sleep(500);
    result.latency = await receiver.ask('latency', { commits });
    result.latency.writes = commits.length;
    result.latencyPoll = options.latencyPoll;
    result.latencyPeakRssMb = cli.peakRssMb();
    const exit = await cli.stop();
    log(
      `${size} blobs: latency p50 ${(result.latency.p50 / 1000).toFixed(2)} s, p95 ${(result.latency.p95 / 1000).toFixed(2)} s, max ${(result.latency.max / 1000).toFixed(2)} s over ${commits.length} commits (${result.latency.missing} missing); CLI exit ${exit.code ?? exit.signal}`,
    );

    const all = await receiver.ask('latency', { commits: estate.commits });
    const received = await receiver.ask('stats');
    result.exactlyOnce = { committed: estate.commits.length, missing: all.missing, duplicates: received.duplicates };
    result.loadAtEnd = load();
    return result;
  } finally {
    if (cli !== undefined) await cli.stop();
    await rig.stop();
    if (!options.keep) fs.rmSync(stateDir, { recursive: true, force: true });
    else log(`state kept in ${stateDir}`);
  }
}

/**
 * The Event Grid path: `nsg2ipfix eventhub` reading the blobs BlobCreated notifications name.
 * The estate and the delay proxy are the blob stages'; an Event Hubs stand-in (--partitions) takes
 * the notifications. After a warm-up (one notification per blob: each is read from its first
 * block, as a fresh instance would), for --latency-seconds the blobs get --rate new minute blocks a
 * minute (default: one per blob per minute), each committed and then announced, as Azure and
 * Event Grid do; commit -> datagram p50/p95/max, the CLI's CPU and RSS, and requests are reported.
 */
async function measureEventGrid(options, size, run) {
  const rig = new Rig();
  let cli;
  let hub;
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsg2ipfix-bench-grid-'));
  const rate = options.rate ?? size;
  const result = {
    mode: 'event-grid',
    size,
    rate,
    partitions: options.partitions,
    delayMs: options.delayMs,
    cli: options.label,
    loadAtStart: load(),
  };
  try {
    await rig.start(options, size, `grid-${run}`);
    const { shards, proxy, receiver, proxyPort, receiverPort, shardCount } = rig;
    result.azurites = shardCount;
    hub = startRole('eventhub', ['--partitions', String(options.partitions)]);
    const { connectionString: hubConnectionString } = await hub.ready;
    const estate = new Estate(shards, size);
    log(`event grid, ${size} blobs: building the estate in ${shardCount} Azurite instance(s)`);
    await estate.build(2);
    const storage = connectionString(proxyPort);
    const args = [
      '--connection-string',
      hubConnectionString,
      '--checkpoint-connection-string',
      storage,
      '--checkpoint-container',
      `checkpoints-${run}`,
      '--blob-connection-string',
      storage,
      '--start-at',
      'earliest',
      '--state-dir',
      stateDir,
      '--load-balancing-interval',
      '1',
      '-c',
      `127.0.0.1:${receiverPort}`,
      ...options.cliArgs,
    ];
    cli = new CliRun(options.cli, args, undefined, 'eventhub');
    await cli.receiving(120_000);
    // Notifications are sent in small IPC batches (every 20 ms), each to a partition in turn.
    let outbox = [];
    let nextPartition = 0;
    const flush = async () => {
      if (outbox.length === 0) return;
      const blobs = outbox;
      outbox = [];
      await hub.ask('notify', { blobs });
    };
    const announce = (blob) => {
      outbox.push({
        partition: nextPartition++ % options.partitions,
        url: blob.container.getBlockBlobClient(blob.name).url,
        length: 1000 + blob.minutes * 400,
      });
    };
    const waitForAll = async (commits, what) => {
      const markers = commits.map(([marker]) => marker);
      const until = Date.now() + 300_000;
      let missing;
      while ((missing = (await receiver.ask('has', { markers })).missing) > 0 && Date.now() < until) await sleep(500);
      if (missing > 0) log(`event grid, ${size} blobs: ${missing} of ${markers.length} ${what} markers missing after 300 s`);
    };

    // warm-up: every blob announced once, read from its first block
    const warmStart = Date.now();
    for (const blob of estate.blobs) announce(blob);
    await flush();
    await waitForAll(estate.commits, 'warm-up');
    result.warmUpMs = Date.now() - warmStart;
    log(`event grid, ${size} blobs: warm-up (every blob read whole) ${seconds(result.warmUpMs)} s; load ${load()}`);

    // measured window
    await proxy.ask('mark');
    const requestsBefore = (await proxy.ask('stats')).counts;
    const cpuBefore = cpuMs(cli.child.pid);
    // The rig (Azurites, the proxy, the stand-in) shares the 2 cores with the CLI: reported beside it.
    const rigCpu = () => rig.cpuMs(hub.child);
    const rigBefore = rigCpu();
    const firstCommit = estate.commits.length;
    const durationMs = options.latencySeconds * 1000;
    const perWriteMs = 60_000 / rate;
    const startMs = Date.now();
    let next = 0;
    const inFlight = new Set();
    let lastFlush = Date.now();
    while (Date.now() - startMs < durationMs) {
      const due = Math.floor((Date.now() - startMs) / perWriteMs);
      while (next <= due && Date.now() - startMs < durationMs) {
        const blob = estate.blobs[next++ % estate.blobs.length];
        const write = estate
          .appendMinute(blob)
          .then(() => announce(blob))
          .finally(() => inFlight.delete(write));
        inFlight.add(write);
        if (inFlight.size >= WRITE_CONCURRENCY) await Promise.race(inFlight);
      }
      if (Date.now() - lastFlush >= 20) {
        lastFlush = Date.now();
        await flush();
      }
      await sleep(Math.max(1, Math.min(20, perWriteMs)));
    }
    await Promise.all(inFlight);
    await flush();
    const commits = estate.commits.slice(firstCommit);
    await waitForAll(commits, 'measured');
    const elapsedMs = Date.now() - startMs;
    result.cpuMs = cpuMs(cli.child.pid) - cpuBefore;
    result.rigCpuMs = rigCpu() - rigBefore;
    result.elapsedMs = elapsedMs;
    const { counts } = await proxy.ask('stats');
    result.requests = Object.fromEntries(Object.entries(counts).map(([kind, n]) => [kind, n - (requestsBefore[kind] ?? 0)]));
    result.latency = await receiver.ask('latency', { commits });
    result.latency.writes = commits.length;
    result.peakRssMb = cli.peakRssMb();
    const exit = await cli.stop();
    const all = await receiver.ask('latency', { commits: estate.commits });
    const received = await receiver.ask('stats');
    result.exactlyOnce = { committed: estate.commits.length, missing: all.missing, duplicates: received.duplicates };
    result.loadAtEnd = load();
    log(
      `event grid, ${size} blobs, ${rate.toLocaleString('en')} notifications/min: latency p50 ${seconds(result.latency.p50)} s, p95 ${seconds(result.latency.p95)} s, max ${seconds(result.latency.max)} s over ${commits.length} commits (${result.latency.missing} missing); CPU ${seconds(result.cpuMs)} s (rig ${seconds(result.rigCpuMs)} s) in ${seconds(elapsedMs)} s; requests ${JSON.stringify(result.requests)}; CLI exit ${exit.code ?? exit.signal}`,
    );
    return result;
  } finally {
    if (cli !== undefined) await cli.stop();
    await hub?.stop();
    await rig.stop();
    if (!options.keep) fs.rmSync(stateDir, { recursive: true, force: true });
    else log(`state kept in ${stateDir}`);
  }
}

function seconds(ms) {
  return Number.isFinite(ms) ? (ms / 1000).toFixed(1) : '—';
}

function median(values) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)];
}

function printEventGridTable(results) {
  const rows = [
    '| CLI | blobs | notifications / min | partitions | delay | warm-up (every blob read whole) | latency p50 / p95 / max | CLI CPU (rig CPU) / wall | requests per notification (block list, download) | peak RSS | lost / dup | load (1/5/15 min) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const per = (n) => (n / Math.max(1, r.latency?.writes ?? 0)).toFixed(2);
    rows.push(
      `| ${r.cli} | ${r.size.toLocaleString('en')} | ${r.rate.toLocaleString('en')} | ${r.partitions} | ${r.delayMs} ms | ${seconds(r.warmUpMs)} s | ${r.latency === undefined ? '—' : `${(r.latency.p50 / 1000).toFixed(2)} / ${(r.latency.p95 / 1000).toFixed(2)} / ${(r.latency.max / 1000).toFixed(2)} s`} | ${seconds(r.cpuMs)} (${seconds(r.rigCpuMs)}) / ${seconds(r.elapsedMs)} s | ${r.requests === undefined ? '—' : `${per(r.requests.blockList)}, ${per(r.requests.download)}`} | ${Math.round(r.peakRssMb ?? 0)} MB | ${r.exactlyOnce === undefined ? '—' : `${r.exactlyOnce.missing} / ${r.exactlyOnce.duplicates}`} | ${r.loadAtStart} → ${r.loadAtEnd ?? '?'} |`,
    );
  }
  process.stdout.write(`${rows.join('\n')}\n`);
}

function printTable(results) {
  const rows = [
    '| CLI | blobs | delay | first pass | steady pass | CPU / steady pass (Azurite + proxy) | requests / steady pass (list, block list, download) | peak RSS | latency p50 / p95 / max (poll) | lost / dup | load (1/5/15 min) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const steady = r.steady ?? [];
    const requests = steady.at(-1)?.requests;
    rows.push(
      `| ${r.cli} | ${r.size.toLocaleString('en')} (${r.azurites} Azurite${r.azurites === 1 ? '' : 's'}) | ${r.delayMs} ms | ${seconds(r.first?.wallMs)} s | ${seconds(median(steady.map((s) => s.wallMs)))} s | ${seconds(median(steady.map((s) => s.cpuMs)))} s (${seconds(median(steady.map((s) => s.rigCpuMs)))} s) | ${requests === undefined ? '—' : `${requests.list}, ${requests.blockList}, ${requests.download}`} | ${Math.round(Math.max(r.peakRssMb ?? 0, r.latencyPeakRssMb ?? 0))} MB | ${r.latency === undefined ? '—' : `${seconds(r.latency.p50)} / ${seconds(r.latency.p95)} / ${seconds(r.latency.max)} s (${r.latencyPoll} s)`} | ${r.exactlyOnce === undefined ? '—' : `${r.exactlyOnce.missing} / ${r.exactlyOnce.duplicates}`} | ${r.loadAtStart} → ${r.loadAtEnd ?? '?'} |`,
    );
  }
  process.stdout.write(`${rows.join('\n')}\n`);
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  ensureBuild(options.cli);
  log(`machine: ${os.cpus().length} cores, load ${load()}; CLI ${options.cli}`);
  // Interrupted: stop every child (Azurite, proxy, receiver, CLI) before going.
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      for (const child of tracked) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      process.exit(130);
    });
  }
  const results = [];
  let run = 0;
  for (const size of options.sizes) {
    run++;
    results.push(await (options.eventGrid ? measureEventGrid : measureSize)(options, size, `${process.pid}-${run}`));
  }
  (options.eventGrid ? printEventGridTable : printTable)(results);
  if (options.json !== undefined) fs.writeFileSync(options.json, `${JSON.stringify(results, null, 2)}\n`);
}

// Last: every function and constant above is initialised by now.
const role = valueOf(process.argv, '--role');
if (role === 'proxy') await runProxy();
else if (role === 'receiver') await runReceiver();
else if (role === 'eventhub') await runEventHub();
else
  await main().catch((error) => {
    process.stderr.write(`bench-live: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
