import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { IPFIX_DEFAULTS } from '../../src/ipfix/encoder.js';
import { ExportThread, PACED_BATCHES_IN_FLIGHT, type ExportThreadSettings } from '../../src/exporter/exportThread.js';
import { PcapWriteError } from '../../src/transport/pcapWriter.js';
import { ROWS_PER_BATCH } from '../../src/exporter/rowBatch.js';
import type { AzureContext } from '../../src/flow/flowRecord.js';
import { DatagramDecoder } from '../../src/listen/datagramDecoder.js';
import { enrichedColumns, flow, NSG_CONTEXT } from '../helpers/flows.js';

const logger = pino({ level: 'silent' });
const NOW = 1_764_000_000_000;
const sockets: Socket[] = [];
const work = mkdtempSync(join(tmpdir(), 'nsg2ipfix-export-thread-'));
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function receiver(): Promise<{ port: number; received: Buffer[] }> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
  sockets.push(socket);
  const received: Buffer[] = [];
  socket.on('message', (message) => received.push(message));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, received };
}

function settings(port: number, overrides: Partial<ExportThreadSettings> = {}): ExportThreadSettings {
  return {
    encoding: { ...IPFIX_DEFAULTS, format: 'ipfix', describeDomains: true },
    collectors: [{ label: `127.0.0.1:${port}`, address: '127.0.0.1', family: 4, port }],
    maxPacketsPerSecond: 0,
    socketBufferBytes: 0,
    ...overrides,
  };
}

/** Row i: source port i, its own AzureContext every 100 rows (the contexts travel as numbers). */
function rows(count: number) {
  const contexts: AzureContext[] = Array.from({ length: Math.ceil(count / 100) }, (_, c) => ({ ...NSG_CONTEXT, rule: `rule-${c}` }));
  const flows = Array.from({ length: count }, (_, i) =>
    flow({ sourcePort: i % 65_536, timeMs: NOW - 60_000 + (i % 1000), packetsReverse: 0, bytesReverse: 0, azure: contexts[Math.floor(i / 100)]! }),
  );
  return enrichedColumns(flows, (f) => ({ flowStartMs: f.timeMs - 1000, observationDomainId: 7, interfaceIndex: 3 }));
}

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('ExportThread (encode and send on a thread of their own, to a receiver on 127.0.0.1)', () => {
  it('encodes every row once, in order, with its context, also when submits wait for batch buffers', async () => {
    const { port, received } = await receiver();
    // More batches than buffers (paced: PACED_BATCHES_IN_FLIGHT), submitted without a pause: the
    // buffers all go out and later submits wait for one.
    const thread = await ExportThread.open(settings(port, { maxPacketsPerSecond: 20_000 }), logger, () => {});
    const count = (PACED_BATCHES_IN_FLIGHT + 4) * ROWS_PER_BATCH;
    const flows = rows(count);
    const pending: Promise<void>[] = [];
    for (let from = 0; from < count; from += ROWS_PER_BATCH) {
      const handed = thread.submit(flows, from, Math.min(count, from + ROWS_PER_BATCH), NOW);
      if (handed !== undefined) pending.push(handed);
    }
    expect(pending.length).toBeGreaterThan(0);
    await thread.flush(NOW);
    expect(thread.counters.exportedRecords).toBe(count);
    await Promise.all(pending);
    await thread.close(NOW);
    await waitFor(() => received.length >= thread.counters.messages);
    expect(received).toHaveLength(thread.counters.messages);
    expect(thread.collectorStats[0]).toMatchObject({ datagrams: thread.counters.messages, errors: 0 });

    const decoder = new DatagramDecoder(IPFIX_DEFAULTS.enterpriseNumber);
    const records = received.flatMap((datagram) => decoder.decode(datagram, 'test').records);
    expect(records).toHaveLength(count);
    expect(records.map((r) => r.fields['sourceTransportPort'])).toEqual(Array.from({ length: count }, (_, i) => i % 65_536));
    expect(records.map((r) => r.fields['azureRuleName'])).toEqual(Array.from({ length: count }, (_, i) => `rule-${Math.floor(i / 100)}`));
    // IPFIX sequence numbers count the data records before each message: no gap, no reordering.
    let expected = 0;
    for (const datagram of received) {
      expect(datagram.readUInt32BE(8)).toBe(expected);
      expected += decoder.decode(datagram, 'again').records.length;
    }
  });

  it('counts the errors of a collector that is not there, and keeps sending', async () => {
    // A port nobody listens on: loopback answers with ICMP port unreachable (ECONNREFUSED).
    const probe = createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
    const port = probe.address().port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const thread = await ExportThread.open(settings(port), logger, () => {});
    const flows = rows(2000);
    for (let round = 0; round < 5; round++) {
      for (let from = 0; from < 2000; from += 400) await thread.submit(flows, from, from + 400, NOW);
      await thread.flush(NOW);
    }
    await thread.close(NOW);
    expect(thread.counters.exportedRecords).toBe(10_000);
    expect(thread.collectorStats[0]!.datagrams).toBe(thread.counters.messages);
    expect(thread.collectorStats[0]!.errors).toBeGreaterThan(0);
    expect(thread.collectorStats[0]!.lastError).toBe('ECONNREFUSED');
    expect(thread.counters.lastErrorMs).toBeGreaterThan(0);
  });

  it('writes every datagram to the pcap file as well, and reports a pcap file it cannot open at start', async () => {
    const { port, received } = await receiver();
    const pcap = join(work, 'capture.pcap');
    const thread = await ExportThread.open(settings(port, { pcapPath: pcap }), logger, () => {});
    await thread.submit(rows(500), 0, 500, NOW);
    await thread.close(NOW);
    await waitFor(() => received.length >= thread.counters.messages);
    // 24-byte global header, then per datagram a 16-byte record header, Ethernet, IPv4 and UDP.
    expect(readFileSync(pcap).length).toBe(24 + received.reduce((sum, d) => sum + 16 + 14 + 20 + 8 + d.length, 0));

    const failing = ExportThread.open(settings(port, { pcapPath: join(work, 'missing', 'x.pcap') }), logger, () => {});
    await expect(failing).rejects.toBeInstanceOf(PcapWriteError);
    await expect(failing).rejects.toMatchObject({ code: 'pcap-write', systemCode: 'ENOENT' });
  });

  it('reports a pcap device that opens but takes no bytes (/dev/full) at start, as a PcapWriteError', async () => {
    const { port } = await receiver();
    // /dev/full takes the open, then fails every write: the 24-byte header already, at start.
    await expect(ExportThread.open(settings(port, { pcapPath: '/dev/full' }), logger, () => {})).rejects.toMatchObject({
      code: 'pcap-write',
      systemCode: 'ENOSPC',
    });
  });
});
