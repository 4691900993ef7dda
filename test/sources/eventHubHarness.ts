/**
 * Shared pieces of the Event Hubs source tests: flow log, connector and Event Grid bodies whose
 * tuples are all distinct, an in-process collector counting each tuple it receives, the real CLI as
 * a child process, and readers for what BlobCheckpointStore wrote (checkpoints, ownership).
 */

import type { ContainerClient } from '@azure/storage-blob';
import { FlowListener } from '../../src/listen/flowListener.js';
import { waitUntil } from '../collectors/util.js';
import { startCli, type RunningCli } from '../helpers/cli.js';

export type { RunningCli };

const SUB = '00000000-0000-0000-0000-000000000000';
export const NSG_ID = `/SUBSCRIPTIONS/${SUB}/RESOURCEGROUPS/DEMO-RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG`;
export const FLOW_LOG_ID = `/SUBSCRIPTIONS/${SUB}/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_EASTUS/FLOWLOGS/DEMO-FLOWLOG`;

/** `src:sport>dst:dport`, as both collectors report it. Every generated tuple has its own source port. */
export type TupleKey = string;

export interface Generated<T = object> {
  readonly body: T;
  readonly keys: TupleKey[];
}

let nextPort = 2000;
function port(): number {
  if (nextPort > 65_000) nextPort = 2000;
  return nextPort++;
}

const BASE_TIME_MS = Date.UTC(2026, 10, 25, 6, 0, 0);

/** One NSG record (v2 by default) with `tuples` distinct tuples. */
export function nsgRecord(tuples: number, version: 1 | 2 = 2, minute = 1): Generated {
  const keys: TupleKey[] = [];
  const flowTuples: string[] = [];
  const seconds = Math.floor((BASE_TIME_MS + minute * 60_000) / 1000);
  for (let i = 0; i < tuples; i++) {
    const p = port();
    const tail = version === 1 ? '' : i % 2 === 0 ? `,C,3,${100 + i},2,${200 + i}` : ',B,,,,';
    flowTuples.push(`${seconds},10.1.0.4,203.0.113.50,${p},443,T,O,A${tail}`);
    keys.push(`10.1.0.4:${p}>203.0.113.50:443`);
  }
  return {
    keys,
    body: {
      time: new Date(seconds * 1000).toISOString(),
      systemId: '3f6c2a9e-8d41-4b7a-a5e2-6c9d0f1b7e34',
      macAddress: '000D3AF87856',
      category: 'NetworkSecurityGroupFlowEvent',
      resourceId: NSG_ID,
      operationName: 'NetworkSecurityGroupFlowEvents',
      properties: { Version: version, flows: [{ rule: 'DefaultRule_AllowInternetOutBound', flows: [{ mac: '000D3AF87856', flowTuples }] }] },
    },
  };
}

/** One VNet flow log record with `tuples` distinct tuples. */
export function vnetRecord(tuples: number, minute = 1): Generated {
  const keys: TupleKey[] = [];
  const flowTuples: string[] = [];
  const timeMs = BASE_TIME_MS + minute * 60_000;
  for (let i = 0; i < tuples; i++) {
    const p = port();
    flowTuples.push(`${timeMs},10.2.0.4,198.51.100.7,${p},443,6,O,E,NX,4,${400 + i},5,${500 + i}`);
    keys.push(`10.2.0.4:${p}>198.51.100.7:443`);
  }
  return {
    keys,
    body: {
      time: new Date(timeMs).toISOString(),
      flowLogVersion: 4,
      flowLogGUID: 'e4a7c1d2-5b3f-4a8e-b6c9-0d1f2e3a4b5c',
      macAddress: '000D3A1B2C3D',
      category: 'FlowLogFlowEvent',
      flowLogResourceID: FLOW_LOG_ID,
      targetResourceID: `/subscriptions/${SUB}/resourceGroups/demo-rg/providers/Microsoft.Network/virtualNetworks/demo-vnet`,
      operationName: 'FlowLogFlowEvent',
      flowRecords: { flows: [{ aclID: '7b2e4d1c-3f5a-4e8b-9c6d-1a2b3c4d5e6f', flowGroups: [{ rule: 'DefaultRule_AllowInternetOutBound', flowTuples }] }] },
    },
  };
}

/**
 * Denormalized records as the NSG flow logs connector writes them (strings everywhere, v2 counts,
 * blank counts on B tuples), or with words and numbers (`wordy`) as other forwarders do.
 */
export function connectorRecords(count: number, wordy = false): Generated<object[]> {
  const keys: TupleKey[] = [];
  const records: object[] = [];
  const seconds = Math.floor((BASE_TIME_MS + 60_000) / 1000);
  for (let i = 0; i < count; i++) {
    const p = port();
    const begin = i % 3 === 0;
    const record: Record<string, unknown> = {
      time: new Date(seconds * 1000).toISOString(),
      category: 'NetworkSecurityGroupFlowEvent',
      operationName: 'NetworkSecurityGroupFlowEvents',
      resourceId: NSG_ID,
      version: 2.0,
      nsgRuleName: 'UserRule_AllowHttps',
      mac: '000D3AF87856',
      startTime: String(seconds),
      sourceAddress: '10.3.0.4',
      destinationAddress: '192.0.2.80',
      sourcePort: wordy ? p : String(p),
      destinationPort: wordy ? 8443 : '8443',
      transportProtocol: wordy ? 'TCP' : 'T',
      deviceDirection: wordy ? 'Inbound' : 'I',
      deviceAction: wordy ? 'Allow' : 'A',
      flowState: begin ? 'B' : 'E',
    };
    if (!begin)
      Object.assign(
        record,
        wordy
          ? { packetsStoD: 7, bytesStoD: 700 + i, packetsDtoS: 6, bytesDtoS: 600 + i }
          : { packetsStoD: '7', bytesStoD: String(700 + i), packetsDtoS: '6', bytesDtoS: String(600 + i) },
      );
    records.push(record);
    keys.push(`10.3.0.4:${p}>192.0.2.80:8443`);
  }
  return { keys, body: records };
}

/** An Event Grid schema BlobCreated event for a blob URL. */
export function eventGridBlobCreated(url: string, contentLength: number): object {
  return {
    topic: `/subscriptions/${SUB}/resourceGroups/demo-rg/providers/Microsoft.Storage/storageAccounts/flowlogs`,
    subject: `/blobServices/default/containers/${new URL(url).pathname.split('/').slice(2, 3).join('')}/blobs/...`,
    eventType: 'Microsoft.Storage.BlobCreated',
    eventTime: new Date().toISOString(),
    id: `evt-${port()}`,
    data: {
      api: 'PutBlockList',
      clientRequestId: 'c0ffee00-0000-0000-0000-000000000000',
      requestId: 'bead0000-0000-0000-0000-000000000000',
      eTag: '0x8D4BCC2E4835CD0',
      contentType: 'application/json',
      contentLength,
      blobType: 'BlockBlob',
      url,
      sequencer: '00000000000004420000000000028963',
      storageDiagnostics: { batchId: 'b68529f3-68cd-4744-baa4-3c0498ec19f0' },
    },
    dataVersion: '',
    metadataVersion: '1',
  };
}

/** The same notification in the CloudEvents 1.0 schema. */
export function cloudEventBlobCreated(url: string, contentLength: number): object {
  return {
    specversion: '1.0',
    type: 'Microsoft.Storage.BlobCreated',
    source: `/subscriptions/${SUB}/resourceGroups/demo-rg/providers/Microsoft.Storage/storageAccounts/flowlogs`,
    subject: '/blobServices/default/containers/x/blobs/y',
    id: `ce-${port()}`,
    time: new Date().toISOString(),
    data: { api: 'PutBlockList', contentType: 'application/json', contentLength, blobType: 'BlockBlob', url, sequencer: '0000000000000442000000000002896a' },
  };
}

/** An in-process IPFIX collector (the `listen` decoder) counting each tuple it receives. */
export class TupleCollector {
  readonly counts = new Map<TupleKey, number>();
  total = 0;

  private constructor(private readonly listener: FlowListener) {}

  static async open(): Promise<TupleCollector> {
    const holder: { self?: TupleCollector } = {};
    const listener = await FlowListener.open({
      host: '127.0.0.1',
      port: 0,
      enterpriseNumber: 32473,
      onRecord: (record) => {
        if (record.options) return;
        const f = record.fields;
        const key = `${f['sourceIPv4Address']}:${f['sourceTransportPort']}>${f['destinationIPv4Address']}:${f['destinationTransportPort']}`;
        const self = holder.self!;
        self.counts.set(key, (self.counts.get(key) ?? 0) + 1);
        self.total++;
      },
    });
    holder.self = new TupleCollector(listener);
    return holder.self;
  }

  get address(): string {
    return `127.0.0.1:${this.listener.address.port}`;
  }

  missing(keys: readonly TupleKey[]): TupleKey[] {
    return keys.filter((key) => !this.counts.has(key));
  }

  duplicates(keys: readonly TupleKey[]): TupleKey[] {
    return keys.filter((key) => (this.counts.get(key) ?? 0) > 1);
  }

  async waitFor(keys: readonly TupleKey[], runs: readonly RunningCli[], what: string, timeoutMs = 30_000): Promise<void> {
    await waitUntil(() => this.missing(keys).length === 0, {
      timeoutMs,
      exited: Promise.race(runs.map((r) => r.exited)),
      what,
      describe: () =>
        `received ${keys.length - this.missing(keys).length} of ${keys.length} tuples\n${runs.map((r) => r.output().slice(-3000)).join('\n----\n')}`,
    });
  }

  close(): Promise<void> {
    return this.listener.close();
  }
}

/** `node bin/nsg2ipfix.js eventhub ...` as a long-running child. */
export function startEventHubCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  return startCli('eventhub', args, env, 15_000);
}

/**
 * `eventhub` against a stand-in hub, with Azurite as checkpoint store and blob account (by the
 * environment, as a deployment passes secrets); tracked in `running` until it exits.
 */
export function startEventHubCliOn(
  hub: { readonly connectionString: string },
  storageConnectionString: string,
  args: string[],
  running: Set<RunningCli>,
): RunningCli {
  const run = startEventHubCli(args, {
    NSG2IPFIX_EVENTHUB_CONNECTION_STRING: hub.connectionString,
    NSG2IPFIX_CHECKPOINT_CONNECTION_STRING: storageConnectionString,
    NSG2IPFIX_BLOB_CONNECTION_STRING: storageConnectionString,
  });
  running.add(run);
  void run.exited.then(() => running.delete(run));
  return run;
}

/** Sequence number of each partition's checkpoint, as BlobCheckpointStore stored it. */
export async function readCheckpoints(container: ContainerClient): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  for await (const blob of container.listBlobsFlat({ includeMetadata: true })) {
    const parts = blob.name.split('/');
    if (parts.at(-2) !== 'checkpoint' || blob.metadata?.['sequencenumber'] === undefined) continue;
    result.set(parts.at(-1)!, Number(blob.metadata['sequencenumber']));
  }
  return result;
}

/** Owner id of each partition (empty when released), as BlobCheckpointStore stored it. */
export async function readOwners(container: ContainerClient): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  for await (const blob of container.listBlobsFlat({ includeMetadata: true })) {
    const parts = blob.name.split('/');
    if (parts.at(-2) !== 'ownership') continue;
    result.set(parts.at(-1)!, blob.metadata?.['ownerid'] ?? '');
  }
  return result;
}

/** Polls an async probe until it says yes (for checkpoints and ownership in Azurite). */
export async function waitForAsync(probe: () => Promise<boolean>, runs: readonly RunningCli[], what: string, timeoutMs = 30_000): Promise<void> {
  let satisfied = false;
  let busy = false;
  let lastError = '';
  await waitUntil(
    () => {
      if (!busy && !satisfied) {
        busy = true;
        probe()
          .then((ok) => (satisfied = ok))
          .catch((error: Error) => (lastError = error.message))
          .finally(() => (busy = false));
      }
      return satisfied;
    },
    {
      timeoutMs,
      exited: Promise.race(runs.map((r) => r.exited)),
      what,
      describe: () => `${lastError}\n${runs.map((r) => r.output().slice(-3000)).join('\n----\n')}`,
    },
  );
}
