import { CommanderError, type Command } from 'commander';
import { enrichmentFrom } from '../cli/enrichOptions.js';
import { encodingProblem } from '../exporter/encoding.js';
import type { FlowFormat } from '../flow/flowEncoder.js';
import { resolveListenAddress } from '../observability/httpServer.js';
import { checkEnrichmentSpec } from '../inventory/nameProvider.js';
import { scrubCommandLineText } from '../secrets.js';
import { statInput } from '../sources/files.js';
import { resolveCollector } from '../transport/collectorAddress.js';
import { checkPcapPath } from '../transport/pcapWriter.js';
import { SOURCE_COMMANDS, type ConfigProblem, type RunPlan, type SourcePlan } from './runConfig.js';

/** Default collector ports by format (as pipeline.ts DEFAULT_PORTS; not imported: it loads the pipeline). */
const DEFAULT_PORTS: Readonly<Record<FlowFormat, number>> = { ipfix: 4739, netflow9: 2055, netflow5: 2055 };

/** The option values a source command reads, once commander has parsed its argv. */
interface SourceFlags {
  readonly collector?: readonly string[];
  readonly pcap?: string;
  readonly format?: FlowFormat;
  readonly biflow?: 'split' | 'rfc5103';
}

/**
 * What `run` would refuse in a plan that parsed, found without starting anything: each source's
 * argv parsed by its own command exactly as `run` parses it (the option validators: numbers,
 * choices, --start-at), then the values checked with the functions the run uses on them: input
 * paths, collector resolution (DNS, IPv6 zones), the pcap path, the export format, and the HTTP
 * address (parsing, resolution, loopback unless allowed). `config check` reports these; `run`
 * refuses to start on them. Conditions of the moment (a port in use, a disk full) are left to run.
 */
export async function checkRunPlan(plan: RunPlan, programFactory: () => Promise<Command>): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  if (plan.http !== undefined) {
    try {
      await resolveListenAddress(plan.http, plan.httpAllowRemote);
    } catch (error) {
      problems.push({ path: 'http', message: (error as Error).message.replace(/^--http '.*?': /, '') });
    }
  }
  for (const [index, source] of plan.sources.entries()) {
    const path = `sources[${index}]`;
    const parsed = await parseSource(source, await programFactory());
    if ('problem' in parsed) {
      problems.push({ path, message: parsed.problem });
      continue;
    }
    const flags = parsed.flags as SourceFlags;
    for (const input of parsed.paths) {
      await statInput(input).catch((error: Error) => problems.push({ path: `${path}.paths`, message: error.message }));
    }
    const format = flags.format ?? 'ipfix';
    const collectors = flags.collector ?? [];
    if (collectors.length === 0 && flags.pcap === undefined) {
      problems.push({ path, message: 'nowhere to send flows', hint: 'give collector: [HOST:PORT] and/or pcap: FILE, here or under export' });
    }
    const encoding = encodingProblem({ format, biflow: flags.biflow ?? 'split' });
    if (encoding !== undefined) problems.push({ path: `${path}.biflow`, message: encoding });
    for (const collector of collectors) {
      await resolveCollector(collector, DEFAULT_PORTS[format]).catch((error: Error) => problems.push({ path: `${path}.collector`, message: error.message }));
    }
    if (flags.pcap !== undefined) {
      const problem = await checkPcapPath(flags.pcap);
      if (problem !== undefined) problems.push({ path: `${path}.pcap`, message: problem.message });
    }
    const names = await enrichmentProblem(parsed.flags);
    if (names !== undefined) problems.push({ path: `${path}.${names.key}`, message: names.message });
  }
  return problems;
}

/**
 * What the source's names options would stop it with: their values (fields, tags, refresh, history,
 * subscriptions) and the enrichment file, read and validated. Azure itself is not asked.
 */
async function enrichmentProblem(flags: Record<string, unknown>): Promise<{ key: string; message: string } | undefined> {
  try {
    const enrichment = enrichmentFrom(flags, typeof flags['stateDir'] === 'string' ? flags['stateDir'] : undefined);
    if (enrichment !== undefined) await checkEnrichmentSpec(enrichment.spec);
    return undefined;
  } catch (error) {
    const message = (error as Error).message;
    // The messages name their option (`--enrich-fields: ...`); a file's name its path and line.
    const option = /^--(enrich-[a-z-]+)/.exec(message)?.[1];
    if (option === undefined) return { key: 'enrichFile', message };
    return { key: option.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase()), message: message.replace(/^--[a-z-]+:? */, '') };
  }
}

/**
 * Parses a source's argv with its command from a fresh program, the action replaced: the same
 * parsing, defaults, environment variables and validators as `run` applies, nothing run.
 */
async function parseSource(
  source: SourcePlan,
  program: Command,
): Promise<{ readonly flags: Record<string, unknown>; readonly paths: readonly string[] } | { readonly problem: string }> {
  const command = program.commands.find((c) => c.name() === SOURCE_COMMANDS[source.type]);
  if (command === undefined) return { problem: `no '${SOURCE_COMMANDS[source.type]}' command here` };
  const quiet = { writeOut: () => {}, writeErr: () => {}, outputError: () => {} };
  for (const each of [program, command]) each.exitOverride().configureOutput(quiet);
  let paths: readonly string[] = [];
  command.action((...args: unknown[]) => {
    if (Array.isArray(args[0])) paths = args[0] as string[];
  });
  try {
    await program.parseAsync(['node', 'nsg2ipfix', SOURCE_COMMANDS[source.type], ...source.argv]);
  } catch (error) {
    const message = error instanceof CommanderError ? error.message.replace(/^error: /, '') : (error as Error).message;
    return { problem: scrubCommandLineText(message.split('\n')[0]!) };
  }
  return { flags: command.opts(), paths };
}
