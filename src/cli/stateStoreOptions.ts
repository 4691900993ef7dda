import type { Command } from 'commander';
import { UsageError } from './usageError.js';

/** What a command's state store options say in its help. */
export interface StateStoreHelp {
  /** What --state-dir holds, and its default. */
  readonly dir: string;
  readonly defaultDir: string;
  /** What the store holds (`cursor state`, `block cursors`) and the account --state-container is in. */
  readonly holds: string;
  readonly account: string;
  /** What the blob is called (`state`, `cursor`), and its default name. */
  readonly blob: string;
  readonly defaultBlob: string;
}

/** Where a following command keeps its cursors: a file in --state-dir, or a blob in --state-container. */
export function addStateStoreOptions(command: Command, help: StateStoreHelp): Command {
  return command
    .option('--state-dir <dir>', help.dir, help.defaultDir)
    .option('--state-container <name>', `keep the ${help.holds} in this container of the ${help.account} instead of --state-dir`)
    .option('--state-blob <name>', `name of the ${help.blob} blob in --state-container (one per instance)`, help.defaultBlob);
}

/** Refuses a store given twice: --state-dir on the command line and --state-container. */
export function checkStateStoreFlags(command: Command, flags: { readonly stateContainer?: string }): void {
  if (flags.stateContainer !== undefined && command.getOptionValueSource('stateDir') === 'cli')
    throw new UsageError('give either --state-dir or --state-container, not both');
}
