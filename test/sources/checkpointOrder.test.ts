import { describe, expect, it } from 'vitest';
import { CheckpointOrder } from '../../src/sources/checkpointOrder.js';
import { Slots } from '../../src/sources/concurrentJobs.js';

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
