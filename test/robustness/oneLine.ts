import { expect } from 'vitest';
import type { CliResult } from '../helpers/cli.js';

/**
 * What every user error looks like: the exit code, one line on stderr starting with
 * `nsg2ipfix: `, no stack (no `    at ` line), and none of the secrets given.
 */
export function expectOneLineError(run: CliResult, pattern: RegExp, options: { code?: number; secrets?: readonly string[] } = {}): void {
  expect(run.stderr).not.toMatch(/^\s+at /m);
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
  expect(run.stderr.trim()).toMatch(/^nsg2ipfix: /);
  expect(run.stderr.trim()).toMatch(pattern);
  expect(run.code).toBe(options.code ?? 2);
  for (const secret of options.secrets ?? []) expect(`${run.stdout}\n${run.stderr}`).not.toContain(secret);
}
