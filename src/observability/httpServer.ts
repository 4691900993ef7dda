import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { PrometheusMetrics } from './prometheus.js';

export class HttpAddressError extends Error {}

/** `127.0.0.1:9464`, `[::1]:9464` or `:9464` (all addresses). */
export function parseListenAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || !(port >= 0 && port <= 65535)) throw new HttpAddressError(`--http '${text}': expected HOST:PORT, e.g. 127.0.0.1:9464`);
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

/**
 * The sidecar's HTTP endpoint (off unless asked for): /healthz (the process is up), /readyz
 * (every source connected and recently successful), /metrics (Prometheus text format).
 */
export async function startHttpServer(
  address: string,
  metrics: PrometheusMetrics,
  logger: Logger,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const { host, port } = parseListenAddress(address);
  // Build the registry now, so process metrics are collected from the start, not the first scrape.
  void metrics.registry;
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const sources = metrics.monitored.map((s) => ({
        source: s.name,
        ready: s.health.ready(),
        lastSuccessMs: s.health.lastSuccessMs,
        lastError: s.health.lastError,
      }));
      const ready = sources.length > 0 && sources.every((s) => s.ready);
      response.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify({ ready, sources })}\n`);
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (error: Error) => response.writeHead(500).end(error.message),
      );
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz, /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const boundPort = typeof bound === 'object' && bound !== null ? bound.port : port;
  logger.info({ http: `${host}:${boundPort}` }, 'HTTP endpoint up: /healthz /readyz /metrics');
  return {
    server,
    port: boundPort,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
