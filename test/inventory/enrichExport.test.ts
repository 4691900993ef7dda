import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { enrichCommand } from '../../src/cli/enrich.js';
import { NameMap } from '../../src/enrich/nameMap.js';
import { UserError } from '../../src/flow/errors.js';
import { loadEnrichFile } from '../../src/inventory/enrichFile.js';
import { createNameProvider } from '../../src/inventory/nameProvider.js';
import { READER_ROLE_HINT } from '../../src/inventory/resourceGraph.js';
import { runCli } from '../helpers/cli.js';
import { captureLogger } from '../helpers/captureLogger.js';
import {
  IDENTITY_HEADER,
  nicRow,
  publicIpRow,
  ResourceGraphStandIn,
  scaleSetNicRow,
  STAND_IN_TOKEN,
  vmRow,
  standInCredential,
} from '../helpers/resourceGraphStandIn.js';

// No local Azure Resource Graph exists: the stand-in (test/helpers/resourceGraphStandIn.ts) plays
// it over HTTPS. In-process tests hand the real SDK client a test credential; the CLI tests run
// `nsg2ipfix enrich export` as a child whose DefaultAzureCredential gets its token from the
// stand-in as an App Service managed identity endpoint, and which trusts the stand-in's
// certificate through NODE_EXTRA_CA_CERTS.

const SUB = '11111111-1111-1111-1111-111111111111';
const credential = standInCredential;
let standIn: ResourceGraphStandIn;
let directory: string;

beforeAll(async () => {
  standIn = await ResourceGraphStandIn.start();
  directory = await mkdtemp(join(tmpdir(), 'enrich-export-'));
});
afterAll(async () => {
  await standIn.close();
  await rm(directory, { recursive: true, force: true });
});
beforeEach(() => {
  standIn.script.length = 0;
  standIn.requests.length = 0;
  standIn.pageSize = 2;
  standIn.setEstate({
    Resources: [
      nicRow('nic-a', { mac: '00-0D-3A-00-00-0A', ips: ['10.1.0.9', '2001:db8:1::9'], vm: 'vm-a', publicIp: 'pip-a', tags: { 'cost;center': 'a=b' } }),
      nicRow('nic-b', { mac: '00-0D-3A-00-00-0B', ips: ['10.1.0.10'], vm: 'vm-b' }),
      vmRow('vm-a', { env: 'prod' }),
      vmRow('vm-b'),
      publicIpRow('pip-a', '20.50.1.7', 'nic-a'),
    ],
    ComputeResources: [scaleSetNicRow('vmss-api', '3', 'nic-api', '00-0D-3A-00-00-33', '10.1.2.7')],
  });
});

async function exportInProcess(args: string[]): Promise<void> {
  const command = enrichCommand({ credential, clientOptions: { tlsOptions: { ca: standIn.certificatePem } } });
  command.exitOverride();
  for (const sub of command.commands) sub.exitOverride();
  await command.parseAsync(['export', '--arm-endpoint', standIn.endpoint, '--log-level', 'silent', ...args], { from: 'user' });
}

/** The names an exporting command with --enrich-azure would use. */
async function discoveredMap(): Promise<NameMap> {
  const stateDir = await mkdtemp(join(directory, 'state-'));
  const provider = (await createNameProvider(
    { enrichAzure: true, armEndpoint: standIn.endpoint, stateDir },
    {
      logger: captureLogger().logger,
      credential,
      clientOptions: { tlsOptions: { ca: standIn.certificatePem } },
      setInterval: () => 0,
      clearInterval: () => {},
    },
  ))!;
  await provider.stop();
  return NameMap.build(provider.current.entries, provider.current.history);
}

describe('nsg2ipfix enrich export', () => {
  it.each(['json', 'csv'] as const)('writes what discovery finds as %s that --enrich-file loads into the same map', async (format) => {
    const output = join(directory, `names.${format}`);
    await exportInProcess(['--output', output, '--subscription', SUB]);
    const loaded = await loadEnrichFile(output);
    const expected = await discoveredMap();
    const fromFile = NameMap.build(loaded);
    expect(fromFile.entities.map((entity) => entity.names)).toEqual(expected.entities.map((entity) => entity.names));
    expect(loaded.map((names) => names.vm)).toEqual(['vm-a', 'vm-b', 'vmss-api_3']);
    expect(fromFile.forAddress('20.50.1.7', 0)?.names.nic).toBe('nic-a');
    expect(standIn.requests.some((request) => request.body.subscriptions?.[0] === SUB)).toBe(true);
  });

  it('writes the saved discovery with --offline, without asking Azure', async () => {
    const stateDir = await mkdtemp(join(directory, 'state-'));
    const provider = (await createNameProvider(
      { enrichAzure: true, armEndpoint: standIn.endpoint, stateDir },
      {
        logger: captureLogger().logger,
        credential,
        clientOptions: { tlsOptions: { ca: standIn.certificatePem } },
        setInterval: () => 0,
        clearInterval: () => {},
      },
    ))!;
    await provider.stop();
    standIn.requests.length = 0;
    const output = join(directory, 'offline.csv');
    await exportInProcess(['--offline', '--state-dir', stateDir, '--output', output]);
    expect(standIn.requests).toEqual([]);
    expect(await loadEnrichFile(output)).toEqual(provider.discovered);
    await expect(exportInProcess(['--offline', '--state-dir', join(directory, 'nothing-here')])).rejects.toThrow(/^no saved Azure discovery at /);
  });

  it('fails with a UserError naming the Reader role on a 403', async () => {
    standIn.script.push({ status: 403 });
    const error = await exportInProcess(['--output', join(directory, 'x.json')]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toContain(READER_ROLE_HINT);
  });
});

describe('nsg2ipfix enrich export, the real CLI with DefaultAzureCredential', () => {
  const env = (): NodeJS.ProcessEnv => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(AZURE_|IDENTITY_|MSI_|IMDS_)/.test(key)));
    return { ...clean, IDENTITY_ENDPOINT: `${standIn.endpoint}/msi/token`, IDENTITY_HEADER, NODE_EXTRA_CA_CERTS: standIn.certificatePath };
  };

  it('exports to stdout', async () => {
    const result = await runCli(['enrich', 'export', '--format', 'csv', '--arm-endpoint', standIn.endpoint], { env: env() });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe('mac,ips,vm,nic,resourceGroup,subscription,region,vnet,subnet,tags,resourceId');
    expect(result.stdout).toContain('00-0D-3A-00-00-0A,10.1.0.9 2001:db8:1::9 20.50.1.7,vm-a,nic-a,rg-prod');
    expect(standIn.tokenRequests).toBeGreaterThan(0);
  });

  it('exits 2 with one line naming the Reader role on a 403, and no token anywhere', async () => {
    standIn.script.push({ status: 403 });
    const result = await runCli(['enrich', 'export', '--arm-endpoint', standIn.endpoint, '--log-level', 'debug'], { env: env() });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`nsg2ipfix: Azure Resource Graph refused the query (403 AuthorizationFailed): the identity ${READER_ROLE_HINT}\n`);
    expect(result.stderr).not.toContain(STAND_IN_TOKEN);
  });
});
