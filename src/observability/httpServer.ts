import { lookup } from 'node:dns/promises';
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { UserError } from '../flow/errors.js';
import type { PrometheusMetrics } from './prometheus.js';

/** A bad `--http` value, an address that may not be used, or one the server cannot listen on. */
export class HttpListenError extends UserError {
  constructor(message: string, options: { readonly cause?: unknown } = {}) {
    super(message, { code: 'http-listen', ...options });
  }
}

export interface ListenAddress {
  /** An IP literal (IPv6 without brackets) or a host name. */
  readonly host: string;
  /** 1..65535, or 0 for a free port chosen by the system (logged). */
  readonly port: number;
}

const EXAMPLE = '127.0.0.1:9464';

/**
 * Parses `--http` strictly: `HOST:PORT` or `[IPv6]:PORT`. A bare port or `:PORT` is refused
 * rather than guessed: it could mean this host only or every interface, and the two differ in who
 * can read /metrics.
 */
export function parseListenAddress(text: string): ListenAddress {
  const value = text.trim();
  const refuse = (why: string) => new HttpListenError(`--http '${text}': ${why}`);
  if (value === '') throw refuse(`give HOST:PORT, e.g. ${EXAMPLE}`);
  if (/^:?\d+$/.test(value)) {
    const port = value.replace(':', '');
    throw refuse(`give the address too: 127.0.0.1:${port} for this host only, or 0.0.0.0:${port} with --http-allow-remote for every interface`);
  }
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):([^:]*)$/.exec(value);
  if (match === null) {
    throw refuse(value.split(':').length > 2 ? 'write an IPv6 address in brackets: [::1]:9464' : `expected HOST:PORT, e.g. ${EXAMPLE}`);
  }
  const host = match[1] ?? match[2]!;
  if (match[1] !== undefined && isIP(host) !== 6) throw refuse(`'${host}' is not an IPv6 address`);
  if (host === '') throw refuse(`no host: give 127.0.0.1 for this host only, or 0.0.0.0 with --http-allow-remote, e.g. ${EXAMPLE}`);
  if (match[2] !== undefined && isIP(host) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(host)) throw refuse(`'${host}' is not a host name or address`);
  const port = /^\d{1,5}$/.test(match[3]!) ? Number(match[3]) : NaN;
  if (!(port >= 0 && port <= 65535)) throw refuse('the port must be a number from 1 to 65535');
  return { host, port };
}

/** Whether `address` (an IP literal) can only be reached from this host. */
export function isLoopbackAddress(address: string): boolean {
  const v4 = /^(?:::ffff:)?(\d+)\.\d+\.\d+\.\d+$/i.exec(address);
  if (v4 !== null) return v4[1] === '127';
  return address === '::1' || /^(?:0{0,4}:){7}0{0,3}1$/.test(address);
}

/**
 * Parses `--http`, resolves a host name (the first address, as `listen` would), and refuses an
 * address beyond loopback unless `allowRemote`: the endpoint has no authentication, so exposing
 * it must be a choice the operator made.
 */
export async function resolveListenAddress(text: string, allowRemote: boolean): Promise<ListenAddress & { readonly remote: boolean }> {
  const { host, port } = parseListenAddress(text);
  let address = host;
  if (isIP(host) === 0) {
    try {
      address = (await lookup(host)).address;
    } catch (error) {
      throw new HttpListenError(`--http '${text}': cannot resolve '${host}' (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
    }
  }
  const remote = !isLoopbackAddress(address);
  if (remote && !allowRemote) {
    throw new HttpListenError(
      `--http '${text}' would be reachable from other hosts, and /metrics has no authentication: use 127.0.0.1:${port}, or add --http-allow-remote (config: httpAllowRemote: true) if you mean it`,
    );
  }
  return { host: address, port, remote };
}

/** Limits that keep slow or greedy clients from holding the endpoint (scrapes are small and quick). */
export interface HttpLimits {
  /** Complete request headers must arrive within this long. */
  readonly headersTimeoutMs: number;
  /** The whole request must arrive within this long. */
  readonly requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  readonly keepAliveTimeoutMs: number;
  /** How often the two timeouts above are checked. */
  readonly checkIntervalMs: number;
  /** Connections at once; more are closed as they come. */
  readonly maxConnections: number;
  readonly maxHeaderBytes: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  checkIntervalMs: 1_000,
  maxConnections: 32,
  maxHeaderBytes: 8 * 1024,
};

/** What a failed listen() means, in the operator's words. */
const LISTEN_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the port is in use by another process',
  EADDRNOTAVAIL: 'that address is not one of this host',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EAFNOSUPPORT: 'this host has no IPv6',
};

/**
 * The sidecar's HTTP endpoint (off unless asked for): /healthz (the process is up), /readyz
 * (every source connected and recently successful), /metrics (Prometheus text format). Listens on
 * loopback unless `allowRemote` (logged as a warning); cuts slow clients and caps connections.
 */
export async function startHttpServer(
  address: string,
  metrics: PrometheusMetrics,
  logger: Logger,
  options: { readonly allowRemote?: boolean; readonly limits?: HttpLimits } = {},
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const { host, port, remote } = await resolveListenAddress(address, options.allowRemote === true);
  const limits = options.limits ?? DEFAULT_HTTP_LIMITS;
  // Build the registry now, so process metrics are collected from the start, not the first scrape.
  void metrics.registry;
  const serverOptions = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: limits.checkIntervalMs,
    maxHeaderSize: limits.maxHeaderBytes,
  };
  const server = createServer(serverOptions, (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      // The body is never read: close the connection instead of draining it.
      response.writeHead(405, { allow: 'GET, HEAD', connection: 'close' }).end();
      return;
    }
    if (request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0) {
      response.writeHead(413, { connection: 'close' }).end();
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
        ...(s.health.lastErrorMs > 0 ? { lastErrorAt: new Date(s.health.lastErrorMs).toISOString() } : {}),
        ...(s.health.isStopped ? { stopped: true } : {}),
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
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  server.maxRequestsPerSocket = 100;
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const why = LISTEN_ERRORS[error.code ?? ''] ?? error.code ?? error.message;
      reject(new HttpListenError(`--http '${address}': cannot listen on it: ${why}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const bound = server.address();
  const boundPort = typeof bound === 'object' && bound !== null ? bound.port : port;
  const shown = `${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  logger.info({ http: shown }, 'HTTP endpoint up: /healthz /readyz /metrics');
  if (remote)
    logger.warn({ http: shown }, 'the HTTP endpoint is reachable from other hosts, without authentication (--http-allow-remote): restrict who can reach it');
  return {
    server,
    port: boundPort,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive connections would hold close() up until they time out.
        server.closeIdleConnections();
      }),
  };
}
