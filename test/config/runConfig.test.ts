import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import { parseRunConfig, type SourceType } from '../../src/config/runConfig.js';
import { FlowListener } from '../../src/listen/flowListener.js';
import { runCli } from '../helpers/cli.js';
import { expectedRecords, SAMPLES_DIR } from '../helpers/expectedFlows.js';

const work = mkdtempSync(join(tmpdir(), 'nsg2ipfix-config-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function commands() {
  const program = await buildProgram();
  const byName = (name: string) => program.commands.find((c) => c.name() === name)!;
  return { files: byName('replay'), blob: byName('blob') } as Partial<Record<SourceType, ReturnType<typeof byName>>>;
}

describe('run config', () => {
  it('turns every key into the option of the same name, camelCase, with shared export options and ${VAR} secrets', async () => {
    const { plan, problems } = parseRunConfig(
      [
        'log: { level: debug, format: json }',
        'http: 127.0.0.1:9464',
        'export: { collector: ["127.0.0.1:4739", "[::1]:4739"], maxPps: 500, optionsRecords: true }',
        'sources:',
        '  - type: files',
        '    name: archive',
        '    paths: [/data/a, /data/b]',
        '    biflow: rfc5103',
        '  - type: blob',
        '    connectionString: ${TEST_CONN}',
        '    container: [one, two]',
        '    maxPps: 100',
      ].join('\n'),
      await commands(),
      { TEST_CONN: 'AccountName=x;AccountKey=y' },
    );
    expect(problems).toEqual([]);
    expect(plan).toMatchObject({ logLevel: 'debug', logFormat: 'json', http: '127.0.0.1:9464' });
    expect(plan!.sources[0]).toEqual({
      type: 'files',
      name: 'archive',
      argv: [
        '/data/a',
        '/data/b',
        '--collector',
        '127.0.0.1:4739',
        '--collector',
        '[::1]:4739',
        '--max-pps',
        '500',
        '--options-records',
        '--biflow',
        'rfc5103',
      ],
    });
    expect(plan!.sources[1]!.name).toBe('blob-2');
    expect(plan!.sources[1]!.argv).toEqual(
      expect.arrayContaining(['--max-pps', '100', '--connection-string', 'AccountName=x;AccountKey=y', '--container', 'one', '--container', 'two']),
    );
  });

  it('reports every problem at once, each with its key path and a hint', async () => {
    const { plan, problems } = parseRunConfig(
      [
        'log: { level: loud }',
        'htp: 1',
        'export: { maxPps: -5, formt: x }',
        'sources:',
        '  - type: files',
        '    paths: [x]',
        '    maxMessageSize: 99',
        '    biflow: both',
        '  - type: blobb',
        '  - type: files',
        '    paths: [y]',
        '    pcap: ${NOT_SET_ANYWHERE}',
      ].join('\n'),
      await commands(),
      {},
    );
    expect(plan).toBeUndefined();
    expect(problems.map((p) => p.path).sort()).toEqual(
      ['export.formt', 'export.maxPps', 'htp', 'log.level', 'sources[0].biflow', 'sources[0].maxMessageSize', 'sources[1].type', 'sources[2].pcap'].sort(),
    );
    expect(problems.find((p) => p.path === 'htp')!.hint).toBe("did you mean 'http'?");
    expect(problems.find((p) => p.path === 'sources[0].biflow')!.hint).toBe('one of split, rfc5103');
    expect(problems.find((p) => p.path === 'sources[2].pcap')!.message).toBe('environment variable NOT_SET_ANYWHERE is not set');
  });

  it('points at the line of a YAML syntax error', async () => {
    const { problems } = parseRunConfig('sources:\n  - type: files\n   paths: [x', await commands(), {});
    expect(problems[0]!.path).toMatch(/^line \d+$/);
  });

  it('`config check` accepts the annotated example and rejects a broken file, listing every problem', async () => {
    const ok = await runCli(['config', 'check', '--config', join(import.meta.dirname, '..', '..', 'nsg2ipfix.example.yaml')]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/ok, 1 source/);
    const broken = join(work, 'broken.yaml');
    writeFileSync(broken, 'sources:\n  - type: files\n    maxPps: lots\n    colector: [x]\n');
    const bad = await runCli(['config', 'check', '--config', broken]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/3 problems/);
    expect(bad.stderr).toMatch(/sources\[0\]\.colector: unknown key \(did you mean 'collector'\?\)/);
    expect(bad.stderr).toMatch(/sources\[0\]\.paths: is missing/);
  });

  it('`run --config` runs the sources of the file and every flow reaches the collector', async () => {
    const received: unknown[] = [];
    const listener = await FlowListener.open({ host: '127.0.0.1', port: 0, enterpriseNumber: 32473, onRecord: (r) => !r.options && received.push(r) });
    const config = join(work, 'run.yaml');
    writeFileSync(
      config,
      [
        `export: { collector: ["127.0.0.1:${listener.address.port}"] }`,
        'log: { level: warn }',
        'sources:',
        '  - type: files',
        `    paths: [${JSON.stringify(SAMPLES_DIR)}]`,
        '    quiet: true',
      ].join('\n'),
    );
    const run = await runCli(['run', '--config', config]);
    expect(run.code).toBe(0);
    for (let i = 0; i < 100 && received.length < expectedRecords('split').length; i++) await new Promise((r) => setTimeout(r, 20));
    await listener.close();
    expect(received).toHaveLength(expectedRecords('split').length);
  });
});
