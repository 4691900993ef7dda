import { createSocket } from 'node:dgram';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
      const summaryPath = join(tmpdir(), `nsg2ipfix-fanout-${process.pid}-${format}.json`);
      const run = await runCli([
        'replay',
        SAMPLES_DIR,
        '--format',
        format,
        '-c',
        `127.0.0.1:${a.port}`,
        '-c',
        `127.0.0.1:${dead}`,
        '-c',
        `[::1]:${b.port}`,
        '--summary-json',
        summaryPath,
      ]);
      expect(run.code).toBe(0);
      const [ra, rb] = [await a.stop(), await b.stop()];
      const expected = expectedRecords('split').length;
      expect(ra.flows).toHaveLength(expected);
      expect(rb.flows).toHaveLength(expected);
      expect(ra.sequenceErrors).toBe(0);
      expect(rb.sequenceErrors).toBe(0);
      // The summary lists each collector; the dead one's ICMP port-unreachable came back as
      // counted ECONNREFUSED errors, the live ones had none.
      expect(run.stdout).toContain(`127.0.0.1:${dead}`);
      const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as { collectors: { label: string; errors: number; lastError?: string }[] };
      rmSync(summaryPath, { force: true });
      const byLabel = new Map(summary.collectors.map((c) => [c.label, c]));
      expect(byLabel.get(`127.0.0.1:${dead}`)).toMatchObject({ errors: expect.any(Number), lastError: 'ECONNREFUSED' });
      expect(byLabel.get(`127.0.0.1:${dead}`)!.errors).toBeGreaterThan(0);
      expect(byLabel.get(`127.0.0.1:${a.port}`)!.errors).toBe(0);
      expect(byLabel.get(`[::1]:${b.port}`)!.errors).toBe(0);
    });
  }
});
