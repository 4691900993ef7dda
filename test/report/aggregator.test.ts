import { describe, expect, it } from 'vitest';
import { FlowColumns } from '../../src/flow/flowColumns.js';
import type { AzureContext, FlowRecord } from '../../src/flow/flowRecord.js';
import type { FlowReport, RankMeasure } from '../../src/report/flowReport.js';
import { ReportAggregator } from '../../src/report/reportAggregator.js';
import { reportResult } from '../../src/report/reportResult.js';
import { flow, NSG_CONTEXT } from '../helpers/flows.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2025, 5, 12, 9, 0, 0);
const OTHER_NSG: AzureContext = { ...NSG_CONTEXT, resourceId: '/SUBSCRIPTIONS/0/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/DB-NSG' };
const VNET: AzureContext = {
  rule: 'BlockHighRiskTCPPortsFromInternet',
  mac: '000D3A1B2C3D',
  resourceId: '/SUBSCRIPTIONS/0/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NW/FLOWLOGS/FL',
  aclId: 'acl',
  encryption: 'NX',
  flowLogGuid: 'g',
};

/** Blank counts, as NSG v1, B and deny tuples have them. */
const BLANK = { packetsForward: undefined, bytesForward: undefined, packetsReverse: undefined, bytesReverse: undefined };

function report(
  flows: readonly FlowRecord[],
  options: { by?: RankMeasure; top?: number; maxKeys?: number; sinceMs?: number; untilMs?: number } = {},
): FlowReport {
  const aggregator = new ReportAggregator({ rankBy: options.by ?? 'bytes', maxKeys: options.maxKeys, sinceMs: options.sinceMs, untilMs: options.untilMs });
  // Two batches: the aggregator must carry its state across reused columns.
  const columns = new FlowColumns();
  const half = Math.floor(flows.length / 2);
  for (const part of [flows.slice(0, half), flows.slice(half)]) {
    columns.clear();
    for (const f of part) columns.append(f);
    aggregator.addRows(columns);
  }
  return reportResult(aggregator, { top: options.top ?? 10 });
}

describe('report aggregation', () => {
  it('sends forward counts to the pair and reverse counts to the reverse pair; the flow counts once', () => {
    const r = report([
      flow({ src: '10.0.0.4', dst: '203.0.113.9', packetsForward: 10, bytesForward: 1000, packetsReverse: 8, bytesReverse: 6000, timeMs: T0 }),
      flow({ src: '10.0.0.4', dst: '203.0.113.9', packetsForward: 1, bytesForward: 100, packetsReverse: 2, bytesReverse: 200, timeMs: T0 + 60_000 }),
    ]);
    expect(r.topTalkers).toEqual([
      { source: '203.0.113.9', destination: '10.0.0.4', bytes: 6200, packets: 10, flows: 0 },
      { source: '10.0.0.4', destination: '203.0.113.9', bytes: 1100, packets: 11, flows: 2 },
    ]);
    expect(r.topHosts).toEqual([
      { address: '10.0.0.4', bytes: 7300, packets: 21, flows: 2, bytesSent: 1100, bytesReceived: 6200, packetsSent: 11, packetsReceived: 10 },
      { address: '203.0.113.9', bytes: 7300, packets: 21, flows: 2, bytesSent: 6200, bytesReceived: 1100, packetsSent: 10, packetsReceived: 11 },
    ]);
    expect(r.totals).toMatchObject({ tuples: 2, flows: 2, deniedFlows: 0, allowedFlows: 2, bytes: 7300, packets: 21 });
    expect(r.approximate).toBe(false);
    expect(r.approximations).toEqual([]);
  });

  it('counts NSG v1, B and deny tuples as flows with zero bytes; VNet state D is a deny', () => {
    const r = report([
      flow({ kind: 'nsg-v1', state: undefined, ...BLANK, src: '10.0.0.5', dst: '10.0.0.6', timeMs: T0 }),
      flow({ state: 'begin', ...BLANK, src: '10.0.0.5', dst: '10.0.0.6', timeMs: T0 }),
      flow({
        state: 'begin',
        decision: 'deny',
        direction: 'inbound',
        ...BLANK,
        src: '198.51.100.7',
        dst: '10.0.0.4',
        destinationPort: 3389,
        timeMs: T0,
        azure: { ...NSG_CONTEXT, rule: 'DefaultRule_DenyAllInBound' },
      }),
      flow({
        kind: 'vnet',
        state: 'deny',
        decision: 'deny',
        direction: 'inbound',
        packetsForward: 0,
        bytesForward: 0,
        packetsReverse: 0,
        bytesReverse: 0,
        src: '198.51.100.7',
        dst: '10.2.0.4',
        destinationPort: 22,
        timeMs: T0,
        azure: VNET,
      }),
      flow({
        kind: 'vnet',
        state: 'deny',
        decision: 'deny',
        ...BLANK,
        src: '2001:db8::66',
        dst: 'fd12:0:0:1::4',
        protocol: 17,
        destinationPort: 5060,
        azure: VNET,
      }),
    ]);
    expect(r.totals).toMatchObject({ flows: 5, deniedFlows: 3, allowedFlows: 2, bytes: 0, packets: 0 });
    expect(r.flowStates).toEqual({ B: 2, C: 0, E: 0, D: 2, none: 1 });
    expect(r.topTalkers[0]).toEqual({ source: '10.0.0.5', destination: '10.0.0.6', bytes: 0, packets: 0, flows: 2 });
    expect(r.deniedSources).toEqual([
      { address: '198.51.100.7', flows: 2 },
      { address: '2001:db8::66', flows: 1 },
    ]);
    expect(r.deniedDestinations).toEqual([
      { address: '10.0.0.4', flows: 1 },
      { address: '10.2.0.4', flows: 1 },
      { address: 'fd12:0:0:1::4', flows: 1 },
    ]);
    expect(r.deniedPorts).toEqual([
      { port: 22, protocol: 'TCP', protocolNumber: 6, flows: 1 },
      { port: 3389, protocol: 'TCP', protocolNumber: 6, flows: 1 },
      { port: 5060, protocol: 'UDP', protocolNumber: 17, flows: 1 },
    ]);
    expect(r.rules).toEqual([
      { resource: VNET.resourceId, rule: VNET.rule, flows: 2, allowedFlows: 0, deniedFlows: 2, bytes: 0, packets: 0 },
      { resource: NSG_CONTEXT.resourceId, rule: NSG_CONTEXT.rule, flows: 2, allowedFlows: 2, deniedFlows: 0, bytes: 0, packets: 0 },
      { resource: NSG_CONTEXT.resourceId, rule: 'DefaultRule_DenyAllInBound', flows: 1, allowedFlows: 0, deniedFlows: 1, bytes: 0, packets: 0 },
    ]);
    expect(r.directions.inbound).toEqual({ flows: 2, deniedFlows: 2, bytes: 0, packets: 0 });
    expect(r.directions.outbound).toEqual({ flows: 3, deniedFlows: 1, bytes: 0, packets: 0 });
  });

  it('writes IPv6 addresses in RFC 5952 form and keeps rules of different NSGs apart', () => {
    const r = report([
      flow({
        src: 'FD12:3456:789A:0001:0000:0000:0000:0004',
        dst: '2001:0db8:85a3:0000:0000:8a2e:0370:7334',
        bytesForward: 10,
        bytesReverse: 0,
        packetsReverse: 0,
      }),
      flow({ src: '10.0.0.4', dst: '10.0.0.9', bytesForward: 5, bytesReverse: 0, packetsReverse: 0, azure: OTHER_NSG }),
    ]);
    expect(r.topTalkers[0]).toMatchObject({ source: 'fd12:3456:789a:1::4', destination: '2001:db8:85a3::8a2e:370:7334', bytes: 10 });
    expect(r.rules.map((x) => [x.resource.split('/').at(-1), x.rule, x.bytes])).toEqual([
      ['WEB-NSG', NSG_CONTEXT.rule, 10],
      ['DB-NSG', NSG_CONTEXT.rule, 5],
    ]);
  });

  it('counts a host talking to itself in one flow, with both roles', () => {
    const r = report([flow({ src: '10.0.0.4', dst: '10.0.0.4', packetsForward: 1, bytesForward: 100, packetsReverse: 2, bytesReverse: 50 })]);
    expect(r.topHosts).toEqual([
      { address: '10.0.0.4', bytes: 300, packets: 6, flows: 1, bytesSent: 150, bytesReceived: 150, packetsSent: 3, packetsReceived: 3 },
    ]);
  });

  it('ranks by --by, ties by the other measures and then by address text', () => {
    const none = { packetsReverse: 0, bytesReverse: 0 };
    const flows = [
      flow({ src: '10.0.0.9', dst: '10.0.1.1', packetsForward: 5, bytesForward: 100, ...none }),
      flow({ src: '10.0.0.10', dst: '10.0.1.1', packetsForward: 5, bytesForward: 100, ...none }),
      flow({ src: '10.0.0.2', dst: '10.0.1.1', packetsForward: 9, bytesForward: 100, ...none }),
      flow({ src: '10.0.0.3', dst: '10.0.1.1', packetsForward: 1, bytesForward: 50, ...none }),
      flow({ src: '10.0.0.3', dst: '10.0.1.1', packetsForward: 1, bytesForward: 50, ...none }),
      flow({ src: '10.0.0.3', dst: '10.0.1.1', packetsForward: 1, bytesForward: 50, ...none }),
    ];
    const pairs = (by: RankMeasure) => report(flows, { by }).topTalkers.map((p) => `${p.source}:${p.bytes}/${p.packets}/${p.flows}`);
    // bytes: 150 first; three at 100 by packets (9, then 5 and 5 by text: "10.0.0.10" < "10.0.0.9").
    expect(pairs('bytes')).toEqual(['10.0.0.3:150/3/3', '10.0.0.2:100/9/1', '10.0.0.10:100/5/1', '10.0.0.9:100/5/1']);
    expect(pairs('packets')).toEqual(['10.0.0.2:100/9/1', '10.0.0.10:100/5/1', '10.0.0.9:100/5/1', '10.0.0.3:150/3/3']);
    expect(pairs('flows')).toEqual(['10.0.0.3:150/3/3', '10.0.0.2:100/9/1', '10.0.0.10:100/5/1', '10.0.0.9:100/5/1']);
    expect(report(flows, { by: 'packets', top: 2 }).topHosts.map((h) => h.address)).toEqual(['10.0.1.1', '10.0.0.2']);
    expect(report(flows, { top: 2 }).topTalkers).toHaveLength(2);
  });

  it('counts per hour and only the tuples inside --since / --until', () => {
    const r = report(
      [
        flow({ timeMs: T0 - 1 }),
        flow({ timeMs: T0, bytesForward: 1, bytesReverse: 0, packetsForward: 1, packetsReverse: 0 }),
        flow({ timeMs: T0 + HOUR + 5, bytesForward: 2, bytesReverse: 0, packetsForward: 1, packetsReverse: 0, decision: 'deny' }),
        flow({ timeMs: T0 + 2 * HOUR }),
      ],
      { sinceMs: T0, untilMs: T0 + 2 * HOUR },
    );
    expect(r.totals).toMatchObject({ tuples: 4, outsideWindow: 2, flows: 2, bytes: 3 });
    expect(r.hours).toEqual([
      { hour: '2025-06-12T09:00:00.000Z', flows: 1, deniedFlows: 0, bytes: 1, packets: 1 },
      { hour: '2025-06-12T10:00:00.000Z', flows: 1, deniedFlows: 1, bytes: 2, packets: 1 },
    ]);
    expect(r.timeRange).toEqual({
      first: '2025-06-12T09:00:00.000Z',
      last: '2025-06-12T10:00:00.005Z',
      since: '2025-06-12T09:00:00.000Z',
      until: '2025-06-12T11:00:00.000Z',
    });
  });

  it('past --max-keys marks the lists approximate with their error bounds, and still finds the heavy hitters', () => {
    const flows: FlowRecord[] = [];
    for (let i = 0; i < 200; i++) {
      flows.push(flow({ src: `10.0.${i >> 8}.${i & 255}`, dst: '203.0.113.1', bytesForward: 10, packetsForward: 1, bytesReverse: 0, packetsReverse: 0 }));
      if (i % 10 === 0) flows.push(flow({ src: '10.9.9.9', dst: '203.0.113.1', bytesForward: 1000, packetsForward: 1, bytesReverse: 0, packetsReverse: 0 }));
    }
    const exact = report(flows, { maxKeys: 1000 });
    expect(exact.approximate).toBe(false);
    const r = report(flows, { maxKeys: 16 });
    expect(r.approximate).toBe(true);
    const talkers = r.approximations.find((a) => a.list === 'topTalkers')!;
    expect(talkers).toMatchObject({ rankedBy: 'bytes', maxKeys: 16 });
    expect(talkers.maxError).toBeGreaterThanOrEqual(0);
    expect(talkers.unlistedAtMost).toBeLessThanOrEqual(r.totals.bytes / 16);
    // The heavy hitter is found, its bytes within its error of the truth.
    const heavy = r.topTalkers[0]!;
    expect(heavy.source).toBe('10.9.9.9');
    expect(heavy.error).toBeDefined();
    expect(heavy.bytes - heavy.error!).toBeLessThanOrEqual(20_000);
    expect(heavy.bytes).toBeGreaterThanOrEqual(20_000);
    // Totals and the exact lists stay exact.
    expect(r.totals).toEqual(exact.totals);
    expect(r.rules).toEqual(exact.rules);
    expect(r.rules[0]!.error).toBeUndefined();
    expect(r.approximations.map((a) => a.list).sort()).toEqual(['topHosts', 'topTalkers']);
  });
});
