import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import type { Logger } from 'pino';
import { classifyAzureError, type AzureFailure } from '../state/azureErrors.js';
import { floorHour, HOUR_MS, hourPrefix, macAllowed, parseFlowLogBlobName, rootAllowed, type BlobFilters } from './blobPaths.js';

/** A PT1H.json blob seen in a listing. */
export interface ListedBlob {
  readonly container: string;
  readonly name: string;
  readonly hourMs: number;
  readonly hourPrefix: string;
  /** Without quotes (listings and responses quote differently). */
  readonly etag: string;
  readonly contentLength: number;
  readonly createdOnMs?: number;
  readonly blobType?: string;
}

export interface DiscoveryResult {
  readonly blobs: ListedBlob[];
  /** `container/hourPrefix` of every hour prefix listed to the end: a known blob missing there was deleted. */
  readonly listedPrefixes: Set<string>;
  /** Listings that failed (the pass is incomplete: the window must not move past them). */
  readonly failures: { container: string; prefix: string; failure: AzureFailure }[];
}

export interface HourPrefixRef {
  readonly container: string;
  readonly hourPrefix: string;
}

/** Windows longer than this are found by walking y=/m=/d=/h= folders instead of trying every hour. */
const DIRECT_HOURS_LIMIT = 48;
/** Parallel listing requests. */
const LISTING_CONCURRENCY = 8;
/** The service's largest listing page. */
const LISTING_PAGE_SIZE = 5000;
/** Deepest folder level searched for resource roots. */
const MAX_ROOT_DEPTH = 24;

export function unquoteEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

/**
 * Finds PT1H.json blobs without listing the whole account each poll. Resource roots (the folders
 * holding `y=` folders) are found by a folder walk, repeated every `rootRefreshMs`; between walks
 * only the parents of known roots are listed again, so a new NSG or flow log shows up at the next
 * poll. Blobs are then listed per hour prefix, from the window start to the current hour.
 */
export class BlobDiscovery {
  private readonly roots = new Map<string, Set<string>>();
  private readonly parents = new Map<string, Set<string>>();
  /** Roots the filters exclude, so refreshParents does not walk them again every poll. */
  private readonly rejected = new Set<string>();
  private readonly missingContainers = new Set<string>();
  private lastWalkMs = Number.NEGATIVE_INFINITY;
  /** Listing requests made (pages), for the pass summary. */
  requests = 0;

  constructor(
    private readonly service: BlobServiceClient,
    private readonly containers: readonly string[],
    private readonly filters: BlobFilters,
    private readonly logger: Logger,
    private readonly rootRefreshMs: number,
  ) {}

  /** Lists the blobs of every hour in [fromMs, nowMs] plus the extra hour prefixes given. */
  async discover(fromMs: number, nowMs: number, extra: readonly HourPrefixRef[]): Promise<DiscoveryResult> {
    const failures: DiscoveryResult['failures'] = [];
    const fullWalk = nowMs - this.lastWalkMs >= this.rootRefreshMs;
    for (const container of this.containers) {
      try {
        if (fullWalk) await this.walkContainer(container);
        else await this.refreshParents(container);
      } catch (error) {
        failures.push({ container, prefix: '', failure: classifyAzureError(error) });
      }
    }
    if (fullWalk && failures.length === 0) this.lastWalkMs = nowMs;

    const prefixes: HourPrefixRef[] = [];
    const seen = new Set<string>();
    const add = (ref: HourPrefixRef): void => {
      const key = `${ref.container}/${ref.hourPrefix}`;
      if (!seen.has(key)) {
        seen.add(key);
        prefixes.push(ref);
      }
    };
    const fromHour = floorHour(fromMs);
    const toHour = floorHour(nowMs);
    await mapLimit(
      this.containers.flatMap((container) => [...(this.roots.get(container) ?? [])].map((root) => ({ container, root }))),
      LISTING_CONCURRENCY,
      async ({ container, root }) => {
        if ((toHour - fromHour) / HOUR_MS <= DIRECT_HOURS_LIMIT) {
          for (let hour = fromHour; hour <= toHour; hour += HOUR_MS) add({ container, hourPrefix: hourPrefix(root, hour) });
          return;
        }
        try {
          for (const prefix of await this.existingHourPrefixes(this.service.getContainerClient(container), root, fromHour))
            add({ container, hourPrefix: prefix });
        } catch (error) {
          failures.push({ container, prefix: root, failure: classifyAzureError(error) });
        }
      },
    );
    for (const ref of extra) if (this.containers.includes(ref.container)) add(ref);

    const blobs: ListedBlob[] = [];
    const listedPrefixes = new Set<string>();
    await mapLimit(prefixes, LISTING_CONCURRENCY, async ({ container, hourPrefix: prefix }) => {
      try {
        const found: ListedBlob[] = [];
        for await (const item of this.listBlobs(this.service.getContainerClient(container), prefix)) {
          if (!item.name.toLowerCase().endsWith('.json')) continue;
          const parsed = parseFlowLogBlobName(item.name);
          if (parsed === undefined || !macAllowed(this.filters, parsed.mac)) continue;
          found.push({
            container,
            name: item.name,
            hourMs: parsed.hourMs,
            hourPrefix: parsed.hourPrefix,
            etag: unquoteEtag(item.properties.etag),
            contentLength: item.properties.contentLength ?? 0,
            ...(item.properties.createdOn === undefined ? {} : { createdOnMs: item.properties.createdOn.getTime() }),
            ...(item.properties.blobType === undefined ? {} : { blobType: item.properties.blobType }),
          });
        }
        blobs.push(...found);
        listedPrefixes.add(`${container}/${prefix}`);
      } catch (error) {
        const failure = classifyAzureError(error);
        if (failure.kind === 'not-found') listedPrefixes.add(`${container}/${prefix}`);
        else failures.push({ container, prefix, failure });
      }
    });
    blobs.sort(
      (a, b) => a.hourMs - b.hourMs || (a.container < b.container ? -1 : a.container > b.container ? 1 : 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
    return { blobs, listedPrefixes, failures };
  }

  private async *listBlobs(client: ContainerClient, prefix: string) {
    for await (const page of client.listBlobsFlat({ prefix }).byPage({ maxPageSize: LISTING_PAGE_SIZE })) {
      this.requests++;
      yield* page.segment.blobItems;
    }
  }

  private async listFolders(client: ContainerClient, prefix: string): Promise<string[]> {
    const folders: string[] = [];
    for await (const page of client.listBlobsByHierarchy('/', prefix === '' ? {} : { prefix }).byPage({ maxPageSize: LISTING_PAGE_SIZE })) {
      this.requests++;
      for (const item of page.segment.blobPrefixes ?? []) folders.push(item.name);
    }
    return folders;
  }

  private async walkContainer(container: string): Promise<void> {
    const client = this.service.getContainerClient(container);
    const roots = new Set<string>();
    const parents = new Set<string>();
    try {
      await this.walk(client, '', undefined, 0, roots, parents);
    } catch (error) {
      if (classifyAzureError(error).kind !== 'not-found') throw error;
      if (!this.missingContainers.has(container)) {
        this.missingContainers.add(container);
        this.logger.info({ container }, 'container does not exist (yet): no flow logs of this kind');
      }
      return;
    }
    if (this.missingContainers.delete(container)) this.logger.info({ container }, 'container appeared');
    const before = this.roots.get(container)?.size ?? 0;
    this.roots.set(container, roots);
    this.parents.set(container, parents);
    if (roots.size !== before) this.logger.info({ container, resources: roots.size }, 'flow log resources found');
  }

  /** Lists only the parents of known roots: a new NSG / flow log next to known ones appears at once. */
  private async refreshParents(container: string): Promise<void> {
    const parents = this.parents.get(container);
    const roots = this.roots.get(container);
    if (parents === undefined || roots === undefined) return;
    const client = this.service.getContainerClient(container);
    for (const parent of [...parents]) {
      for (const child of await this.listFolders(client, parent)) {
        if (roots.has(child) || this.rejected.has(`${container}/${child}`) || !rootAllowed(this.filters, child, false)) continue;
        const before = roots.size;
        await this.walk(client, child, parent, 1, roots, parents);
        if (roots.size > before) this.logger.info({ container, resources: roots.size }, 'new flow log resource found');
      }
    }
  }

  private async walk(
    client: ContainerClient,
    prefix: string,
    parent: string | undefined,
    depth: number,
    roots: Set<string>,
    parents: Set<string>,
  ): Promise<void> {
    if (depth > MAX_ROOT_DEPTH) return;
    const children = await this.listFolders(client, prefix);
    if (children.some((child) => child.slice(prefix.length).startsWith('y='))) {
      if (rootAllowed(this.filters, prefix, true)) roots.add(prefix);
      else this.rejected.add(`${client.containerName}/${prefix}`);
      if (parent !== undefined) parents.add(parent);
      return;
    }
    for (const child of children) {
      if (rootAllowed(this.filters, child, false)) await this.walk(client, child, prefix, depth + 1, roots, parents);
    }
  }

  /** Hour prefixes under `root` from `fromMs` on, found folder by folder (y=, m=, d=, h=). */
  private async existingHourPrefixes(client: ContainerClient, root: string, fromMs: number): Promise<string[]> {
    const result: string[] = [];
    const levels: { key: string; end: (parts: number[]) => number }[] = [
      { key: 'y', end: ([y]) => Date.UTC(y! + 1, 0) },
      { key: 'm', end: ([y, m]) => Date.UTC(y!, m) },
      { key: 'd', end: ([y, m, d]) => Date.UTC(y!, m! - 1, d! + 1) },
      { key: 'h', end: ([y, m, d, h]) => Date.UTC(y!, m! - 1, d, h! + 1) },
    ];
    const descend = async (prefix: string, level: number, parts: number[]): Promise<void> => {
      const spec = levels[level];
      if (spec === undefined) {
        result.push(prefix);
        return;
      }
      for (const child of await this.listFolders(client, prefix)) {
        const match = new RegExp(`^${spec.key}=(\\d+)/$`).exec(child.slice(prefix.length));
        if (match === null) continue;
        const next = [...parts, Number(match[1])];
        if (spec.end(next) > fromMs) await descend(child, level + 1, next);
      }
    };
    await descend(root, 0, []);
    return result;
  }
}

async function mapLimit<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(workers);
}
