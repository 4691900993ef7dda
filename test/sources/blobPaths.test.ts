import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { classifyAzureError } from '../../src/state/azureErrors.js';
import { scrubSecrets as redactSecrets, safeUrl } from '../../src/secrets.js';
import { hourPrefix, macAllowed, NO_FILTERS, parseFlowLogBlobName, rootAllowed, rootParts } from '../../src/sources/blobPaths.js';
import { parseStartAt } from '../../src/sources/blobSource.js';
import { isHeadBlock, isTailBlock } from '../../src/sources/blockBlobReader.js';
import { FileStateStore, JOURNAL_FILE_NAME, STATE_FILE_NAME } from '../../src/state/fileStateStore.js';
import { emptyState, StateError } from '../../src/state/sourceState.js';

const NSG_ROOT = 'resourceId=/SUBSCRIPTIONS/0000-AAAA/RESOURCEGROUPS/DEMO-RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG/';
const VNET_ROOT = 'flowLogResourceID=/0000-AAAA_NETWORKWATCHERRG/NETWORKWATCHER_EASTUS_DEMO-VNET-FLOWLOG/';

describe('flow log blob names', () => {
  it('reads root, hour and MAC from an NSG and a VNet blob name', () => {
    const nsg = parseFlowLogBlobName(`${NSG_ROOT}y=2025/m=06/d=12/h=09/m=00/macAddress=000D3AF87856/PT1H.json`);
    expect(nsg).toEqual({ root: NSG_ROOT, hourPrefix: `${NSG_ROOT}y=2025/m=06/d=12/h=09/`, hourMs: Date.UTC(2025, 5, 12, 9), mac: '000D3AF87856' });
    const vnet = parseFlowLogBlobName(`${VNET_ROOT}y=2025/m=12/d=31/h=23/m=00/macAddress=00-0D-3A-1B-2C-3D/PT1H.json`);
    expect(vnet?.hourMs).toBe(Date.UTC(2025, 11, 31, 23));
    expect(vnet?.mac).toBe('000D3A1B2C3D');
    expect(parseFlowLogBlobName('somewhere/else.json')).toBeUndefined();
    expect(hourPrefix(VNET_ROOT, Date.UTC(2025, 0, 2, 3))).toBe(`${VNET_ROOT}y=2025/m=01/d=02/h=03/`);
  });

  it('reads subscription, resource group and name from both root layouts', () => {
    expect(rootParts(NSG_ROOT, true)).toEqual({ complete: true, subscription: '0000-AAAA', resourceGroup: 'DEMO-RG', name: 'WEB-NSG' });
    expect(rootParts(VNET_ROOT, true)).toEqual({ complete: true, subscription: '0000-AAAA', resourceGroup: 'NETWORKWATCHERRG', name: 'DEMO-VNET-FLOWLOG' });
  });

  it('filters roots case-insensitively and prunes partial prefixes only once they contradict a filter', () => {
    const filters = { ...NO_FILTERS, subscriptions: ['0000-aaaa'], names: ['web-nsg', 'demo-vnet-flowlog'] };
    expect(rootAllowed(filters, NSG_ROOT, true)).toBe(true);
    expect(rootAllowed(filters, VNET_ROOT, true)).toBe(true);
    expect(rootAllowed(filters, NSG_ROOT.replace('WEB-NSG', 'JUMP-NSG'), true)).toBe(false);
    expect(rootAllowed(filters, 'resourceId=/', false)).toBe(true);
    expect(rootAllowed(filters, 'resourceId=/SUBSCRIPTIONS/', false)).toBe(true);
    expect(rootAllowed(filters, 'resourceId=/SUBSCRIPTIONS/OTHER/', false)).toBe(false);
    expect(rootAllowed(filters, 'flowLogResourceID=/OTHER_NETWORKWATCHERRG/', false)).toBe(false);
    expect(rootAllowed({ ...NO_FILTERS, resourceGroups: ['demo-rg'] }, 'resourceId=/SUBSCRIPTIONS/X/RESOURCEGROUPS/OTHER/', false)).toBe(false);
    expect(macAllowed({ ...NO_FILTERS, macs: ['00:0d:3a:f8:78:56'] }, '000D3AF87856')).toBe(true);
    expect(macAllowed({ ...NO_FILTERS, macs: ['00:0d:3a:f8:78:56'] }, '000D3AF80000')).toBe(false);
  });
});

describe('blob source pieces', () => {
  it('parses --start-at policies and times', () => {
    expect(parseStartAt('resume')).toEqual({ kind: 'resume' });
    expect(parseStartAt('NOW')).toEqual({ kind: 'now' });
    expect(parseStartAt('beginning')).toEqual({ kind: 'beginning' });
    expect(parseStartAt('2025-06-12T09:30:00Z')).toEqual({ kind: 'time', ms: Date.UTC(2025, 5, 12, 9, 30) });
    expect(parseStartAt('yesterday')).toBeUndefined();
    expect(parseStartAt('2025-13-45')).toBeUndefined();
  });

  it('recognises head and tail blocks by content, not by size', () => {
    expect(isHeadBlock(Buffer.from('{"records":['))).toBe(true);
    expect(isHeadBlock(Buffer.from('{ "records" : [\n'))).toBe(true);
    expect(isHeadBlock(Buffer.from('{"records":[{}'))).toBe(false);
    expect(isHeadBlock(Buffer.from(',{"time":1}'))).toBe(false);
    expect(isTailBlock(Buffer.from(']}'))).toBe(true);
    expect(isTailBlock(Buffer.from(' ]\n}\n'))).toBe(true);
    expect(isTailBlock(Buffer.from(',{}'))).toBe(false);
  });

  it('removes SAS signatures and account keys from messages', () => {
    const text = 'GET https://a.blob.core.windows.net/c?sv=2024&sig=abc%2Fdef&se=1 failed; AccountKey=c2VjcmV0;SharedAccessSignature=sv=1&sig=x';
    const safe = redactSecrets(text);
    expect(safe).not.toMatch(/abc%2Fdef|c2VjcmV0/);
    expect(safe).toContain('sig=[redacted]');
    expect(safeUrl('https://a.blob.core.windows.net/?sv=1&sig=secret')).toBe('https://a.blob.core.windows.net/');
    expect(classifyAzureError({ statusCode: 503, message: 'busy' }).kind).toBe('transient');
    expect(classifyAzureError({ statusCode: 403, message: 'no' }).kind).toBe('auth');
    expect(classifyAzureError({ statusCode: 404, message: 'gone' }).kind).toBe('not-found');
    expect(classifyAzureError({ statusCode: 409, code: 'InvalidBlobType', message: 'type' }).kind).toBe('permanent');
    expect(classifyAzureError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })).kind).toBe('transient');
  });
});

describe('FileStateStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsg2ipfix-state-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips the state, creates the directory and leaves no temporary file', async () => {
    const store = new FileStateStore(join(dir, 'nested'));
    expect(await store.load()).toBeUndefined();
    const state = emptyState(Date.UTC(2025, 5, 12, 9));
    state.blobs['c/a/PT1H.json'] = { hourMs: Date.UTC(2025, 5, 12, 9), lastBlockId: 'QUFB', lastBlockIndex: 3, endOffset: 120 };
    await store.save(state);
    await store.save(state);
    expect(await store.load()).toMatchObject({ scanFromMs: state.scanFromMs, blobs: state.blobs });
    expect(readdirSync(join(dir, 'nested')).sort()).toEqual([JOURNAL_FILE_NAME, STATE_FILE_NAME]);
  });

  it('refuses a damaged state instead of silently starting over', async () => {
    const damaged = join(dir, 'damaged');
    const store = new FileStateStore(damaged);
    await store.save(emptyState(0));
    writeFileSync(join(damaged, STATE_FILE_NAME), '{"version":1,"scanFrom');
    await expect(store.load()).rejects.toBeInstanceOf(StateError);
  });
});
