/**
 * Reads the receive queue of a local UDP socket from /proc/net/udp (Linux): lets a test wait until
 * a collector has taken every datagram off its socket before stopping it, instead of sleeping.
 */

import { readFileSync } from 'node:fs';
import { sleep } from '../collectors/util.js';

/** Bytes queued on the UDP sockets bound to `port` (IPv4 and IPv6); undefined if none is found. */
export function udpReceiveQueue(port: number): number | undefined {
  let total: number | undefined;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      const queues = fields[4];
      if (local === undefined || queues === undefined) continue;
      if (Number.parseInt(local.split(':')[1] ?? '', 16) !== port) continue;
      total = (total ?? 0) + Number.parseInt(queues.split(':')[1] ?? '0', 16);
    }
  }
  return total;
}

/** Waits until nothing is queued on `port` (the collector read it all), up to `timeoutMs`. */
export async function waitForEmptyReceiveQueue(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const queued = udpReceiveQueue(port);
    if (queued === undefined || queued === 0) return;
    if (Date.now() > deadline) throw new Error(`UDP port ${port} still has ${queued} bytes queued after ${timeoutMs} ms`);
    await sleep(20);
  }
}
