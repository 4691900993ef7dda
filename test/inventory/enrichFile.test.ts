import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InterfaceNames } from '../../src/flow/interfaceNames.js';
import { EnrichFileError, formatEnrichFile, loadEnrichFile, parseEnrichFile } from '../../src/inventory/enrichFile.js';
import { watchEnrichFile, type EnrichFileWatch } from '../../src/inventory/enrichFileWatch.js';
import { captureLogger, ERROR_LEVEL } from '../helpers/captureLogger.js';

const CONTRACT_EXAMPLE = {
  interfaces: [
    {
      mac: '00-0D-3A-F8-78-56',
      ips: ['10.1.0.4', '2001:db8:1::4'],
      vm: 'vm-web-01',
      nic: 'vm-web-01-nic0',
      resourceGroup: 'rg-prod',
      subscription: '11111111-1111-1111-1111-111111111111',
      region: 'westeurope',
      vnet: 'vnet-prod',
      subnet: 'web',
      tags: { env: 'prod' },
    },
  ],
};

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'enrich-file-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

const json = (text: string) => parseEnrichFile(text, 'json', 'names.json');
const csv = (text: string) => parseEnrichFile(text, 'csv', 'names.csv');
const failure = (load: () => unknown): string => {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(EnrichFileError);
    return (error as Error).message;
  }
  throw new Error('expected an EnrichFileError');
};

describe('enrichment file formats', () => {
  it('reads the JSON of the public contract', async () => {
    const path = join(directory, 'names.json');
    await writeFile(path, JSON.stringify(CONTRACT_EXAMPLE));
    expect(await loadEnrichFile(path)).toEqual([{ ...CONTRACT_EXAMPLE.interfaces[0], mac: '000D3AF87856' }]);
  });

  it('reads the same names from CSV: ips space-separated, tags k=v;k=v, columns in any order', async () => {
    const path = join(directory, 'names.csv');
    await writeFile(
      path,
      '\uFEFFvm,mac,ips,nic,resourceGroup,subscription,region,vnet,subnet,tags\r\n' +
        'vm-web-01,00-0D-3A-F8-78-56,10.1.0.4 2001:db8:1::4,vm-web-01-nic0,rg-prod,11111111-1111-1111-1111-111111111111,westeurope,vnet-prod,web,env=prod\r\n',
    );
    expect(await loadEnrichFile(path)).toEqual([{ ...CONTRACT_EXAMPLE.interfaces[0], mac: '000D3AF87856' }]);
  });

  it('takes a MAC in every usual spelling', () => {
    for (const mac of ['00-0D-3A-F8-78-56', '00:0d:3a:f8:78:56', '000D3AF87856', '000d.3af8.7856', '000d3aF87856']) {
      expect(json(JSON.stringify({ interfaces: [{ mac }] }))[0]!.mac).toBe('000D3AF87856');
      expect(csv(`mac\n${mac}\n`)[0]!.mac).toBe('000D3AF87856');
    }
  });

  it('takes entries with only addresses (public IPs too) or only a MAC, and normalizes addresses', () => {
    const entries = csv('ips,vm\n"20.50.1.7  2001:DB8:0::9",edge\n');
    expect(entries).toEqual([{ ips: ['20.50.1.7', '2001:db8::9'], vm: 'edge' }]);
    expect(json('{"interfaces":[{"mac":"000D3AF87856"}]}')).toEqual([{ mac: '000D3AF87856', ips: [] }]);
  });

  it('gives an entry already in normal form and one that needs normalizing the same names', () => {
    const normal = { mac: '000D3AF87856', ips: ['10.1.0.4', '20.50.1.7'], vm: 'vm-web-01', subnet: 'web', tags: { env: 'prod' } };
    const loose = {
      mac: '00-0d-3a-f8-78-56',
      ips: [' 10.1.0.4', '10.1.0.4', '20.50.1.7'],
      vm: 'vm-web-01',
      nic: '',
      region: null,
      subnet: 'web',
      tags: { env: 'prod' },
    };
    const expected = [{ mac: '000D3AF87856', ips: ['10.1.0.4', '20.50.1.7'], vm: 'vm-web-01', subnet: 'web', tags: { env: 'prod' } }];
    expect(json(JSON.stringify({ interfaces: [normal] }))).toEqual(expected);
    expect(json(JSON.stringify({ interfaces: [loose] }))).toEqual(expected);
    expect(json('{"interfaces":[{"ips":["10.1.0.5"],"tags":{}}]}')).toEqual([{ ips: ['10.1.0.5'] }]);
    // What normal form does not cover is still checked, the same way.
    expect(failure(() => json('{"interfaces":[{"mac":"000D3AF87856","ips":["10.1.0.4"],"tags":{"env":1}}]}'))).toBe(
      "names.json interfaces[0]: tags: tag 'env' must be a string, got 1",
    );
    expect(failure(() => json('{"interfaces":[{"ips":["10.1.0.4"],"vm":5}]}'))).toBe('names.json interfaces[0]: vm: expected a string, got 5');
  });

  it('says what is wrong, where, in one line', () => {
    expect(failure(() => json('{"interfaces":[{"mac":"000D3AF87856"},{"mac":"00-0D-3A"}]}'))).toBe(
      "names.json interfaces[1]: mac: '00-0D-3A' is not a MAC address (00-0D-3A-F8-78-56, 00:0d:3a:f8:78:56, 000D3AF87856 or 000d.3af8.7856)",
    );
    expect(failure(() => csv('mac,ips\n000D3AF87856,10.1.0.4\n000D3AF87857,10.1.0.300\n'))).toBe(
      "names.csv line 3: ips: '10.1.0.300' is not an IPv4 or IPv6 address",
    );
    expect(failure(() => csv('mac,vmname\n000D3AF87856,a\n'))).toBe(
      "names.csv line 1: unknown field 'vmname' (fields: mac, ips, vm, nic, resourceGroup, subscription, region, vnet, subnet, tags, resourceId)",
    );
    expect(failure(() => json('{"interfaces":[{"resource_group":"x","mac":"000D3AF87856"}]}'))).toBe(
      "names.json interfaces[0]: unknown field 'resource_group' (did you mean 'resourceGroup'?)",
    );
    expect(failure(() => json('{"interfaces":[{"vm":"x"}]}'))).toBe('names.json interfaces[0]: mac: each entry needs a mac or at least one address in ips');
    expect(failure(() => json('{"interfaces":[{"ips":"10.1.0.4","vm":7}]}'))).toBe('names.json interfaces[0]: vm: expected a string, got 7');
    expect(failure(() => json('{"interfaces":[{"ips":["10.1.0.4"],"tags":{"env":1}}]}'))).toBe(
      "names.json interfaces[0]: tags: tag 'env' must be a string, got 1",
    );
    expect(failure(() => csv('ips,tags\n10.1.0.4,env\n'))).toBe("names.csv line 2: tags: 'env' is not key=value (tags are written k=v;k=v)");
    expect(failure(() => json('{"interfaces":[{"mac":"000D3AF87856"},{"mac":"00:0d:3a:f8:78:56"}]}'))).toBe(
      'names.json interfaces[1]: mac: 00-0D-3A-F8-78-56 is already given at interfaces[0]',
    );
    expect(failure(() => json('[{"mac":"000D3AF87856"}]'))).toBe('names.json: expected {"interfaces": [...]} at the top level');
    expect(failure(() => json('{"interfaces": ['))).toMatch(/^names\.json( line 1 column \d+)?: not valid JSON \(/);
    // A trailing comma on the second line: where, as a line and column, not an offset.
    expect(failure(() => json('{"interfaces":[{"mac":"000D3AF87856"},\n  {"mac": "000D3AF87857",}]}'))).toBe(
      'names.json line 2 column 26: not valid JSON (Expected double-quoted property name)',
    );
    expect(failure(() => csv('mac,ips\n000D3AF87856,10.1.0.4,extra\n'))).toMatch(/^names\.csv line 2: not valid CSV \(/);
    expect(failure(() => csv('mac,vm,vm\n000D3AF87856,a,b\n'))).toBe("names.csv line 1: column 'vm' is given twice");
    expect(() => parseEnrichFile('', 'json', 'x')).toThrow(EnrichFileError);
  });

  it('refuses a file that is neither .json nor .csv, and a missing one', async () => {
    await expect(loadEnrichFile(join(directory, 'names.txt'))).rejects.toThrow("must end in .json or .csv (got '.txt')");
    await expect(loadEnrichFile(join(directory, 'missing.json'))).rejects.toThrow('cannot read the enrichment file (ENOENT)');
  });

  it('writes both formats so that loading them gives the same entries back', () => {
    const entries: InterfaceNames[] = [
      {
        ...CONTRACT_EXAMPLE.interfaces[0]!,
        mac: '000D3AF87856',
        resourceId: '/subscriptions/s/resourceGroups/rg-prod/providers/Microsoft.Network/networkInterfaces/n',
      },
      { ips: ['20.50.1.7'], vm: 'odd, "quoted" name', tags: { 'a;b': 'c=d', pct: '100%', ' lead': 'trail ', empty: '' } },
      { mac: '000D3A000001', ips: [] },
    ];
    for (const format of ['json', 'csv'] as const) {
      expect(parseEnrichFile(formatEnrichFile(entries, format), format, `export.${format}`)).toEqual(entries);
    }
    expect(formatEnrichFile(entries, 'csv').split('\n')[0]).toBe('mac,ips,vm,nic,resourceGroup,subscription,region,vnet,subnet,tags,resourceId');
  });
});

describe('watchEnrichFile', () => {
  let watch: EnrichFileWatch | undefined;
  afterEach(() => watch?.close());

  /** Resolves with the next good version (the watch debounces; no timing is asserted). */
  function nextVersion(path: string, log = captureLogger(), loadedText?: string) {
    const versions: InterfaceNames[][] = [];
    let wake: (() => void) | undefined;
    watch = watchEnrichFile(path, {
      logger: log.logger,
      debounceMs: 20,
      pollIntervalMs: 50,
      ...(loadedText === undefined ? {} : { loadedText }),
      onChange: (entries) => {
        versions.push(entries);
        wake?.();
      },
    });
    return {
      versions,
      log,
      next: () => new Promise<void>((resolve) => (wake = resolve)),
      until: async (predicate: () => boolean) => {
        while (!predicate()) await new Promise((resolve) => setTimeout(resolve, 10));
      },
    };
  }

  it('reloads the file when it changes, also when a new version is renamed over it', async () => {
    const path = join(directory, 'names.json');
    const first = JSON.stringify({ interfaces: [{ mac: '000D3AF87856', vm: 'one' }] });
    await writeFile(path, first);
    const watching = nextVersion(path, captureLogger(), first);
    const changed = watching.next();
    await writeFile(path, JSON.stringify({ interfaces: [{ mac: '000D3AF87856', vm: 'two' }] }));
    await changed;
    expect(watching.versions.at(-1)![0]!.vm).toBe('two');
    const renamed = watching.next();
    await writeFile(join(directory, 'names.json.new'), JSON.stringify({ interfaces: [{ mac: '000D3AF87856', vm: 'three' }] }));
    await rename(join(directory, 'names.json.new'), path);
    await renamed;
    expect(watching.versions.at(-1)![0]!.vm).toBe('three');
  });

  it('keeps the last good names when a new version is bad, logs it once, and takes the next good one', async () => {
    const path = join(directory, 'names.csv');
    const good = 'mac,vm\n000D3AF87856,one\n';
    await writeFile(path, good);
    const watching = nextVersion(path, captureLogger(), good);
    await writeFile(path, 'mac,vm\n000D3AF87856,one\nnot-a-mac,two\n');
    await watching.until(() => watching.log.lines.some((line) => line.level === ERROR_LEVEL));
    // Polls and events go on; the same bad version is not reported again.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const errors = watching.log.lines.filter((line) => line.level === ERROR_LEVEL);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toContain(`${path} line 3: mac: 'not-a-mac' is not a MAC address`);
    expect(errors[0]!.msg).toContain('keeping the last good names');
    expect(watching.versions).toEqual([]);
    const fixed = watching.next();
    await writeFile(path, 'mac,vm\n000D3AF87856,one\n000D3AF87857,two\n');
    await fixed;
    expect(watching.versions).toHaveLength(1);
    expect(watching.versions[0]!.map((names) => names.vm)).toEqual(['one', 'two']);
  });
});
