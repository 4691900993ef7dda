import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { EventHubStandIn } from '../helpers/eventHubStandIn.js';

/** What users get wrong before anything connects: one line on stderr, exit 2, no secret repeated. */

const KEY = 'bm90LWEtcmVhbC1rZXktYnV0LXNlY3JldA==';
const HUB = `Endpoint=sb://example.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=${KEY};EntityPath=flowlogs`;
const NAMESPACE_ONLY = `Endpoint=sb://example.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=${KEY}`;

async function eventhub(args: string[], env: NodeJS.ProcessEnv = {}) {
  const run = await runCli(['eventhub', '-c', '127.0.0.1:4739', ...args], { env: { NSG2IPFIX_EVENTHUB_CONNECTION_STRING: '', ...env } });
  expect(run.stderr).not.toContain(KEY);
  return run;
}

describe.concurrent('nsg2ipfix eventhub: options', () => {
  it('refuses to start without a checkpoint store, and says why', async () => {
    const run = await eventhub(['--connection-string', HUB]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no checkpoint store');
    expect(run.stderr).toContain('every instance would read every event');
    expect(run.stderr).toContain('--no-checkpoint');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('needs the hub name when the connection string has none', async () => {
    const run = await eventhub(['--connection-string', NAMESPACE_ONLY, '--no-checkpoint']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--eventhub');
  });

  it('wants a fully qualified namespace with --eventhub', async () => {
    const short = await eventhub(['--namespace', 'example', '--eventhub', 'flowlogs', '--no-checkpoint']);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('example.servicebus.windows.net');
    const noHub = await eventhub(['--namespace', 'example.servicebus.windows.net', '--no-checkpoint']);
    expect(noHub.code).toBe(2);
    expect(noHub.stderr).toContain('--namespace needs --eventhub');
  });

  it('checks the checkpoint options and --start-at', async () => {
    const noContainer = await eventhub(['--connection-string', HUB, '--checkpoint-account-url', 'https://a.blob.core.windows.net']);
    expect(noContainer.code).toBe(2);
    expect(noContainer.stderr).toContain('--checkpoint-container');
    const both = await eventhub([
      '--connection-string',
      HUB,
      '--checkpoint-account-url',
      'https://a.blob.core.windows.net',
      '--checkpoint-container',
      'c',
      '--no-checkpoint',
    ]);
    expect(both.code).toBe(2);
    const startAt = await eventhub(['--connection-string', HUB, '--no-checkpoint', '--start-at', 'yesterday']);
    expect(startAt.code).toBe(2);
    expect(startAt.stderr).toContain('--start-at must be earliest, latest or an ISO 8601 time');
  });

  it('stops at start with one line when the event hub does not exist', async () => {
    const hub = await EventHubStandIn.start({ partitionCount: 1 });
    try {
      const run = await eventhub(['--no-checkpoint'], {
        NSG2IPFIX_EVENTHUB_CONNECTION_STRING: hub.connectionString.replace('EntityPath=flowlogs', 'EntityPath=missing'),
      });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`nsg2ipfix: cannot reach event hub missing at 127.0.0.1:${hub.port}`);
      expect(run.stderr).not.toContain('c3RhbmQtaW4tc2VjcmV0LWtleQ==');
    } finally {
      await hub.stop();
    }
  });
});
