import type { Logger } from 'pino';
import type { ResourceGraphClientOptionalParams } from '@azure/arm-resourcegraph';
import type { TokenCredential } from '@azure/identity';
import { Nsg2ipfixError, UserError } from '../flow/errors.js';
import {
  DEFAULT_HISTORY_DAYS,
  DEFAULT_REFRESH_MINUTES,
  normalizeIp,
  sameNames,
  type AddressHistory,
  type InterfaceNames,
  type NameSources,
} from '../flow/interfaceNames.js';
import { discoverInterfaces } from './azureInterfaces.js';
import { loadEnrichFile, readEnrichFile } from './enrichFile.js';
import { watchEnrichFile, type EnrichFileWatch } from './enrichFileWatch.js';
import { loadNameSnapshot, saveNameSnapshot } from './nameSnapshot.js';
import { updateHistory } from './ownershipHistory.js';
import type { NoCredentialCode, QueryScope, ResourceGraph } from './resourceGraph.js';

/**
 * Where the names come from, as the exporting commands' options give it (commander's camelCase
 * attribute names, so a command's flags object can be passed as is).
 */
export interface EnrichmentSpec {
  /** `--enrich-file FILE`: JSON or CSV by extension, reloaded when it changes. */
  readonly enrichFile?: string;
  /** `--enrich-azure`: discover NICs through Azure Resource Graph with DefaultAzureCredential. */
  readonly enrichAzure?: boolean;
  /** `--enrich-subscription ID` (repeatable); none: every subscription the identity can read. */
  readonly enrichSubscription?: readonly string[];
  /** `--enrich-refresh-minutes` (default 10). */
  readonly enrichRefreshMinutes?: number | string;
  /** `--enrich-history-days` (default 7): how long a former owner of an address is remembered. */
  readonly enrichHistoryDays?: number | string;
  /** The command's `--state-dir`: the discovered map is kept there for an offline restart. None: not kept. */
  readonly stateDir?: string;
  /** Azure Resource Manager endpoint (sovereign clouds); default https://management.azure.com. */
  readonly armEndpoint?: string;
}

export { DEFAULT_HISTORY_DAYS, DEFAULT_REFRESH_MINUTES } from '../flow/interfaceNames.js';

/** resourceGraph.ts's NO_CREDENTIAL, checked by the compiler: that module loads only when Azure is asked for. */
const NO_CREDENTIAL: NoCredentialCode = 'azure-credential';

/** The longest refresh interval a Node timer can hold. */
const MAX_REFRESH_MINUTES = Math.floor((2 ** 31 - 1) / 60_000);

/** What tests (and only tests) replace; the CLI passes the logger alone. */
export interface NameProviderDependencies {
  readonly logger: Logger;
  /** Default: DefaultAzureCredential. */
  readonly credential?: TokenCredential;
  /** Passed to the Resource Graph SDK client (tests: `tlsOptions.ca`). */
  readonly clientOptions?: ResourceGraphClientOptionalParams;
  readonly now?: () => number;
  readonly setInterval?: (callback: () => void, ms: number) => unknown;
  readonly clearInterval?: (handle: unknown) => void;
  /** Resource Graph retry tuning (tests: no waiting). */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly maxAttempts?: number;
  readonly retryDelayMs?: number;
  readonly pageSize?: number;
}

type Listener = (sources: NameSources) => void;

/**
 * The names of flow endpoints, from an enrichment file and/or Azure Resource Graph, combined (file
 * entries override Azure's for the same MAC or address). `current` is an immutable NameSources;
 * every successful change (a new file version, a refresh that found something different) makes a
 * new one and hands it to the listeners, who build the lookup map from it (enrich/nameMap.ts
 * `NameMap.build(entries, history)`; enrichment.ts `startEnrichment` does both). A failed
 * reload or refresh keeps the last good names and is logged once.
 */
export class NameProvider {
  private sources: NameSources = Object.freeze({ entries: [], history: [], version: 0 });
  private readonly listeners = new Set<Listener>();
  private fileEntries: readonly InterfaceNames[] = [];
  private azureEntries: readonly InterfaceNames[] | undefined;
  private history: readonly AddressHistory[] = [];
  private discoveredAtMs = 0;
  private watch: EnrichFileWatch | undefined;
  private timer: unknown;
  private refreshing: Promise<boolean> | undefined;
  private readonly abort = new AbortController();
  private readonly now: () => number;
  private readonly scope: QueryScope;
  private readonly graph: ResourceGraph | undefined;
  private readonly logger: Logger;

  /** Use createNameProvider. */
  constructor(
    private readonly spec: NormalizedSpec,
    private readonly deps: NameProviderDependencies,
    graph: typeof ResourceGraph | undefined,
    credential: TokenCredential | undefined,
  ) {
    this.logger = deps.logger.child({ stage: 'names' });
    this.now = deps.now ?? Date.now;
    this.scope = spec.subscriptions.length > 0 ? { subscriptions: spec.subscriptions } : {};
    this.graph =
      graph === undefined || credential === undefined
        ? undefined
        : new graph({
            credential,
            logger: this.logger,
            ...(spec.armEndpoint === undefined ? {} : { endpoint: spec.armEndpoint }),
            ...(deps.clientOptions === undefined ? {} : { clientOptions: deps.clientOptions }),
            ...(deps.sleep === undefined ? {} : { sleep: deps.sleep }),
            ...(deps.maxAttempts === undefined ? {} : { maxAttempts: deps.maxAttempts }),
            ...(deps.retryDelayMs === undefined ? {} : { retryDelayMs: deps.retryDelayMs }),
            ...(deps.pageSize === undefined ? {} : { pageSize: deps.pageSize }),
          });
  }

  /** The names in force now. */
  get current(): NameSources {
    return this.sources;
  }

  /** The NICs Azure discovery found last (from the snapshot until the first refresh), undefined before any. */
  get discovered(): readonly InterfaceNames[] | undefined {
    return this.azureEntries;
  }

  /** Calls `listener` with each new version of the names; returns the unsubscribe function. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Loads the file (a bad file stops the start: UserError), the snapshot, runs a first discovery
   * (refused permissions stop the start: a one-line UserError naming the Reader role; an outage
   * does not: the snapshot's names serve until a refresh succeeds), then watches and refreshes.
   */
  async start(): Promise<void> {
    if (this.spec.enrichFile !== undefined) {
      const { entries, text } = await readEnrichFile(this.spec.enrichFile);
      this.fileEntries = entries;
      this.logger.info({ enrichFile: this.spec.enrichFile, interfaces: this.fileEntries.length }, 'enrichment file loaded');
      this.watch = watchEnrichFile(this.spec.enrichFile, {
        logger: this.logger,
        loadedText: text,
        onChange: (entries) => {
          this.fileEntries = entries;
          this.rebuild();
        },
      });
    }
    if (this.graph !== undefined) {
      await this.loadSnapshot();
      const refreshed = await this.refreshNow({ fatalAuth: true });
      if (!refreshed && this.azureEntries !== undefined)
        this.logger.warn({ discoveredAt: new Date(this.discoveredAtMs).toISOString() }, 'working from the saved Azure names until a refresh succeeds');
      const set = this.deps.setInterval ?? ((callback: () => void, ms: number) => setInterval(callback, ms).unref());
      // A refresh logs its own failures; this catch is for a bug, which must not end the process.
      const tick = (): void => void this.refreshNow().catch((error: unknown) => this.logger.error(`Azure names refresh failed: ${String(error)}`));
      this.timer = set(tick, this.spec.refreshIntervalMs);
    }
    this.rebuild();
  }

  /**
   * One Azure discovery now (the timer's job; also for `enrich export` and tests). Resolves to
   * whether it succeeded; a failure is logged once and the last good names stay. With `fatalAuth`,
   * refused permissions reject with the UserError instead.
   */
  async refreshNow(options: { fatalAuth?: boolean } = {}): Promise<boolean> {
    if (this.graph === undefined) return false;
    if (this.refreshing !== undefined) return this.refreshing;
    this.refreshing = this.refresh(this.graph, options.fatalAuth === true).finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** Stops the timer, the file watch and a refresh in flight. Idempotent. */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.timer !== undefined) (this.deps.clearInterval ?? ((handle) => clearInterval(handle as NodeJS.Timeout)))(this.timer);
    this.timer = undefined;
    this.watch?.close();
    this.watch = undefined;
    await this.refreshing?.catch(() => {});
  }

  private async refresh(graph: ResourceGraph, fatalAuth: boolean): Promise<boolean> {
    const startedMs = this.now();
    let found: InterfaceNames[];
    try {
      found = await discoverInterfaces(graph, this.scope, this.logger, this.abort.signal);
    } catch (error) {
      // A restart with saved names works offline: a credential that cannot get a token now (its
      // identity endpoint unreachable) is then an outage like any other; a refusal never is.
      const offline = this.azureEntries !== undefined && error instanceof UserError && error.code === NO_CREDENTIAL;
      if (fatalAuth && error instanceof UserError && !offline) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.error(
        { code: error instanceof Nsg2ipfixError ? error.code : undefined },
        `Azure names not refreshed, keeping the last good names: ${reason}`,
      );
      return false;
    }
    if (this.abort.signal.aborted) return false;
    const nowMs = this.now();
    const history = updateHistory(this.history, this.azureEntries, found, nowMs, this.spec.historyMs);
    const changed = !sameEntries(found, this.azureEntries) || JSON.stringify(history) !== JSON.stringify(this.history);
    this.azureEntries = found;
    this.history = history;
    this.discoveredAtMs = nowMs;
    this.logger.info({ interfaces: found.length, changed, durationMs: nowMs - startedMs }, 'Azure names refreshed');
    if (this.spec.stateDir !== undefined) {
      try {
        await saveNameSnapshot(this.spec.stateDir, { discoveredAtMs: nowMs, interfaces: found, history });
      } catch (error) {
        this.logger.warn(`${(error as Error).message}: a restart will not have these names offline`);
      }
    }
    if (changed) this.rebuild();
    return true;
  }

  private async loadSnapshot(): Promise<void> {
    if (this.spec.stateDir === undefined) return;
    try {
      const snapshot = await loadNameSnapshot(this.spec.stateDir);
      if (snapshot === undefined) return;
      this.azureEntries = snapshot.interfaces;
      this.history = snapshot.history;
      this.discoveredAtMs = snapshot.discoveredAtMs;
      this.logger.info({ interfaces: snapshot.interfaces.length, discoveredAt: new Date(snapshot.discoveredAtMs).toISOString() }, 'saved Azure names loaded');
    } catch (error) {
      this.logger.warn(`${(error as Error).message}: starting without saved Azure names`);
    }
  }

  private rebuild(): void {
    const { entries, history } = combineSources(this.azureEntries ?? [], this.history, this.fileEntries);
    this.sources = Object.freeze({ entries: Object.freeze(entries), history: Object.freeze(history), version: this.sources.version + 1 });
    for (const listener of this.listeners) listener(this.sources);
  }
}

/**
 * Azure's entries and history with the file's on top: an Azure entry with a MAC the file names is
 * dropped, an address the file names is taken off Azure's entries and out of the history (the file
 * is timeless). File entries come last.
 */
export function combineSources(
  azure: readonly InterfaceNames[],
  history: readonly AddressHistory[],
  file: readonly InterfaceNames[],
): { entries: InterfaceNames[]; history: AddressHistory[] } {
  if (file.length === 0) return { entries: [...azure], history: [...history] };
  if (azure.length === 0 && history.length === 0) return { entries: [...file], history: [] };
  const fileMacs = new Set(file.flatMap((names) => (names.mac === undefined ? [] : [names.mac])));
  const fileIps = new Set(file.flatMap((names) => names.ips));
  const entries: InterfaceNames[] = [];
  for (const names of azure) {
    if (names.mac !== undefined && fileMacs.has(names.mac)) continue;
    entries.push(names.ips.some((ip) => fileIps.has(ip)) ? { ...names, ips: names.ips.filter((ip) => !fileIps.has(ip)) } : names);
  }
  return { entries: [...entries, ...file], history: history.filter((record) => !fileIps.has(normalizeIp(record.ip) ?? record.ip)) };
}

function sameEntries(a: readonly InterfaceNames[], b: readonly InterfaceNames[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((names, i) => sameNames(names, b[i]!));
}

interface NormalizedSpec {
  readonly enrichFile?: string;
  readonly subscriptions: readonly string[];
  readonly refreshIntervalMs: number;
  readonly historyMs: number;
  readonly stateDir?: string;
  readonly armEndpoint?: string;
}

/**
 * The provider for a command's enrichment options, started (file loaded, snapshot read, first
 * discovery done); undefined when neither `enrichFile` nor `enrichAzure` is given. Rejects with a
 * UserError (exit 2) for a bad option, an unusable file, or a refused Resource Graph query.
 */
export async function createNameProvider(spec: EnrichmentSpec, deps: NameProviderDependencies): Promise<NameProvider | undefined> {
  const normalized = normalizeSpec(spec);
  if (normalized === undefined) return undefined;
  // The Azure SDKs load only when Azure is asked for: a replay with a file pays nothing for them.
  const azure = spec.enrichAzure === true ? await import('./resourceGraph.js') : undefined;
  const credential = azure === undefined ? undefined : await azure.azureCredential(deps.credential);
  const provider = new NameProvider(normalized, deps, azure?.ResourceGraph, credential);
  try {
    await provider.start();
  } catch (error) {
    await provider.stop();
    throw error;
  }
  return provider;
}

/**
 * What createNameProvider would refuse in `spec` before asking Azure anything: its option values,
 * and the enrichment file read and validated (`config check`). Throws the same UserError.
 */
export async function checkEnrichmentSpec(spec: EnrichmentSpec): Promise<void> {
  const normalized = normalizeSpec(spec);
  if (normalized?.enrichFile !== undefined) await loadEnrichFile(normalized.enrichFile);
}

function normalizeSpec(spec: EnrichmentSpec): NormalizedSpec | undefined {
  if (spec.enrichFile === undefined && spec.enrichAzure !== true) {
    if ((spec.enrichSubscription?.length ?? 0) > 0) throw new UserError('--enrich-subscription needs --enrich-azure');
    return undefined;
  }
  const refreshMinutes = positiveNumber(spec.enrichRefreshMinutes ?? DEFAULT_REFRESH_MINUTES, '--enrich-refresh-minutes', 0);
  // A timer takes at most 2^31 - 1 ms (Node runs a longer one after 1 ms: discoveries back to back).
  if (refreshMinutes > MAX_REFRESH_MINUTES)
    throw new UserError(`--enrich-refresh-minutes: '${spec.enrichRefreshMinutes}' must be at most ${MAX_REFRESH_MINUTES} (about 24 days)`);
  const historyDays = positiveNumber(spec.enrichHistoryDays ?? DEFAULT_HISTORY_DAYS, '--enrich-history-days', -1);
  const subscriptions = (spec.enrichSubscription ?? []).map((id) => id.trim()).filter((id) => id !== '');
  for (const id of subscriptions) {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id))
      throw new UserError(`--enrich-subscription: '${id}' is not a subscription id (a GUID)`);
  }
  return {
    ...(spec.enrichFile === undefined ? {} : { enrichFile: spec.enrichFile }),
    subscriptions,
    refreshIntervalMs: refreshMinutes * 60_000,
    historyMs: historyDays * 86_400_000,
    ...(spec.stateDir === undefined ? {} : { stateDir: spec.stateDir }),
    ...(spec.armEndpoint === undefined ? {} : { armEndpoint: spec.armEndpoint }),
  };
}

/** A number above `floor` (0 for "more than zero", -1 for "zero or more"). */
function positiveNumber(value: number | string, option: string, floor: number): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n) || n <= floor) throw new UserError(`${option}: '${value}' must be a number ${floor === 0 ? 'above 0' : 'of 0 or more'}`);
  return n;
}
