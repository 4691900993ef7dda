import { parentPort, workerData } from 'node:worker_threads';
import type { CollectorAddress } from './collectorAddress.js';
import { UdpTransport } from './udp.js';
import type { ToSender, FromSender } from './threadedUdp.js';

/**
 * The sending thread of ThreadedUdpTransport: a plain UdpTransport (sockets, pacing, error
 * accounting) fed with batches of datagrams. Each batch buffer goes back to the exporting thread
 * once every datagram in it was handed to the sockets, with the counters as they stand.
 */

interface SenderData {
  readonly collectors: readonly CollectorAddress[];
  readonly maxPacketsPerSecond: number;
  readonly socketBufferBytes: number;
}

const port = parentPort!;
const data = workerData as SenderData;
const post = (message: FromSender, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);

/** Send errors are reported to the exporting thread at most this often. */
const COUNTERS_INTERVAL_MS = 100;
let countersTimer: NodeJS.Timeout | undefined;
let udp: UdpTransport | undefined;
udp = await openTransport();
if (udp !== undefined) {
  const transport = udp;
  post({ type: 'ready', endpoints: data.collectors.map((_, i) => transport.localEndpoint(i)) });
  /** One message at a time, in order: a batch may wait for pacing or a full socket queue. */
  let queue = Promise.resolve();
  port.on('message', (message: ToSender) => {
    queue = queue.then(() => handle(transport, message));
  });
}

async function openTransport(): Promise<UdpTransport | undefined> {
  try {
    return await UdpTransport.open(data.collectors, {
      maxPacketsPerSecond: data.maxPacketsPerSecond,
      socketBufferBytes: data.socketBufferBytes,
      logger: { warn: (fields, message) => post({ type: 'log', fields, message }) },
      // Errors come late (an ICMP unreachable after the send): report them without waiting for
      // more data, at most every COUNTERS_INTERVAL_MS during an outage.
      onError: () => {
        if (countersTimer !== undefined) return;
        countersTimer = setTimeout(() => {
          countersTimer = undefined;
          if (udp !== undefined) post({ type: 'counters', ...counters(udp) });
        }, COUNTERS_INTERVAL_MS);
      },
    });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException;
    post({ type: 'failed', message: failure.message, code: failure.code });
    port.close();
    return undefined;
  }
}

const counters = (udp: UdpTransport) => ({ stats: udp.stats, lastErrorMs: udp.lastErrorMs });

async function handle(udp: UdpTransport, message: ToSender): Promise<void> {
  switch (message.type) {
    case 'batch': {
      const bytes = Buffer.from(message.buffer, 0, message.length);
      let offset = 0;
      while (offset < bytes.length) {
        const length = bytes.readUInt16BE(offset);
        const next = offset + 2 + length;
        const pending = udp.send(bytes.subarray(offset + 2, next), next >= bytes.length);
        if (pending !== undefined) await pending;
        offset = next;
      }
      // The buffer is reused by the exporting thread: nothing queued in libuv may still point into it.
      await udp.drain();
      post({ type: 'returned', buffer: message.buffer, ...counters(udp) }, [message.buffer]);
      return;
    }
    case 'drain':
      await udp.drain();
      post({ type: 'drained', id: message.id, ...counters(udp) });
      return;
    case 'close':
      await udp.close();
      clearTimeout(countersTimer);
      post({ type: 'closed', ...counters(udp) });
      port.close();
      return;
  }
}
