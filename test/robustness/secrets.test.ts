import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scrubCommandLineText, scrubSecrets, scrubValue } from '../../src/secrets.js';
import { runCli } from '../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'nsg2ipfix-secrets-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const KEY = 'S3CR3TKEYc2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0a2V5==';
const CONNECTION_STRING = `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${KEY};EndpointSuffix=core.windows.net`;
const SAS = 'sv=2024-01-01&ss=b&srt=sco&sp=rl&se=2030-01-01&sig=S3CR3TSIGabc%2Bdef%3D';

describe('secrets on the command line', () => {
  it.each([
    ['a misspelt --conection-string=', ['blob', `--conection-string=${CONNECTION_STRING}`]],
    ['a misspelt --sas-tokn=', ['blob', `--sas-tokn=${SAS}`]],
    ['an unknown option before any command', [`--connection-string=${CONNECTION_STRING}`]],
    ['the connection string after an unknown command', ['blobb', `--connection-string=${CONNECTION_STRING}`]],
    ['a bare key where a command belongs', [KEY]],
    ['a bare key as the value of a misspelt option', ['blob', `--acount-key=${KEY.replace('S3CR3T', 'NOPREFIX')}`]],
    ['a connection string as an excess argument', ['listen', CONNECTION_STRING]],
  ])("commander's error for %s never echoes it", async (_, args) => {
    const run = await runCli(args);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/error: /);
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/S3CR3T|NOPREFIX/);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it('config type errors name the type, never the value', async () => {
    const config = join(work, 'typed.yaml');
    writeFileSync(
      config,
      [
        'sources:',
        '  - type: blob',
        `    connectionString: { AccountKey: "${KEY}" }`,
        `    maxPps: "AccountKey=${KEY}"`,
        `    once: "${KEY}"`,
        `    format: "${KEY}"`,
        `    container: [{ sig: "${KEY}" }]`,
      ].join('\n'),
    );
    const run = await runCli(['config', 'check', '--config', config]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/sources\[0\]\.connectionString: must be a value, got a mapping/);
    expect(run.stderr).toMatch(/sources\[0\]\.once: must be true or false, got text/);
    expect(run.stderr).toMatch(/sources\[0\]\.container: must be a list of values, got a mapping/);
    expect(run.stderr).toMatch(/sources\[0\]\.maxPps: must be a whole number .*got something else/);
    expect(run.stderr).toMatch(/sources\[0\]\.format: text is not allowed/);
    expect(run.stderr).not.toMatch(/S3CR3T/);
  });
});

describe('the one scrubber', () => {
  it('covers what the blob source redacted on its own (SAS URLs, keys in connection strings)', () => {
    const text = 'GET https://a.blob.core.windows.net/c?sv=2024&sig=abc%2Fdef&se=1 failed; AccountKey=c2VjcmV0;SharedAccessSignature=sv=1&sig=x';
    const safe = scrubSecrets(text);
    expect(safe).not.toMatch(/abc%2Fdef|c2VjcmV0|sig=x/);
    expect(safe).toContain('sig=[redacted]');
  });

  it('covers URL-encoded keys, JSON properties, client secrets, bearer tokens and URL passwords', () => {
    const texts = [
      'https%3A%2F%2Fa.blob.core.windows.net%2F%3Fsv%3D1%26sig%3DS3CR3T1',
      `{"AccountKey":"S3CR3T2","connectionString":"x;AccountKey=S3CR3T3"}`,
      'AZURE_CLIENT_SECRET=S3CR3T4 client_secret=S3CR3T5',
      'Authorization: Bearer eyJS3CR3T6.abc.def',
      'https://user:S3CR3T7@proxy.example.net:8080/',
      'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=S3CR3T8=;EntityPath=flows',
    ];
    for (const text of texts) expect(scrubSecrets(text)).not.toMatch(/S3CR3T/);
    expect(scrubSecrets('SharedAccessKeyName=listen')).toBe('SharedAccessKeyName=listen');
    expect(scrubValue({ nested: { sasToken: 'S3CR3T9', accountKey: 'S3CR3T10' } })).toEqual({ nested: { sasToken: '[redacted]', accountKey: '[redacted]' } });
  });

  it("keeps commander's useful words and drops option values it would echo", () => {
    expect(scrubCommandLineText("error: unknown option '--conection-string=abc'\n(Did you mean --connection-string?)\n")).toBe(
      "error: unknown option '--conection-string=[redacted]'\n(Did you mean --connection-string?)\n",
    );
    expect(scrubCommandLineText("error: option '--sas-token <token>' argument 'plain' is invalid.")).toBe(
      "error: option '--sas-token <token>' argument '[redacted]' is invalid.",
    );
    expect(scrubCommandLineText("error: option '-f, --format <format>' argument 'ipfx' is invalid.")).toContain("'ipfx'");
  });
});
