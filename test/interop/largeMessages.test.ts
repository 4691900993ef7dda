/**
 * Messages larger than an Ethernet frame, for a collector on the same host (loopback's MTU is
 * 64 KiB): `--mtu 65535 --max-message-size 8192` must reach nfdump, pmacct and tshark exactly as
 * the default 1,400-byte messages do. The README suggests it to take most of the exporting
 * thread's system calls away; this holds the suggestion true.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNfacctd, stopAll as stopAllNfacctd, type PmacctFlow } from '../collectors/nfacctd.js';
import { startNfcapd, stopAll as stopAllNfcapd, type NfdumpFlow } from '../collectors/nfcapd.js';
import { stopAll as stopAllTshark, tsharkExpertMessages, tsharkMessages } from '../collectors/tshark.js';
import { runCli } from '../helpers/cli.js';
import { requireDecoders } from '../helpers/decoders.js';

requireDecoders();

const TUPLES = 6000;
const LARGE = ['--mtu', '65535', '--max-message-size', '8192'];

let dir: string;
let flowLog: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nsg2ipfix-large-'));
  flowLog = join(dir, 'PT1H.json');
  const generator = pathToFileURL(join(import.meta.dirname, '..', '..', 'scripts', 'generate-flow-log.mjs')).href;
  const { generateFlowLog } = (await import(generator)) as { generateFlowLog: (options: Record<string, unknown>) => Promise<{ tuples: number }> };
  expect((await generateFlowLog({ tuples: TUPLES, out: flowLog, seed: 11, quiet: true })).tuples).toBe(TUPLES);
});

afterAll(async () => {
  await Promise.all([stopAllNfcapd(), stopAllNfacctd(), stopAllTshark()]);
  rmSync(dir, { recursive: true, force: true });
});

interface Summary {
  messages: number;
  exportedRecords: number;
}

async function replay(to: string[], extra: readonly string[], name: string): Promise<Summary> {
  const summaryPath = join(dir, `${name}.json`);
  const run = await runCli(['replay', flowLog, ...to, '--max-pps', '2000', '--summary-json', summaryPath, '--quiet', ...extra]);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(readFileSync(summaryPath, 'utf8')) as Summary;
}

const nfdumpKey = (f: NfdumpFlow) => `${f.srcAddr} ${f.srcPort} ${f.dstAddr} ${f.dstPort} ${f.protocol} ${f.firstMs} ${f.lastMs} ${f.inPackets} ${f.inBytes}`;
/**
 * pmacct's flows summed by everything but the message's sequence number: pmacct merges records that
 * agree on every aggregate key, and the sequence number is one, so the records one message holds
 * (more of them in a larger message) may come out merged, with `flows` telling how many.
 */
function pmacctTotals(flows: readonly PmacctFlow[]): Map<string, { flows: number; packets: number; bytes: number }> {
  const totals = new Map<string, { flows: number; packets: number; bytes: number }>();
  const summed = new Set(['export_proto_seqno', 'flows', 'packets', 'bytes']);
  for (const flow of flows) {
    const key = JSON.stringify(
      Object.entries(flow)
        .filter(([name]) => !summed.has(name))
        .sort(([a], [b]) => a.localeCompare(b)),
    );
    const total = totals.get(key) ?? { flows: 0, packets: 0, bytes: 0 };
    total.flows += Number(flow['flows'] ?? 1);
    total.packets += Number(flow['packets']);
    total.bytes += Number(flow['bytes']);
    totals.set(key, total);
  }
  return totals;
}

describe('IPFIX messages of 8 KiB to collectors on 127.0.0.1', () => {
  it('nfdump stores the same records as from 1,400-byte messages, from under a quarter of the datagrams', async () => {
    const stored: Record<string, string[]> = {};
    const sent: Record<string, Summary> = {};
    for (const [name, extra] of [
      ['default', []],
      ['large', LARGE],
    ] as const) {
      const nfcapd = await startNfcapd();
      sent[name] = await replay(['--collector', `127.0.0.1:${nfcapd.port}`], extra, `nfdump-${name}`);
      const result = await nfcapd.stop();
      expect(result.badPackets ?? 0).toBe(0);
      stored[name] = result.flows.map(nfdumpKey).sort();
    }
    expect(sent['large']!.exportedRecords).toBe(sent['default']!.exportedRecords);
    expect(sent['large']!.messages).toBeLessThan(sent['default']!.messages / 4);
    expect(stored['default']).toHaveLength(sent['default']!.exportedRecords);
    expect(stored['large']).toEqual(stored['default']);
  });

  it('pmacct (nfacctd) prints the same flows as from 1,400-byte messages', async () => {
    const printed: Record<string, Map<string, { flows: number; packets: number; bytes: number }>> = {};
    const sent: Record<string, Summary> = {};
    const logs: Record<string, string> = {};
    for (const [name, extra] of [
      ['default', []],
      ['large', LARGE],
    ] as const) {
      const nfacctd = await startNfacctd();
      // Gentler than nfcapd needs: nfacctd hands each record to its plugin through a ring.
      sent[name] = await replay(['--collector', `127.0.0.1:${nfacctd.port}`], [...extra, '--max-pps', '500'], `pmacct-${name}`);
      const result = await nfacctd.stop();
      printed[name] = pmacctTotals(result.flows);
      logs[name] = result.log.split('\n').slice(-4).join('\n');
    }
    const flowCount = (totals: Map<string, { flows: number }>) => [...totals.values()].reduce((sum, total) => sum + total.flows, 0);
    expect(flowCount(printed['default']!), logs['default']).toBe(sent['default']!.exportedRecords);
    expect(flowCount(printed['large']!), logs['large']).toBe(sent['large']!.exportedRecords);
    expect(printed['large']).toEqual(printed['default']);
  });

  it('tshark decodes every record of the 8 KiB messages, with no expert warning', async () => {
    const pcap = join(dir, 'large.pcap');
    const summary = await replay(['--pcap', pcap], LARGE, 'tshark');
    const messages = tsharkMessages(pcap);
    expect(messages).toHaveLength(summary.messages);
    expect(messages.reduce((sum, message) => sum + message.flows.length, 0)).toBe(summary.exportedRecords);
    expect(tsharkExpertMessages(pcap)).toEqual([]);
  });
});
