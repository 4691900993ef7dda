/**
 * "Run as a sidecar": the collector goes away for a while and comes back. A live `nsg2ipfix blob`
 * follows a PT1H.json in Azurite and sends to a real nfcapd on 127.0.0.1:P. nfcapd is stopped
 * (every send is refused: ICMP port unreachable, ECONNREFUSED), a minute is appended (those
 * tuples may be lost: UDP), then a NEW nfcapd is started on the same port and one more minute is
 * appended: the new collector must decode it, which it can only do because templates go out
 * again with every batch for a while after a send error (a fresh collector has no templates, and
 * the scheduled refresh is 60 s away). Throughout, the process stays up and /metrics counts the
 * send errors; SIGTERM then ends it with exit code 0.
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNfcapd, stopAll as stopAllNfcapd, type NfcapdResult } from '../collectors/nfcapd.js';
import { sleep } from '../collectors/util.js';
import { AzureStyleBlobWriter, startAzurite, type AzuriteRun } from '../helpers/azurite.js';
import {
  blobName,
  liveHours,
  nsgRecord,
  nsgRoot,
  readStateFile,
  startBlobCli,
  waitForStoredEtag,
  type RunningCli,
  type TupleKey,
} from '../sources/blobHarness.js';
import { waitForEmptyReceiveQueue } from './udpQueue.js';

const CONTAINER = 'collector-outage';
const MAC = '000D3AF80101';

let azurite: AzuriteRun;
const running = new Set<RunningCli>();
const tempDirs: string[] = [];

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await Promise.allSettled([...running].map((cli) => cli.stop('SIGKILL')));
  await stopAllNfcapd();
  await azurite?.stop();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** Polls an async condition every 50 ms; fails early if the CLI exits, with its log. */
async function until(check: () => Promise<boolean>, what: string, cli: RunningCli, timeoutMs = 20_000): Promise<void> {
  let exited = false;
  void cli.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (exited) throw new Error(`nsg2ipfix exited while waiting for ${what}:\n${cli.output().slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`no ${what} after ${timeoutMs} ms:\n${cli.output().slice(-4000)}`);
    await sleep(50);
  }
}

/** The address the CLI's HTTP endpoint bound (it logs it; --http 127.0.0.1:0 picks a free port). */
async function httpAddress(cli: RunningCli): Promise<string> {
  let address: string | undefined;
  await until(
    async () => {
      for (const line of cli.output().split('\n')) {
        if (!line.includes('HTTP endpoint up')) continue;
        address = (JSON.parse(line) as { http?: string }).http;
      }
      return address !== undefined;
    },
    'HTTP endpoint',
    cli,
  );
  return address!;
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

/** The value of one Prometheus sample, 0 when the series is absent (counters at 0 are not exported). */
function sample(metrics: string, name: string, labels: Record<string, string>): number {
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

function keysOf(result: NfcapdResult): Set<TupleKey> {
  return new Set(result.flows.map((f) => `${f.srcAddr}:${f.srcPort}>${f.dstAddr}:${f.dstPort}`));
}

describe('collector outage', () => {
  it('keeps running while the collector is gone, counts the send errors, and a new collector on the same port decodes the next minute', async () => {
    const { current } = liveHours();
    const container = azurite.service.getContainerClient(CONTAINER);
    const writer = await new AzureStyleBlobWriter(container, blobName(nsgRoot('OUTAGE-NSG'), current, MAC)).create();
    const key = `${CONTAINER}/${writer.name}`;
    const minute = (n: number, tuples: number) => nsgRecord('OUTAGE-NSG', MAC, current + n * 60_000, tuples);
    const first = minute(1, 6);
    await writer.appendRecords([first.record]);

    const before = await startNfcapd();
    const port = before.port;
    const collector = `127.0.0.1:${port}`;
    const state = mkdtempSync(join(tmpdir(), 'nsg2ipfix-outage-'));
    tempDirs.push(state);
    const summaryPath = join(state, 'summary.json');
    const cli = startBlobCli(
      [
        '--container',
        CONTAINER,
        '--start-at',
        'beginning',
        '--state-dir',
        state,
        '--summary-json',
        summaryPath,
        '-c',
        collector,
        '--http',
        '127.0.0.1:0',
        '--biflow',
        'rfc5103',
        '--poll-interval',
        '1',
        '--max-pps',
        '0',
        '--log-level',
        'debug',
      ],
      { NSG2IPFIX_CONNECTION_STRING: azurite.connectionString },
    );
    running.add(cli);
    void cli.exited.then(() => running.delete(cli));
    const base = `http://${await httpAddress(cli)}`;
    const metrics = async () => (await get(`${base}/metrics`)).text;

    // 1. The collector is up: the first minute reaches it.
    await waitForStoredEtag(() => readStateFile(state), key, await writer.etag(), cli);
    await waitForEmptyReceiveQueue(port);
    const firstRun = await before.stop();
    expect([...keysOf(firstRun)].sort()).toEqual([...first.keys].sort());
    expect(sample(await metrics(), 'nsg2ipfix_send_errors_total', { collector })).toBe(0);

    // 2. The collector is gone: a minute is sent into the void (ECONNREFUSED); the process stays up.
    const lost = minute(2, 5);
    await writer.appendRecords([lost.record]);
    await waitForStoredEtag(() => readStateFile(state), key, await writer.etag(), cli);
    await until(async () => sample(await metrics(), 'nsg2ipfix_send_errors_total', { collector }) > 0, 'send errors on /metrics', cli);
    expect(cli.child.exitCode).toBeNull();
    expect((await get(`${base}/healthz`)).status).toBe(200);
    expect(sample(await metrics(), 'nsg2ipfix_packets_sent_total', { collector })).toBeGreaterThan(0);
    expect(cli.output()).toMatch(/sending to collector failed; continuing/);
    expect(cli.output()).toContain('"code":"ECONNREFUSED"');

    // 3. A new collector on the same port: it has no templates, yet decodes the next minute.
    const after = await startNfcapd({ port });
    const back = minute(3, 7);
    await writer.appendRecords([back.record]);
    await waitForStoredEtag(() => readStateFile(state), key, await writer.etag(), cli);
    await waitForEmptyReceiveQueue(port);

    // 4. SIGTERM: a clean stop, exit code 0 (stop() SIGKILLs after 10 s, which would fail this).
    const stopping = Date.now();
    const exit = await cli.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopping).toBeLessThan(10_000);

    const secondRun = await after.stop();
    const received = keysOf(secondRun);
    for (const k of back.keys) expect(received.has(k), `${k} reached the new collector\n${secondRun.stderr.slice(-2000)}`).toBe(true);
    // Nothing of the first minute is sent again; of the lost minute, nothing can arrive (sent before).
    for (const k of [...first.keys, ...lost.keys]) expect(received.has(k)).toBe(false);

    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as { collectors: { label: string; errors: number; lastError?: string }[]; tuples: number };
    expect(summary.tuples).toBe(first.keys.length + lost.keys.length + back.keys.length);
    expect(summary.collectors).toHaveLength(1);
    expect(summary.collectors[0]!.label).toBe(collector);
    expect(summary.collectors[0]!.errors).toBeGreaterThan(0);
    expect(summary.collectors[0]!.lastError).toBe('ECONNREFUSED');
  });
});
