import { createSocket, type Socket } from 'node:dgram';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadedUdpTransport } from '../../src/transport/threadedUdp.js';

const logger = pino({ level: 'silent' });
const sockets: Socket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

async function receiver(): Promise<{ port: number; received: Buffer[] }> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
  sockets.push(socket);
  const received: Buffer[] = [];
  socket.on('message', (message) => received.push(message));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, received };
}

/** Datagram i: its index in the first 4 bytes, then filler; sizes vary from 40 to 1400 bytes. */
function datagram(i: number): Buffer {
  const bytes = Buffer.alloc(40 + ((i * 397) % 1361), i & 0xff);
  bytes.writeUInt32BE(i, 0);
  return bytes;
}

describe('ThreadedUdpTransport (UDP from a sending thread, to a receiver on 127.0.0.1)', () => {
  it('delivers every datagram in order, also when sends overlap and wait for batch buffers', async () => {
    const { port, received } = await receiver();
    // Paced, so that the 8 batch buffers (2 MiB) fill up and later sends queue for one.
    const transport = await ThreadedUdpTransport.open([{ label: `127.0.0.1:${port}`, address: '127.0.0.1', family: 4, port }], {
      maxPacketsPerSecond: 4000,
      socketBufferBytes: 0,
      logger,
    });
    const count = 3000;
    const pending: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const result = transport.send(datagram(i), 0);
      if (result !== undefined) pending.push(result);
    }
    expect(pending.length).toBeGreaterThan(0);
    // drain waits for the datagrams still queued for a buffer, then for the sending thread.
    await transport.drain();
    expect(transport.stats[0]!.datagrams).toBe(count);
    await Promise.all(pending);
    await transport.close();
    const deadline = Date.now() + 5000;
    while (received.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(received.map((bytes) => bytes.readUInt32BE(0))).toEqual(Array.from({ length: count }, (_, i) => i));
    received.forEach((bytes, i) => expect(bytes.equals(datagram(i))).toBe(true));
    expect(transport.stats[0]).toMatchObject({ datagrams: count, errors: 0 });
  });

  it('counts the errors of a collector that is not there, and keeps sending', async () => {
    // A port nobody listens on: loopback answers with ICMP port unreachable (ECONNREFUSED).
    const probe = createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
    const port = probe.address().port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const transport = await ThreadedUdpTransport.open([{ label: `127.0.0.1:${port}`, address: '127.0.0.1', family: 4, port }], {
      maxPacketsPerSecond: 0,
      socketBufferBytes: 0,
      logger,
    });
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 50; i++) await transport.send(datagram(i), 0);
      await transport.drain();
    }
    await transport.close();
    expect(transport.stats[0]!.datagrams).toBe(250);
    expect(transport.stats[0]!.errors).toBeGreaterThan(0);
    expect(transport.stats[0]!.lastError).toBe('ECONNREFUSED');
    expect(transport.lastErrorMs).toBeGreaterThan(0);
  });
});
