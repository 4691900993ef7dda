import { describe, expect, it } from 'vitest';
import { CheckpointOrder } from '../../src/sources/partitionCheckpoints.js';
import { Slots } from '../../src/sources/concurrentJobs.js';
import { mergeBatches, type FlowBatch } from '../../src/sources/flowBatch.js';
import { FlowColumns } from '../../src/flow/flowColumns.js';
import { flow } from '../helpers/flows.js';

describe('CheckpointOrder', () => {
  it('names an event only once every unit up to it was sent, whatever order they finish in', () => {
    const written: string[] = [];
    const order = new CheckpointOrder<string>((event) => written.push(event));
    const records = order.add('e1');
    const blobA = order.add(undefined); // the first of two blobs event e2 names
    const blobB = order.add('e2');
    const blobC = order.add('e3');
    order.settle(blobC, true);
    order.settle(blobB, true);
    expect(written).toEqual([]);
    order.settle(records, true);
    expect(written).toEqual(['e1']);
    order.settle(blobA, true);
    // e2 and e3 were both done: one checkpoint, the newest.
    expect(written).toEqual(['e1', 'e3']);
  });

  it('holds the checkpoint before a unit that was dropped, for the rest of the batch', () => {
    const written: string[] = [];
    const order = new CheckpointOrder<string>((event) => written.push(event));
    const first = order.add('e1');
    const dropped = order.add('e2');
    const later = order.add('e3');
    order.settle(later, true);
    order.settle(dropped, false);
    order.settle(first, true);
    expect(written).toEqual(['e1']);
  });
});

describe('Slots', () => {
  it('lets at most the given number hold a slot, the others in the order they asked', async () => {
    const slots = new Slots(2);
    const a = await slots.acquire();
    const b = await slots.acquire();
    const granted: string[] = [];
    const c = slots.acquire().then((release) => (granted.push('c'), release));
    const d = slots.acquire().then((release) => (granted.push('d'), release));
    await Promise.resolve();
    expect(granted).toEqual([]);
    b();
    b(); // a second release of the same slot frees nothing more
    const releaseC = await c;
    await Promise.resolve();
    expect(granted).toEqual(['c']);
    a();
    const releaseD = await d;
    expect(granted).toEqual(['c', 'd']);
    releaseC();
    releaseD();
    const e = await slots.acquire();
    const f = await slots.acquire();
    e();
    f();
  });
});

describe('mergeBatches', () => {
  it('sends the rows of several batches as one and acknowledges each in order, all of them even after one failed', async () => {
    const acked: string[] = [];
    const batch = (name: string, rows: number, fail = false): FlowBatch => {
      const records = new FlowColumns();
      for (let i = 0; i < rows; i++) records.append(flow({ sourcePort: 1000 + i }));
      return {
        records,
        source: name,
        azureRecords: 1,
        inputBytes: 10,
        ack: () => {
          acked.push(name);
          if (fail) throw new Error(`${name} failed`);
        },
      };
    };
    const merged = mergeBatches([batch('a', 2), batch('b', 1, true), batch('c', 3)], 6);
    expect(merged.records.length).toBe(6);
    expect(merged.records.recordAt(2).sourcePort).toBe(1000);
    expect(merged.azureRecords).toBe(3);
    expect(merged.inputBytes).toBe(30);
    await expect(merged.ack!()).rejects.toThrow('b failed');
    expect(acked).toEqual(['a', 'b', 'c']);
  });
});
