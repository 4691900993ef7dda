#!/usr/bin/env node
/**
 * Generates large synthetic Azure flow log files (PT1H.json style) for benchmarks.
 *
 *   node scripts/generate-flow-log.mjs --tuples 1000000 --out /tmp/x.json
 *        [--kind nsg-v2|vnet] [--ipv6-share 0.05] [--tuples-per-record 2000] [--seed 1]
 *        [--start 2025-06-12T09:00:00Z] [--macs 4] [--quiet]
 *
 * The output has the block layout Azure writes: compact JSON, `{"records":[`, one record per
 * "minute" (every record after the first starts with `,`), `]}`. Record times advance by 60 s
 * from --start; tuple timestamps stay inside their record's minute and never go backwards.
 *
 * Deterministic: the same options give byte-identical output (seeded PRNG, no clock, no
 * Math.random). Streaming: one record is built at a time and written with back-pressure, and the
 * pool of open flows is bounded, so memory stays flat for multi-GB files.
 *
 * Traffic model: every NIC (--macs) keeps a bounded pool of open flows. Each step either
 * denies a new connection (deny tuple, blank counts for NSG / 0 for VNet), opens a flow (B), or
 * advances an open one (C with delta counts, or E which closes it). So C and E tuples continue a
 * B written earlier for the same 5-tuple and rule, possibly in an earlier record. Mix of TCP and
 * UDP (and some ICMP for VNet), inbound and outbound, several rules; --ipv6-share of the flows
 * use IPv6. Addresses are synthetic and never contacted.
 *
 * Size: about 67 bytes per tuple for NSG v2 (1,000,000 tuples = 67.4 MB: 42% of the tuples are
 * B or deny tuples with blank counts) and about 73 bytes for VNet (1,000,000 = 73.7 MB).
 *
 * Also importable: `import { generateFlowLog } from './generate-flow-log.mjs'`.
 */
import { createWriteStream } from 'node:fs';
import { pathToFileURL } from 'node:url';

const SUB = '00000000-0000-0000-0000-000000000000';
const NSG_RESOURCE_ID = `/SUBSCRIPTIONS/${SUB}/RESOURCEGROUPS/BENCH-RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/BENCH-NSG`;
const FLOW_LOG_RESOURCE_ID = `/SUBSCRIPTIONS/${SUB}/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_EASTUS/FLOWLOGS/BENCH-VNET-FLOWLOG`;
const VNET_TARGET_ID = `/subscriptions/${SUB}/resourceGroups/bench-rg/providers/Microsoft.Network/virtualNetworks/bench-vnet`;

/** Open flows kept per NIC; bounds memory and sets how far C/E tuples reach back. */
const POOL_SIZE_PER_MAC = 1024;
/** Share of tuples that are denied connection attempts. */
const DENY_SHARE = 0.12;
/** Chance that a step advances an open flow rather than opening a new one (pool not full). */
const ADVANCE_SHARE = 0.5;

/**
 * Rules. `dir` I/O, `deny`, `peer` (who is on the other side), `services` [protocol, port] pairs.
 * The `acl` index only matters for VNet flow logs (0: the NSG, 1: Virtual Network Manager admin
 * rules, 2: `unspecified`, encryption-policy drops).
 */
const RULES = [
  {
    name: 'DefaultRule_AllowInternetOutBound',
    dir: 'O',
    deny: false,
    peer: 'internet',
    acl: 0,
    weight: 30,
    services: [
      [6, 443],
      [6, 443],
      [6, 443],
      [6, 80],
      [17, 53],
      [17, 123],
    ],
  },
  {
    name: 'DefaultRule_AllowVnetOutBound',
    dir: 'O',
    deny: false,
    peer: 'vnet',
    acl: 0,
    weight: 15,
    services: [
      [6, 1433],
      [6, 5432],
      [6, 6379],
      [6, 445],
      [6, 443],
      [1, 0],
    ],
  },
  {
    name: 'DefaultRule_AllowVnetInBound',
    dir: 'I',
    deny: false,
    peer: 'vnet',
    acl: 0,
    weight: 10,
    services: [
      [6, 22],
      [6, 3389],
      [6, 8080],
      [6, 443],
      [1, 0],
    ],
  },
  { name: 'UserRule_AllowHttpsInbound', dir: 'I', deny: false, peer: 'internet', acl: 0, weight: 30, services: [[6, 443]] },
  { name: 'UserRule_AllowSshFromCorp', dir: 'I', deny: false, peer: 'corp', acl: 0, weight: 5, services: [[6, 22]] },
  {
    name: 'DefaultRule_DenyAllInBound',
    dir: 'I',
    deny: true,
    peer: 'internet',
    acl: 0,
    weight: 8,
    services: [
      [6, 22],
      [6, 3389],
      [6, 23],
      [6, 445],
      [6, 1433],
      [17, 5060],
      [17, 1900],
      [6, -1],
    ],
  },
  { name: 'UserRule_DenySmtpOutbound', dir: 'O', deny: true, peer: 'internet', acl: 0, weight: 1, services: [[6, 25]] },
  {
    name: 'BlockHighRiskTCPPortsFromInternet',
    dir: 'I',
    deny: true,
    peer: 'internet',
    acl: 1,
    weight: 3,
    vnetOnly: true,
    services: [
      [6, 22],
      [6, 3389],
      [6, 445],
      [6, 135],
    ],
  },
  {
    name: 'unspecified',
    dir: 'O',
    deny: true,
    peer: 'vnet',
    acl: 2,
    weight: 1,
    vnetOnly: true,
    encryption: ['NX_NOT_ACCEPTED', 'NX_SW_NOT_READY', 'NX_NOT_SUPPORTED'],
    services: [
      [6, 5432],
      [6, 1433],
    ],
  },
];
const VNET_ACL_IDS = ['7b2e4d1c-3f5a-4e8b-9c6d-1a2b3c4d5e6f', '2d9f8e7a-6b5c-4d3e-8f1a-0b9c8d7e6f5a', 'unspecified'];
/** First octets for synthetic "internet" IPv4 peers (any address, never contacted). */
const INTERNET_FIRST_OCTETS = [13, 20, 23, 40, 51, 52, 65, 91, 104, 137, 151, 168, 185, 192, 198, 203, 212];

/** sfc32: small, fast, good enough for test data, and reproducible across platforms. */
function makeRandom(seed) {
  let a = 0x9e3779b9,
    b = 0x243f6a88,
    c = 0xb7e15162,
    d = (seed >>> 0) ^ 0xdeadbeef;
  const next = () => {
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

function hex(n) {
  return n.toString(16);
}

function guidFrom(rand) {
  const h = (n) => {
    let s = '';
    for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16);
    return s;
  };
  return `${h(8)}-${h(4)}-4${h(3)}-${'89ab'[Math.floor(rand() * 4)]}${h(3)}-${h(12)}`;
}

/** Resolves on `event`, rejects on 'error'; removes both listeners either way. */
function settled(stream, event) {
  return new Promise((resolve, reject) => {
    const done = (err) => {
      stream.off(event, done);
      stream.off('error', done);
      if (err instanceof Error) reject(err);
      else resolve();
    };
    stream.on(event, done);
    stream.on('error', done);
  });
}

/** Seven-digit fraction ISO time, as Azure writes `time`. */
function azureTime(ms, rand) {
  const iso = new Date(ms).toISOString(); // 2025-06-12T09:00:58.431Z
  return iso.slice(0, 23) + String(Math.floor(rand() * 10000)).padStart(4, '0') + 'Z';
}

/**
 * Writes a synthetic flow log.
 *
 * @param {object} options
 * @param {number} options.tuples            total flow tuples to write (exact).
 * @param {string | import('node:stream').Writable} options.out
 *        a file path ('-' for stdout), or a Writable that is written to but not ended.
 * @param {'nsg-v2'|'vnet'} [options.kind='nsg-v2']
 * @param {number} [options.ipv6Share=0.05]  share of flows using IPv6 (0..1).
 * @param {number} [options.tuplesPerRecord=2000]
 * @param {number} [options.seed=1]
 * @param {string} [options.start='2025-06-12T09:00:00Z'] time of the first record's minute.
 * @param {number} [options.macs=4]          NICs (MAC addresses) the traffic is spread over.
 * @param {boolean | ((p: {tuples: number, totalTuples: number, bytes: number, elapsedMs: number}) => void)} [options.progress]
 *        true: print progress to stderr about once a second; a function: called instead.
 * @returns {Promise<{tuples: number, records: number, bytes: number, elapsedMs: number, stateCounts: Record<string, number>}>}
 */
export async function generateFlowLog({
  tuples,
  out,
  kind = 'nsg-v2',
  ipv6Share = 0.05,
  tuplesPerRecord = 2000,
  seed = 1,
  start = '2025-06-12T09:00:00Z',
  macs = 4,
  progress = false,
} = {}) {
  if (!Number.isSafeInteger(tuples) || tuples < 0) throw new TypeError(`tuples must be a non-negative integer, got ${tuples}`);
  if (!Number.isSafeInteger(tuplesPerRecord) || tuplesPerRecord < 1) throw new TypeError(`tuplesPerRecord must be a positive integer, got ${tuplesPerRecord}`);
  if (!Number.isSafeInteger(macs) || macs < 1 || macs > 250) throw new TypeError(`macs must be 1..250, got ${macs}`);
  if (!(ipv6Share >= 0 && ipv6Share <= 1)) throw new TypeError(`ipv6Share must be within 0..1, got ${ipv6Share}`);
  if (kind !== 'nsg-v2' && kind !== 'vnet') throw new TypeError(`kind must be nsg-v2 or vnet, got ${kind}`);
  const startMs = Date.parse(start);
  if (Number.isNaN(startMs)) throw new TypeError(`bad start time ${start}`);
  if (out === undefined || out === null || out === '') throw new TypeError('out is required');

  const vnet = kind === 'vnet';
  const rand = makeRandom(seed);
  const randInt = (n) => Math.floor(rand() * n);
  const pick = (list) => list[randInt(list.length)];

  // ---- the fixed world: NICs, rules, ids ----
  const nics = [];
  for (let i = 0; i < macs; i++) {
    const last = 4 + i;
    nics.push({
      index: i,
      mac: '000D3A' + (0x1b2c00 + i * 0x111).toString(16).toUpperCase().padStart(6, '0'),
      v4: `10.1.0.${last}`,
      v6: `fd12:3456:789a:1::${hex(last)}`,
      pool: [],
      open: new Set(),
    });
  }
  const rules = RULES.filter((r) => vnet || !r.vnetOnly).map((r, index) => ({ ...r, index }));
  const allowRules = rules.filter((r) => !r.deny);
  const allowWeight = allowRules.reduce((s, r) => s + r.weight, 0);
  const denyRules = rules.filter((r) => r.deny);
  const denyWeight = denyRules.reduce((s, r) => s + r.weight, 0);
  const systemId = guidFrom(rand);
  const flowLogGuid = guidFrom(rand);

  const weighted = (list, total) => {
    let x = rand() * total;
    for (const r of list) {
      x -= r.weight;
      if (x < 0) return r;
    }
    return list[list.length - 1];
  };

  const internetV4 = () => `${pick(INTERNET_FIRST_OCTETS)}.${randInt(256)}.${randInt(256)}.${1 + randInt(254)}`;
  const internetV6 = () => `2001:db8:${hex(randInt(0x10000))}:${hex(randInt(0x10000))}::${hex(1 + randInt(0xfffe))}`;
  const vnetV4 = () => `10.1.${1 + randInt(8)}.${4 + randInt(200)}`;
  const vnetV6 = () => `fd12:3456:789a:${hex(2 + randInt(8))}::${hex(4 + randInt(200))}`;
  const corpV4 = () => `198.51.100.${1 + randInt(254)}`;
  const corpV6 = () => `2001:db8:c0:1::${hex(1 + randInt(0xfff))}`;
  const peerAddress = (peer, v6) => {
    if (peer === 'internet') return v6 ? internetV6() : internetV4();
    if (peer === 'vnet') return v6 ? vnetV6() : vnetV4();
    return v6 ? corpV6() : corpV4();
  };
  const ephemeral = () => 49152 + randInt(16384);
  const linuxEphemeral = () => 32768 + randInt(28232);
  const protoField = (p) => (vnet ? String(p) : p === 6 ? 'T' : 'U');

  /** Builds the constant middle of a flow's tuples: src,dst,sport,dport,proto,dir. */
  function newConnection(rule, nic) {
    let [proto, port] = pick(rule.services);
    if (!vnet && proto === 1) [proto, port] = [6, 443]; // NSG flow logs carry TCP/UDP only
    if (port === -1) port = 1 + randInt(65535);
    const v6 = rand() < ipv6Share;
    const local = v6 ? nic.v6 : nic.v4;
    const remote = peerAddress(rule.peer, v6);
    const sport = proto === 1 ? 0 : rule.dir === 'I' ? (rand() < 0.5 ? ephemeral() : linuxEphemeral()) : ephemeral();
    const dport = proto === 1 ? 0 : port;
    const src = rule.dir === 'O' ? local : remote;
    const dst = rule.dir === 'O' ? remote : local;
    return { middle: `${src},${dst},${sport},${dport},${protoField(proto)},${rule.dir},`, proto };
  }

  /** Packet/byte deltas, heavy-tailed: most flows are small, a few large. */
  function counts(proto) {
    const pf = 1 + Math.floor(Math.exp(rand() * 7.5)); // 1..~1800
    const pr = Math.max(1, Math.floor(pf * (0.6 + rand() * 0.8)));
    const avgF = proto === 6 ? 60 + randInt(700) : proto === 17 ? 70 + randInt(400) : 84;
    const avgR = proto === 6 ? 60 + randInt(1400) : proto === 17 ? 90 + randInt(600) : 84;
    return `${pf},${pf * avgF},${pr},${pr * avgR}`;
  }

  const encryptionFor = (rule) => {
    if (rule.encryption) return pick(rule.encryption);
    if (rule.peer !== 'vnet') return 'NX';
    const x = rand();
    return x < 0.5 ? 'X' : x < 0.9 ? 'NX' : x < 0.95 ? 'NX_LOCAL_DST' : x < 0.98 ? 'NX_FALLBACK' : 'NX_HW_NOT_SUPPORTED';
  };

  const stateCounts = { B: 0, C: 0, E: 0, D: 0, deny: 0 };

  // Per-record buckets, reused: NSG [rule][nic] -> tuples; VNet [rule] -> tuples.
  const buckets = rules.map(() => (vnet ? [] : nics.map(() => [])));
  const emit = vnet
    ? (rule, nic, tuple) => {
        buckets[rule.index].push(tuple);
      }
    : (rule, nic, tuple) => {
        buckets[rule.index][nic.index].push(tuple);
      };

  /**
   * One step of the traffic model for `nic` at `time` (epoch s for NSG, ms for VNet): adds one
   * tuple to its rule's bucket. NSG: `ts,src,...,dir,A|D,B|C|E,counts`;
   * VNet: `ts,src,...,dir,B|C|E|D,enc,counts`.
   */
  function step(nic, time) {
    const pool = nic.pool;
    if (rand() < DENY_SHARE) {
      const rule = weighted(denyRules, denyWeight);
      const { middle } = newConnection(rule, nic);
      stateCounts.deny++;
      if (vnet) {
        stateCounts.D++;
        return emit(rule, nic, `${time},${middle}D,${encryptionFor(rule)},0,0,0,0`);
      }
      stateCounts.B++;
      return emit(rule, nic, `${time},${middle}D,B,,,,`);
    }
    if (pool.length > 0 && (pool.length >= POOL_SIZE_PER_MAC || rand() < ADVANCE_SHARE)) {
      const i = randInt(pool.length);
      const flow = pool[i];
      if (flow.continues > 0) {
        flow.continues--;
        stateCounts.C++;
        return emit(flow.rule, nic, vnet ? `${time},${flow.middle}C,${flow.enc},${counts(flow.proto)}` : `${time},${flow.middle}A,C,${counts(flow.proto)}`);
      }
      pool[i] = pool[pool.length - 1];
      pool.pop();
      nic.open.delete(flow.middle);
      stateCounts.E++;
      return emit(flow.rule, nic, vnet ? `${time},${flow.middle}E,${flow.enc},${counts(flow.proto)}` : `${time},${flow.middle}A,E,${counts(flow.proto)}`);
    }
    const rule = weighted(allowRules, allowWeight);
    // An open flow's 5-tuple is unique on its NIC, so every C/E continues exactly one B.
    let conn = newConnection(rule, nic);
    for (let tries = 0; nic.open.has(conn.middle) && tries < 50; tries++) conn = newConnection(rule, nic);
    const { middle, proto } = conn;
    nic.open.add(middle);
    const x = rand();
    const flow = { rule, middle, proto, enc: vnet ? encryptionFor(rule) : '', continues: x < 0.5 ? 0 : x < 0.8 ? 1 : 2 + randInt(4) };
    pool.push(flow);
    stateCounts.B++;
    return emit(rule, nic, vnet ? `${time},${middle}B,${flow.enc},0,0,0,0` : `${time},${middle}A,B,,,,`);
  }

  // ---- output ----
  let stream;
  let ownStream = false;
  if (typeof out === 'string') {
    if (out === '-') stream = process.stdout;
    else {
      stream = createWriteStream(out, { highWaterMark: 1 << 20 });
      ownStream = true;
    }
  } else stream = out;

  let streamError = null;
  const onError = (err) => {
    streamError = err;
  };
  stream.on('error', onError);
  const write = async (chunk) => {
    if (streamError) throw streamError;
    if (!stream.write(chunk)) await settled(stream, 'drain');
  };

  const began = performance.now();
  let lastReport = began;
  const report =
    typeof progress === 'function'
      ? progress
      : progress
        ? (p) => {
            const pct = p.totalTuples ? ((100 * p.tuples) / p.totalTuples).toFixed(0) : '100';
            process.stderr.write(
              `generate-flow-log: ${pct.padStart(3)}%  ${p.tuples}/${p.totalTuples} tuples  ${(p.bytes / 1e6).toFixed(1)} MB  ${(p.elapsedMs / 1000).toFixed(1)} s\n`,
            );
          }
        : null;

  let bytes = 0;
  let written = 0;
  let records = 0;
  const head = '{"records":[';
  await write(head);
  bytes += head.length;

  try {
    while (written < tuples) {
      const n = Math.min(tuplesPerRecord, tuples - written);
      const minuteMs = startMs + records * 60_000;
      const minuteSec = Math.floor(minuteMs / 1000);
      const msJitter = Math.max(1, Math.floor(58_000 / n));
      const recordNic = nics[records % nics.length]; // VNet records carry one NIC each
      for (let i = 0; i < n; i++) {
        const nic = vnet ? recordNic : nics[randInt(nics.length)];
        // Time moves forward through the minute; the last 2 s are left for the record time.
        if (vnet) step(nic, minuteMs + Math.floor((i * 58_000) / n) + randInt(msJitter));
        else step(nic, minuteSec + Math.floor((i * 58) / n));
      }
      const time = azureTime(minuteMs + 58_000 + randInt(1000), rand);
      let rec;
      if (vnet) {
        const acls = VNET_ACL_IDS.map(() => []);
        rules.forEach((rule, ri) => {
          const list = buckets[ri];
          if (list.length === 0) return;
          acls[rule.acl].push(`{"rule":"${rule.name}","flowTuples":["${list.join('","')}"]}`);
          list.length = 0;
        });
        const flows = acls
          .map((groups, ai) => (groups.length ? `{"aclID":"${VNET_ACL_IDS[ai]}","flowGroups":[${groups.join(',')}]}` : ''))
          .filter(Boolean)
          .join(',');
        rec = `{"time":"${time}","flowLogVersion":4,"flowLogGUID":"${flowLogGuid}","macAddress":"${recordNic.mac}","category":"FlowLogFlowEvent","flowLogResourceID":"${FLOW_LOG_RESOURCE_ID}","targetResourceID":"${VNET_TARGET_ID}","operationName":"FlowLogFlowEvent","flowRecords":{"flows":[${flows}]}}`;
      } else {
        const groups = [];
        rules.forEach((rule, ri) => {
          const perNic = [];
          buckets[ri].forEach((list, ni) => {
            if (list.length === 0) return;
            perNic.push(`{"mac":"${nics[ni].mac}","flowTuples":["${list.join('","')}"]}`);
            list.length = 0;
          });
          groups.push(`{"rule":"${rule.name}","flows":[${perNic.join(',')}]}`);
        });
        rec = `{"time":"${time}","systemId":"${systemId}","macAddress":"${nics[0].mac}","category":"NetworkSecurityGroupFlowEvent","resourceId":"${NSG_RESOURCE_ID}","operationName":"NetworkSecurityGroupFlowEvents","properties":{"Version":2,"flows":[${groups.join(',')}]}}`;
      }
      const chunk = records === 0 ? rec : ',' + rec;
      await write(chunk);
      bytes += chunk.length; // ASCII only
      written += n;
      records++;
      if (report) {
        const now = performance.now();
        if (now - lastReport >= 1000 || written === tuples) {
          lastReport = now;
          if (typeof progress === 'function' || tuples >= 100_000) {
            report({ tuples: written, totalTuples: tuples, bytes, elapsedMs: now - began });
          }
        }
      }
    }
    const tail = ']}';
    await write(tail);
    bytes += tail.length;
    if (ownStream) {
      stream.end();
      await settled(stream, 'finish');
    }
  } finally {
    stream.off('error', onError);
    if (ownStream && !stream.writableFinished) stream.destroy();
  }
  return { tuples: written, records, bytes, elapsedMs: performance.now() - began, stateCounts };
}

// ---- CLI ----

const USAGE = `usage: node scripts/generate-flow-log.mjs --tuples N --out FILE|-
  [--kind nsg-v2|vnet] [--ipv6-share 0.05] [--tuples-per-record 2000] [--seed 1]
  [--start 2025-06-12T09:00:00Z] [--macs 4] [--quiet]`;

function parseArgs(argv) {
  const opts = {};
  const numeric = { '--tuples': 'tuples', '--ipv6-share': 'ipv6Share', '--tuples-per-record': 'tuplesPerRecord', '--seed': 'seed', '--macs': 'macs' };
  const strings = { '--out': 'out', '--kind': 'kind', '--start': 'start' };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (arg === '--help' || arg === '-h') return null;
    if (arg === '--quiet' || arg === '-q') {
      opts.quiet = true;
      continue;
    }
    const key = numeric[arg] ?? strings[arg];
    if (!key) throw new Error(`unknown option ${arg}`);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value`);
    }
    if (numeric[arg]) {
      const num = Number(value.replace(/_/g, ''));
      if (!Number.isFinite(num)) throw new Error(`${arg}: not a number: ${value}`);
      opts[key] = num;
    } else opts[key] = value;
  }
  return opts;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`${err.message}\n${USAGE}`);
    process.exit(2);
  }
  if (opts === null) {
    console.log(USAGE);
    return;
  }
  if (opts.tuples === undefined || opts.out === undefined) {
    console.error(USAGE);
    process.exit(2);
  }
  const { quiet, ...rest } = opts;
  const result = await generateFlowLog({ ...rest, progress: !quiet });
  if (!quiet) {
    const s = result.stateCounts;
    console.error(
      `generate-flow-log: wrote ${result.tuples} tuples in ${result.records} records, ` +
        `${result.bytes} bytes (${(result.bytes / 1e6).toFixed(1)} MB, ${(result.bytes / Math.max(1, result.tuples)).toFixed(1)} B/tuple) ` +
        `in ${(result.elapsedMs / 1000).toFixed(2)} s to ${opts.out}; states B ${s.B} C ${s.C} E ${s.E}${rest.kind === 'vnet' ? ` D ${s.D}` : ''}, denies ${s.deny}`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`generate-flow-log: ${err.stack ?? err}`);
    process.exit(1);
  });
}
