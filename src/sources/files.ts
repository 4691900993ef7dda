import { open, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FlowColumns } from '../flow/flowColumns.js';
import { FlowLogReader } from '../azure/flowLogReader.js';
import { ParseCache } from '../azure/parseCache.js';
import { columnSink, type ParseReports } from '../azure/tupleSink.js';
import type { FlowBatch } from './flowBatch.js';
import { UserError } from '../userError.js';

export class InputError extends UserError {}

export interface FlowLogFile {
  readonly path: string;
  readonly bytes: number;
  /** Epoch ms of the file's first record, or of its y=/m=/d=/h= path, for ordering. */
  readonly startMs: number;
}

/**
 * Expands files and directories (recursing for *.json) into flow log files ordered by time, so a
 * replay reaches the collector in the order Azure wrote it. A missing path is an error: a typo
 * must not look like an empty replay.
 */
export async function listFlowLogFiles(paths: readonly string[]): Promise<FlowLogFile[]> {
  const found: { path: string; bytes: number }[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      throw new InputError(
        `cannot read '${path}': ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`,
      );
    }
    if (info.isDirectory()) await walk(resolve(path), found);
    else found.push({ path: resolve(path), bytes: info.size });
  }
  const files = await Promise.all(found.map(async (f) => ({ ...f, startMs: await firstTimeMs(f.path) })));
  return files.sort((a, b) => a.startMs - b.startMs || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function walk(directory: string, found: { path: string; bytes: number }[]): Promise<void> {
  const entries = await readdir(directory, { withFileTypes: true });
  for (const entry of entries) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) await walk(path, found);
    else if (entry.isFile() && entry.name.toLowerCase().endsWith('.json')) found.push({ path, bytes: (await stat(path)).size });
  }
}

const TIME_PATTERN = /"time"\s*:\s*"([^"]{10,40})"/;
const PATH_TIME_PATTERN = /y=(\d{4})\/m=(\d{2})\/d=(\d{2})\/h=(\d{2})/;

/** Reads only the head of the file: ordering must not cost a parse of every file. */
async function firstTimeMs(path: string): Promise<number> {
  let head = '';
  try {
    const handle = await open(path, 'r');
    try {
      const buf = Buffer.alloc(8192);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      head = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    // Unreadable files sort last; reading them reports the error.
  }
  const time = TIME_PATTERN.exec(head);
  if (time !== null) {
    const ms = Date.parse(time[1]!);
    if (!Number.isNaN(ms)) return ms;
  }
  const fromPath = PATH_TIME_PATTERN.exec(path.replaceAll('\\', '/'));
  if (fromPath !== null) return Date.UTC(Number(fromPath[1]), Number(fromPath[2]) - 1, Number(fromPath[3]), Number(fromPath[4]));
  return Number.MAX_SAFE_INTEGER;
}

/**
 * Bytes read per step. A record cut by the end of a chunk is read twice (once cut out by the
 * splitter, once parsed), so a chunk holds many records; the batch it makes is still small next to
 * the memory a replay may use.
 */
const CHUNK_BYTES = 1 << 20;

/**
 * Streams one file into batches of flows, one batch per chunk read. Malformed input goes to
 * `onProblem` and never stops the file.
 */
export async function* readFlowLogFile(file: string, reports: ParseReports | ParseReports['problem'], cache = new ParseCache()): AsyncGenerator<FlowBatch> {
  const records = new FlowColumns();
  let azureRecords = 0;
  const reader = new FlowLogReader(file, columnSink(records, reports), undefined, { cache });
  // Two read buffers for the whole file, not a fresh one per chunk (as a read stream gives): the
  // kernel faulting in new pages for every chunk cost more than parsing it. While one chunk is
  // parsed the next is read into the other. The reader keeps nothing of a chunk once push() returns.
  let reading = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  let spare = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  const handle = await open(file, 'r');
  // A read ahead may fail long before it is awaited (while the pipeline waits on pacing): it is
  // marked handled at once, and its error still comes out of the `await` below.
  const readAhead = (into: Buffer) => {
    const read = handle.read(into, 0, CHUNK_BYTES, null);
    read.catch(() => undefined);
    return read;
  };
  let next = readAhead(reading);
  try {
    for (;;) {
      const { bytesRead } = await next;
      if (bytesRead === 0) break;
      const chunk = reading;
      reading = spare;
      spare = chunk;
      next = readAhead(reading);
      reader.push(chunk.subarray(0, bytesRead));
      const batch: FlowBatch = { records, source: file, azureRecords: reader.recordsRead - azureRecords, inputBytes: bytesRead };
      azureRecords = reader.recordsRead;
      // The pipeline reads a batch before it asks for the next: its columns are reused.
      yield batch;
      records.clear();
    }
  } finally {
    // A read may still be on its way when the consumer stops early: let it finish before closing.
    await next.catch(() => undefined);
    await handle.close();
  }
  reader.end();
  yield { records, source: file, azureRecords: reader.recordsRead - azureRecords, inputBytes: 0 };
}
