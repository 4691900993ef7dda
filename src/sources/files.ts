import type { Stats } from 'node:fs';
import { readdir, stat, type FileHandle } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { FlowColumns } from '../flow/flowColumns.js';
import { FlowLogReader } from '../azure/flowLogReader.js';
import { ParseCache } from '../azure/parseCache.js';
import { columnSink, type ParseReports } from '../azure/tupleSink.js';
import type { FlowBatch } from './flowBatch.js';
import { NOT_REGULAR, openRegularFile } from '../regularFile.js';
import { UserError } from '../userError.js';

export class InputError extends UserError {}

export interface FlowLogFile {
  /** For logs and summaries: the name's bytes that are not UTF-8 shown as `\xNN`. */
  readonly path: string;
  /** What to open: the name's own bytes when they are not UTF-8, so such a file is still read. */
  readonly fsPath: string | Buffer;
  readonly bytes: number;
  /** Epoch ms of the file's first record, or of its y=/m=/d=/h= path, for ordering. */
  readonly startMs: number;
  /** The NICs its head names, and by which kind of flow log (for --prefer before their tuples come). */
  readonly nics?: { readonly kind: 'nsg' | 'vnet'; readonly resourceId: string; readonly macs: readonly string[] };
}

/** An input left out of a replay: an unreadable directory, a file gone while listing. */
export interface SkippedInput {
  readonly path: string;
  /** The system's code (`EACCES`) or ours (`not-a-regular-file`). */
  readonly code: string;
  readonly reason: string;
}

/**
 * Expands files and directories (recursing for *.json) into flow log files ordered by time, so a
 * replay reaches the collector in the order Azure wrote it. A missing path is an error: a typo
 * must not look like an empty replay. What cannot be listed inside a directory (an unreadable
 * subdirectory) goes to `onSkipped` and the walk goes on, as an unreadable file does when read.
 */
export async function listFlowLogFiles(paths: readonly string[], onSkipped: (input: SkippedInput) => void = () => {}): Promise<FlowLogFile[]> {
  const found: Omit<FlowLogFile, 'startMs' | 'nics'>[] = [];
  for (const path of paths) {
    const info = await statInput(path);
    if (info.isDirectory()) await walk(Buffer.from(resolve(path)), found, onSkipped, new Set([directoryKey(info)]));
    else if (info.isFile()) found.push({ path: resolve(path), fsPath: resolve(path), bytes: info.size });
    else onSkipped(notRegular(resolve(path)));
  }
  const files = await Promise.all(found.map(async (f) => ({ ...f, ...(await headFacts(f.fsPath)) })));
  return files.sort((a, b) => a.startMs - b.startMs || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** stat() of a path the user named; a missing one is a one-line error (a typo must not look like an empty replay). */
export async function statInput(path: string): Promise<Stats> {
  try {
    return await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read '${path}': ${code === 'ENOENT' ? 'no such file or directory' : (code ?? (error as Error).message)}`, { cause: error });
  }
}

const SEPARATOR = Buffer.from(sep);
const JSON_SUFFIX = Buffer.from('.json');

/** Directories are walked by the bytes of their names: a name that is not UTF-8 must still open. */
/**
 * @param seen the directories and files met so far (device and inode): a symbolic link back up
 *   the tree is not followed round and round, and nothing is read twice
 */
async function walk(directory: Buffer, found: Omit<FlowLogFile, 'startMs'>[], onSkipped: (input: SkippedInput) => void, seen: Set<string>): Promise<void> {
  let entries;
  try {
    entries = await readdir(directory, { withFileTypes: true, encoding: 'buffer' });
  } catch (error) {
    onSkipped(skipped(directory, error, 'cannot list directory'));
    return;
  }
  for (const entry of entries) {
    const path = Buffer.concat([directory, SEPARATOR, entry.name]);
    if (entry.isSymbolicLink()) {
      // Logs mounted or gathered elsewhere are often linked in: followed, as a path given by name is.
      await followLink(path, endsWithJson(entry.name), found, onSkipped, seen);
      continue;
    }
    if (entry.isDirectory()) {
      const info = await stat(path).catch(() => undefined);
      if (info === undefined || !seen.has(directoryKey(info))) {
        if (info !== undefined) seen.add(directoryKey(info));
        await walk(path, found, onSkipped, seen);
      }
    } else if (!endsWithJson(entry.name)) continue;
    else if (entry.isFIFO() || entry.isSocket() || entry.isCharacterDevice() || entry.isBlockDevice()) onSkipped(notRegular(displayPath(path)));
    else if (entry.isFile()) {
      try {
        addFile(path, await stat(path), found, seen);
      } catch (error) {
        // Gone or unreadable between the listing and now.
        onSkipped(skipped(path, error, 'cannot read file'));
      }
    }
  }
}

async function followLink(
  path: Buffer,
  json: boolean,
  found: Omit<FlowLogFile, 'startMs'>[],
  onSkipped: (input: SkippedInput) => void,
  seen: Set<string>,
): Promise<void> {
  let info: Stats;
  try {
    info = await stat(path);
  } catch (error) {
    // A link to nothing named like a flow log is told; other dangling links are none of ours.
    if (json) onSkipped(skipped(path, error, 'cannot read file'));
    return;
  }
  if (info.isDirectory()) {
    const key = directoryKey(info);
    if (seen.has(key)) return;
    seen.add(key);
    await walk(path, found, onSkipped, seen);
  } else if (!json) return;
  else if (info.isFile()) addFile(path, info, found, seen);
  else onSkipped(notRegular(displayPath(path)));
}

/** A file reached twice (directly and through a link) is replayed once. */
function addFile(path: Buffer, info: Stats, found: Omit<FlowLogFile, 'startMs'>[], seen: Set<string>): void {
  const key = `file ${directoryKey(info)}`;
  if (seen.has(key)) return;
  seen.add(key);
  found.push({ path: displayPath(path), fsPath: fsPath(path), bytes: info.size });
}

function directoryKey(info: Stats): string {
  return `${info.dev}:${info.ino}`;
}

/**
 * A FIFO, socket or device is never read: opening a FIFO waits for a writer, holding one of
 * libuv's threads, and a process cannot even exit while one is held.
 */
function notRegular(path: string): SkippedInput {
  return { path, code: NOT_REGULAR, reason: 'not a regular file (a FIFO, socket or device)' };
}

function openInput(path: string | Buffer): Promise<FileHandle> {
  return openRegularFile(path, () => new InputError(`'${typeof path === 'string' ? path : displayPath(path)}' is not a regular file`, { code: NOT_REGULAR }));
}

function skipped(path: Buffer, error: unknown, what: string): SkippedInput {
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  return { path: displayPath(path), code, reason: `${what}: ${code}` };
}

function endsWithJson(name: Buffer): boolean {
  return (
    name.length >= JSON_SUFFIX.length &&
    name
      .subarray(name.length - JSON_SUFFIX.length)
      .toString('latin1')
      .toLowerCase() === '.json'
  );
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A path's bytes as a string for people: UTF-8, or ASCII with every other byte as `\xNN`. */
export function displayPath(path: Buffer): string {
  try {
    return strictUtf8.decode(path);
  } catch {
    let text = '';
    for (const byte of path) text += byte >= 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
    return text;
  }
}

/** The string when the bytes are UTF-8 (every usual name), else the bytes themselves. */
function fsPath(path: Buffer): string | Buffer {
  try {
    return strictUtf8.decode(path);
  } catch {
    return path;
  }
}

const TIME_PATTERN = /"time"\s*:\s*"([^"]{10,40})"/;
const CATEGORY_PATTERN = /"category"\s*:\s*"(NetworkSecurityGroupFlowEvent|FlowLogFlowEvent)"/;
const RESOURCE_PATTERN = /"(?:resourceId|flowLogResourceID)"\s*:\s*"([^"]{1,400})"/;
const MAC_PATTERN = /"(?:mac|macAddress)"\s*:\s*"([0-9A-Fa-f:-]{12,17})"/g;
const PATH_TIME_PATTERN = /y=(\d{4})\/m=(\d{2})\/d=(\d{2})\/h=(\d{2})/;

/** Reads only the head of the file: ordering must not cost a parse of every file. */
async function headFacts(path: string | Buffer): Promise<Pick<FlowLogFile, 'startMs' | 'nics'>> {
  let head = '';
  try {
    const handle = await openInput(path);
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
  const category = CATEGORY_PATTERN.exec(head);
  const macs = [...head.matchAll(MAC_PATTERN)].map((match) => match[1]!);
  const nics =
    category === null || macs.length === 0
      ? undefined
      : {
          kind: category[1] === 'FlowLogFlowEvent' ? ('vnet' as const) : ('nsg' as const),
          resourceId: RESOURCE_PATTERN.exec(head)?.[1] ?? '',
          macs: [...new Set(macs)],
        };
  return { startMs: startTimeMs(head, path), ...(nics === undefined ? {} : { nics }) };
}

function startTimeMs(head: string, path: string | Buffer): number {
  const time = TIME_PATTERN.exec(head);
  if (time !== null) {
    const ms = Date.parse(time[1]!);
    if (!Number.isNaN(ms)) return ms;
  }
  const fromPath = PATH_TIME_PATTERN.exec((typeof path === 'string' ? path : displayPath(path)).replaceAll('\\', '/'));
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
export async function* readFlowLogFile(
  file: string | Buffer,
  reports: ParseReports | ParseReports['problem'],
  options: { readonly label?: string; readonly cache?: ParseCache } = {},
): AsyncGenerator<FlowBatch> {
  const label = options.label ?? (typeof file === 'string' ? file : displayPath(file));
  const records = new FlowColumns();
  let azureRecords = 0;
  const reader = new FlowLogReader(label, columnSink(records, reports), undefined, { cache: options.cache ?? new ParseCache() });
  // Two read buffers for the whole file, not a fresh one per chunk (as a read stream gives): the
  // kernel faulting in new pages for every chunk cost more than parsing it. While one chunk is
  // parsed the next is read into the other. The reader keeps nothing of a chunk once push() returns.
  let reading = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  let spare = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  const handle = await openInput(file);
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
      const batch: FlowBatch = { records, source: label, azureRecords: reader.recordsRead - azureRecords, inputBytes: bytesRead };
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
  yield { records, source: label, azureRecords: reader.recordsRead - azureRecords, inputBytes: 0 };
}
