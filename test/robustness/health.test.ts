/**
 * Honest health (issue 18, items 1 and 2): a source that cannot work says so at once. An
 * `eventhub` whose checkpoint store refuses its key stops at start with one line and exit 2 (the
 * real @azure/event-hubs client against the rhea stand-in, the real BlobCheckpointStore against
 * Azurite); under `run --config`, a source failing on auth is logged when it fails and turns
 * /readyz to 503 with its error while the other sources go on.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { waitUntil } from '../collectors/util.js';
import { AZURITE_KEY, azuriteAccountSas, startAzurite, type AzuriteRun } from '../helpers/azurite.js';
import { runCli, startCli, type RunningCli } from '../helpers/cli.js';
import { EventHubStandIn } from '../helpers/eventHubStandIn.js';

let azurite: AzuriteRun;
let hub: EventHubStandIn;
const dir = mkdtempSync(join(tmpdir(), 'nsg2ipfix-health-'));
const running: RunningCli[] = [];

beforeAll(async () => {
  azurite = await startAzurite();
  hub = await EventHubStandIn.start({ partitionCount: 2 });
});

afterAll(async () => {
  await Promise.allSettled(running.map((run) => run.stop('SIGKILL')));
  await hub?.stop();
  await azurite?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Azurite's connection string with another (well-formed) account key: every request is refused (403). */
function wrongKey(): string {
  const wrong = Buffer.alloc(64, 7).toString('base64');
  return azurite.connectionString.replace(AZURITE_KEY, wrong);
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('honest health', () => {
  it('eventhub: a checkpoint store that refuses the key stops the command at start, one line, exit 2, no key shown', async () => {
    const wrong = wrongKey();
    const run = await runCli(
      ['eventhub', '--checkpoint-container', 'refused', '--state-dir', join(dir, 'eh'), '-c', '127.0.0.1:9', '--start-at', 'earliest', '--log-level', 'debug'],
      { env: { NSG2IPFIX_EVENTHUB_CONNECTION_STRING: hub.connectionString, NSG2IPFIX_CHECKPOINT_CONNECTION_STRING: wrong }, timeoutMs: 20_000 },
    );
    expect(run.code, run.stderr).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/checkpoint store refused the credential/);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr).not.toContain(wrong.split('AccountKey=')[1]!.split(';')[0]!);
  });

  it('run --config: a source failing on auth is logged when it fails and makes /readyz 503 with its error; the others go on', async () => {
    const port = await freeTcpPort();
    const config = join(dir, 'two-sources.yaml');
    writeFileSync(
      config,
      [
        'log: { level: info, format: json }',
        `http: 127.0.0.1:${port}`,
        'export: { collector: ["127.0.0.1:9"] }',
        'sources:',
        '  - type: blob',
        '    name: good',
        `    connectionString: "${azurite.connectionString}"`,
        `    stateDir: ${join(dir, 'good')}`,
        '    pollInterval: 1',
        '  - type: blob',
        '    name: refused',
        `    connectionString: "${wrongKey()}"`,
        `    stateDir: ${join(dir, 'refused')}`,
        '    pollInterval: 1',
        '',
      ].join('\n'),
    );
    const run = startCli('run', ['--config', config]);
    running.push(run);
    let readyz = { status: 0, body: '' };
    await waitUntil(
      () => {
        void get(`http://127.0.0.1:${port}/readyz`).then(
          (answer) => (readyz = answer),
          () => undefined,
        );
        return readyz.status === 503 && readyz.body.includes('"refused"') && run.output().includes('source stopped with an error');
      },
      { timeoutMs: 30_000, exited: run.exited, what: '/readyz 503 for the refused source', describe: () => `${readyz.status} ${readyz.body}\n${run.output()}` },
    );
    const answer = JSON.parse(readyz.body) as { ready: boolean; sources: { source: string; ready: boolean; lastError?: string; stopped?: boolean }[] };
    expect(answer.ready).toBe(false);
    const refused = answer.sources.find((s) => s.source === 'refused')!;
    expect(refused).toMatchObject({ ready: false, stopped: true });
    expect(refused.lastError).toMatch(/Storage Blob Data Reader|authenticate|403/i);
    expect(answer.sources.find((s) => s.source === 'good')!.ready).toBe(true);
    // The error was logged while it ran, not at the stop.
    expect(run.output()).toMatch(/"source":"refused".*source stopped with an error/);
    const exit = await run.stop('SIGTERM');
    expect(exit.code).not.toBe(0);
  });

  it('blob: a credential refused mid-run (an expired SAS) turns /readyz 503 with its error at the next pass, while the command keeps polling', async () => {
    const port = await freeTcpPort();
    const expiresMs = Date.now() + 8_000;
    const sas = azuriteAccountSas(new Date(expiresMs));
    // A blob of the current hour, so that every pass lists its hour folder (and meets the refusal).
    const container = azurite.service.getContainerClient('insights-logs-networksecuritygroupflowevent');
    await container.createIfNotExists();
    const hour = new Date();
    const two = (n: number) => String(n).padStart(2, '0');
    const name =
      'resourceId=/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG/' +
      `y=${hour.getUTCFullYear()}/m=${two(hour.getUTCMonth() + 1)}/d=${two(hour.getUTCDate())}/h=${two(hour.getUTCHours())}/m=00/macAddress=000D3A000001/PT1H.json`;
    await container.getBlockBlobClient(name).upload('{"records":[]}', 14);
    const run = startCli('blob', [
      '--account-url',
      `${azurite.accountUrl}?${sas}`,
      '--container',
      'insights-logs-networksecuritygroupflowevent',
      '--state-dir',
      join(dir, 'expiring'),
      '--poll-interval',
      '1',
      '--http',
      `127.0.0.1:${port}`,
      '-c',
      '127.0.0.1:9',
    ]);
    running.push(run);
    let readyz = { status: 0, body: '' };
    const poll = () =>
      void get(`http://127.0.0.1:${port}/readyz`).then(
        (answer) => (readyz = answer),
        () => undefined,
      );
    await waitUntil(
      () => {
        poll();
        return readyz.status === 200;
      },
      { timeoutMs: 20_000, exited: run.exited, what: '/readyz 200 while the SAS is valid', describe: () => `${readyz.status} ${readyz.body}\n${run.output()}` },
    );
    await waitUntil(
      () => {
        poll();
        return Date.now() > expiresMs && readyz.status === 503;
      },
      { timeoutMs: 30_000, exited: run.exited, what: '/readyz 503 once the SAS expired', describe: () => `${readyz.status} ${readyz.body}\n${run.output()}` },
    );
    const answer = JSON.parse(readyz.body) as { ready: boolean; sources: { ready: boolean; lastError?: string; stopped?: boolean }[] };
    expect(answer.sources[0]).toMatchObject({ ready: false });
    expect(answer.sources[0]!.stopped).not.toBe(true);
    expect(answer.sources[0]!.lastError).toMatch(/authenticat|authoriz|403/i);
    expect(run.output()).toMatch(/listing failed: trying again next poll/);
    expect(run.output()).not.toContain(new URLSearchParams(sas).get('sig')!);
    expect(run.child.exitCode).toBeNull();
    await run.stop('SIGTERM');
  });
});
