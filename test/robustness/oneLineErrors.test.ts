import { describe, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { expectOneLineError } from './oneLine.js';

describe('listen and demo: user errors are one line, exit 2', () => {
  it.each([
    ['a port out of range', ['listen', '--port', '99999'], /^nsg2ipfix: --port must be a whole number from 0 to 65535, got '99999'$/],
    [
      'a host that does not resolve',
      ['listen', '--host', 'nonexistent.invalid', '--count', '1'],
      /^nsg2ipfix: cannot listen on nonexistent\.invalid:4739: ENOTFOUND$/,
    ],
    // 203.0.113.0/24 is for documentation: never an address of this host.
    ['an address not of this host', ['listen', '--host', '203.0.113.9', '--count', '1'], /^nsg2ipfix: cannot listen on 203\.0\.113\.9:4739: EADDRNOTAVAIL$/],
    ['a count that is not a number', ['listen', '--count', 'ten'], /^nsg2ipfix: --count must be a whole number/],
    ['a demo output that is not a directory', ['demo', '--out', '/dev/full'], /^nsg2ipfix: cannot write to '\/dev\/full': EEXIST$/],
  ])('%s', async (_, args, pattern) => {
    expectOneLineError(await runCli(args, { timeoutMs: 30_000 }), pattern);
  });
});
