#!/usr/bin/env node
/**
 * Micro-benchmark of the name lookups a replay makes per tuple (issue 14: enrichment may cost at
 * most 1.2x a replay without it; a replay runs ~1M tuples/s, so the budget is ~200 ns a tuple).
 *
 * A 10,000-NIC map (each NIC one private IPv4, 1 in 10 a public IPv4, 1 in 20 an IPv6 address,
 * 1 in 50 addresses with two owners over time) and 4M tuples laid out as FlowColumns stores them
 * (address words in an Int32Array; the MAC one string per rule group of 100 tuples). Per tuple:
 * the local NIC by MAC, both endpoints by address (half the remote addresses are unknown, as
 * internet peers are), the MAC once per group as the enrich stage does. Prints lookups per second
 * and nanoseconds per tuple, median of 5 runs, less a walk over the same columns without lookups.
 *
 *   npm run build && node scripts/bench-names.mjs
 */
import { NameMap } from '../dist/enrich/nameMap.js';
import { addressWords } from '../dist/flow/interfaceNames.js';

const NICS = 10_000;
const TUPLES = 4_000_000;
const GROUP = 100;
const RUNS = 5;

const hex = (n) => n.toString(16).padStart(12, '0').toUpperCase();
const entries = [];
for (let i = 0; i < NICS; i++) {
  const ips = [`10.${(i >> 8) & 255}.${i & 255}.4`];
  if (i % 10 === 0) ips.push(`20.${(i >> 8) & 255}.${i & 255}.9`);
  if (i % 20 === 0) ips.push(`2001:db8::${i.toString(16)}`);
  entries.push({ mac: hex(0x000d3a000000 + i), ips, vm: `vm-${i}`, nic: `vm-${i}-nic0`, resourceGroup: 'rg', subscription: 's', vnet: 'v', subnet: 'web' });
}
const history = [];
for (let i = 0; i < NICS; i += 50) {
  history.push({
    ip: `10.${(i >> 8) & 255}.${i & 255}.4`,
    owners: [
      { names: { ...entries[(i + 1) % NICS], mac: undefined, resourceId: `/old/${i}` }, sinceMs: 0, untilMs: 1_700_000_000_000 },
      { names: entries[i], sinceMs: 1_700_000_000_000 },
    ],
  });
}
const built = performance.now();
const map = NameMap.build(entries, history);
const buildMs = performance.now() - built;

// Tuples as FlowColumns holds them: 8 address words per row (IPv4 in words 0 and 4).
const words = new Int32Array(TUPLES * 8);
const macs = new Array(TUPLES / GROUP);
const v6 = new Uint8Array(TUPLES);
let seed = 12345;
const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
for (let g = 0; g < TUPLES / GROUP; g++) {
  // Azure's spelling; one string object per group, as the fast reader hands it.
  macs[g] = `00-0D-3A-${hex(0x000d3a000000 + Math.floor(random() * NICS))
    .slice(6)
    .replace(/(..)(?!$)/g, '$1-')}`;
}
for (let t = 0; t < TUPLES; t++) {
  const local = Math.floor(random() * NICS);
  const remote = Math.floor(random() * NICS);
  const at = t * 8;
  if (t % 20 === 0) {
    v6[t] = 1;
    words.set(addressWords(`2001:db8::${local.toString(16)}`), at);
    words.set(addressWords(random() < 0.5 ? `2001:db8::${remote.toString(16)}` : `2a01:111::${remote.toString(16)}`), at + 4);
  } else {
    words[at] = addressWords(`10.${(local >> 8) & 255}.${local & 255}.4`)[0];
    words[at + 4] = addressWords(random() < 0.5 ? `10.${(remote >> 8) & 255}.${remote & 255}.4` : `203.0.${remote & 255}.${(remote >> 8) & 255}`)[0];
  }
}

function pass() {
  let named = 0;
  const timeMs = 1_700_000_100_000;
  let nic;
  for (let t = 0; t < TUPLES; t++) {
    // As the enrich stage does: the NIC once per rule group (its rows share one context), the addresses per row.
    if (t % GROUP === 0) nic = map.forMac(macs[t / GROUP]);
    const at = t * 8;
    const source = v6[t] === 1 ? map.forIpv6(words, at, timeMs, nic) : map.forIpv4(words[at], timeMs, nic);
    const destination = v6[t] === 1 ? map.forIpv6(words, at + 4, timeMs, nic) : map.forIpv4(words[at + 4], timeMs, nic);
    if (nic !== undefined) named++;
    if (source !== undefined) named++;
    if (destination !== undefined) named++;
  }
  return named;
}

/** The same walk over the columns without a lookup: what the lookups add is the difference (this machine's speed drifts). */
function walk() {
  let sum = 0;
  for (let t = 0; t < TUPLES; t++) {
    const mac = macs[(t / GROUP) | 0];
    const at = t * 8;
    sum += (v6[t] === 1 ? words[at + 3] ^ words[at + 7] : words[at] ^ words[at + 4]) + mac.length;
  }
  return sum;
}

function median(run) {
  run(); // warm-up: let the JIT compile it
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint();
    run();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { times, medianMs: times[Math.floor(RUNS / 2)] };
}

const named = pass();
const { times, medianMs: lookupMs } = median(pass);
const { medianMs: walkMs } = median(walk);
const medianMs = lookupMs - walkMs;
const lookups = TUPLES * 2 + TUPLES / GROUP;
console.log(`map: ${NICS} NICs, ${map.entities.length} entities, ${map.addressCount} addresses, built in ${buildMs.toFixed(0)} ms`);
console.log(
  `${TUPLES} tuples x 2 address lookups (+ 1 MAC lookup per group of ${GROUP}), ${named} named; runs ${times.map((t) => t.toFixed(0)).join(' / ')} ms, the walk alone ${walkMs.toFixed(0)} ms`,
);
console.log(
  `lookups: ${medianMs.toFixed(0)} ms, ${(((lookups / medianMs) * 1000) / 1e6).toFixed(1)} M lookups/s, ${((medianMs * 1e6) / TUPLES).toFixed(1)} ns per tuple (budget at 1M tuples/s and 1.2x: 200 ns)`,
);
