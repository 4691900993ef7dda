import { expect } from 'vitest';

/**
 * The parameters of the `az` commands coverage prints, as Azure CLI defines them (no Azure CLI
 * is installed here, so the commands are checked against these lists, not run):
 * - network watcher flow-log create / update / delete: Azure/azure-cli,
 *   src/azure-cli/azure/cli/command_modules/network/aaz/latest/network/watcher/flow_log/_create.py,
 *   _update.py, _delete.py (api-version 2025-03-01) and the wrappers in
 *   operations/latest/network/watcher/flow_log/_create.py, _update.py, _delete.py, which hide
 *   --network-watcher-name, --target-resource-id, --retention-policy and
 *   --flow-analytics-configuration and add --vnet, --subnet, --nic, --nsg, --retention, --workspace,
 *   --traffic-analytics, --interval, --user-assigned-identity (delete: --location only);
 *   reference https://learn.microsoft.com/cli/azure/network/watcher/flow-log
 * - network watcher configure: the module's _help.py example
 *   (`az network watcher configure --resource-group NetworkWatcherRG --locations westus --enabled true`);
 * - policy assignment create: command_modules/resource/aaz/latest/policy/assignment/_create.py
 *   (--name, --scope, --mi-system-assigned, --location, --params …) and its documented examples
 *   (--policy, --identity-scope, --role);
 * - policy remediation create: Microsoft's "Remediate non-compliant resources with Azure Policy"
 *   (`az policy remediation create --name myRemediation --policy-assignment '/subscriptions/...'`).
 * `--subscription` is Azure CLI's global argument, valid on every command.
 */
const GLOBAL = ['--subscription', '--output', '-o', '--query', '--only-show-errors', '--debug', '--verbose'];

const FLOW_LOG_COMMON = [
  '--name', '-n', '--location', '-l', '--resource-group', '-g', '--enabled', '--storage-account', '--tags', '--format', '--log-version',
  '--identity', '--filtering-criteria', '--record-types', '--retention', '--interval', '--traffic-analytics', '--workspace',
  '--user-assigned-identity', '--vnet', '--subnet', '--nic', '--nsg', '--no-wait',
]; // prettier-ignore

export const AZ_PARAMETERS: Readonly<Record<string, readonly string[]>> = {
  'network watcher flow-log create': FLOW_LOG_COMMON,
  'network watcher flow-log update': FLOW_LOG_COMMON,
  'network watcher flow-log delete': ['--name', '-n', '--location', '-l', '--no-wait'],
  'network watcher configure': ['--resource-group', '-g', '--locations', '-l', '--enabled', '--tags'],
  'policy assignment create': [
    '--name', '-n', '--scope', '--policy', '--policy-set-definition', '-d', '--params', '-p', '--display-name', '--description',
    '--enforcement-mode', '-e', '--mi-system-assigned', '--system-assigned', '--assign-identity', '--mi-user-assigned', '--user-assigned',
    '--location', '-l', '--identity-scope', '--role', '--not-scopes', '--resource-group', '-g',
  ], // prettier-ignore
  'policy remediation create': ['--name', '-n', '--policy-assignment', '--resource-group', '-g', '--definition-reference-id', '--resource-discovery-mode'],
};

/** Values the flags that take a fixed set of them accept. */
const ENUMS: Readonly<Record<string, readonly string[]>> = {
  '--format': ['JSON'],
  '--enabled': ['true', 'false'],
};

/** Flags that take no value. */
const SWITCHES = new Set(['--mi-system-assigned', '--system-assigned', '--assign-identity', '--no-wait', '--only-show-errors', '--debug', '--verbose']);

/** Bash words of a command line: plain words and single-quoted strings (what shellQuote writes). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in ${line}`);
      current += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '\\' && line[i + 1] === "'") {
      current += "'";
      i++;
      inWord = true;
    } else if (c === ' ') {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else if (/[$`"\\;&|<>()*?[\]{}]/.test(c)) {
      throw new Error(`unquoted shell metacharacter ${c} in ${line}`);
    } else {
      current += c;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/** Parses an az command line and checks every flag against the command's parameters; returns the flags and values. */
export function checkAzCommand(line: string): { command: string; flags: Map<string, string | true> } {
  const words = shellWords(line);
  expect(words[0], line).toBe('az');
  const command = Object.keys(AZ_PARAMETERS).find((name) => words.slice(1, 1 + name.split(' ').length).join(' ') === name);
  expect(command, `a known az command: ${line}`).toBeDefined();
  const allowed = new Set([...AZ_PARAMETERS[command!]!, ...GLOBAL]);
  const flags = new Map<string, string | true>();
  const rest = words.slice(1 + command!.split(' ').length);
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i]!;
    expect(flag.startsWith('-'), `a flag where ${flag} stands in: ${line}`).toBe(true);
    expect(allowed.has(flag), `${flag} is a parameter of az ${command}`).toBe(true);
    expect(flags.has(flag), `${flag} given once: ${line}`).toBe(false);
    if (SWITCHES.has(flag)) {
      flags.set(flag, true);
      continue;
    }
    const value = rest[++i];
    expect(value, `a value for ${flag}: ${line}`).toBeDefined();
    if (ENUMS[flag] !== undefined) expect(ENUMS[flag], `${flag} ${value}`).toContain(value);
    flags.set(flag, value!);
  }
  if (command === 'network watcher flow-log create') {
    // The wrapper's own checks (pre_operations): a location, one target of --vnet/--nic/--nsg, --subnet alone or with --vnet.
    expect(flags.has('--location'), line).toBe(true);
    expect(['--vnet', '--nic', '--nsg'].filter((f) => flags.has(f)).length <= 1, line).toBe(true);
    expect(
      ['--vnet', '--subnet', '--nic', '--nsg'].some((f) => flags.has(f)),
      line,
    ).toBe(true);
    expect(flags.has('--storage-account'), line).toBe(true);
    expect(String(flags.get('--log-version')), line).toMatch(/^\d+$/);
    expect(String(flags.get('--retention')), line).toMatch(/^\d+$/);
  }
  if (command?.startsWith('network watcher flow-log ')) {
    expect(flags.has('--location') && flags.has('--name'), `--location and --name: ${line}`).toBe(true);
  }
  if (command === 'policy assignment create' && flags.has('--params')) {
    expect(() => JSON.parse(String(flags.get('--params'))) as unknown, line).not.toThrow();
  }
  return { command: command!, flags };
}
