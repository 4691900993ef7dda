import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CredentialUnavailableError } from '@azure/identity';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NameMap } from '../../src/enrich/nameMap.js';
import { UserError } from '../../src/flow/errors.js';
import type { NameSources } from '../../src/flow/interfaceNames.js';
import { createNameProvider, type EnrichmentSpec, type NameProvider } from '../../src/inventory/nameProvider.js';
import { nameSnapshotPath } from '../../src/inventory/nameSnapshot.js';
import { READER_ROLE_HINT } from '../../src/inventory/resourceGraph.js';
import { captureLogger, ERROR_LEVEL, type CapturedLog } from '../helpers/captureLogger.js';
import { nicRow, publicIpRow, ResourceGraphStandIn, scaleSetNicRow, STAND_IN_TOKEN, vmRow, standInCredential } from '../helpers/resourceGraphStandIn.js';

// No local Azure Resource Graph exists: the stand-in (test/helpers/resourceGraphStandIn.ts) plays
// it over HTTPS, and the provider's real ResourceGraphClient talks to it.

const credential = standInCredential;
const HOUR_MS = 3_600_000;
let standIn: ResourceGraphStandIn;
let stateDir: string;
let providers: NameProvider[] = [];

beforeAll(async () => {
  standIn = await ResourceGraphStandIn.start();
});
afterAll(async () => {
  await standIn.close();
});
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'names-state-'));
  standIn.requests.length = 0;
  standIn.script.length = 0;
  standIn.pageSize = 2;
});
afterEach(async () => {
  for (const provider of providers) await provider.stop();
  providers = [];
  await rm(stateDir, { recursive: true, force: true });
});

/** vm-a holds 10.1.0.9 at first; estateAfterMove gives it to vm-b. */
const estate = {
  Resources: [
    nicRow('nic-a', { mac: '00-0D-3A-00-00-0A', ips: ['10.1.0.9'], vm: 'vm-a', publicIp: 'pip-a' }),
    nicRow('nic-b', { mac: '00-0D-3A-00-00-0B', ips: ['10.1.0.10'], vm: 'vm-b' }),
    vmRow('vm-a', { env: 'prod' }),
    vmRow('vm-b', { env: 'test' }),
    publicIpRow('pip-a', '20.50.1.7', 'nic-a'),
  ],
  ComputeResources: [scaleSetNicRow('vmss-api', '3', 'nic-api', '00-0D-3A-00-00-33', '10.1.2.7')],
};
const estateAfterMove = {
  ...estate,
  Resources: [
    nicRow('nic-a', { mac: '00-0D-3A-00-00-0A', ips: ['10.1.0.11'], vm: 'vm-a', publicIp: 'pip-a' }),
    nicRow('nic-b', { mac: '00-0D-3A-00-00-0B', ips: ['10.1.0.10', '10.1.0.9'], vm: 'vm-b' }),
    ...estate.Resources.slice(2),
  ],
};

interface Clock {
  nowMs: number;
}

async function start(spec: EnrichmentSpec = {}, clock: Clock = { nowMs: 1_700_000_000_000 }, log: CapturedLog = captureLogger()) {
  const ticks: Array<() => void> = [];
  const provider = await createNameProvider(
    { enrichAzure: true, stateDir, enrichSubscription: ['11111111-1111-1111-1111-111111111111'], armEndpoint: standIn.endpoint, ...spec },
    {
      logger: log.logger,
      credential,
      clientOptions: { tlsOptions: { ca: standIn.certificatePem } },
      now: () => clock.nowMs,
      setInterval: (callback) => ticks.push(callback),
      clearInterval: () => {},
      sleep: () => Promise.resolve(),
      maxAttempts: 2,
    },
  );
  providers.push(provider!);
  return { provider: provider!, ticks, log, map: () => NameMap.build(provider!.current.entries, provider!.current.history) };
}

describe('NameProvider with Azure Resource Graph', () => {
  it('discovers NICs over two pages per table and names both ends of a flow', async () => {
    standIn.setEstate(estate);
    const { map } = await start();
    expect(map().forMac('000D3A00000A')?.names).toMatchObject({
      vm: 'vm-a',
      nic: 'nic-a',
      tags: { env: 'prod' },
      vnet: 'vnet-prod',
      subnet: 'web',
      region: 'westeurope',
    });
    expect(map().forAddress('20.50.1.7', 0)?.names.vm).toBe('vm-a');
    expect(map().forAddress('10.1.2.7', 0)?.names.vm).toBe('vmss-api_3');
    // Resources: 5 rows in pages of 2 (3 requests); ComputeResources: 1 request.
    expect(standIn.requests.map((request) => /^\w+/.exec(request.body.query ?? '')?.[0])).toEqual(['Resources', 'Resources', 'Resources', 'ComputeResources']);
    expect(standIn.requests.every((request) => request.body.subscriptions?.[0] === '11111111-1111-1111-1111-111111111111')).toBe(true);
  });

  it('remembers who owned an address: a lookup at the old time names the old VM, at the new time the new one', async () => {
    standIn.setEstate(estate);
    const clock = { nowMs: 1_700_000_000_000 };
    const { provider, ticks, map } = await start({}, clock);
    const before = clock.nowMs;
    const versions: NameSources[] = [];
    provider.onChange((sources) => versions.push(sources));
    standIn.setEstate(estateAfterMove);
    clock.nowMs += HOUR_MS;
    ticks[0]!();
    await provider.refreshNow();
    expect(versions).toHaveLength(1);
    expect(map().forAddress('10.1.0.9', before + 60_000)?.names.vm).toBe('vm-a');
    expect(map().forAddress('10.1.0.9', clock.nowMs + 60_000)?.names.vm).toBe('vm-b');
    expect(map().forAddress('10.1.0.11', before)?.names.vm).toBe('vm-a');
    // vm-a is one entity with its current names, not a second "past" one.
    expect(map().entities.filter((entity) => entity.names.vm === 'vm-a')).toHaveLength(1);
  });

  it('keeps the last good names when a refresh fails in the middle, and logs it once', async () => {
    standIn.setEstate(estate);
    const log = captureLogger();
    const { provider, map } = await start({}, undefined, log);
    const versionBefore = provider.current.version;
    standIn.setEstate(estateAfterMove);
    // Page 1 answers, page 2 fails twice (both attempts).
    standIn.script.push('ok', { status: 500 }, { status: 500 });
    expect(await provider.refreshNow()).toBe(false);
    expect(provider.current.version).toBe(versionBefore);
    expect(map().forAddress('10.1.0.9', Date.now())?.names.vm).toBe('vm-a');
    const errors = log.lines.filter((line) => line.level === ERROR_LEVEL);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toMatch(/^Azure names not refreshed, keeping the last good names: service error 500 InternalServerError/);
    // The next refresh succeeds and takes the new estate.
    expect(await provider.refreshNow()).toBe(true);
    expect(map().forAddress('10.1.0.11', Date.now())?.names.vm).toBe('vm-a');
  });

  it('stops at start with one line naming the Reader role when Resource Graph answers 403', async () => {
    standIn.setEstate(estate);
    standIn.script.push({ status: 403 });
    const log = captureLogger();
    const error = await start({}, undefined, log).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe(`Azure Resource Graph refused the query (403 AuthorizationFailed): the identity ${READER_ROLE_HINT}`);
    expect(log.text()).not.toContain(STAND_IN_TOKEN);
  });

  it('restarts offline from the snapshot in the state directory (mode 0600), history included', async () => {
    standIn.setEstate(estate);
    const clock = { nowMs: 1_700_000_000_000 };
    const first = await start({}, clock);
    standIn.setEstate(estateAfterMove);
    clock.nowMs += HOUR_MS;
    await first.provider.refreshNow();
    await first.provider.stop();
    expect((await stat(nameSnapshotPath(stateDir))).mode & 0o777).toBe(0o600);

    // Azure unreachable now: every request fails.
    standIn.script.push(...Array.from({ length: 10 }, () => ({ status: 503 })));
    const log = captureLogger();
    const second = await start({}, clock, log);
    expect(second.map().forMac('00-0D-3A-00-00-0B')?.names.vm).toBe('vm-b');
    expect(second.map().forAddress('10.1.0.9', clock.nowMs - HOUR_MS)?.names.vm).toBe('vm-a');
    expect(second.map().forAddress('10.1.0.9', clock.nowMs)?.names.vm).toBe('vm-b');
    expect(log.lines.some((line) => line.msg === 'working from the saved Azure names until a refresh succeeds')).toBe(true);
    standIn.script.length = 0;
  });

  it('restarts from the snapshot when the credential cannot get a token (offline), and stops without one', async () => {
    // What DefaultAzureCredential throws when no identity answers (its endpoint unreachable).
    const unavailable = { getToken: () => Promise.reject(new CredentialUnavailableError('ManagedIdentityCredential: no response from the identity endpoint')) };
    const startWith = (log: CapturedLog) =>
      createNameProvider(
        { enrichAzure: true, stateDir, enrichSubscription: ['11111111-1111-1111-1111-111111111111'], armEndpoint: standIn.endpoint },
        {
          logger: log.logger,
          credential: unavailable,
          clientOptions: { tlsOptions: { ca: standIn.certificatePem } },
          setInterval: () => 0,
          clearInterval: () => {},
        },
      );
    const refused = await startWith(captureLogger()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UserError);
    expect(refused).toMatchObject({ code: 'azure-credential' });
    expect((refused as Error).message).toMatch(/^no Azure credential for Azure Resource Graph .*no response from the identity endpoint$/);

    standIn.setEstate(estate);
    await (await start()).provider.stop();
    const log = captureLogger();
    const offline = (await startWith(log))!;
    providers.push(offline);
    expect(NameMap.build(offline.current.entries, offline.current.history).forMac('00-0D-3A-00-00-0A')?.names.vm).toBe('vm-a');
    expect(log.lines.some((line) => line.level === ERROR_LEVEL && String(line.msg).includes('no Azure credential'))).toBe(true);
    expect(log.lines.some((line) => line.msg === 'working from the saved Azure names until a refresh succeeds')).toBe(true);
  });

  it('forgets a former owner after the history days', async () => {
    standIn.setEstate(estate);
    const clock = { nowMs: 1_700_000_000_000 };
    const { provider, map } = await start({ enrichHistoryDays: 1 }, clock);
    standIn.setEstate(estateAfterMove);
    clock.nowMs += HOUR_MS;
    await provider.refreshNow();
    expect(provider.current.history.map((record) => record.ip)).toEqual(['10.1.0.9']);
    clock.nowMs += 2 * 24 * HOUR_MS;
    await provider.refreshNow();
    expect(provider.current.history).toEqual([]);
    expect(map().forAddress('10.1.0.9', 1_700_000_000_000)?.names.vm).toBe('vm-b');
  });

  it('lets the enrichment file override Azure for the same MAC and address', async () => {
    standIn.setEstate(estate);
    const enrichFile = join(stateDir, 'names.json');
    await writeFile(
      enrichFile,
      JSON.stringify({
        interfaces: [
          { mac: '00-0D-3A-00-00-0A', vm: 'from-file' },
          { ips: ['10.1.0.10'], vm: 'file-ip' },
        ],
      }),
    );
    const { map } = await start({ enrichFile });
    expect(map().forMac('000D3A00000A')?.names.vm).toBe('from-file');
    expect(map().forAddress('10.1.0.10', 0)?.names.vm).toBe('file-ip');
    expect(map().forMac('000D3A00000B')?.names.vm).toBe('vm-b');
    // Azure's nic-a is gone with its MAC, so its public IP is unnamed now.
    expect(map().forAddress('20.50.1.7', 0)).toBeUndefined();
  });
});

describe('NameProvider with an enrichment file alone', () => {
  it('hands a new version of the names to its listeners when the file changes', async () => {
    const enrichFile = join(stateDir, 'names.csv');
    await writeFile(enrichFile, 'mac,vm\n000D3AF87856,one\n');
    const provider = (await createNameProvider({ enrichFile }, { logger: captureLogger().logger }))!;
    providers.push(provider);
    expect(provider.current.entries.map((names) => names.vm)).toEqual(['one']);
    const next = new Promise<NameSources>((resolve) => provider.onChange(resolve));
    await writeFile(enrichFile, 'mac,vm\n000D3AF87856,two\n');
    const sources = await next;
    expect(NameMap.build(sources.entries, sources.history).forMac('00-0D-3A-F8-78-56')?.names.vm).toBe('two');
    expect(sources.version).toBeGreaterThan(1);
    expect(standIn.requests).toEqual([]);
  });
});

describe('createNameProvider', () => {
  it('builds nothing when no source is asked for', async () => {
    expect(await createNameProvider({}, { logger: captureLogger().logger })).toBeUndefined();
  });

  it('refuses bad option values with one line', async () => {
    const logger = captureLogger().logger;
    await expect(createNameProvider({ enrichSubscription: ['x'] }, { logger })).rejects.toThrow('--enrich-subscription needs --enrich-azure');
    await expect(createNameProvider({ enrichAzure: true, enrichSubscription: ['not-a-guid'] }, { logger, credential })).rejects.toThrow(
      "--enrich-subscription: 'not-a-guid' is not a subscription id",
    );
    await expect(createNameProvider({ enrichFile: 'x.json', enrichRefreshMinutes: '0' }, { logger })).rejects.toThrow(
      "--enrich-refresh-minutes: '0' must be a number above 0",
    );
    await expect(createNameProvider({ enrichFile: 'x.json', enrichRefreshMinutes: '40000' }, { logger })).rejects.toThrow('must be at most 35791');
    await expect(createNameProvider({ enrichFile: join(stateDir, 'none.json') }, { logger })).rejects.toThrow('cannot read the enrichment file');
  });
});
