import type { Command } from 'commander';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { isLoopbackAddress, parseListenAddress } from '../observability/httpServer.js';

/**
 * `nsg2ipfix run --config FILE`: one YAML file describing one or more sources and where their
 * flows go. Every CLI option has a config key: its long name in camelCase (`--max-pps` ->
 * `maxPps`), taken from the commands themselves, so the two can never drift apart.
 *
 *   log: { level: info, format: json }
 *   http: 127.0.0.1:9464                                    # httpAllowRemote: true to listen beyond loopback
 *   export: { collector: [10.0.0.5:4739], format: ipfix }   # applies to every source
 *   sources:
 *     - type: blob                                          # files | blob | eventhub
 *       connectionString: ${NSG2IPFIX_CONNECTION_STRING}
 *
 * `${VAR}` is replaced by the environment variable VAR (keep secrets out of the file).
 */

/** yaml is loaded when a config is read: other commands should not pay its start-up. */
const parseDocument: typeof import('yaml').parseDocument = (...args) =>
  (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parseDocument(...args);

export interface ConfigProblem {
  /** Where, as a key path: `sources[1].maxPps`. */
  readonly path: string;
  readonly message: string;
  readonly hint?: string;
}

export type SourceType = 'files' | 'blob' | 'eventhub';

export interface SourcePlan {
  readonly type: SourceType;
  readonly name: string;
  /** Arguments for the source's command, as if typed after `nsg2ipfix <command>`. */
  readonly argv: readonly string[];
}

export interface RunPlan {
  readonly logLevel: string;
  readonly logFormat: string;
  readonly http?: string;
  readonly httpAllowRemote: boolean;
  readonly sources: readonly SourcePlan[];
}

/** The command behind each source type. */
export const SOURCE_COMMANDS: Readonly<Record<SourceType, string>> = { files: 'replay', blob: 'blob', eventhub: 'eventhub' };

/** Alias expansions a config may use: plenty for sharing a block, far from an alias bomb. */
const MAX_ALIAS_COUNT = 100;
const TOP_LEVEL_KEYS = ['log', 'http', 'httpAllowRemote', 'export', 'sources'];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const LOG_FORMATS = ['auto', 'json', 'pretty'];
/** Keys a source has besides its command's options. */
const SOURCE_KEYS = ['type', 'name'];
/** Options that belong to the runtime, not to one source. */
const RUNTIME_OPTIONS = new Set(['logLevel', 'logFormat', 'http', 'httpAllowRemote', 'help']);

export function parseRunConfig(
  text: string,
  commands: Readonly<Partial<Record<SourceType, Command>>>,
  env: NodeJS.ProcessEnv = process.env,
): { plan?: RunPlan; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const document = parseDocument(text);
  for (const error of document.errors) {
    problems.push({ path: `line ${error.linePos?.[0]?.line ?? '?'}`, message: `YAML: ${error.message.split('\n')[0]}` });
  }
  if (problems.length > 0) return { problems };
  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // yaml throws a ReferenceError for an alias bomb (`a: &a [x,x]`, `b: &b [*a,*a]`, ...).
    const message =
      error instanceof ReferenceError
        ? `YAML: aliases expand too much (more than ${MAX_ALIAS_COUNT} times)`
        : `YAML: ${(error as Error).message.split('\n')[0]}`;
    return { problems: [{ path: '(file)', message, hint: 'write the values out, or use fewer aliases (*name)' }] };
  }
  const root = substituteEnv(data, '', env, problems);
  if (!isObject(root))
    return { problems: [{ path: '(file)', message: 'the config must be a mapping with a `sources` list', hint: 'see nsg2ipfix.example.yaml' }] };

  for (const key of Object.keys(root)) {
    if (!TOP_LEVEL_KEYS.includes(key)) problems.push(unknownKey(key, key, TOP_LEVEL_KEYS));
  }

  let logLevel = 'info';
  let logFormat = 'auto';
  const log = root['log'];
  if (log !== undefined) {
    if (!isObject(log)) problems.push({ path: 'log', message: 'must be a mapping', hint: 'log: { level: info, format: json }' });
    else {
      for (const key of Object.keys(log)) if (key !== 'level' && key !== 'format') problems.push(unknownKey(`log.${key}`, key, ['level', 'format']));
      if (log['level'] !== undefined) {
        if (typeof log['level'] === 'string' && LOG_LEVELS.includes(log['level'])) logLevel = log['level'];
        else problems.push({ path: 'log.level', message: `${describe(log['level'])} is not a log level`, hint: `one of ${LOG_LEVELS.join(', ')}` });
      }
      if (log['format'] !== undefined) {
        if (typeof log['format'] === 'string' && LOG_FORMATS.includes(log['format'])) logFormat = log['format'];
        else problems.push({ path: 'log.format', message: `${describe(log['format'])} is not a log format`, hint: `one of ${LOG_FORMATS.join(', ')}` });
      }
    }
  }

  const http = root['http'];
  const httpAllowRemote = root['httpAllowRemote'] ?? false;
  if (typeof httpAllowRemote !== 'boolean') problems.push({ path: 'httpAllowRemote', message: `must be true or false, got ${typeName(httpAllowRemote)}` });
  if (http !== undefined) {
    const problem = typeof http === 'string' ? httpProblem(http, httpAllowRemote === true) : `must be HOST:PORT, got ${typeName(http)}`;
    if (problem !== undefined) problems.push({ path: 'http', message: problem, hint: 'http: 127.0.0.1:9464' });
  }

  const exportSection = root['export'] ?? {};
  const exportCommand = commands.files;
  if (!isObject(exportSection))
    problems.push({ path: 'export', message: 'must be a mapping of export options', hint: 'export: { collector: [127.0.0.1:4739] }' });

  const sources = root['sources'];
  const plans: SourcePlan[] = [];
  if (!Array.isArray(sources) || sources.length === 0) {
    problems.push({
      path: 'sources',
      message: 'must be a non-empty list of sources',
      hint: 'sources: [{ type: blob, accountUrl: https://ACCOUNT.blob.core.windows.net }]',
    });
  } else {
    const names = new Set<string>();
    sources.forEach((source: unknown, index: number) => {
      const path = `sources[${index}]`;
      if (!isObject(source)) {
        problems.push({ path, message: 'must be a mapping', hint: '- type: files\n  paths: [/data/flowlogs]' });
        return;
      }
      const type = source['type'];
      const command = typeof type === 'string' ? commands[type as SourceType] : undefined;
      if (command === undefined) {
        problems.push({
          path: `${path}.type`,
          message: type === undefined ? 'is missing' : `${describe(type)} is not a source type available here`,
          hint: `one of ${Object.keys(commands).join(', ')}`,
        });
        return;
      }
      const name = typeof source['name'] === 'string' && source['name'] !== '' ? source['name'] : `${String(type)}-${index + 1}`;
      if (names.has(name))
        problems.push({ path: `${path}.name`, message: `'${name}' names two sources`, hint: 'names must be unique: they label metrics and logs' });
      names.add(name);
      const merged: Record<string, unknown> = { ...(isObject(exportSection) ? exportSection : {}), ...source };
      const argv: string[] = [];
      for (const [key, value] of Object.entries(merged)) {
        if (SOURCE_KEYS.includes(key)) continue;
        const keyPath = key in source ? `${path}.${key}` : `export.${key}`;
        if (key === 'paths' && type === 'files') {
          const paths = Array.isArray(value) ? value : [value];
          if (paths.length === 0 || paths.some((p) => typeof p !== 'string' || p === ''))
            problems.push({ path: keyPath, message: 'must be a list of files or directories', hint: 'paths: [/data/flowlogs]' });
          else argv.unshift(...(paths as string[]));
          continue;
        }
        argv.push(...optionArguments(command, key, value, keyPath, problems, key in source ? undefined : exportCommand));
      }
      if (type === 'files' && !('paths' in source)) problems.push({ path: `${path}.paths`, message: 'is missing', hint: 'paths: [/data/flowlogs]' });
      plans.push({ type: type as SourceType, name, argv });
    });
  }
  if (problems.length > 0) return { problems: unique(problems) };
  return { plan: { logLevel, logFormat, ...(typeof http === 'string' ? { http } : {}), httpAllowRemote: httpAllowRemote === true, sources: plans }, problems };
}

/** What `run` would refuse in `http` (a host name's address is checked when resolved, see checkRunPlan). */
function httpProblem(text: string, allowRemote: boolean): string | undefined {
  try {
    const { host } = parseListenAddress(text);
    if (!allowRemote && isIP(host) !== 0 && !isLoopbackAddress(host))
      return 'is reachable from other hosts (no authentication): add httpAllowRemote: true if you mean it';
    return undefined;
  } catch (error) {
    return (error as Error).message.replace(/^--http '.*?': /, '');
  }
}

function optionArguments(command: Command, key: string, value: unknown, path: string, problems: ConfigProblem[], exportCommand: Command | undefined): string[] {
  const options = command.options;
  const option = options.find((o) => o.attributeName() === key && !RUNTIME_OPTIONS.has(key));
  if (option === undefined) {
    if (exportCommand !== undefined && exportCommand.options.some((o) => o.attributeName() === key)) return [];
    problems.push(
      unknownKey(
        path,
        key,
        options.map((o) => o.attributeName()).filter((k) => !RUNTIME_OPTIONS.has(k)),
      ),
    );
    return [];
  }
  const flag = option.long!;
  const takesValue = option.required || option.optional;
  if (!takesValue) {
    if (typeof value !== 'boolean') {
      problems.push({ path, message: `must be true or false, got ${typeName(value)}` });
      return [];
    }
    // `--no-x` options: the config says `x: false`.
    if (option.negate) return value ? [] : [flag];
    return value ? [flag] : [];
  }
  const repeatable = Array.isArray(option.defaultValue) || option.variadic;
  const values = Array.isArray(value) ? value : [value];
  if (Array.isArray(value) && !repeatable) {
    problems.push({ path, message: 'takes one value, not a list' });
    return [];
  }
  const args: string[] = [];
  for (const item of values) {
    if (typeof item !== 'string' && typeof item !== 'number') {
      problems.push({ path, message: `must be a ${repeatable ? 'list of values' : 'value'}, got ${typeName(item)}` });
      continue;
    }
    const text = String(item);
    if (option.argChoices !== undefined && !option.argChoices.includes(text)) {
      problems.push({ path, message: `${describe(text)} is not allowed`, hint: `one of ${option.argChoices.join(', ')}` });
      continue;
    }
    if (option.parseArg !== undefined && !repeatable) {
      try {
        option.parseArg(text, option.defaultValue);
      } catch (error) {
        problems.push({ path, message: (error as Error).message.replace(/^--[\w-]+ /, '') });
        continue;
      }
    }
    args.push(flag, text);
  }
  return args;
}

/** Replaces `${VAR}` in every string; an unset variable is a problem, not an empty string. */
function substituteEnv(value: unknown, path: string, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const found = env[name];
      if (found === undefined) {
        problems.push({
          path: path || '(root)',
          message: `environment variable ${name} is not set`,
          hint: `export ${name}=... before starting, or set it in the service's EnvironmentFile`,
        });
        return '';
      }
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, `${path}[${i}]`, env, problems));
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, path === '' ? k : `${path}.${k}`, env, problems)]));
  }
  return value;
}

/** Export options are checked once per source: report each problem once. */
function unique(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function unknownKey(path: string, key: string, known: readonly string[]): ConfigProblem {
  const nearest = [...known].sort((a, b) => distance(key, a) - distance(key, b))[0];
  return {
    path,
    message: 'unknown key',
    hint: nearest !== undefined && distance(key, nearest) <= Math.max(2, key.length / 3) ? `did you mean '${nearest}'?` : `known keys: ${known.join(', ')}`,
  };
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/**
 * What a value is, never what it holds: a misplaced key can carry a secret (`maxPps:
 * ${NSG2IPFIX_CONNECTION_STRING}`), and config errors are printed and logged.
 */
function typeName(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return 'text';
  return `a ${typeof value}`;
}

/** A short word as it was written (a log level, a source type); anything else by its type. */
function describe(value: unknown): string {
  return typeof value === 'string' && /^[\w.-]{1,32}$/.test(value) ? `'${value}'` : typeName(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function formatProblems(file: string, problems: readonly ConfigProblem[]): string {
  const line = (p: ConfigProblem) => `${p.path}: ${p.message}${p.hint ? ` (${p.hint})` : ''}`;
  // One problem, one line (an error the CLI prints); several, one line each under a count.
  if (problems.length === 1) return `${file}: ${line(problems[0]!)}`.replaceAll('\n', ' ');
  return [`${file}: ${problems.length} problems`, ...problems.map((p) => `  ${line(p)}`)].join('\n');
}
