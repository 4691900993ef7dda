import { FlowColumns } from '../../src/flow/flowColumns.js';
import type { AzureContext, FlowRecord } from '../../src/flow/flowRecord.js';
import { parseAddress } from '../../src/azure/tupleFields.js';

export const NSG_CONTEXT: AzureContext = {
  rule: 'UserRule_AllowHttps',
  mac: '000D3AF87856',
  resourceId: '/SUBSCRIPTIONS/0/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG',
  aclId: '',
  encryption: '',
  flowLogGuid: '',
};

/** A FlowRecord with sensible defaults, for encoder and enrich tests. */
export function flow(overrides: Partial<Omit<FlowRecord, 'sourceAddress' | 'destinationAddress'>> & { src?: string; dst?: string } = {}): FlowRecord {
  const { src = '10.0.0.4', dst = '203.0.113.9', ...rest } = overrides;
  const source = parseAddress(src);
  const destination = parseAddress(dst);
  if (!('bytes' in source) || !('bytes' in destination)) throw new Error('bad test address');
  return {
    kind: 'nsg-v2',
    timeMs: 1_749_718_800_000,
    family: source.family,
    sourceAddress: source.bytes,
    destinationAddress: destination.bytes,
    sourcePort: 49152,
    destinationPort: 443,
    protocol: 6,
    direction: 'outbound',
    decision: 'allow',
    state: 'continue',
    packetsForward: 10,
    bytesForward: 1000,
    packetsReverse: 8,
    bytesReverse: 6000,
    azure: NSG_CONTEXT,
    ...rest,
  };
}

/** What the enrich stage adds to a flow. */
export interface Enrichment {
  readonly flowStartMs: number;
  readonly observationDomainId: number;
  readonly interfaceIndex: number;
}

/** Flows as the encoders take them: columns, with the enrich columns `enrich` gives each flow. */
export function enrichedColumns(flows: readonly FlowRecord[], enrich: (flow: FlowRecord) => Enrichment): FlowColumns {
  const columns = new FlowColumns();
  for (const record of flows) {
    const i = columns.length;
    columns.append(record);
    const { flowStartMs, observationDomainId, interfaceIndex } = enrich(record);
    columns.starts[i] = flowStartMs;
    columns.domains[i] = observationDomainId;
    columns.interfaces[i] = interfaceIndex;
  }
  return columns;
}
