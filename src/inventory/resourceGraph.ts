import { ResourceGraphClient, type ResourceGraphClientOptionalParams } from '@azure/arm-resourcegraph';
import type { TokenCredential } from '@azure/identity';
import type { Logger } from 'pino';
import { Nsg2ipfixError, UserError } from '../flow/errors.js';
import { sleep as defaultSleep } from '../flow/sleep.js';

/** Azure Resource Manager of the public cloud; sovereign clouds have their own (`--arm-endpoint`). */
export const DEFAULT_ARM_ENDPOINT = 'https://management.azure.com';

/** What the identity needs, said the same way wherever a query is refused. */
export const READER_ROLE_HINT = 'needs the Reader role on the subscriptions (or management group) to query Azure Resource Graph';

/** Where a query runs: these subscriptions, these management groups, or (neither) every subscription the identity can read. */
export interface QueryScope {
  readonly subscriptions?: readonly string[];
  readonly managementGroups?: readonly string[];
}

export type ResourceRow = Record<string, unknown>;

export interface ResourceGraphOptions {
  readonly credential: TokenCredential;
  readonly logger: Logger;
  /** Azure Resource Manager endpoint (default DEFAULT_ARM_ENDPOINT). The token scope follows it. */
  readonly endpoint?: string;
  /**
   * Passed to the SDK client as is (tests: `tlsOptions.ca` to trust a stand-in's certificate).
   * Its retries are always switched off: this wrapper retries, bounded and logged.
   */
  readonly clientOptions?: ResourceGraphClientOptionalParams;
  /** Attempts per page on throttling, 5xx and network errors, the first included (default 4). */
  readonly maxAttempts?: number;
  /** First back-off on 5xx and network errors, doubled per attempt (default 2 s). */
  readonly retryDelayMs?: number;
  /** Longest wait a 429's Retry-After may impose before the query gives up for now (default 60 s). */
  readonly maxRetryAfterMs?: number;
  /** Rows per page, at most 1000 (the service's limit). */
  readonly pageSize?: number;
  /** For tests: waits without a clock. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * A thin wrapper over `@azure/arm-resourcegraph`'s `ResourceGraphClient.resources()`: runs any KQL
 * query over a scope and returns every page (following `$skipToken`), waits out throttling (429
 * Retry-After, or the `x-ms-user-quota-resets-after` Resource Graph adds), retries 5xx and network
 * errors with back-off, and translates failures into Nsg2ipfixErrors: 401/403 a one-line
 * UserError naming the Reader role, throttling/5xx/network retryable, anything else not.
 *
 * The SDK's own retry policy is switched off: it waits any Retry-After however long, and logs
 * nowhere we see. Here every wait is bounded and logged once per wait (without tokens: only the
 * status, the wait and the page).
 */
export class ResourceGraph {
  private readonly client: ResourceGraphClient;
  private readonly logger: Logger;
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly pageSize: number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(options: ResourceGraphOptions) {
    const endpoint = (options.endpoint ?? DEFAULT_ARM_ENDPOINT).replace(/\/+$/, '');
    this.client = new ResourceGraphClient(options.credential, {
      ...options.clientOptions,
      endpoint,
      credentials: { scopes: [`${endpoint}/.default`] },
      retryOptions: { maxRetries: 0 },
    });
    this.logger = options.logger;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 4);
    this.retryDelayMs = options.retryDelayMs ?? 2_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    this.pageSize = Math.min(1000, Math.max(1, options.pageSize ?? 1000));
    this.sleep = options.sleep ?? defaultSleep;
  }

  /** Every row of `query` over `scope`, all pages. */
  async query(query: string, scope: QueryScope = {}, signal?: AbortSignal): Promise<ResourceRow[]> {
    const rows: ResourceRow[] = [];
    for await (const page of this.pages(query, scope, signal)) rows.push(...page);
    return rows;
  }

  /** The rows of `query` page by page. The query must project `id`: the service pages stably by it. */
  async *pages(query: string, scope: QueryScope = {}, signal?: AbortSignal): AsyncGenerator<ResourceRow[]> {
    let skipToken: string | undefined;
    let page = 0;
    do {
      page++;
      const response = await this.onePage(query, scope, skipToken, page, signal);
      if (!Array.isArray(response.data)) {
        throw new Nsg2ipfixError(
          'resource-graph-response',
          `Azure Resource Graph answered page ${page} without a data array (resultFormat objectArray expected)`,
        );
      }
      skipToken = typeof response.skipToken === 'string' && response.skipToken !== '' ? response.skipToken : undefined;
      if (response.resultTruncated === 'true' && skipToken === undefined) {
        // The service pages only queries that project `id`; without it, rows past the first page are lost.
        this.logger.warn({ page }, 'Azure Resource Graph truncated the result and gave no skip token: does the query project id?');
      }
      yield response.data as ResourceRow[];
    } while (skipToken !== undefined && signal?.aborted !== true);
  }

  private async onePage(query: string, scope: QueryScope, skipToken: string | undefined, page: number, signal: AbortSignal | undefined) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.client.resources(
          {
            query,
            ...(scope.subscriptions !== undefined && scope.subscriptions.length > 0 ? { subscriptions: [...scope.subscriptions] } : {}),
            ...(scope.managementGroups !== undefined && scope.managementGroups.length > 0 ? { managementGroups: [...scope.managementGroups] } : {}),
            options: { resultFormat: 'objectArray', ...(skipToken === undefined ? { top: this.pageSize } : { skipToken }) },
          },
          { abortSignal: signal },
        );
      } catch (error) {
        const failure = translateResourceGraphError(error);
        if (!failure.retryable || attempt >= this.maxAttempts || signal?.aborted === true) throw failure;
        const retryAfterMs = retryAfterOf(error);
        const waitMs = retryAfterMs ?? this.retryDelayMs * 2 ** (attempt - 1);
        if (retryAfterMs !== undefined && retryAfterMs > this.maxRetryAfterMs) {
          throw new Nsg2ipfixError(
            'resource-graph-throttled',
            `Azure Resource Graph asks to wait ${Math.ceil(retryAfterMs / 1000)} s (page ${page}): giving up until the next refresh`,
            {
              retryable: true,
              cause: error,
            },
          );
        }
        this.logger.warn(
          { page, attempt, statusCode: statusOf(error), waitMs },
          `Azure Resource Graph: ${failure.message}; retrying in ${Math.ceil(waitMs / 1000)} s`,
        );
        await this.sleep(waitMs, signal);
      }
    }
  }
}

/** The code of the UserError for a credential that gave no token (none configured, or its identity endpoint unreachable). */
export const NO_CREDENTIAL = 'azure-credential';
/** Its type, for modules that must not load this one (and the SDK) before Azure is asked for. */
export type NoCredentialCode = typeof NO_CREDENTIAL;

/**
 * An SDK or credential error as an Nsg2ipfixError, one line, with no token in it (RestError
 * messages carry the service's error text, never request headers).
 */
export function translateResourceGraphError(error: unknown): Nsg2ipfixError {
  if (error instanceof Nsg2ipfixError) return error;
  const e = error as { statusCode?: unknown; code?: unknown; name?: unknown; message?: unknown; details?: unknown };
  const status = statusOf(error);
  const serviceCode = serviceErrorCode(e.details) ?? (typeof e.code === 'string' ? e.code : undefined);
  const text = oneLine(serviceErrorMessage(e.details) ?? (typeof e.message === 'string' ? e.message : String(error)));
  const name = typeof e.name === 'string' ? e.name : '';
  if (status === 401 || status === 403) {
    return new UserError(
      `Azure Resource Graph refused the query (${status}${serviceCode === undefined ? '' : ` ${serviceCode}`}): the identity ${READER_ROLE_HINT}`,
      {
        code: 'resource-graph-auth',
        cause: error,
      },
    );
  }
  if (name === 'CredentialUnavailableError' || name === 'AuthenticationError' || name === 'AggregateAuthenticationError') {
    return new UserError(
      `no Azure credential for Azure Resource Graph (DefaultAzureCredential: managed identity, workload identity, AZURE_* variables or az login): ${text}`,
      { code: NO_CREDENTIAL, cause: error },
    );
  }
  if (status === 429)
    return new Nsg2ipfixError('resource-graph-throttled', `throttled (429${serviceCode === undefined ? '' : ` ${serviceCode}`})`, {
      retryable: true,
      cause: error,
    });
  if (status === 408 || (status !== undefined && status >= 500)) {
    return new Nsg2ipfixError('resource-graph-unavailable', `service error ${status}${serviceCode === undefined ? '' : ` ${serviceCode}`}: ${text}`, {
      retryable: true,
      cause: error,
    });
  }
  if (status === undefined) {
    return new Nsg2ipfixError('resource-graph-unavailable', `cannot reach Azure Resource Graph: ${text}`, { retryable: true, cause: error });
  }
  return new Nsg2ipfixError(
    'resource-graph-query',
    `Azure Resource Graph rejected the query (${status}${serviceCode === undefined ? '' : ` ${serviceCode}`}): ${text}`,
    {
      cause: error,
    },
  );
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown })?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Retry-After (seconds or a date), retry-after-ms, or Resource Graph's x-ms-user-quota-resets-after (hh:mm:ss), in ms. */
export function retryAfterOf(error: unknown): number | undefined {
  const headers = (error as { response?: { headers?: { get?(name: string): string | undefined } } })?.response?.headers;
  if (typeof headers?.get !== 'function') return undefined;
  const ms = headers.get('retry-after-ms') ?? headers.get('x-ms-retry-after-ms');
  if (ms !== undefined && /^\d+$/.test(ms.trim())) return Number(ms);
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter !== undefined && retryAfter !== '') {
    if (/^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const at = Date.parse(retryAfter);
    if (Number.isFinite(at)) return Math.max(0, at - Date.now());
  }
  const resetsAfter = /^(\d+):(\d{2}):(\d{2})$/.exec(headers.get('x-ms-user-quota-resets-after')?.trim() ?? '');
  if (resetsAfter !== null) return ((Number(resetsAfter[1]) * 60 + Number(resetsAfter[2])) * 60 + Number(resetsAfter[3])) * 1000;
  return undefined;
}

function serviceErrorCode(details: unknown): string | undefined {
  const code = (details as { error?: { code?: unknown } })?.error?.code;
  return typeof code === 'string' ? code : undefined;
}

function serviceErrorMessage(details: unknown): string | undefined {
  const message = (details as { error?: { message?: unknown } })?.error?.message;
  return typeof message === 'string' ? message : undefined;
}

function oneLine(text: string): string {
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** What a command's tests replace: the credential (default DefaultAzureCredential) and SDK client options. */
export interface ResourceGraphDependencies {
  readonly credential?: TokenCredential;
  readonly clientOptions?: ResourceGraphClientOptionalParams;
}

/** A ResourceGraph with the dependencies given, else DefaultAzureCredential and the SDK's defaults. */
export async function openResourceGraph(deps: ResourceGraphDependencies, logger: Logger, endpoint?: string): Promise<ResourceGraph> {
  return new ResourceGraph({
    credential: await azureCredential(deps.credential),
    logger,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(deps.clientOptions === undefined ? {} : { clientOptions: deps.clientOptions }),
  });
}

/** The credential given, else DefaultAzureCredential (managed identity, workload identity, AZURE_* variables, az login). */
export async function azureCredential(given?: TokenCredential): Promise<TokenCredential> {
  if (given !== undefined) return given;
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new DefaultAzureCredential();
}
