import { Writable } from 'node:stream';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readFlowLogDocument } from '../../src/azure/flowLogReader.js';
import { FlowStartTimes } from '../../src/enrich/flowStartTimes.js';
import type { AzureContext, FlowRecord, FlowState } from '../../src/flow/flowRecord.js';

/**
 * The flow start table keys flows by packed numbers in typed-array hash tables. It must answer
 * exactly as the Map-with-string-keys table it replaced (kept below as the model) on the flows the
 * Azure readers produce, and on odd flows nobody produces but the type allows.
 */

/** The previous implementation, verbatim but for the class name: the model. */
class MapFlowStartTimes {
  private young = new Map<string, number>();
  private old = new Map<string, number>();
  private readonly generationSize: number;
  private readonly nicIdByContext = new WeakMap<AzureContext, number>();
  private readonly nicIdByName = new Map<string, number>();

  constructor(maxFlows = 262_144) {
    this.generationSize = Math.max(1, Math.floor(maxFlows / 2));
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  startFor(flow: FlowRecord): number {
    const key = this.flowKey(flow);
    let previous = this.young.get(key);
    if (previous === undefined) {
      previous = this.old.get(key);
      if (previous !== undefined) this.old.delete(key);
    }
    const start = previous !== undefined && previous <= flow.timeMs ? previous : flow.timeMs;
    if (flow.state === 'end' || flow.decision === 'deny') {
      if (previous !== undefined) this.young.delete(key);
      return start;
    }
    if (previous === undefined && this.young.size >= this.generationSize) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, flow.timeMs);
    return start;
  }

  private nicId(azure: AzureContext): number {
    let id = this.nicIdByContext.get(azure);
    if (id === undefined) {
      const name = `${azure.resourceId}|${azure.mac}`;
      id = this.nicIdByName.get(name);
      if (id === undefined) {
        id = this.nicIdByName.size + 1;
        this.nicIdByName.set(name, id);
      }
      this.nicIdByContext.set(azure, id);
    }
    return id;
  }

  private flowKey(flow: FlowRecord): string {
    const address = (bytes: Uint8Array) =>
      bytes.length === 4
        ? ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0
        : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
    return `${this.nicId(flow.azure)}|${String(flow.protocol)}|${address(flow.sourceAddress)}|${flow.sourcePort}|${address(flow.destinationAddress)}|${flow.destinationPort}`;
  }
}

function expectSameStarts(flows: readonly FlowRecord[], maxFlows: number): void {
  const table = new FlowStartTimes(maxFlows);
  const model = new MapFlowStartTimes(maxFlows);
  for (let i = 0; i < flows.length; i++) {
    const flow = flows[i]!;
    const expected = model.startFor(flow);
    const actual = table.startFor(flow);
    if (actual !== expected || table.size !== model.size) {
      expect({ i, start: actual, size: table.size }).toEqual({ i, start: expected, size: model.size });
    }
  }
}

function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(list: readonly T[]): T => list[int(list.length)]! };
}

describe('flow start table (packed keys) against the Map model', () => {
  it('answers the same for generated NSG and VNet logs, at several bounds', async () => {
    const generator = pathToFileURL(join(import.meta.dirname, '..', '..', 'scripts', 'generate-flow-log.mjs')).href;
    const { generateFlowLog } = (await import(generator)) as { generateFlowLog: (options: Record<string, unknown>) => Promise<unknown> };
    for (const kind of ['nsg-v2', 'vnet']) {
      const parts: Buffer[] = [];
      const out = new Writable({
        write(chunk: Buffer, _encoding, done) {
          parts.push(chunk);
          done();
        },
      });
      await generateFlowLog({ tuples: 30_000, kind, seed: 5, ipv6Share: 0.2, tuplesPerRecord: 1000, macs: 5, out });
      const flows: FlowRecord[] = [];
      readFlowLogDocument(Buffer.concat(parts), kind, { flow: (f) => flows.push(f), problem: () => {} });
      expect(flows).toHaveLength(30_000);
      for (const maxFlows of [1, 2, 64, 1000, 262_144]) expectSameStarts(flows, maxFlows);
    }
  });

  it('answers the same for random flows: both families, any protocol, edge ports, contexts whose names run together', () => {
    const rng = random(42);
    const contexts: AzureContext[] = ['a', 'b', 'a|x'].flatMap((resourceId) =>
      ['m1', 'x|m1', ''].map((mac) => ({ rule: 'r', mac, resourceId, aclId: '', encryption: '', flowLogGuid: '' })),
    );
    const v4 = [Uint8Array.of(10, 0, 0, 1), Uint8Array.of(10, 0, 0, 2), Uint8Array.of(255, 255, 255, 255), Uint8Array.of(0, 0, 0, 0)];
    const v6 = [
      new Uint8Array(16),
      Uint8Array.of(0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
      new Uint8Array(Buffer.from('7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c', 'hex')),
      // The IPv4 bytes of v4[0] followed by zeros: a different flow from 10.0.0.1.
      Uint8Array.of(10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    ];
    const states: (FlowState | undefined)[] = ['begin', 'continue', 'end', 'deny', undefined];
    const flows: FlowRecord[] = [];
    for (let i = 0; i < 40_000; i++) {
      const state = rng.pick(states);
      const family = rng.int(4) === 0 ? 6 : 4;
      const addresses = family === 4 ? v4 : v6;
      flows.push({
        kind: 'nsg-v2',
        timeMs: 1_749_718_800_000 + rng.int(600_000) - (rng.int(10) === 0 ? 900_000 : 0),
        family,
        sourceAddress: rng.pick(addresses),
        destinationAddress: rng.pick(addresses),
        sourcePort: rng.int(20) === 0 ? rng.pick([65_535, 0]) : rng.int(4),
        destinationPort: rng.int(3),
        protocol: rng.int(10) === 0 ? rng.pick([1, 0, 255, 47]) : rng.pick([6, 17]),
        direction: 'outbound',
        decision: state === 'deny' || rng.int(20) === 0 ? 'deny' : 'allow',
        state,
        packetsForward: 1,
        bytesForward: 1,
        packetsReverse: 1,
        bytesReverse: 1,
        azure: rng.pick(contexts),
      });
    }
    for (const maxFlows of [1, 3, 10, 100, 5000]) expectSameStarts(flows, maxFlows);
  });

  it('grows past its first capacity and keeps answering, with many live flows', () => {
    const azure: AzureContext = { rule: 'r', mac: 'm', resourceId: 'x', aclId: '', encryption: '', flowLogGuid: '' };
    const flows: FlowRecord[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 20_000; i++) {
        flows.push({
          kind: 'nsg-v2',
          timeMs: round * 1000 + i,
          family: 4,
          sourceAddress: Uint8Array.of(10, 0, i >> 8, i & 0xff),
          destinationAddress: Uint8Array.of(1, 1, 1, 1),
          sourcePort: i,
          destinationPort: 443,
          protocol: 6,
          direction: 'outbound',
          decision: 'allow',
          state: round === 2 && i % 2 ? 'end' : 'continue',
          packetsForward: 1,
          bytesForward: 1,
          packetsReverse: 1,
          bytesReverse: 1,
          azure,
        });
      }
    }
    expectSameStarts(flows, 262_144);
    expectSameStarts(flows, 30_000);
  });
});
