import { describe, expect, it } from 'vitest';
import type { FlowReport } from '../../src/report/flowReport.js';
import { chartSpecs } from '../../src/report/renderHtml.js';
import { runCli } from '../helpers/cli.js';
import { SAMPLES_DIR } from '../helpers/expectedFlows.js';

describe('the hourly chart', () => {
  it('puts quiet hours on the axis as zeros, so a line never joins hours far apart', async () => {
    const run = await runCli(['report', SAMPLES_DIR, '--output', 'json', '--quiet']);
    const report = JSON.parse(run.stdout) as FlowReport;
    const hour = (iso: string, flows: number) => ({ ...report.hours[0]!, hour: iso, flows, bytes: flows * 100, deniedFlows: 1 });
    const gapped = { ...report, hours: [hour('2025-06-12T09:00:00.000Z', 5), hour('2025-06-12T12:00:00.000Z', 7)] };
    const chart = chartSpecs(gapped).find((c) => c.id === 'chart-hours')!;
    expect(chart.labels).toEqual(['2025-06-12 09:00', '2025-06-12 10:00', '2025-06-12 11:00', '2025-06-12 12:00']);
    expect(chart.datasets.map((d) => d.data)).toEqual([
      [500, 0, 0, 700],
      [5, 0, 0, 7],
      [1, 0, 0, 1],
    ]);
    // Years apart: the hours with traffic only, as listed.
    const far = { ...report, hours: [hour('2017-02-16T21:00:00.000Z', 1), hour('2026-08-13T20:00:00.000Z', 2)] };
    expect(chartSpecs(far).find((c) => c.id === 'chart-hours')!.labels).toHaveLength(2);
  });
});
