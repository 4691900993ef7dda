import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Nsg2ipfixError, UserError } from '../../src/flow/errors.js';
import { ResourceGraph, READER_ROLE_HINT } from '../../src/inventory/resourceGraph.js';
import { captureLogger, WARN_LEVEL } from '../helpers/captureLogger.js';
import { ResourceGraphStandIn, STAND_IN_TOKEN, vmRow, standInCredential } from '../helpers/resourceGraphStandIn.js';

// No local Azure Resource Graph exists: the stand-in (test/helpers/resourceGraphStandIn.ts) plays
// it over HTTPS, and the real ResourceGraphClient of @azure/arm-resourcegraph talks to it.

const credential = standInCredential;
let standIn: ResourceGraphStandIn;

beforeAll(async () => {
  standIn = await ResourceGraphStandIn.start();
});
afterAll(async () => {
  await standIn.close();
});
beforeEach(() => {
  standIn.requests.length = 0;
  standIn.script.length = 0;
  standIn.pageSize = 1000;
  standIn.setEstate({ Resources: ['vm-1', 'vm-2', 'vm-3', 'vm-4', 'vm-5'].map((name) => vmRow(name)) });
});

function graph(options: { maxAttempts?: number; maxRetryAfterMs?: number } = {}) {
  const log = captureLogger();
  const waits: number[] = [];
  const client = new ResourceGraph({
    credential,
    logger: log.logger,
    endpoint: standIn.endpoint,
    clientOptions: { tlsOptions: { ca: standIn.certificatePem } },
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
    ...options,
  });
  return { client, log, waits };
}

describe('ResourceGraph (the real SDK client against the stand-in)', () => {
  it('follows the skip token through every page and sends what the REST API documents', async () => {
    standIn.pageSize = 3;
    const { client } = graph();
    const rows = await client.query('Resources | project id, name', { subscriptions: ['11111111-1111-1111-1111-111111111111'] });
    expect(rows.map((row) => row.name)).toEqual(['vm-1', 'vm-2', 'vm-3', 'vm-4', 'vm-5']);
    expect(standIn.requests).toHaveLength(2);
    const [first, second] = standIn.requests;
    expect(first!.url).toMatch(/^\/providers\/Microsoft\.ResourceGraph\/resources\?api-version=\d{4}-\d{2}-\d{2}$/);
    expect(first!.authorization).toBe(`Bearer ${STAND_IN_TOKEN}`);
    expect(first!.body).toEqual({
      subscriptions: ['11111111-1111-1111-1111-111111111111'],
      query: 'Resources | project id, name',
      options: { $top: 1000, resultFormat: 'objectArray' },
    });
    expect(second!.body.options?.$skipToken).toEqual(expect.any(String));
    expect(second!.body.options?.$top).toBeUndefined();
    expect(second!.body.subscriptions).toEqual(['11111111-1111-1111-1111-111111111111']);
  });

  it('queries every subscription the identity can read when given none', async () => {
    const { client } = graph();
    await client.query('Resources | project id');
    expect(standIn.requests[0]!.body.subscriptions).toBeUndefined();
    expect(standIn.requests[0]!.body.managementGroups).toBeUndefined();
  });

  it('waits out a 429 for its Retry-After, logs the wait, and goes on', async () => {
    standIn.pageSize = 3;
    standIn.script.push('ok', { status: 429, headers: { 'Retry-After': '7', 'x-ms-user-quota-remaining': '0', 'x-ms-user-quota-resets-after': '00:00:07' } });
    const { client, log, waits } = graph();
    const rows = await client.query('Resources | project id, name');
    expect(rows).toHaveLength(5);
    expect(waits).toEqual([7000]);
    expect(standIn.requests.map((r) => r.status)).toEqual([200, 429, 200]);
    const warnings = log.lines.filter((line) => line.level === WARN_LEVEL);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ page: 2, statusCode: 429, waitMs: 7000 });
  });

  it('reads the quota reset header when a 429 has no Retry-After', async () => {
    standIn.script.push({ status: 429, headers: { 'x-ms-user-quota-resets-after': '00:01:05' } });
    const { client, waits } = graph({ maxRetryAfterMs: 120_000 });
    await client.query('Resources | project id');
    expect(waits).toEqual([65_000]);
  });

  it('gives up, retryable, when Retry-After asks for longer than the bound', async () => {
    standIn.script.push({ status: 429, headers: { 'Retry-After': '3600' } });
    const { client, waits } = graph();
    const error = await client.query('Resources | project id').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Nsg2ipfixError);
    expect(error).toMatchObject({ code: 'resource-graph-throttled', retryable: true });
    expect(waits).toEqual([]);
  });

  it('retries a 500 with back-off and fails retryable when it persists', async () => {
    standIn.script.push({ status: 500 }, { status: 503 }, { status: 500 });
    const { client, waits } = graph({ maxAttempts: 3 });
    const error = await client.query('Resources | project id').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'resource-graph-unavailable', retryable: true });
    expect(waits).toEqual([2000, 4000]);
  });

  it('turns a 403 into a one-line UserError naming the Reader role, without the token', async () => {
    standIn.script.push({ status: 403 });
    const { client, log } = graph();
    const error = (await client.query('Resources | project id').catch((e: unknown) => e)) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.code).toBe('resource-graph-auth');
    expect(error.message).toContain(READER_ROLE_HINT);
    expect(error.message).toContain('403 AuthorizationFailed');
    expect(error.message).not.toContain('\n');
    expect(error.message).not.toContain(STAND_IN_TOKEN);
    expect(JSON.stringify(error.cause)).not.toContain(STAND_IN_TOKEN);
    expect(standIn.requests).toHaveLength(1);
    expect(log.text()).not.toContain(STAND_IN_TOKEN);
  });

  it('reports an unreachable endpoint as retryable', async () => {
    const log = captureLogger();
    const client = new ResourceGraph({ credential, logger: log.logger, endpoint: 'https://127.0.0.1:1', maxAttempts: 1 });
    await expect(client.query('Resources | project id')).rejects.toMatchObject({ code: 'resource-graph-unavailable', retryable: true });
  });
});
