import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type FlowReport, labelOf, type NameOf } from './flowReport.js';
import { approximateNotice } from './renderText.js';
import { type Cell, reportTables, resourceName } from './reportTables.js';

/**
 * The report as one self-contained HTML page: Chart.js inlined (read from node_modules at render
 * time), the chart data embedded as JSON, the tables rendered here. It fetches nothing: a Content
 * Security Policy of `default-src 'none'` forbids every request, and only the page's own scripts
 * and style (by hash) may run, so even text from the logs that slipped through escaping could not
 * execute. Every string from the logs is escaped for HTML, and the embedded JSON has `<`, `>`,
 * `&` and the JavaScript line separators escaped so it cannot close its script element.
 */

export interface ChartSpec {
  /** Canvas id: `chart-` + the report list it draws. */
  readonly id: string;
  readonly title: string;
  readonly kind: 'bar' | 'hours';
  readonly labels: readonly string[];
  readonly datasets: readonly { readonly label: string; readonly data: readonly number[] }[];
  /** Bars stacked (rule hits: allowed + denied). */
  readonly stacked?: boolean;
}

/** Chart.js's UMD build (it defines `window.Chart`), as installed with the package. */
export function loadChartJs(): string {
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve('chart.js'));
  for (const file of ['chart.umd.min.js', 'chart.umd.js']) {
    try {
      // The source map comment would point at a file the page does not have.
      return readFileSync(join(dist, file), 'utf8').replace(/\/\/# sourceMappingURL=\S*\s*$/, '');
    } catch {
      // try the next build name
    }
  }
  throw new Error(`Chart.js UMD build not found in ${dist}`);
}

/** The charts of a report, in page order; the browser test compares them with the report. */
export function chartSpecs(report: FlowReport, nameOf?: NameOf): ChartSpec[] {
  const by = report.rankedBy;
  const label = (address: string) => labelOf(address, nameOf);
  return [
    {
      id: 'chart-topTalkers',
      title: `Top talkers by ${by}`,
      kind: 'bar',
      labels: report.topTalkers.map((p) => `${label(p.source)} → ${label(p.destination)}`),
      datasets: [{ label: by, data: report.topTalkers.map((p) => p[by]) }],
    },
    {
      id: 'chart-topHosts',
      title: `Top hosts by ${by}`,
      kind: 'bar',
      labels: report.topHosts.map((h) => label(h.address)),
      datasets: [{ label: by, data: report.topHosts.map((h) => h[by]) }],
    },
    {
      id: 'chart-deniedSources',
      title: 'Denied sources',
      kind: 'bar',
      labels: report.deniedSources.map((d) => label(d.address)),
      datasets: [{ label: 'denied flows', data: report.deniedSources.map((d) => d.flows) }],
    },
    {
      id: 'chart-deniedDestinations',
      title: 'Denied destinations',
      kind: 'bar',
      labels: report.deniedDestinations.map((d) => label(d.address)),
      datasets: [{ label: 'denied flows', data: report.deniedDestinations.map((d) => d.flows) }],
    },
    {
      id: 'chart-deniedPorts',
      title: 'Denied destination ports',
      kind: 'bar',
      labels: report.deniedPorts.map((d) => `${d.port}/${d.protocol}`),
      datasets: [{ label: 'denied flows', data: report.deniedPorts.map((d) => d.flows) }],
    },
    {
      id: 'chart-rules',
      title: 'Rule hits (flows)',
      kind: 'bar',
      stacked: true,
      labels: report.rules.map((r) => `${resourceName(r.resource)} / ${r.rule}`),
      datasets: [
        { label: 'allowed', data: report.rules.map((r) => r.allowedFlows) },
        { label: 'denied', data: report.rules.map((r) => r.deniedFlows) },
      ],
    },
    hoursChart(report.hours),
  ];
}

/** Hours in a row on the axis: a gap of quiet hours shows as zeros, not as a line drawn across it. */
const MAX_FILLED_HOURS = 24 * 62;
const HOUR_MS = 3_600_000;

function hoursChart(hours: FlowReport['hours']): ChartSpec {
  const first = hours.length === 0 ? 0 : Date.parse(hours[0]!.hour);
  const last = hours.length === 0 ? 0 : Date.parse(hours[hours.length - 1]!.hour);
  const span = (last - first) / HOUR_MS + 1;
  let rows: { hour: string; bytes: number; flows: number; deniedFlows: number }[] = [...hours];
  if (hours.length > 0 && Number.isFinite(span) && span > hours.length && span <= MAX_FILLED_HOURS) {
    const byTime = new Map(hours.map((h) => [Date.parse(h.hour), h]));
    rows = Array.from({ length: span }, (_, i) => {
      const at = first + i * HOUR_MS;
      return byTime.get(at) ?? { hour: new Date(at).toISOString(), bytes: 0, flows: 0, deniedFlows: 0 };
    });
  }
  return {
    id: 'chart-hours',
    title: 'Traffic per hour (UTC)',
    kind: 'hours',
    labels: rows.map((h) => h.hour.slice(0, 13).replace('T', ' ') + ':00'),
    datasets: [
      { label: 'bytes', data: rows.map((h) => h.bytes) },
      { label: 'flows', data: rows.map((h) => h.flows) },
      { label: 'denied flows', data: rows.map((h) => h.deniedFlows) },
    ],
  };
}

/** Draws the charts from the embedded JSON; runs in the browser. */
const PAGE_SCRIPT = `(() => {
  const { charts } = JSON.parse(document.getElementById('report-data').textContent);
  const colors = ['#2563eb', '#9333ea', '#0891b2', '#ca8a04'];
  // Denied is red and allowed green wherever they appear; the rest by position.
  const colorOf = (label, i) => (/denied/.test(label) ? '#dc2626' : /allowed/.test(label) ? '#16a34a' : colors[i % colors.length]);
  // Long labels (an NSG and its rule, an IPv6 pair) shortened in the middle on the axis; whole in the tooltip.
  const shorten = (text) => (text.length > 34 ? text.slice(0, 12) + '…' + text.slice(-21) : text);
  for (const spec of charts) {
    const canvas = document.getElementById(spec.id);
    if (canvas === null || spec.labels.length === 0) continue;
    const hours = spec.kind === 'hours';
    canvas.parentElement.style.height = (hours ? 320 : Math.max(140, 26 * spec.labels.length + 60)) + 'px';
    const datasets = spec.datasets.map((d, i) => ({
      label: d.label,
      data: d.data,
      backgroundColor: colorOf(d.label, i),
      borderColor: colorOf(d.label, i),
      ...(hours && i > 0 ? { type: 'line', yAxisID: 'y1', tension: 0.2, pointRadius: 3 } : {}),
    }));
    const scales = hours
      ? { y: { beginAtZero: true, title: { display: true, text: 'bytes' } }, y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false }, title: { display: true, text: 'flows' } } }
      : {
          x: { beginAtZero: true, stacked: spec.stacked === true },
          y: { stacked: spec.stacked === true, ticks: { autoSkip: false, callback(value) { return shorten(String(this.getLabelForValue(value))); } } },
        };
    new Chart(canvas, {
      type: 'bar',
      data: { labels: spec.labels, datasets },
      options: {
        indexAxis: hours ? 'x' : 'y',
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales,
        plugins: { legend: { display: hours || spec.datasets.length > 1 }, title: { display: false } },
      },
    });
  }
})();`;

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #111827; background: #f9fafb; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 0 0 8px; }
.meta { color: #4b5563; margin: 0 0 16px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 16px; }
.card { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 14px; min-width: 120px; }
.card b { display: block; font-size: 18px; }
.warning { background: #fef3c7; border: 1px solid #f59e0b; border-radius: 8px; padding: 10px 14px; margin-bottom: 16px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 16px; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 14px; overflow-x: auto; }
section.wide { grid-column: 1 / -1; }
.chart { position: relative; height: 200px; margin-bottom: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #f3f4f6; }
th, td.n { white-space: nowrap; }
td { overflow-wrap: anywhere; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.none { color: #6b7280; }
`;

export function renderReportHtml(report: FlowReport, options: { chartJs: string; nameOf?: NameOf; title?: string }): string {
  const { nameOf } = options;
  const by = report.rankedBy;
  const t = report.totals;
  const charts = chartSpecs(report, nameOf);
  const chartOf = (list: string) => `<div class="chart"><canvas id="chart-${list}" role="img" aria-label="${escapeHtml(list)} chart"></canvas></div>`;
  const section = (list: string, title: string, headers: readonly string[], rows: readonly (readonly Cell[])[], wide = false) =>
    `<section id="${list}"${wide ? ' class="wide"' : ''}><h2>${escapeHtml(title)}</h2>${charts.some((c) => c.id === `chart-${list}`) ? chartOf(list) : ''}${table(headers, rows)}</section>`;
  const card = (name: string, value: Cell) => `<div class="card">${escapeHtml(name)}<b>${escapeHtml(formatCell(value))}</b></div>`;
  const range = report.timeRange.first === null ? 'no flows' : `${report.timeRange.first} to ${report.timeRange.last}`;
  const skipped = Object.values(t.skippedTuples).reduce((a, b) => a + b, 0) + Object.values(t.skippedRecords).reduce((a, b) => a + b, 0);
  const body = [
    `<h1>${escapeHtml(options.title ?? 'nsg2ipfix flow report')}</h1>`,
    `<p class="meta">${escapeHtml(range)}; top ${report.top} by ${escapeHtml(by)}</p>`,
    report.approximate ? `<div class="warning" id="approximate">${escapeHtml(approximateNotice(report))}</div>` : '',
    `<div class="cards">${[
      card('flows', t.flows),
      card('denied flows', t.deniedFlows),
      card('bytes', t.bytes),
      card('packets', t.packets),
      card('files', t.files),
      card('Azure records', t.records),
      card('skipped', skipped),
    ].join('')}</div>`,
    '<div class="grid">',
    ...reportTables(report, nameOf).map((t) => section(t.id, t.title, t.headers, t.rows, t.wide)),
    '</div>',
  ].join('\n');
  const data = scriptSafeJson({ report, charts });
  const chartJs = options.chartJs.replace(/<\/script/gi, '<\\/script');
  const csp = [
    "default-src 'none'",
    `script-src ${sha256Source(chartJs)} ${sha256Source(PAGE_SCRIPT)}`,
    `style-src ${sha256Source(STYLE)}`,
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(options.title ?? 'nsg2ipfix flow report')}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
<script type="application/json" id="report-data">${data}</script>
<script>${chartJs}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  if (rows.length === 0) return '<p class="none">(none)</p>';
  const numeric = headers.map((_, c) => rows.every((row) => typeof row[c] === 'number'));
  const head = headers.map((h, c) => `<th${numeric[c] ? ' class="n"' : ''}>${escapeHtml(h)}</th>`).join('');
  const body = rows
    .map((row) => `<tr>${row.map((cell, c) => `<td${numeric[c] ? ' class="n"' : ''}>${escapeHtml(formatCell(cell))}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function formatCell(cell: Cell): string {
  return typeof cell === 'number' ? cell.toLocaleString('en-US') : cell;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that cannot end its `<script>` element or open a comment, whatever the strings hold. */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function sha256Source(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}
