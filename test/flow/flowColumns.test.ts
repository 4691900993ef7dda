import { describe, expect, it } from 'vitest';
import { FlowColumns } from '../../src/flow/flowColumns.js';
import type { AzureContext, FlowRecord } from '../../src/flow/flowRecord.js';
import { flow, NSG_CONTEXT } from '../helpers/flows.js';

const VNET_CONTEXT: AzureContext = { rule: 'r', mac: '00-0D-3A-F8-78-56', resourceId: '/FLOWLOG', aclId: 'acl', encryption: 'NX', flowLogGuid: 'g' };

/** Every kind, family, state and blank-count combination the readers produce. */
const FLOWS: FlowRecord[] = [
  flow(),
  flow({ kind: 'nsg-v1', state: undefined, packetsForward: undefined, bytesForward: undefined, packetsReverse: undefined, bytesReverse: undefined }),
  flow({ state: 'begin', packetsForward: undefined, bytesForward: undefined, packetsReverse: undefined, bytesReverse: undefined, direction: 'inbound' }),
  flow({ decision: 'deny', state: 'end', src: '2001:db8::1', dst: 'fd12:3456:789a:1::4', protocol: 17 }),
  flow({ kind: 'vnet', state: 'deny', decision: 'deny', protocol: 1, sourcePort: 0, destinationPort: 0, azure: VNET_CONTEXT }),
  flow({ timeMs: 1_749_718_800_123, bytesForward: 2 ** 53 - 1, packetsReverse: 0, sourcePort: 65535, destinationPort: 0 }),
];

describe('FlowColumns', () => {
  it('gives back every field of every appended record, through the reused record and as copies', () => {
    const columns = new FlowColumns(2);
    for (const record of FLOWS) columns.append(record);
    expect(columns.length).toBe(FLOWS.length);
    FLOWS.forEach((record, i) => {
      expect(columns.at(i)).toEqual(record);
      expect(columns.recordAt(i)).toEqual(record);
    });
    expect(columns.at(FLOWS.length)).toBeUndefined();
    expect(columns.at(-1)).toBeUndefined();
  });

  it('appends every row of other columns after its own, growing as needed (batches gathered into one send)', () => {
    const first = new FlowColumns(1);
    first.append(FLOWS[0]!);
    const second = new FlowColumns(2);
    for (const record of FLOWS.slice(1)) second.append(record);
    first.appendAll(second);
    first.appendAll(new FlowColumns());
    expect(first.length).toBe(FLOWS.length);
    FLOWS.forEach((record, i) => expect(first.recordAt(i)).toEqual(record));
    // The source is left as it was.
    expect(second.length).toBe(FLOWS.length - 1);
    expect(second.recordAt(0)).toEqual(FLOWS[1]);
  });

  it('reuses one record for at(), so a kept record must come from recordAt()', () => {
    const columns = new FlowColumns();
    for (const record of FLOWS) columns.append(record);
    const first = columns.at(0);
    const kept = columns.recordAt(0);
    expect(columns.at(3)).toBe(first);
    expect(first).toEqual(FLOWS[3]);
    expect(kept).toEqual(FLOWS[0]);
    // The kept copy owns its address bytes.
    expect(kept.sourceAddress.buffer).not.toBe(columns.recordAt(0).sourceAddress.buffer);
  });

  it('grows past its first capacity, rolls back with truncate() and starts over after clear()', () => {
    const batch = new FlowColumns(1);
    for (let k = 0; k < 3; k++) for (const record of FLOWS) batch.append(record);
    expect(batch.length).toBe(3 * FLOWS.length);
    for (let i = 0; i < batch.length; i++) expect(batch.at(i)).toEqual(FLOWS[i % FLOWS.length]);
    expect(batch.at(0)!.azure).toBe(NSG_CONTEXT);
    batch.truncate(FLOWS.length + 2);
    expect(batch.length).toBe(FLOWS.length + 2);
    batch.truncate(100);
    expect(batch.length).toBe(FLOWS.length + 2);
    batch.clear();
    expect(batch.length).toBe(0);
    batch.append(FLOWS[4]!);
    expect(batch.at(0)).toEqual(FLOWS[4]);
  });

  it('drops the rows before a time and keeps the rest in order', () => {
    const columns = new FlowColumns();
    const times = [5, 1, 7, 3, 9, 5];
    times.forEach((timeMs, i) => columns.append(FLOWS[i % FLOWS.length]!.family === 6 ? { ...FLOWS[3]!, timeMs } : { ...FLOWS[0]!, timeMs, sourcePort: i }));
    const kept = [0, 2, 4, 5].map((i) => columns.recordAt(i));
    columns.dropBefore(5);
    expect(columns.length).toBe(4);
    kept.forEach((record, i) => expect(columns.recordAt(i)).toEqual(record));
  });

  it('refuses addresses that do not match the family', () => {
    const columns = new FlowColumns();
    expect(() => columns.append({ ...flow(), sourceAddress: new Uint8Array(16) })).toThrow(RangeError);
    expect(() => columns.append({ ...flow(), family: 6 })).toThrow(RangeError);
    expect(columns.length).toBe(0);
  });
});
