#!/usr/bin/env node
import { main } from '../dist/cli.js';
import { scrubSecrets } from '../dist/secrets.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    // Unexpected: keep the stack for a bug report, never a secret.
    process.stderr.write(`nsg2ipfix: ${scrubSecrets(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`);
    process.exitCode = 1;
  },
);
