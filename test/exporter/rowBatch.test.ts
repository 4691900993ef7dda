import { describe, expect, it } from 'vitest';
import { BatchPacker, BatchUnpacker, batchViews, BATCH_BYTES, ObjectNumbers, ObjectTable, ROWS_PER_BATCH } from '../../src/exporter/rowBatch.js';
import type { NamedEntity } from '../../src/flow/interfaceNames.js';
import { FlowColumns } from '../../src/flow/flowColumns.js';
import type { AzureContext } from '../../src/flow/flowRecord.js';
import { enrichedColumns, flow, NSG_CONTEXT } from '../helpers/flows.js';

/** Every field the readers produce, in both families, with enrich columns of their own. */
function sample(count: number, contexts: readonly AzureContext[]): FlowColumns {
  const flows = Array.from({ length: count }, (_, i) =>
    flow({
      sourcePort: i,
      timeMs: 1_749_718_800_000 + i,
      azure: contexts[i % contexts.length]!,
      ...(i % 3 === 0 ? { src: '2001:db8::1', dst: 'fd00::7' } : {}),
      ...(i % 5 === 0 ? { state: 'begin', packetsForward: undefined, bytesForward: undefined, packetsReverse: undefined, bytesReverse: undefined } : {}),
      ...(i % 7 === 0 ? { decision: 'deny', direction: 'inbound' } : {}),
    }),
  );
  return enrichedColumns(flows, (f) => ({ flowStartMs: f.timeMs - 5, observationDomainId: 0xfffffff0 + (f.sourcePort % 3), interfaceIndex: f.sourcePort + 1 }));
}

describe('row batches between the threads', () => {
  it('carry every column and context of the rows, and nothing of the rows around them', () => {
    const contexts = [NSG_CONTEXT, { ...NSG_CONTEXT, rule: 'other' }, { ...NSG_CONTEXT, mac: '' }];
    const flows = sample(3000, contexts);
    const packer = new BatchPacker(false);
    const unpacker = new BatchUnpacker();
    const received = new FlowColumns(1);
    for (const [from, to] of [
      [0, 1],
      [1, 1 + ROWS_PER_BATCH],
      [2049, 3000],
    ] as const) {
      const buffer = new ArrayBuffer(BATCH_BYTES);
      // structuredClone: what postMessage does to the contexts on their way.
      const objects = structuredClone(packer.pack(flows, from, to, batchViews(buffer)));
      const columns = unpacker.columns(batchViews(buffer), to - from, objects, received);
      expect(columns.length).toBe(to - from);
      for (let i = from; i < to; i++) {
        expect(columns.recordAt(i - from)).toEqual(flows.recordAt(i));
        expect([columns.starts[i - from], columns.domains[i - from], columns.interfaces[i - from]]).toEqual([
          flows.starts[i],
          flows.domains[i],
          flows.interfaces[i],
        ]);
      }
    }
    expect(() => packer.pack(flows, 0, ROWS_PER_BATCH + 1, batchViews(new ArrayBuffer(BATCH_BYTES)))).toThrow(RangeError);
  });

  it('number each context once, and start over together when the numbers run out', () => {
    const numbers = new ObjectNumbers<AzureContext>(false, 160);
    const table = new ObjectTable<AzureContext>(false);
    const sent: { fresh: number; restart: boolean }[] = [];
    let contexts: AzureContext[] = [];
    for (let round = 0; round < 8; round++) {
      // New context objects every other round: the rounds between reuse the previous ones.
      if (round % 2 === 0) contexts = Array.from({ length: 50 }, (_, c): AzureContext => ({ ...NSG_CONTEXT, rule: `r${round}-${c}` }));
      const flows = sample(100, contexts);
      const ids = new Int32Array(100);
      numbers.prepare(100);
      const firstId = numbers.nextId;
      const objects: AzureContext[] = [];
      numbers.number(flows.contexts, 0, 100, ids, objects);
      const fresh = numbers.take(firstId, objects);
      sent.push({ fresh: fresh.objects.length, restart: fresh.restart });
      table.learn(structuredClone(fresh));
      const resolved: (AzureContext | undefined)[] = [];
      table.resolve(ids, 100, resolved);
      for (let i = 0; i < 100; i++) expect(resolved[i]!.rule).toBe(contexts[i % 50]!.rule);
    }
    // A batch of 100 rows may need 100 new numbers: when fewer than that are left of the 160, both
    // sides start over (and the batch's contexts travel again); until then known ones never do.
    expect(sent).toEqual([
      { fresh: 50, restart: false }, // numbers 0-49
      { fresh: 0, restart: false },
      { fresh: 50, restart: false }, // 50-99
      { fresh: 50, restart: true }, // 100 + 100 > 160: 0-49 again
      { fresh: 50, restart: false }, // 50-99
      { fresh: 50, restart: true },
      { fresh: 50, restart: false },
      { fresh: 50, restart: true },
    ]);
    expect(() => new ObjectTable<AzureContext>(false).learn({ objects: [NSG_CONTEXT], firstId: 3, restart: false })).toThrow(/out of step/);
  });

  it('carry the named endpoints of each row, numbered once for both ends, unknown ones as none', () => {
    const flows = sample(500, [NSG_CONTEXT]);
    const web: NamedEntity = { id: 1, names: { ips: ['10.1.0.4'], vm: 'vm-web-01', resourceGroup: 'rg-prod' } };
    const db: NamedEntity = { id: 2, names: { ips: ['10.1.0.5'], vm: 'vm-db-01' } };
    for (let i = 0; i < flows.length; i++) {
      flows.sourceEntities[i] = i % 2 === 0 ? web : undefined;
      flows.destinationEntities[i] = i % 3 === 0 ? db : i % 3 === 1 ? web : undefined;
    }
    const packer = new BatchPacker(true);
    const unpacker = new BatchUnpacker();
    const received = new FlowColumns(1);
    for (const [from, to] of [
      [0, 200],
      [200, 500],
    ] as const) {
      const buffer = new ArrayBuffer(BATCH_BYTES);
      const objects = structuredClone(packer.pack(flows, from, to, batchViews(buffer)));
      // Each endpoint crosses once: both in the first batch, none in the second.
      expect(objects.names!.objects.map((entity) => entity.names.vm)).toEqual(from === 0 ? ['vm-web-01', 'vm-db-01'] : []);
      const columns = unpacker.columns(batchViews(buffer), to - from, objects, received);
      for (let i = from; i < to; i++) {
        expect(columns.sourceEntities[i - from]?.names.vm).toBe(flows.sourceEntities[i]?.names.vm);
        expect(columns.destinationEntities[i - from]?.names.vm).toBe(flows.destinationEntities[i]?.names.vm);
      }
    }
  });
});
