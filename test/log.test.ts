import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scrubSecrets } from '../src/secrets.js';
import { runCli } from './helpers/cli.js';

const ROOT = join(import.meta.dirname, '..');
const CONNECTION_STRING = 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=SECRETKEY1==;EndpointSuffix=core.windows.net';
const SAS_URL = 'https://acct.blob.core.windows.net/insights?sv=2024-01-01&se=2030-01-01&sp=rl&sig=SECRETSIG2%3D';
const EVENT_HUB = 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=SECRETKEY3=;EntityPath=flows';

describe('secrets in logs', () => {
  it('scrubs account keys, SAS signatures and Event Hubs keys from any text', () => {
    for (const text of [CONNECTION_STRING, SAS_URL, EVENT_HUB]) expect(scrubSecrets(text)).not.toMatch(/SECRET/);
    expect(scrubSecrets(CONNECTION_STRING)).toContain('AccountName=acct;AccountKey=[redacted];');
  });

  it('never writes a secret to the log, whether in a known key, a message, an error or a nested object', () => {
    const script = `
      import { createLogger } from './dist/log.js';
      const log = createLogger('debug', 'json').child({ source: 'blob' });
      log.info({ connectionString: ${JSON.stringify(CONNECTION_STRING)} }, 'connecting');
      log.warn({ request: { url: ${JSON.stringify(SAS_URL)} } }, 'retrying');
      log.error({ err: new Error('failed: ' + ${JSON.stringify(EVENT_HUB)}) }, 'receive failed');
      log.info('plain message with ' + ${JSON.stringify(SAS_URL)});
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(run.status).toBe(0);
    const lines = run.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((l) => l['msg'])).toEqual([
      'connecting',
      'retrying',
      'receive failed',
      expect.stringContaining('plain message with https://acct.blob.core.windows.net/'),
    ]);
    expect(run.stderr).not.toMatch(/SECRET/);
    expect(lines[0]!['connectionString']).toBe('[redacted]');
    expect(JSON.stringify(lines[1])).toContain('sig=[redacted]');
  });

  it('keeps secrets out of one-line CLI errors too', async () => {
    const run = await runCli(['replay', 'samples', '--collector', `collector;SharedAccessKey=SECRETKEY4:1:2`]);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toMatch(/SECRETKEY4/);
    expect(run.stderr).toMatch(/SharedAccessKey=\[redacted\]/);
  });
});
