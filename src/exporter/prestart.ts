import { Worker } from 'node:worker_threads';

/**
 * The exporting thread takes a tenth of a second to start (a new V8 isolate, Node's bootstrap, its
 * modules): on the critical path of a short replay. So a command that will export starts it before
 * it loads its own modules (bin/nsg2ipfix.js), and the first ExportThread takes it over; the thread
 * waits for its settings and, unused, never keeps the process alive.
 */

/**
 * Under vitest this module runs from src/*.ts, which a worker cannot load: the worker is then the
 * compiled dist/ file (the test setup builds dist/ first).
 */
const WORKER_URL = import.meta.url.endsWith('.ts')
  ? new URL('../../dist/exporter/exportWorker.js', import.meta.url)
  : new URL('./exportWorker.js', import.meta.url);

let prestarted: Worker | undefined;

/** Starts an exporting thread ahead of need (idempotent). */
export function prestartExporter(): void {
  if (prestarted !== undefined) return;
  prestarted = new Worker(WORKER_URL);
  prestarted.unref();
}

/** The thread prestartExporter started, once, or a new one. It waits for a 'start' message. */
export function exporterWorker(): Worker {
  const worker = prestarted ?? new Worker(WORKER_URL);
  prestarted = undefined;
  return worker;
}
