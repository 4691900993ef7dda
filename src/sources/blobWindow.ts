import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { FlowLogReader } from '../azure/flowLogReader.js';
import type { ParseProblem } from '../azure/problems.js';
import { columnSink } from '../azure/tupleSink.js';
import { UserError } from '../flow/errors.js';
import { FlowColumns } from '../flow/flowColumns.js';
import { classifyAzureError } from '../state/azureErrors.js';
import { HOUR_MS, macAllowed, parseFlowLogBlobName, rootAllowed, type BlobFilters } from './blobPaths.js';
import type { FlowBatch } from './flowBatch.js';

/**
 * Read-only access to the flow log blobs of a time window, for `report`: list the PT1H.json blobs
 * of the hours in the window and download each whole. Nothing is written anywhere: no cursor, no
 * state, no container created. (The live follower's discovery keeps state between polls; a
 * report lists once, so it walks the folders itself.)
 */

export interface WindowBlob {
  readonly container: string;
  readonly name: string;
  readonly hourMs: number;
  readonly contentLength: number;
}

/** Deepest folder level searched for resource roots (the folders holding `y=` folders). */
const MAX_ROOT_DEPTH = 24;

/**
 * The blobs whose `y=/m=/d=/h=` hour is in [fromHourMs, toHourMs] (both hour starts), oldest
 * hour first. Resource roots are found by a folder walk; under each, only the year, month and
 * day folders overlapping the window are listed. A missing container is reported, not an error.
 */
export async function listWindowBlobs(
  service: BlobServiceClient,
  containers: readonly string[],
  filters: BlobFilters,
  fromHourMs: number,
  toHourMs: number,
): Promise<{ blobs: WindowBlob[]; missingContainers: string[] }> {
  const blobs: WindowBlob[] = [];
  const missingContainers: string[] = [];
  const endMs = toHourMs + HOUR_MS;
  for (const container of containers) {
    const client = service.getContainerClient(container);
    try {
      for (const root of await findRoots(client, filters)) {
        for (const day of await dayPrefixes(client, root, fromHourMs, endMs)) {
          for await (const item of client.listBlobsFlat({ prefix: day })) {
            if (!item.name.toLowerCase().endsWith('.json')) continue;
            const parsed = parseFlowLogBlobName(item.name);
            if (parsed === undefined || parsed.hourMs < fromHourMs || parsed.hourMs > toHourMs || !macAllowed(filters, parsed.mac)) continue;
            blobs.push({ container, name: item.name, hourMs: parsed.hourMs, contentLength: item.properties.contentLength ?? 0 });
          }
        }
      }
    } catch (error) {
      const failure = classifyAzureError(error);
      if (failure.kind === 'not-found') {
        missingContainers.push(container);
        continue;
      }
      throw translate(failure, `cannot list container '${container}'`);
    }
  }
  blobs.sort((a, b) => a.hourMs - b.hourMs || compareText(a.container, b.container) || compareText(a.name, b.name));
  return { blobs, missingContainers };
}

/** Downloads one blob and reads it into batches of flows, as readFlowLogFile does for files. */
export async function* readWindowBlob(service: BlobServiceClient, blob: WindowBlob, onProblem: (problem: ParseProblem) => void): AsyncGenerator<FlowBatch> {
  const records = new FlowColumns();
  const source = `${blob.container}/${blob.name}`;
  const reader = new FlowLogReader(source, columnSink(records, onProblem));
  let body: NodeJS.ReadableStream | undefined;
  try {
    body = (await service.getContainerClient(blob.container).getBlobClient(blob.name).download()).readableStreamBody;
  } catch (error) {
    throw translate(classifyAzureError(error), `cannot read blob '${source}'`);
  }
  let azureRecords = 0;
  if (body !== undefined) {
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        reader.push(chunk);
        yield { records, source, azureRecords: reader.recordsRead - azureRecords, inputBytes: chunk.length };
        azureRecords = reader.recordsRead;
        records.clear();
      }
    } catch (error) {
      if (error instanceof UserError) throw error;
      throw translate(classifyAzureError(error), `cannot read blob '${source}'`);
    }
  }
  reader.end();
  yield { records, source, azureRecords: reader.recordsRead - azureRecords, inputBytes: 0 };
}

/** A blob that cannot be read, as the report command shows it; auth failures name the role. */
export class BlobReadError extends UserError {}

function translate(failure: ReturnType<typeof classifyAzureError>, what: string): BlobReadError {
  const hint = failure.kind === 'auth' ? ' (the identity needs Storage Blob Data Reader, or a SAS with read and list)' : '';
  return new BlobReadError(`${what}: ${failure.message}${hint}`, { code: failure.kind === 'auth' ? 'blob-auth' : 'blob-read' });
}

async function findRoots(client: ContainerClient, filters: BlobFilters): Promise<string[]> {
  const roots: string[] = [];
  const walk = async (prefix: string, depth: number): Promise<void> => {
    if (depth > MAX_ROOT_DEPTH) return;
    const children = await listFolders(client, prefix);
    if (children.some((child) => child.slice(prefix.length).startsWith('y='))) {
      if (rootAllowed(filters, prefix, true)) roots.push(prefix);
      return;
    }
    for (const child of children) if (rootAllowed(filters, child, false)) await walk(child, depth + 1);
  };
  await walk('', 0);
  return roots;
}

/** The `y=/m=/d=/` prefixes under `root` whose day overlaps [fromMs, endMs). */
async function dayPrefixes(client: ContainerClient, root: string, fromMs: number, endMs: number): Promise<string[]> {
  const days: string[] = [];
  const levels: { key: string; span: (parts: number[]) => [number, number] }[] = [
    { key: 'y', span: ([y]) => [Date.UTC(y!, 0), Date.UTC(y! + 1, 0)] },
    { key: 'm', span: ([y, m]) => [Date.UTC(y!, m! - 1), Date.UTC(y!, m)] },
    { key: 'd', span: ([y, m, d]) => [Date.UTC(y!, m! - 1, d), Date.UTC(y!, m! - 1, d! + 1)] },
  ];
  const descend = async (prefix: string, level: number, parts: number[]): Promise<void> => {
    const spec = levels[level];
    if (spec === undefined) {
      days.push(prefix);
      return;
    }
    for (const child of await listFolders(client, prefix)) {
      const match = new RegExp(`^${spec.key}=(\\d+)/$`).exec(child.slice(prefix.length));
      if (match === null) continue;
      const next = [...parts, Number(match[1])];
      const [start, end] = spec.span(next);
      if (start < endMs && end > fromMs) await descend(child, level + 1, next);
    }
  };
  await descend(root, 0, []);
  return days;
}

async function listFolders(client: ContainerClient, prefix: string): Promise<string[]> {
  const folders: string[] = [];
  for await (const item of client.listBlobsByHierarchy('/', prefix === '' ? {} : { prefix })) {
    if (item.kind === 'prefix') folders.push(item.name);
  }
  return folders;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
