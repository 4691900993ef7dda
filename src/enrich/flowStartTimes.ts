import type { AzureContext, FlowRecord } from '../flow/flowRecord.js';

/** Default bound of the flow table: about 100 bytes an entry, so roughly 25 MB when full. */
export const DEFAULT_FLOW_TABLE_SIZE = 262_144;

/**
 * Gives each tuple a flow start time. Azure tuples carry one timestamp, and the counts of a C or
 * E tuple are deltas since the same flow's previous tuple, so the honest interval for those
 * counts is [previous tuple time, this tuple time]. A flow the table has not seen (first tuple,
 * forgotten, or the exporter started mid-flow) starts at its tuple time.
 *
 * Bounded by two generations instead of an exact LRU: new entries go to the young map; when it
 * holds half the bound, it becomes the old one and the previous old one is dropped. Flows seen
 * again are copied forward, so only flows idle for a whole generation are forgotten, and no
 * per-tuple delete/re-insert is needed. End and deny tuples close the flow.
 */
export class FlowStartTimes {
  private young = new Map<string, number>();
  private old = new Map<string, number>();
  private readonly generationSize: number;

  constructor(maxFlows = DEFAULT_FLOW_TABLE_SIZE) {
    this.generationSize = Math.max(1, Math.floor(maxFlows / 2));
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  startFor(flow: FlowRecord): number {
    const key = flowKey(flow);
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
}

/**
 * Flows are per NIC (resource id + MAC). Each rule group's AzureContext object is shared by its
 * tuples, so the NIC's short number is looked up once per context, not built as a long string
 * per tuple: the key stays short, which is most of the cost of this stage.
 */
const nicIdByContext = new WeakMap<AzureContext, number>();
const nicIdByName = new Map<string, number>();

function nicId(azure: AzureContext): number {
  let id = nicIdByContext.get(azure);
  if (id === undefined) {
    const name = `${azure.resourceId}|${azure.mac}`;
    id = nicIdByName.get(name);
    if (id === undefined) {
      if (nicIdByName.size >= 1_000_000) nicIdByName.clear();
      id = nicIdByName.size + 1;
      nicIdByName.set(name, id);
    }
    nicIdByContext.set(azure, id);
  }
  return id;
}

function addressKey(bytes: Uint8Array): string | number {
  if (bytes.length === 4) return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

function flowKey(flow: FlowRecord): string {
  return `${nicId(flow.azure)}|${flow.protocol}|${addressKey(flow.sourceAddress)}|${flow.sourcePort}|${addressKey(flow.destinationAddress)}|${flow.destinationPort}`;
}
