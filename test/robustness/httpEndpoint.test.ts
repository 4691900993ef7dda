import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { isLoopbackAddress, parseListenAddress, startHttpServer, type HttpLimits } from '../../src/observability/httpServer.js';
import { PrometheusMetrics } from '../../src/observability/prometheus.js';
import { runCli } from '../helpers/cli.js';
import { SAMPLES_DIR } from '../helpers/expectedFlows.js';
import { expectOneLineError } from './oneLine.js';

const work = mkdtempSync(join(tmpdir(), 'nsg2ipfix-http-'));
const sockets: Socket[] = [];
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  for (const close of closers) await close();
  rmSync(work, { recursive: true, force: true });
});

const silent = pino({ level: 'silent' });
const replay = (...http: string[]) => runCli(['replay', SAMPLES_DIR, '--pcap', join(work, 'out.pcap'), '-q', '--log-level', 'warn', ...http]);

describe('--http addresses', () => {
  it.each([
    ['a bare port', '25002', /--http '25002': give the address too: 127\.0\.0\.1:25002 for this host only/],
    ['nothing', '', /--http '': give HOST:PORT/],
    ['a port out of range', '127.0.0.1:99999', /port must be a number from 1 to 65535/],
    ['a port alone after a colon', ':99999', /give the address too/],
    [':PORT (every interface, silently)', ':9000', /give the address too: 127\.0\.0\.1:9000 .* 0\.0\.0\.0:9000 with --http-allow-remote/],
    ['IPv6 without brackets', '::1:9000', /write an IPv6 address in brackets/],
    ['an unresolvable name', 'nonexistent.invalid:9000', /cannot resolve 'nonexistent\.invalid'/],
    ['every interface without --http-allow-remote', '0.0.0.0:9000', /reachable from other hosts.*--http-allow-remote/],
    ['every IPv6 interface without --http-allow-remote', '[::]:9000', /reachable from other hosts/],
  ])('refuses %s with one line and exit 2', async (_, http, pattern) => {
    expectOneLineError(await replay('--http', http), pattern);
  });

  it('refuses an address in use or not of this host with one line and exit 2', async () => {
    const busy = createTcpServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => busy.close(() => resolve())));
    const port = (busy.address() as { port: number }).port;
    expectOneLineError(await replay('--http', `127.0.0.1:${port}`), /cannot listen on it: the port is in use/);
    // 203.0.113.0/24 is for documentation: never an address of this host. Nothing is sent.
    expectOneLineError(await replay('--http', '203.0.113.7:9464', '--http-allow-remote'), /cannot listen on it: that address is not one of this host/);
  });

  it('listens beyond loopback only when asked, and says so in the log', async () => {
    const run = await replay('--http', '0.0.0.0:0', '--http-allow-remote');
    expect(run.code).toBe(0);
    const warning = run.stderr.split('\n').find((line) => line.includes('reachable from other hosts'));
    expect(warning).toBeDefined();
    expect(JSON.parse(warning!) as unknown).toMatchObject({ level: 40, http: expect.stringMatching(/^0\.0\.0\.0:\d+$/) });
  });

  it('parses HOST:PORT and [IPv6]:PORT, and knows loopback', () => {
    expect(parseListenAddress('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListenAddress('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseListenAddress('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) expect(isLoopbackAddress(address)).toBe(true);
    for (const address of ['0.0.0.0', '::', '10.0.0.5', 'fd00::2', '::ffff:10.0.0.1', '128.0.0.1']) expect(isLoopbackAddress(address)).toBe(false);
  });
});

describe('--http in a config file', () => {
  it('is checked like --http, and an alias bomb is one line, not a stack', async () => {
    const remote = join(work, 'remote.yaml');
    const source = `sources: [{ type: files, paths: [${JSON.stringify(SAMPLES_DIR)}], pcap: ${JSON.stringify(join(work, 'x.pcap'))} }]\n`;
    writeFileSync(remote, `http: 0.0.0.0:9464\n${source}`);
    expectOneLineError(await runCli(['config', 'check', '--config', remote]), /remote\.yaml: http: is reachable from other hosts/);
    writeFileSync(remote, `http: 0.0.0.0:9464\nhttpAllowRemote: true\n${source}`);
    expect((await runCli(['config', 'check', '--config', remote])).code).toBe(0);

    const bomb = join(work, 'bomb.yaml');
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const previous = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`);
    }
    writeFileSync(bomb, `${levels.join('\n')}\nsources: [{ type: files, paths: [x] }]\n`);
    for (const command of [['config', 'check'], ['run']]) {
      expectOneLineError(await runCli([...command, '--config', bomb], { timeoutMs: 30_000 }), /bomb\.yaml: \(file\): YAML: aliases expand too much/);
    }
  });
});

/** A server with limits small enough for a test to see them act. */
async function limitedServer(limits: Partial<HttpLimits>) {
  const http = await startHttpServer('127.0.0.1:0', new PrometheusMetrics(), silent, {
    limits: {
      headersTimeoutMs: 300,
      requestTimeoutMs: 600,
      keepAliveTimeoutMs: 300,
      checkIntervalMs: 50,
      maxConnections: 4,
      maxHeaderBytes: 8192,
      ...limits,
    },
  });
  closers.push(() => http.close());
  return http.port;
}

/** Connects and resolves with everything the server sent once it closes the connection. */
function openConnection(port: number): { socket: Socket; closed: Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let received = '';
  socket.on('data', (data) => (received += data.toString('latin1')));
  socket.on('error', () => {});
  return { socket, closed: new Promise((resolve) => socket.on('close', () => resolve(received))) };
}

describe('the HTTP endpoint against slow and greedy clients', () => {
  it('cuts a client that sends its headers slowly (slowloris)', async () => {
    const port = await limitedServer({});
    const { socket, closed } = openConnection(port);
    socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    // One more header line now and then, never the blank line that ends them.
    const drip = setInterval(() => socket.writable && socket.write(`X-Drip-${Date.now()}: 1\r\n`), 50);
    try {
      expect(await closed).toMatch(/^(HTTP\/1\.1 408|$)/);
    } finally {
      clearInterval(drip);
    }
  });

  it('cuts a client that connects and says nothing', async () => {
    const port = await limitedServer({});
    await openConnection(port).closed;
  });

  it('caps connections: the one over the cap is closed at once, the others still answered', async () => {
    const port = await limitedServer({ maxConnections: 2, headersTimeoutMs: 60_000, requestTimeoutMs: 120_000, checkIntervalMs: 60_000 });
    const held = [openConnection(port), openConnection(port)];
    await Promise.all(held.map(({ socket }) => new Promise((resolve) => socket.once('connect', resolve))));
    // The server counts a connection once it accepted it: ask on one so both are surely counted.
    held[0]!.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => held[0]!.socket.once('data', resolve));
    const extra = openConnection(port);
    expect(await extra.closed).toBe('');
    for (const { socket } of held) socket.destroy();
  });

  it('answers a request with a body, or another method, and closes instead of reading it', async () => {
    const port = await limitedServer({ headersTimeoutMs: 60_000, requestTimeoutMs: 120_000, checkIntervalMs: 60_000 });
    const post = openConnection(port);
    post.socket.write('POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\nabc');
    expect(await post.closed).toMatch(/^HTTP\/1\.1 405/);
    const body = openConnection(port);
    body.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\nabc');
    expect(await body.closed).toMatch(/^HTTP\/1\.1 413/);
  });
});
