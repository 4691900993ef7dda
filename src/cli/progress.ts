import type { ExportMetrics } from '../metrics.js';
import { formatBytes, formatNumber } from '../flow/textTable.js';

/**
 * Progress of a long replay on stderr: rewritten in place on a terminal, a line every ten seconds
 * otherwise (logs and CI output stay readable). Never on stdout, which carries data.
 */
export function startProgress(metrics: ExportMetrics, totalBytes: number, totalFiles: number, enabled: boolean): () => void {
  if (!enabled) return () => {};
  const tty = process.stderr.isTTY === true;
  const started = performance.now();
  let printed = false;
  const render = () => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? metrics.tuples / seconds : 0;
    const percent = totalBytes > 0 ? ` ${((metrics.inputBytes / totalBytes) * 100).toFixed(0)}%` : '';
    const line = `replay:${percent} file ${Math.min(metrics.filesRead + 1, totalFiles)}/${totalFiles}, ${formatBytes(metrics.inputBytes)} of ${formatBytes(totalBytes)}, ${formatNumber(metrics.tuples)} tuples (${formatNumber(Math.round(rate))}/s), ${formatNumber(metrics.messages)} messages`;
    if (tty) process.stderr.write(`\r\x1b[2K${line}`);
    else process.stderr.write(`${line}\n`);
    printed = true;
  };
  const timer = setInterval(render, tty ? 500 : 10_000);
  timer.unref();
  return () => {
    clearInterval(timer);
    if (tty && printed) process.stderr.write('\r\x1b[2K');
  };
}
