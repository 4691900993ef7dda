import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { blobCommand } from './cli/blob.js';
import { demoCommand } from './cli/demo.js';
import { eventhubCommand } from './cli/eventhub.js';
import { listenCommand } from './cli/listen.js';
import { replayCommand } from './cli/replay.js';
import { configCommand, runCommand } from './cli/run.js';
import { UsageError } from './cli/usageError.js';
import { ConfigurationError } from './pipeline.js';
import { InputError } from './sources/files.js';
import { CollectorAddressError } from './transport/collectorAddress.js';
import { scrubSecrets } from './secrets.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function buildProgram(): Command {
  return new Command('nsg2ipfix')
    .description('Azure NSG / VNet flow logs to IPFIX and NetFlow, for the collectors you already run')
    .version(VERSION)
    .addCommand(replayCommand())
    .addCommand(listenCommand())
    .addCommand(demoCommand())
    .addCommand(blobCommand())
    .addCommand(eventhubCommand())
    .addCommand(runCommand(buildProgram))
    .addCommand(configCommand(buildProgram))
    .showHelpAfterError();
}

/** Errors the user can act on: one line, no stack trace. */
const USER_ERRORS = [UsageError, ConfigurationError, InputError, CollectorAddressError];

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (USER_ERRORS.some((type) => error instanceof type)) {
      process.stderr.write(`nsg2ipfix: ${scrubSecrets((error as Error).message)}\n`);
      return 2;
    }
    throw error;
  }
}
