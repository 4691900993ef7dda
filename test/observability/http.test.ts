import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { replayFiles } from '../../src/cli/replay.js';
import { withServiceRuntime } from '../../src/cli/serviceRuntime.js';
import { EXPORT_DEFAULTS } from '../../src/pipeline.js';
import { startHttpServer } from '../../src/observability/httpServer.js';
import { PrometheusMetrics } from '../../src/observability/prometheus.js';
import { expectedRecords, expectedTuples, SAMPLES_DIR } from '../helpers/expectedFlows.js';
import { FlowListener } from '../../src/listen/flowListener.js';

const silent = pino({ level: 'silent' });
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

describe('HTTP endpoint', () => {
  it('serves /healthz, /readyz and Prometheus /metrics with the counts of a replay', async () => {
    const listener = await FlowListener.open({ host: '127.0.0.1', port: 0, enterpriseNumber: 32473, onRecord: () => {} });
    closers.push(() => listener.close());
    let metricsText = '';
    let readyDuring = 0;
    await withServiceRuntime({ logLevel: 'silent' }, async (runtime) => {
      const http = await startHttpServer('127.0.0.1:0', runtime.metrics, silent);
      closers.push(http.close);
      const base = `http://127.0.0.1:${http.port}`;
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      await replayFiles(
        [SAMPLES_DIR],
        {
          ...EXPORT_DEFAULTS,
          collector: [`127.0.0.1:${listener.address.port}`, '127.0.0.1:9'],
          format: 'ipfix',
          biflow: 'split',
          maxMessageSize: 1400,
          mtu: 1500,
          templateRefreshSeconds: 60,
          templateRefreshPackets: 500,
          maxPps: 0,
          socketBuffer: 0,
          logLevel: 'silent',
        },
        silent,
        { progress: false, runtime },
      );
      readyDuring = (await fetch(`${base}/readyz`)).status;
      expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok\n');
      metricsText = await (await fetch(`${base}/metrics`)).text();
      expect((await fetch(`${base}/nope`)).status).toBe(404);
    });
    expect(readyDuring).toBe(200);
    const value = (line: RegExp) =>
      Number(
        metricsText
          .split('\n')
          .find((l) => line.test(l))
          ?.split(' ')
          .pop(),
      );
    expect(value(/^nsg2ipfix_tuples_read_total\{source="replay"\}/)).toBe(expectedTuples().length);
    expect(value(/^nsg2ipfix_records_exported_total\{source="replay"\}/)).toBe(expectedRecords('split').length);
    expect(value(new RegExp(`^nsg2ipfix_packets_sent_total\\{source="replay",collector="127.0.0.1:${listener.address.port}"\\}`))).toBeGreaterThan(0);
    expect(metricsText).toMatch(/^nsg2ipfix_send_errors_total\{source="replay",collector="127.0.0.1:9"\} [1-9]/m);
    expect(metricsText).toMatch(/^nsg2ipfix_template_messages_total\{source="replay"\} [1-9]/m);
    expect(metricsText).toMatch(/^nsg2ipfix_source_lag_seconds\{source="replay"\} \d/m);
    expect(metricsText).toMatch(/^nsg2ipfix_process_resident_memory_bytes \d/m);
    void PrometheusMetrics;
  });
});
