import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { analyzeCoverage } from '../../src/coverage/analyze.js';
import type { CoverageReport, Finding } from '../../src/coverage/report.js';
import { coverageCommand } from '../../src/cli/coverage.js';
import { UserError } from '../../src/flow/errors.js';
import { discoverEstate, ESTATE_QUERY, ESTATE_SCALE_SET_NICS_QUERY } from '../../src/inventory/estate.js';
import { READER_ROLE_HINT, ResourceGraph } from '../../src/inventory/resourceGraph.js';
import { captureLogger } from '../helpers/captureLogger.js';
import { runCli } from '../helpers/cli.js';
import { IDENTITY_HEADER, ResourceGraphStandIn, STAND_IN_TOKEN, standInCredential } from '../helpers/resourceGraphStandIn.js';
import { checkAzCommand, shellWords } from './azSyntax.js';
import { EstateBuilder, SUB_A } from './estateBuilder.js';

// No local Azure Resource Graph exists: the stand-in (test/helpers/resourceGraphStandIn.ts) plays it
// over HTTPS with Microsoft's documented request and response shapes, and the REAL
// @azure/arm-resourcegraph ResourceGraphClient (through src/inventory/resourceGraph.ts) queries it.
// The estate's rows are recorded-shape Resource Graph rows (test/coverage/estateBuilder.ts). The CLI
// tests run `node bin/nsg2ipfix.js coverage` as a child whose DefaultAzureCredential gets its token
// from the stand-in as an App Service managed identity endpoint.

let standIn: ResourceGraphStandIn;
const ids: Record<string, string> = {};

/** The estate of issue 16 with every gap planted, one per VNet. */
function plantedEstate(): EstateBuilder {
  const b = new EstateBuilder();
  b.watcher();
  ids.stread = b.storage('stread');
  ids.stother = b.storage('stother');
  // Covered: a VNet flow log on the VNet (and a Uniform scale-set NIC in it, from ComputeResources).
  ids.covered = b.vnet('vnet-covered', [{ name: 'web' }]);
  b.nic('nic-covered', `${ids.covered}/subnets/web`);
  b.nic('nic-vmss', `${ids.covered}/subnets/web`, { scaleSet: true });
  b.flowLog('vnet-covered-flowlog', { target: ids.covered, storage: ids.stread, retentionDays: 7 });
  // Blind: nothing at all.
  ids.blind = b.vnet('vnet-blind', [{ name: 'app' }]);
  b.nic('nic-blind', `${ids.blind}/subnets/app`);
  // Subnet NSG only: an NSG flow log on the subnet's NSG, NICs without NSGs.
  ids.nsgWeb = b.nsg('nsg-web');
  ids.nsgOnly = b.vnet('vnet-nsg', [{ name: 'web', nsg: ids.nsgWeb }]);
  b.nic('nic-n1', `${ids.nsgOnly}/subnets/web`);
  b.nic('nic-n2', `${ids.nsgOnly}/subnets/web`);
  b.flowLog('nsg-web-flowlog', { target: ids.nsgWeb, storage: ids.stread });
  // Version 1.
  ids.nsgLegacy = b.nsg('nsg-legacy');
  ids.legacy = b.vnet('vnet-legacy', [{ name: 'app', nsg: ids.nsgLegacy }]);
  b.nic('nic-l1', `${ids.legacy}/subnets/app`);
  b.flowLog('nsg-legacy-flowlog', { target: ids.nsgLegacy, storage: ids.stread, version: 1 });
  // NSG + VNet flow logs on the same NIC.
  ids.nsgOverlap = b.nsg('nsg-overlap');
  ids.overlap = b.vnet('vnet-overlap', [{ name: 'web' }]);
  b.nic('nic-o1', `${ids.overlap}/subnets/web`, { nsg: ids.nsgOverlap });
  b.flowLog('vnet-overlap-flowlog', { target: ids.overlap, storage: ids.stread });
  b.flowLog('nsg-overlap-flowlog', { target: ids.nsgOverlap, storage: ids.stread });
  // A disabled VNet flow log.
  ids.off = b.vnet('vnet-off', [{ name: 'web' }]);
  b.nic('nic-off', `${ids.off}/subnets/web`);
  b.flowLog('vnet-off-flowlog', { target: ids.off, storage: ids.stread, enabled: false });
  // A flow log writing to an account nsg2ipfix does not read.
  ids.elsewhere = b.vnet('vnet-elsewhere', [{ name: 'web' }]);
  b.flowLog('vnet-elsewhere-flowlog', { target: ids.elsewhere, storage: ids.stother });
  // Rows of other types: the query's type filter leaves them out.
  b.unrelated('vm-unrelated');
  return b;
}

/** The planted gaps: finding kind and name, and what its first fix command must do. */
const PLANTED: Array<[Finding['kind'], string, (az: string[]) => void]> = [
  ['blind', 'vnet-blind', (az) => expect(value(az[0]!, '--vnet')).toBe(ids.blind)],
  [
    'blind',
    'vnet-off',
    (az) => expect(az).toEqual([`az network watcher flow-log update --subscription ${SUB_A} --location westeurope --name vnet-off-flowlog --enabled true`]),
  ],
  [
    'subnet-nsg-only',
    'vnet-nsg/web',
    (az) => expect([value(az[0]!, '--vnet'), value(az[1]!, '--name'), value(az[1]!, '--enabled')]).toEqual([ids.nsgOnly, 'nsg-web-flowlog', 'false']),
  ],
  ['nsg-flow-log-v1', 'NetworkWatcher_westeurope/nsg-legacy-flowlog', (az) => expect(value(az[0]!, '--log-version')).toBe('2')],
  [
    'double-counting-nsg-vnet',
    'vnet-overlap/web',
    (az) => expect(az).toEqual([`az network watcher flow-log update --subscription ${SUB_A} --location westeurope --name nsg-overlap-flowlog --enabled false`]),
  ],
  ['storage-not-read', 'NetworkWatcher_westeurope/vnet-elsewhere-flowlog', (az) => expect(value(az[0]!, '--storage-account')).toBe(ids.stread)],
  ['nsg-flow-log-retiring', 'NetworkWatcher_westeurope/nsg-web-flowlog', (az) => expect(value(az[0]!, '--vnet')).toBe(ids.nsgOnly)],
  ['nsg-flow-log-retiring', 'NetworkWatcher_westeurope/nsg-legacy-flowlog', (az) => expect(value(az[0]!, '--vnet')).toBe(ids.legacy)],
  ['nsg-flow-log-retiring', 'NetworkWatcher_westeurope/nsg-overlap-flowlog', (az) => expect(value(az[0]!, '--enabled')).toBe('false')],
];

function value(command: string, flag: string): string | undefined {
  const words = shellWords(command);
  const at = words.indexOf(flag);
  return at < 0 ? undefined : words[at + 1];
}

/** Every planted gap named, with a fix whose az commands parse and use only real parameters; nothing else. */
function expectPlantedGaps(report: CoverageReport): void {
  const named = report.findings.map((f) => `${f.kind} ${f.name}`);
  for (const [kind, name, check] of PLANTED) {
    const finding = report.findings.find((f) => f.kind === kind && f.name === name);
    expect(finding, `${kind} ${name} in ${JSON.stringify(named)}`).toBeDefined();
    expect(finding!.fix.az.length, `${kind} ${name} has a fix command`).toBeGreaterThan(0);
    check([...finding!.fix.az]);
  }
  // The version-1 NSG flow log's subnet has no NIC NSG either: subnet NSG only too.
  expect(named.sort()).toEqual([...PLANTED.map(([kind, name]) => `${kind} ${name}`), 'subnet-nsg-only vnet-legacy/app'].sort());
  for (const finding of report.findings) {
    for (const command of [...finding.fix.az, ...(finding.fix.policy?.az ?? [])]) checkAzCommand(command);
    if (finding.fix.policy !== undefined) checkAzCommand(finding.fix.policy.audit.az);
  }
  expect(Object.fromEntries(report.vnets.map((v) => [v.name, v.coverage]))).toEqual({
    'vnet-blind': 'blind',
    'vnet-covered': 'vnet',
    'vnet-elsewhere': 'vnet',
    'vnet-legacy': 'nsg',
    'vnet-nsg': 'nsg',
    'vnet-off': 'blind',
    'vnet-overlap': 'both',
  });
}

beforeAll(async () => {
  standIn = await ResourceGraphStandIn.start();
});
afterAll(async () => {
  await standIn.close();
});
beforeEach(() => {
  standIn.script.length = 0;
  standIn.requests.length = 0;
  standIn.pageSize = 1000;
  const b = plantedEstate();
  standIn.setEstate({ Resources: b.resources(), ComputeResources: b.computeResources() });
});

function graph(): ResourceGraph {
  return new ResourceGraph({
    credential: standInCredential,
    logger: captureLogger().logger,
    endpoint: standIn.endpoint,
    clientOptions: { tlsOptions: { ca: standIn.certificatePem } },
    sleep: () => Promise.resolve(),
  });
}

describe('coverage through the real Resource Graph client (stand-in endpoint)', () => {
  it('reads the estate page by page and names every planted gap with a fix', async () => {
    standIn.pageSize = 4;
    const progress: number[] = [];
    const estate = await discoverEstate(graph(), { subscriptions: [SUB_A] }, captureLogger().logger, { onProgress: (rows) => progress.push(rows) });
    expect(estate.vnets).toHaveLength(7);
    expect(estate.nics.map((nic) => nic.name)).toContain('nic-vmss');
    expect(estate.flowLogs).toHaveLength(7);
    expect(progress.at(-1)).toBe(7 + 3 + 8 + 7 + 1 + 2);
    const queries = standIn.requests.map((request) => request.body.query);
    expect(new Set(queries)).toEqual(new Set([ESTATE_QUERY, ESTATE_SCALE_SET_NICS_QUERY]));
    expect(standIn.requests.every((request) => request.body.subscriptions?.[0] === SUB_A && request.status === 200)).toBe(true);
    expect(standIn.requests.filter((request) => request.body.query === ESTATE_QUERY).length).toBeGreaterThan(1);
    expectPlantedGaps(analyzeCoverage(estate, { generatedAt: '2026-12-03T10:00:00.000Z', readStorageAccounts: ['stread'] }));
  });

  it('the command prints the JSON report, and exits 1 with --fail-on-findings only at or above the severity asked', async () => {
    const output: string[] = [];
    const codes: number[] = [];
    const run = async (args: string[]) => {
      output.length = 0;
      codes.length = 0;
      const command = coverageCommand({
        credential: standInCredential,
        clientOptions: { tlsOptions: { ca: standIn.certificatePem } },
        now: () => new Date('2026-12-03T10:00:00.000Z'),
        write: (text) => output.push(text),
        setExitCode: (code) => codes.push(code),
      });
      command.exitOverride();
      await command.parseAsync(['--arm-endpoint', standIn.endpoint, '--log-level', 'silent', '--storage-account', 'stread', ...args], { from: 'user' });
    };
    await run(['--output', 'json']);
    const report = JSON.parse(output.join('')) as CoverageReport;
    expect(report.generatedAt).toBe('2026-12-03T10:00:00.000Z');
    expect(report.readStorageAccounts).toEqual(['stread']);
    expectPlantedGaps(report);
    expect(codes).toEqual([]);
    await run(['--output', 'json', '--fail-on-findings']);
    expect(codes).toEqual([1]);
    await run(['--output', 'json', '--fail-on-findings', 'high']);
    expect(codes).toEqual([1]);

    // Only a low finding left (an NSG flow log to migrate): fails at low, passes at medium.
    const b = new EstateBuilder();
    b.watcher();
    const storage = b.storage('stread');
    const nsg = b.nsg('nsg-nic');
    const vnet = b.vnet('vnet-ok', [{ name: 'web' }]);
    b.nic('nic-ok', `${vnet}/subnets/web`, { nsg });
    b.flowLog('fl-nic', { target: nsg, storage });
    standIn.setEstate({ Resources: b.resources() });
    await run(['--fail-on-findings', 'medium']);
    expect(codes).toEqual([]);
    expect(output.join('')).toContain('1. [low] nsg-flow-log-retiring: NetworkWatcher_westeurope/fl-nic');
    await run(['--fail-on-findings', 'low']);
    expect(codes).toEqual([1]);
  });

  it('the table shows each VNet and subnet with its status and reasons, then the findings with their fixes and the policies', async () => {
    const output: string[] = [];
    const command = coverageCommand({
      credential: standInCredential,
      clientOptions: { tlsOptions: { ca: standIn.certificatePem } },
      now: () => new Date('2026-12-03T10:00:00.000Z'),
      write: (text) => output.push(text),
    });
    await command.parseAsync(['--arm-endpoint', standIn.endpoint, '--log-level', 'silent', '--storage-account', 'stread'], { from: 'user' });
    const text = output.join('');
    const lines = text.split('\n');
    expect(lines[0]).toBe(
      'Flow log coverage of 7 VNets, 7 subnets, 8 NICs and 7 flow logs (3 NSG, 4 VNet, 1 disabled) in every subscription the identity can read, 2026-12-03T10:00:00.000Z',
    );
    expect(lines[2]).toMatch(/^VNET \/ SUBNET +REGION +COVERAGE +FLOW LOGS +WHY$/);
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}web +nsg +nsg-web-flowlog +subnet NSG only: traffic between its VMs unseen$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}web +both +vnet-overlap-flowlog, nsg-overlap-flowlog +counted twice$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}web +blind +- +flow log disabled$/));
    expect(text).toContain('10 findings: 4 high, 3 medium, 3 low, 0 info');
    expect(text).toContain(`1. [high] blind: vnet-blind (westeurope, subscription ${SUB_A})`);
    expect(text).toContain(
      `     az network watcher flow-log create --subscription ${SUB_A} --location westeurope --name vnet-blind-rg-net-flowlog --vnet ${ids.blind}`,
    );
    expect(text).toContain('At scale, with Azure Policy (https://learn.microsoft.com/azure/network-watcher/vnet-flow-logs-policy):');
    expect(text).toContain(
      '"Deploy a Flow Log resource with target virtual network" (/providers/Microsoft.Authorization/policyDefinitions/cd6f7aff-2845-4dab-99f2-6d1754a754b0)',
    );
    expect(text).toContain(
      '"Flow logs should be configured for every virtual network" (/providers/Microsoft.Authorization/policyDefinitions/4c3c6c5f-0d47-4402-99b8-aa543dd8bcee)',
    );
    // One policy assignment per subscription and region, however many findings point to it.
    expect(lines.filter((line) => line.includes('az policy assignment create --name vnet-flow-logs-westeurope'))).toHaveLength(1);
    for (const line of lines.filter((l) => l.trimStart().startsWith('az '))) checkAzCommand(line.trim());
  });

  it('a refused query (403) is a UserError naming the Reader role', async () => {
    standIn.script.push({ status: 403 });
    const command = coverageCommand({ credential: standInCredential, clientOptions: { tlsOptions: { ca: standIn.certificatePem } }, write: () => {} });
    const error = await command.parseAsync(['--arm-endpoint', standIn.endpoint, '--log-level', 'silent'], { from: 'user' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toContain(READER_ROLE_HINT);
  });
});

describe('nsg2ipfix coverage, the real CLI with DefaultAzureCredential', () => {
  const env = (): NodeJS.ProcessEnv => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(AZURE_|IDENTITY_|MSI_|IMDS_)/.test(key)));
    return { ...clean, IDENTITY_ENDPOINT: `${standIn.endpoint}/msi/token`, IDENTITY_HEADER, NODE_EXTRA_CA_CERTS: standIn.certificatePath };
  };

  it('prints JSON naming every planted gap with a working fix command, and exits 0 without --fail-on-findings', async () => {
    const result = await runCli(
      ['coverage', '--arm-endpoint', standIn.endpoint, '--output', 'json', '--storage-account', ids.stread!, '--subscription', SUB_A],
      { env: env() },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as CoverageReport;
    expect(report.scope).toEqual({ subscriptions: [SUB_A], managementGroups: [] });
    expect(Date.parse(report.generatedAt)).not.toBeNaN();
    expectPlantedGaps(report);
    expect(standIn.tokenRequests).toBeGreaterThan(0);
  });

  it('shows progress on stderr for a big estate (more than a page), and not with --quiet', async () => {
    const b = plantedEstate();
    for (let i = 0; i < 1100; i++) b.storage(`stmany${i}`);
    standIn.setEstate({ Resources: b.resources(), ComputeResources: b.computeResources() });
    const loud = await runCli(['coverage', '--arm-endpoint', standIn.endpoint, '--output', 'json'], { env: env() });
    expect(loud.code).toBe(0);
    expect(loud.stderr).toBe(
      'coverage: 1,000 resources read from Azure Resource Graph\ncoverage: 1,127 resources read from Azure Resource Graph\ncoverage: 1,128 resources read from Azure Resource Graph\n',
    );
    expect((JSON.parse(loud.stdout) as CoverageReport).summary.vnets).toBe(7);
    const quiet = await runCli(['coverage', '--arm-endpoint', standIn.endpoint, '--output', 'json', '--quiet'], { env: env() });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
  });

  it('exits 1 with --fail-on-findings when findings exist', async () => {
    const result = await runCli(['coverage', '--arm-endpoint', standIn.endpoint, '--fail-on-findings', '--storage-account', 'stread'], { env: env() });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('10 findings: 4 high, 3 medium, 3 low, 0 info');
  });

  it('exits 2 with one line naming the Reader role on a 403, and no token anywhere', async () => {
    standIn.script.push({ status: 403 });
    const result = await runCli(['coverage', '--arm-endpoint', standIn.endpoint, '--log-level', 'debug'], { env: env() });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`nsg2ipfix: Azure Resource Graph refused the query (403 AuthorizationFailed): the identity ${READER_ROLE_HINT}\n`);
    expect(result.stderr).not.toContain(STAND_IN_TOKEN);
  });

  it('refuses a bad option value with one line and exit 2, before asking Azure', async () => {
    const requests = standIn.requests.length;
    for (const [args, line] of [
      [['--fail-on-findings', 'urgent'], "--fail-on-findings takes high, medium or low, got 'urgent'"],
      [['--output', 'yaml'], "--output must be table or json, got 'yaml'"],
      [['--retention-days', '0'], "--retention-days must be a number of days from 1 to 365, got '0'"],
    ] as const) {
      const result = await runCli(['coverage', '--arm-endpoint', standIn.endpoint, ...args], { env: env() });
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`nsg2ipfix: ${line}\n`);
    }
    expect(standIn.requests.length).toBe(requests);
  });
});
