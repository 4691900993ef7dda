import v8 from 'node:v8';
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn } from 'node:child_process';
import type { Logger } from 'pino';
import { createLogger, type LogFormat, type LogLevel } from '../log.js';
import type { ExportPipeline } from '../pipeline.js';
import { startHttpServer } from '../observability/httpServer.js';
import { PrometheusMetrics } from '../observability/prometheus.js';
import { SourceHealth } from '../observability/sourceHealth.js';

/**
 * What a long-running source command (blob, eventhub, run) shares: one logger, one stop signal
 * (SIGTERM / SIGINT: stop intake, flush, checkpoint, exit; a second signal exits at once), one
 * optional HTTP endpoint with /healthz, /readyz and /metrics. `run --config` hosts several
 * sources in one runtime; a single command gets a runtime of its own.
 */
export interface ServiceRuntime {
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly metrics: PrometheusMetrics;
}

export interface RuntimeFlags {
  readonly logLevel: LogLevel;
  readonly logFormat?: LogFormat;
  /** `HOST:PORT` for the HTTP endpoint; off when absent. */
  readonly http?: string;
  /** Lets `http` be an address other hosts can reach (it has no authentication). */
  readonly httpAllowRemote?: boolean;
}

/** How long a stop may take before the process gives up waiting and exits non-zero. */
export const DEFAULT_STOP_TIMEOUT_MS = 25_000;

const current = new AsyncLocalStorage<ServiceRuntime>();
const sourceName = new AsyncLocalStorage<string>();

/** Runs `body` with the name a config file gave the source (labels its logs and metrics). */
export function withSourceName<T>(name: string, body: () => Promise<T>): Promise<T> {
  return sourceName.run(name, body);
}

/** The config's name for the running source, or `fallback` when run as a plain command. */
export function currentSourceName(fallback: string): string {
  return sourceName.getStore() ?? fallback;
}

/**
 * Runs `body` inside the enclosing runtime (under `run --config`) or a new one, and returns its
 * result. The new runtime owns the signal handlers and the HTTP server and removes them after.
 */
/** The old generation may grow by this share of what survived the last full collection. */
const FOLLOWER_HEAP_GROWING_PERCENT = 20;

/**
 * For the blob follower (`blob`, and `run` with only blob sources): it keeps a modest live heap
 * (cursors, storage clients) but allocates a lot per storage request, and by default V8 lets the
 * old generation grow to several times the live data before collecting it in full. A smaller
 * growth step keeps the RSS near the live set (at 10,000 blobs: docs/performance.md) for some
 * more collection work, which a poll's spare time absorbs. V8 reads this flag at every full
 * collection, so setting it now takes effect; left alone when the operator set heap flags of their
 * own (NODE_OPTIONS, node options).
 */
export function keepHeapCompact(): void {
  // Under `run`, which decides for all its sources.
  if (current.getStore() !== undefined) return;
  const given = [...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)];
  if (given.some((arg) => /heap[-_]growing[-_]percent|max[-_]old[-_]space[-_]size/.test(arg))) return;
  v8.setFlagsFromString(`--heap-growing-percent=${FOLLOWER_HEAP_GROWING_PERCENT}`);
}

export async function withServiceRuntime<T>(
  flags: RuntimeFlags,
  body: (runtime: ServiceRuntime) => Promise<T>,
  stopTimeoutMs = DEFAULT_STOP_TIMEOUT_MS,
): Promise<T> {
  const enclosing = current.getStore();
  if (enclosing !== undefined) return body(enclosing);

  const logger = createLogger(flags.logLevel, flags.logFormat);
  const controller = new AbortController();
  const metrics = new PrometheusMetrics();
  // Before the signal handlers: a bad address fails here with nothing to undo.
  const http = flags.http === undefined ? undefined : await startHttpServer(flags.http, metrics, logger, { allowRemote: flags.httpAllowRemote === true });
  let signals = 0;
  let stopTimer: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      logger.info({ signal }, 'stopping: no new intake; flushing and writing checkpoints');
      controller.abort();
      stopTimer = setTimeout(() => {
        logger.error({ timeoutMs: stopTimeoutMs }, 'stop took too long: exiting');
        exitEvenIfBlocked(1);
      }, stopTimeoutMs);
      stopTimer.unref();
    } else {
      logger.warn({ signal }, 'second signal: exiting at once');
      exitEvenIfBlocked(signal === 'SIGINT' ? 130 : 143);
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const runtime: ServiceRuntime = { logger, signal: controller.signal, metrics };
  try {
    return await current.run(runtime, () => body(runtime));
  } finally {
    if (stopTimer !== undefined) clearTimeout(stopTimer);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await http?.close();
  }
}

/** How long exiting itself may take before the process is killed (see exitEvenIfBlocked). */
export const EXIT_GRACE_MS = 2_000;

/**
 * A watchdog process: it kills its parent if that is still alive (still its parent) after the
 * grace period, and leaves as soon as the parent is gone. Plain JavaScript for `node -e`.
 */
const EXIT_WATCHDOG = `const [pid, graceMs] = process.argv.slice(1).map(Number);
const started = Date.now();
setInterval(() => {
  if (process.ppid !== pid) process.exit(0);
  if (Date.now() - started >= graceMs) { try { process.kill(pid, 'SIGKILL'); } catch {} process.exit(0); }
}, 50);`;

/**
 * process.exit() waits for libuv's threads before the process ends, and a thread blocked in a
 * system call that never returns (an open() of a FIFO nobody writes, a hung network file system)
 * holds it forever: "stop took too long: exiting", and the process lives on, deaf to signals. So a
 * watchdog is started first, which kills the process (SIGKILL) if it is still there after
 * EXIT_GRACE_MS. Only on the way out after a stop went wrong: a normal exit starts none.
 */
export function exitEvenIfBlocked(code: number, graceMs = EXIT_GRACE_MS): never {
  try {
    spawn(process.execPath, ['-e', EXIT_WATCHDOG, String(process.pid), String(graceMs)], { detached: true, stdio: 'ignore' }).unref();
  } catch {
    // Out of processes or memory: exit anyway, which works unless a thread is blocked.
  }
  process.exit(code);
}

/**
 * Makes a source's pipeline visible on /metrics and /readyz. `staleAfterMs`: how long without
 * a successful poll or receive before the source counts as not ready.
 */
export function monitorSource(runtime: ServiceRuntime, name: string, pipeline: ExportPipeline, staleAfterMs: number): SourceHealth {
  const health = new SourceHealth(name, staleAfterMs);
  runtime.metrics.add({ name, metrics: pipeline.metrics, collectors: () => pipeline.collectorStats, health });
  return health;
}

/** The `--http` option every long-running command offers. */
export const HTTP_OPTION_DESCRIPTION =
  'serve /healthz, /readyz and /metrics (Prometheus) on HOST:PORT, e.g. 127.0.0.1:9464 (off by default; loopback only unless --http-allow-remote)';

/** The `--http-allow-remote` option that goes with it. */
export const HTTP_ALLOW_REMOTE_DESCRIPTION =
  'let --http listen on an address other hosts can reach (0.0.0.0:9464, [::]:9464, a LAN address): it has no authentication';
