import { Command } from 'commander';
import { checkRunPlan } from '../config/checkPlan.js';
import { readConfigFile } from '../config/configFile.js';
import { formatProblems, parseRunConfig, SOURCE_COMMANDS, type SourceType } from '../config/runConfig.js';
import { UsageError } from './usageError.js';
import { HTTP_ALLOW_REMOTE_DESCRIPTION, HTTP_OPTION_DESCRIPTION, keepHeapCompact, withServiceRuntime, withSourceName } from './serviceRuntime.js';

/** A fresh program with every command (cli.ts buildProgram): each source runs its own. */
type ProgramFactory = () => Promise<Command>;

/** The source commands a config can use, by source type, from a fresh program. */
function sourceCommands(program: Command): Partial<Record<SourceType, Command>> {
  const found: Partial<Record<SourceType, Command>> = {};
  for (const [type, name] of Object.entries(SOURCE_COMMANDS) as [SourceType, string][]) {
    const command = program.commands.find((c) => c.name() === name);
    if (command !== undefined) found[type] = command;
  }
  return found;
}

/**
 * Reads, parses and checks a config: `run` and `config check` both go through here, so check
 * passes exactly what run accepts (see checkRunPlan for what is checked beyond the file itself).
 */
async function loadPlan(file: string, programFactory: ProgramFactory) {
  const text = await readConfigFile(file);
  const { plan, problems } = parseRunConfig(text, sourceCommands(await programFactory()));
  if (plan === undefined) throw new UsageError(formatProblems(file, problems));
  const refused = await checkRunPlan(plan, programFactory);
  if (refused.length > 0) throw new UsageError(formatProblems(file, refused));
  return plan;
}

/**
 * `nsg2ipfix run --config FILE`: every source of the file, side by side in one process, one
 * logger, one stop signal, one HTTP endpoint. Each source runs its own command (same options,
 * same code as on the command line) with its own pipeline and checkpoints.
 */
export function runCommand(programFactory: ProgramFactory): Command {
  return new Command('run')
    .description('run the sources of a YAML config file (files, blob, eventhub) as a long-lived sidecar')
    .requiredOption('--config <file>', 'YAML config (see nsg2ipfix.example.yaml)')
    .option('--http <host:port>', `${HTTP_OPTION_DESCRIPTION}; overrides the file's http`)
    .option('--http-allow-remote', `${HTTP_ALLOW_REMOTE_DESCRIPTION}; or httpAllowRemote: true in the file`)
    .addHelpText('after', '\nExamples:\n  nsg2ipfix run --config /etc/nsg2ipfix/nsg2ipfix.yaml\n  nsg2ipfix run --config nsg2ipfix.yaml --http 127.0.0.1:9464')
    .action(async (flags: { config: string; http?: string; httpAllowRemote?: boolean }) => {
      const plan = await loadPlan(flags.config, programFactory);
      const http = flags.http ?? plan.http;
      const httpAllowRemote = flags.httpAllowRemote === true || plan.httpAllowRemote;
      // Blob followers only: an Event Hubs source is latency-bound, and collecting more often costs it CPU.
      if (plan.sources.every((source) => source.type === 'blob')) keepHeapCompact();
      await withServiceRuntime(
        { logLevel: plan.logLevel as never, logFormat: plan.logFormat as never, ...(http === undefined ? {} : { http }), httpAllowRemote },
        async (runtime) => {
          runtime.logger.info({ config: flags.config, sources: plan.sources.map((s) => `${s.name} (${s.type})`) }, 'starting sources');
          const results = await Promise.allSettled(
            plan.sources.map((source) =>
              withSourceName(source.name, async () => {
                const program = await programFactory();
                program.exitOverride();
                for (const command of program.commands) command.exitOverride();
                await program.parseAsync(['node', 'nsg2ipfix', SOURCE_COMMANDS[source.type], ...source.argv]);
              }).catch((error: unknown) => {
                // Told at once, and /readyz fails with the reason: the other sources go on.
                const message = error instanceof Error ? error.message : String(error);
                runtime.logger.error({ source: source.name, code: (error as { code?: unknown }).code }, `source stopped with an error: ${message}`);
                runtime.metrics.stopped(source.name, message);
                throw error;
              }),
            ),
          );
          const failed = results.flatMap((result, i) =>
            result.status === 'rejected' ? [{ source: plan.sources[i]!.name, error: result.reason as Error }] : [],
          );
          if (failed.length > 0)
            throw new UsageError(`${failed.length} of ${plan.sources.length} sources failed (first: ${failed[0]!.source}: ${failed[0]!.error.message})`);
        },
      );
    });
}

export function configCommand(programFactory: ProgramFactory): Command {
  const check = new Command('check')
    .description('validate a config file without running it: every problem at once, with its key path and a hint')
    .requiredOption('--config <file>', 'YAML config to check')
    .action(async (flags: { config: string }) => {
      const plan = await loadPlan(flags.config, programFactory);
      process.stdout.write(
        `${flags.config}: ok, ${plan.sources.length} source${plan.sources.length === 1 ? '' : 's'}: ${plan.sources.map((s) => `${s.name} (${s.type})`).join(', ')}\n`,
      );
    });
  return new Command('config').description('work with config files').addCommand(check);
}
