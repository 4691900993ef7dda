#!/usr/bin/env node
/**
 * Writes test/fixtures/samples-expected.json: one plain object per flow tuple found in the bundled sample blobs.
 *
 * Deliberately independent of src/: nothing but JSON.parse and String.split(','), so that a test
 * comparing the real decoder against this file compares two separate readings of the samples.
 * Every value is the tuple field as Azure wrote it, with only these mappings:
 *   - timeMs: NSG tuples carry epoch seconds (x 1000); VNet tuples carry epoch milliseconds.
 *   - protocol: NSG letters T -> 6, U -> 17; VNet tuples already carry the IANA number.
 *   - direction: I -> "inbound", O -> "outbound".
 *   - decision: NSG field 8 (A -> "allow", D -> "deny"); VNet state D -> "deny", else "allow".
 *   - state: B -> "begin", C -> "continue", E -> "end", D -> "deny"; NSG v1 -> null.
 *   - counts: blank -> null (NSG v2 B and deny tuples); NSG v1 -> null; otherwise Number().
 *   - mac: NSG: the `mac` of the flows entry holding the tuple; VNet: the record's macAddress.
 *
 * Usage: node scripts/expected-from-samples.mjs [--check]
 *   --check  compare with the existing test/fixtures/samples-expected.json instead of writing it (exit 1 if stale).
 */
import { readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const samplesDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'samples');

function findBlobs(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findBlobs(path));
    else if (name === 'PT1H.json') found.push(path);
  }
  return found;
}

const STATES = { B: 'begin', C: 'continue', E: 'end', D: 'deny' };
const DIRECTIONS = { I: 'inbound', O: 'outbound' };
const NSG_PROTOCOLS = { T: 6, U: 17 };
const count = (s) => (s === '' ? null : Number(s));

function mustBe(value, what) {
  if (value === undefined) throw new Error(`unexpected ${what}`);
  return value;
}

const expected = [];
const blobs = findBlobs(samplesDir)
  .map((p) => relative(samplesDir, p).split(sep).join('/'))
  .sort();

for (const file of blobs) {
  const { records } = JSON.parse(readFileSync(join(samplesDir, file), 'utf8'));
  records.forEach((record, recordIndex) => {
    if (record.category === 'NetworkSecurityGroupFlowEvent') {
      const version = record.properties.Version;
      const kind = version === 1 ? 'nsg-v1' : 'nsg-v2';
      for (const group of record.properties.flows) {
        for (const flow of group.flows) {
          for (const tuple of flow.flowTuples) {
            const f = tuple.split(',');
            if (f.length !== (version === 1 ? 8 : 13)) throw new Error(`${file}: bad field count: ${tuple}`);
            expected.push({
              file,
              recordIndex,
              kind,
              timeMs: Number(f[0]) * 1000,
              srcAddr: f[1],
              dstAddr: f[2],
              srcPort: Number(f[3]),
              dstPort: Number(f[4]),
              protocol: mustBe(NSG_PROTOCOLS[f[5]], `protocol ${f[5]}`),
              direction: mustBe(DIRECTIONS[f[6]], `direction ${f[6]}`),
              decision: f[7] === 'A' ? 'allow' : f[7] === 'D' ? 'deny' : mustBe(undefined, `decision ${f[7]}`),
              state: version === 1 ? null : mustBe(STATES[f[8]], `state ${f[8]}`),
              packetsForward: version === 1 ? null : count(f[9]),
              bytesForward: version === 1 ? null : count(f[10]),
              packetsReverse: version === 1 ? null : count(f[11]),
              bytesReverse: version === 1 ? null : count(f[12]),
              rule: group.rule,
              mac: flow.mac,
            });
          }
        }
      }
    } else if (record.category === 'FlowLogFlowEvent') {
      for (const acl of record.flowRecords.flows) {
        for (const group of acl.flowGroups) {
          for (const tuple of group.flowTuples) {
            const f = tuple.split(',');
            if (f.length !== 13) throw new Error(`${file}: bad field count: ${tuple}`);
            expected.push({
              file,
              recordIndex,
              kind: 'vnet',
              timeMs: Number(f[0]),
              srcAddr: f[1],
              dstAddr: f[2],
              srcPort: Number(f[3]),
              dstPort: Number(f[4]),
              protocol: Number(f[5]),
              direction: mustBe(DIRECTIONS[f[6]], `direction ${f[6]}`),
              decision: f[7] === 'D' ? 'deny' : 'allow',
              state: mustBe(STATES[f[7]], `state ${f[7]}`),
              packetsForward: count(f[9]),
              bytesForward: count(f[10]),
              packetsReverse: count(f[11]),
              bytesReverse: count(f[12]),
              rule: group.rule,
              mac: record.macAddress,
            });
          }
        }
      }
    } else {
      throw new Error(`${file}: record ${recordIndex}: unknown category ${record.category}`);
    }
  });
}

// One object per line: easy to read, easy to diff.
const text = '[\n' + expected.map((e) => '  ' + JSON.stringify(e)).join(',\n') + '\n]\n';
const outPath = join(samplesDir, '..', 'test', 'fixtures', 'samples-expected.json');
if (process.argv.includes('--check')) {
  const current = readFileSync(outPath, 'utf8');
  if (current !== text) {
    console.error('test/fixtures/samples-expected.json is stale: run node scripts/expected-from-samples.mjs');
    process.exit(1);
  }
  console.error(`test/fixtures/samples-expected.json is up to date (${expected.length} tuples)`);
} else {
  writeFileSync(outPath, text);
  const perFile = {};
  for (const e of expected) perFile[e.file] = (perFile[e.file] ?? 0) + 1;
  for (const [file, n] of Object.entries(perFile)) console.error(`${String(n).padStart(4)}  ${file}`);
  console.error(`${String(expected.length).padStart(4)}  total -> test/fixtures/samples-expected.json`);
}
