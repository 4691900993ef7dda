import type { FlowRecord } from '../flow/flowRecord.js';

/** Default bound of the flow table: about 100 bytes an entry, so roughly 25 MB when full. */
export const DEFAULT_FLOW_TABLE_SIZE = 262_144;

/**
 * Gives each tuple a flow start time. Azure tuples carry one timestamp, and the counts of a C or
 * E tuple are deltas since the same flow's previous tuple, so the honest interval for those
 * counts is [previous tuple time, this tuple time]. A flow the table has not seen (first tuple,
 * evicted, or the exporter started mid-flow) starts at its tuple time.
 *
 * Bounded: the least recently seen flow is evicted first (a Map iterates in insertion order, and
 * every hit re-inserts). End and deny tuples close the flow.
 */
export class FlowStartTimes {
  private readonly lastSeenMs = new Map<string, number>();

  constructor(private readonly maxFlows = DEFAULT_FLOW_TABLE_SIZE) {}

  get size(): number {
    return this.lastSeenMs.size;
  }

  startFor(flow: FlowRecord): number {
    const key = flowKey(flow);
    const previous = this.lastSeenMs.get(key);
    const start = previous !== undefined && previous <= flow.timeMs ? previous : flow.timeMs;
    if (previous !== undefined) this.lastSeenMs.delete(key);
    if (flow.state === 'end' || flow.decision === 'deny') return start;
    this.lastSeenMs.set(key, flow.timeMs);
    if (this.lastSeenMs.size > this.maxFlows) {
      const oldest = this.lastSeenMs.keys().next();
      if (!oldest.done) this.lastSeenMs.delete(oldest.value);
    }
    return start;
  }
}

function flowKey(flow: FlowRecord): string {
  return `${flow.azure.resourceId}|${flow.azure.mac}|${flow.protocol}|${flow.sourceAddress.join('.')}|${flow.sourcePort}|${flow.destinationAddress.join('.')}|${flow.destinationPort}`;
}
