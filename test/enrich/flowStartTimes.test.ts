import { describe, expect, it } from 'vitest';
import { FlowStartTimes } from '../../src/enrich/flowStartTimes.js';
import { interfaceIndexFromMac } from '../../src/enrich/interfaceIndex.js';
import { normalizeMac } from '../../src/flow/mac.js';
import { observationDomainFromResourceId } from '../../src/enrich/observationDomain.js';
import { flow } from '../helpers/flows.js';

describe('flow start times', () => {
  it('starts a flow at its previous tuple, and forgets it after its end tuple', () => {
    const table = new FlowStartTimes();
    const t0 = 1_749_718_800_000;
    expect(table.startFor(flow({ state: 'begin', timeMs: t0 }))).toBe(t0);
    expect(table.startFor(flow({ state: 'continue', timeMs: t0 + 300_000 }))).toBe(t0);
    expect(table.startFor(flow({ state: 'end', timeMs: t0 + 360_000 }))).toBe(t0 + 300_000);
    expect(table.startFor(flow({ state: 'begin', timeMs: t0 + 400_000 }))).toBe(t0 + 400_000);
  });

  it('keeps flows of different NICs, ports or protocols apart', () => {
    const table = new FlowStartTimes();
    table.startFor(flow({ timeMs: 1000 }));
    expect(table.startFor(flow({ timeMs: 2000, sourcePort: 1 }))).toBe(2000);
    expect(table.startFor(flow({ timeMs: 2000, protocol: 17 }))).toBe(2000);
    expect(table.startFor(flow({ timeMs: 2000, azure: { ...flow().azure, mac: '000D3A000000' } }))).toBe(2000);
    expect(table.startFor(flow({ timeMs: 2000 }))).toBe(1000);
  });

  it('never gives a deny tuple an earlier start, and never a start after the end', () => {
    const table = new FlowStartTimes();
    table.startFor(flow({ timeMs: 5000 }));
    expect(table.startFor(flow({ timeMs: 4000 }))).toBe(4000);
    expect(table.startFor(flow({ decision: 'deny', state: 'begin', timeMs: 9000, sourcePort: 7 }))).toBe(9000);
    expect(table.startFor(flow({ decision: 'deny', state: 'begin', timeMs: 9500, sourcePort: 7 }))).toBe(9500);
  });

  it('stays within its bound, forgetting only flows idle for a whole generation', () => {
    const table = new FlowStartTimes(100);
    for (let i = 0; i < 10_000; i++) table.startFor(flow({ sourcePort: i, timeMs: i }));
    expect(table.size).toBeLessThanOrEqual(100);
    const recent = flow({ sourcePort: 9_999, timeMs: 20_000 });
    expect(table.startFor(recent)).toBe(9_999);
  });
});

describe('derived ids', () => {
  it('derives a stable, non-zero 31-bit interface index from either MAC spelling', () => {
    expect(normalizeMac('00-0D-3A-F8-78-56')).toBe('000D3AF87856');
    expect(interfaceIndexFromMac('000D3AF87856')).toBe(interfaceIndexFromMac(normalizeMac('00:0d:3a:f8:78:56')));
    expect(interfaceIndexFromMac('000D3AF87856')).toBeGreaterThan(0);
    expect(interfaceIndexFromMac('000D3AF87856')).toBeLessThan(2 ** 31);
    expect(interfaceIndexFromMac('')).toBe(0);
  });

  it('derives the observation domain from the resource id, case-insensitively', () => {
    const id = '/SUBSCRIPTIONS/0/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG';
    expect(observationDomainFromResourceId(id)).toBe(observationDomainFromResourceId(id.toLowerCase()));
    expect(observationDomainFromResourceId(id)).not.toBe(observationDomainFromResourceId(`${id}2`));
    // Pinned: collectors key templates and sequence numbers by it, so it must never change.
    expect(observationDomainFromResourceId(id)).toBe(2048176127);
  });
});
