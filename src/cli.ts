import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { Nsg2ipfixError } from './flow/errors.js';
import { printable } from './flow/textTable.js';
import { scrubCommandLineText, scrubSecrets } from './secrets.js';
import { UserError } from './userError.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * Each command from its own module, loaded only when needed: a replay does not load the code of
 * the Blob, Event Hubs or listen commands (tens of milliseconds of start-up). In help order.
 */
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  replay: async () => (await import('./cli/replay.js')).replayCommand(),
  report: async () => (await import('./cli/report.js')).reportCommand(),
  listen: async () => (await import('./cli/listen.js')).listenCommand(),
  demo: async () => (await import('./cli/demo.js')).demoCommand(),
  blob: async () => (await import('./cli/blob.js')).blobCommand(),
  eventhub: async () => (await import('./cli/eventhub.js')).eventhubCommand(),
  run: async () => (await import('./cli/run.js')).runCommand(buildProgram),
  config: async () => (await import('./cli/run.js')).configCommand(buildProgram),
  enrich: async () => (await import('./cli/enrich.js')).enrichCommand(),
  coverage: async () => (await import('./cli/coverage.js')).coverageCommand(),
};

/**
 * The program with every command, or with only `command` when that names one (what `main`
 * runs). Anything else (help, a typo to suggest a fix for) gets them all.
 */
export async function buildProgram(command?: string): Promise<Command> {
  const names = command !== undefined && Object.hasOwn(COMMANDS, command) ? [command] : Object.keys(COMMANDS);
  const program = new Command('nsg2ipfix').description('Azure NSG / VNet flow logs to IPFIX and NetFlow, for the collectors you already run').version(VERSION);
  for (const subcommand of await Promise.all(names.map((name) => COMMANDS[name]!()))) program.addCommand(subcommand);
  scrubOutput(program);
  return program.showHelpAfterError();
}

/**
 * Commander echoes what was typed in its errors (`unknown option '--conection-string=...'`):
 * everything it writes goes through the scrubber. addCommand() does not pass output settings
 * down, so each command gets them.
 */
function scrubOutput(command: Command): void {
  command.configureOutput({
    writeOut: (text) => process.stdout.write(scrubCommandLineText(text)),
    writeErr: (text) => process.stderr.write(scrubCommandLineText(text)),
  });
  for (const sub of command.commands) scrubOutput(sub);
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = await buildProgram(argv[2]);
  program.exitOverride();
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    // Help and --version end with 0; commander's own usage errors (unknown option, bad choice, missing
    // argument: already printed, one line) are user errors like ours: 2, never coverage's "findings" 1.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    // `--pcap /dev/stdout | head`: the reader has what it wanted. Quiet, as a closed stdout is (bin/nsg2ipfix.js).
    if (error instanceof Nsg2ipfixError && error.code === 'pcap-closed') return typeof process.exitCode === 'number' ? process.exitCode : 0;
    if (error instanceof UserError) {
      process.stderr.write(`nsg2ipfix: ${printable(scrubSecrets(error.message))}\n`);
      return 2;
    }
    // Ours, raised on purpose (not a user's mistake, not a bug): one line too, without a stack.
    if (error instanceof Nsg2ipfixError) {
      process.stderr.write(`nsg2ipfix: ${printable(scrubSecrets(error.message))}\n`);
      return 1;
    }
    throw error;
  }
}
