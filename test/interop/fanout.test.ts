import { createSocket } from 'node:dgram';
import { afterAll, describe, expect, it } from 'vitest';
import { startNfcapd, stopAll } from '../collectors/nfcapd.js';
import { runCli } from '../helpers/cli.js';
import { requireDecoders } from '../helpers/decoders.js';
import { expectedRecords, SAMPLES_DIR } from '../helpers/expectedFlows.js';

requireDecoders();
afterAll(stopAll);

/** A loopback port nobody listens on: sends to it draw ICMP port unreachable. */
async function deadPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

describe('fan-out to several collectors', () => {
  for (const format of ['ipfix', 'netflow9'] as const) {
    it(`${format}: every collector gets every flow, and a dead one blocks nobody`, async () => {
      const [a, b] = [await startNfcapd(), await startNfcapd({ host: '::1' })];
      const dead = await deadPort();
      const run = await runCli(['replay', SAMPLES_DIR, '--format', format, '-c', `127.0.0.1:${a.port}`, '-c', `127.0.0.1:${dead}`, '-c', `[::1]:${b.port}`]);
      expect(run.code).toBe(0);
      const [ra, rb] = [await a.stop(), await b.stop()];
      const expected = expectedRecords('split').length;
      expect(ra.flows).toHaveLength(expected);
      expect(rb.flows).toHaveLength(expected);
      expect(ra.sequenceErrors).toBe(0);
      expect(rb.sequenceErrors).toBe(0);
      // The summary table lists each collector with its datagram count.
      expect(run.stdout).toContain(`127.0.0.1:${dead}`);
    });
  }
});
