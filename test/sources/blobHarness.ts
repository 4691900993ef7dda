/**
 * Shared pieces of the Blob Storage source tests: flow log records with unique tuples, an
 * in-process collector counting every tuple it receives, and the real CLI as a child process.
 */

import { FlowListener } from '../../src/listen/flowListener.js';
import { floorHour, HOUR_MS, hourPrefix } from '../../src/sources/blobPaths.js';
import { readStateDirectory } from '../../src/state/fileStateStore.js';
import type { SourceState } from '../../src/state/sourceState.js';
import { waitUntil } from '../collectors/util.js';
import { startCli, type RunningCli } from '../helpers/cli.js';

export type { RunningCli };

const SUB = '00000000-0000-0000-0000-000000000000';

/** The resource root of an NSG, as Azure names it. */
export function nsgRoot(nsg: string, resourceGroup = 'DEMO-RG'): string {
  return `resourceId=/SUBSCRIPTIONS/${SUB}/RESOURCEGROUPS/${resourceGroup}/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/${nsg}/`;
}

export function vnetRoot(flowLog: string): string {
  return `flowLogResourceID=/${SUB}_NETWORKWATCHERRG/NETWORKWATCHER_EASTUS_${flowLog}/`;
}

export function blobName(root: string, hourMs: number, mac: string): string {
  return `${hourPrefix(root, hourMs)}m=00/macAddress=${mac}/PT1H.json`;
}

/** The previous and the current hour: blobs a live source polls. */
export function liveHours(): { previous: number; current: number } {
  const current = floorHour(Date.now());
  return { previous: current - HOUR_MS, current };
}

let nextPort = 1024;

/** A tuple key as the collector will see it: every generated tuple has its own source port. */
export type TupleKey = string;

export interface GeneratedRecord {
  readonly record: object;
  readonly keys: TupleKey[];
}

/** One NSG v2 record (one minute of one NIC) with `tuples` unique tuples. */
export function nsgRecord(nsg: string, mac: string, timeMs: number, tuples: number, resourceGroup = 'DEMO-RG'): GeneratedRecord {
  const keys: TupleKey[] = [];
  const flowTuples: string[] = [];
  const seconds = Math.floor(timeMs / 1000);
  for (let i = 0; i < tuples; i++) {
    const port = nextPort++;
    const c = i % 2 === 0;
    flowTuples.push(`${seconds},10.1.0.4,203.0.113.50,${port},443,T,O,A,${c ? `C,3,${100 + i},2,${200 + i}` : 'B,,,,'}`);
    keys.push(`10.1.0.4:${port}>203.0.113.50:443`);
  }
  return {
    keys,
    record: {
      time: new Date(timeMs).toISOString(),
      systemId: '3f6c2a9e-8d41-4b7a-a5e2-6c9d0f1b7e34',
      macAddress: mac,
      category: 'NetworkSecurityGroupFlowEvent',
      resourceId: `/SUBSCRIPTIONS/${SUB}/RESOURCEGROUPS/${resourceGroup}/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/${nsg}`,
      operationName: 'NetworkSecurityGroupFlowEvents',
      properties: { Version: 2, flows: [{ rule: 'DefaultRule_AllowInternetOutBound', flows: [{ mac, flowTuples }] }] },
    },
  };
}

/** One VNet flow log record with `tuples` unique tuples. */
export function vnetRecord(flowLog: string, mac: string, timeMs: number, tuples: number): GeneratedRecord {
  const keys: TupleKey[] = [];
  const flowTuples: string[] = [];
  for (let i = 0; i < tuples; i++) {
    const port = nextPort++;
    flowTuples.push(`${timeMs},10.2.0.4,198.51.100.7,${port},443,6,O,E,NX,4,${400 + i},5,${500 + i}`);
    keys.push(`10.2.0.4:${port}>198.51.100.7:443`);
  }
  return {
    keys,
    record: {
      time: new Date(timeMs).toISOString(),
      flowLogVersion: 4,
      flowLogGUID: 'e4a7c1d2-5b3f-4a8e-b6c9-0d1f2e3a4b5c',
      macAddress: mac,
      category: 'FlowLogFlowEvent',
      flowLogResourceID: `/SUBSCRIPTIONS/${SUB}/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_EASTUS/FLOWLOGS/${flowLog}`,
      targetResourceID: `/subscriptions/${SUB}/resourceGroups/demo-rg/providers/Microsoft.Network/virtualNetworks/demo-vnet`,
      operationName: 'FlowLogFlowEvent',
      flowRecords: { flows: [{ aclID: '7b2e4d1c-3f5a-4e8b-9c6d-1a2b3c4d5e6f', flowGroups: [{ rule: 'DefaultRule_AllowInternetOutBound', flowTuples }] }] },
    },
  };
}

/** An in-process IPFIX collector (the `listen` decoder) counting each tuple it receives. */
export class TupleCollector {
  private constructor(
    private readonly listener: FlowListener,
    readonly counts: Map<TupleKey, number>,
    private readonly tally: { total: number },
  ) {}

  get total(): number {
    return this.tally.total;
  }

  static async open(): Promise<TupleCollector> {
    const counts = new Map<TupleKey, number>();
    const tally = { total: 0 };
    const listener = await FlowListener.open({
      host: '127.0.0.1',
      port: 0,
      enterpriseNumber: 32473,
      onRecord: (record) => {
        if (record.options) return;
        const f = record.fields;
        const key = `${f['sourceIPv4Address']}:${f['sourceTransportPort']}>${f['destinationIPv4Address']}:${f['destinationTransportPort']}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        tally.total++;
      },
    });
    return new TupleCollector(listener, counts, tally);
  }

  get address(): string {
    return `127.0.0.1:${this.listener.address.port}`;
  }

  has(keys: readonly TupleKey[]): boolean {
    return keys.every((key) => this.counts.has(key));
  }

  /** Keys received more than once. */
  duplicates(): TupleKey[] {
    return [...this.counts].filter(([, n]) => n > 1).map(([key]) => key);
  }

  async waitFor(keys: readonly TupleKey[], cli: RunningCli, what: string, timeoutMs = 20_000): Promise<void> {
    await waitUntil(() => this.has(keys), {
      timeoutMs,
      exited: cli.exited,
      what,
      describe: () => `received ${keys.filter((k) => this.counts.has(k)).length} of ${keys.length} tuples\n${cli.output().slice(-4000)}`,
    });
  }

  close(): Promise<void> {
    return this.listener.close();
  }
}

/** `node bin/nsg2ipfix.js blob ...` as a long-running child. */
export function startBlobCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  return startCli('blob', args, env, 10_000);
}

/** The state a running (or killed) CLI stored in `dir`: snapshot and journal, as a restart reads them. */
export function readStateFile(dir: string): SourceState | undefined {
  try {
    return readStateDirectory(dir);
  } catch {
    return undefined;
  }
}

/** Waits until the stored cursor of the blob says every block of its current version was sent. */
export async function waitForStoredEtag(
  read: () => SourceState | undefined | Promise<SourceState | undefined>,
  key: string,
  etag: string,
  cli: RunningCli,
  timeoutMs = 20_000,
): Promise<void> {
  let current: SourceState | undefined;
  let reading = false;
  await waitUntil(
    () => {
      if (!reading) {
        reading = true;
        void Promise.resolve(read()).then((state) => {
          current = state;
          reading = false;
        });
      }
      return current?.blobs[key]?.doneEtag === etag;
    },
    { timeoutMs, exited: cli.exited, what: `stored cursor of ${key}`, describe: () => `${JSON.stringify(current?.blobs[key])}\n${cli.output().slice(-4000)}` },
  );
}
