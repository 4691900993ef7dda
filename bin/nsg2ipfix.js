#!/usr/bin/env node
import { prestartExporter } from '../dist/exporter/prestart.js';

// The commands that export start their exporting thread first, while their modules load.
const EXPORTING_COMMANDS = new Set(['replay', 'blob', 'eventhub', 'run', 'demo']);
if (EXPORTING_COMMANDS.has(process.argv[2] ?? '') && !process.argv.includes('--help') && !process.argv.includes('-h')) prestartExporter();

// A closed stdout (`nsg2ipfix listen | head`) ends the program quietly, as it does any Unix tool.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  throw error;
});

const { main } = await import('../dist/cli.js');
const { scrubSecrets } = await import('../dist/secrets.js');

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
