import type { BlockBlobClient } from '@azure/storage-blob';
import type { Logger } from 'pino';
import { FlowLogReader } from '../azure/flowLogReader.js';
import type { ParseProblem } from '../azure/problems.js';
import { columnSink } from '../azure/tupleSink.js';
import { FlowColumns } from '../flow/flowColumns.js';
import type { BlobCursor } from '../state/sourceState.js';
import { unquoteEtag } from './blobDiscovery.js';

/**
 * Incremental reading of one PT1H.json block blob. Azure commits a head block `{"records":[`,
 * one block per minute (comma-prefixed after the first) and a tail block `]}`, and re-commits the
 * whole list as the hour goes on. Only the committed block list is read; the byte ranges of
 * blocks past the cursor are downloaded in one ranged request per group, head and tail are
 * recognised by their content (never by size or offset), and each block is parsed on its own so
 * a corrupt block costs only its own records.
 */

/** Cursor fields to store once the records of a step were handed to the transport. */
export type CursorAdvance = Partial<Omit<BlobCursor, 'hourMs' | 'failures' | 'retryAfterMs' | 'poisoned' | 'activeUntilMs'>>;

export interface BlockReadStep {
  readonly records: FlowColumns;
  readonly azureRecords: number;
  readonly inputBytes: number;
  /** Data blocks parsed in this step. */
  readonly blocks: number;
  /** Undefined: nothing to record (part of a blob read whole). */
  readonly advance?: CursorAdvance;
}

export interface BlockReaderOptions {
  /** `container/name`, for logs and problem contexts. */
  readonly label: string;
  readonly onProblem: (problem: ParseProblem) => void;
  readonly logger: Logger;
  /** Called when the cursor's block is gone and the blob is read again from the start. */
  readonly onRewrite?: () => void;
  /** Largest download per step; a bigger single block is still read in one piece. */
  readonly maxGroupBytes: number;
  /** Creation time from the listing: a different one than the cursor's means a new blob. */
  readonly createdOnMs?: number;
  /** Flows before this time (epoch ms) are dropped (`--start-at <time>`). */
  readonly notBeforeMs?: number;
}

const HEAD_PATTERN = /^\s*\{\s*"records"\s*:\s*\[\s*$/;
const TAIL_PATTERN = /^\s*\]\s*\}\s*$/;
/** A tail candidate is downloaded to check its content only when it is this small. */
const MAX_TAIL_BYTES = 64;
/** Puts the record splitter inside the records array for a block read on its own. */
const ARRAY_OPEN = Buffer.from('[');

export function isHeadBlock(bytes: Buffer): boolean {
  return bytes.length <= 256 && HEAD_PATTERN.test(bytes.toString('utf8'));
}

export function isTailBlock(bytes: Buffer): boolean {
  return bytes.length <= MAX_TAIL_BYTES && TAIL_PATTERN.test(bytes.toString('utf8'));
}

interface Layout {
  readonly ids: string[];
  readonly starts: number[];
  readonly ends: number[];
  readonly etag: string;
  /** Quoted, as If-Match wants it. */
  readonly rawEtag: string;
  readonly contentLength: number;
}

async function readLayout(blob: BlockBlobClient): Promise<Layout> {
  const list = await blob.getBlockList('committed');
  const ids: string[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  let offset = 0;
  for (const block of list.committedBlocks ?? []) {
    ids.push(block.name);
    starts.push(offset);
    offset += block.size;
    ends.push(offset);
  }
  return { ids, starts, ends, etag: unquoteEtag(list.etag), rawEtag: list.etag ?? '', contentLength: list.blobContentLength ?? offset };
}

async function downloadRange(blob: BlockBlobClient, offset: number, count: number, rawEtag: string): Promise<Buffer> {
  const response = await blob.download(offset, count, { conditions: rawEtag === '' ? {} : { ifMatch: rawEtag }, maxRetryRequests: 3 });
  const chunks: Buffer[] = [];
  for await (const chunk of response.readableStreamBody as AsyncIterable<Buffer>) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  if (bytes.length !== count) throw Object.assign(new Error(`short read: ${bytes.length} of ${count} bytes at offset ${offset}`), { code: 'SHORT_READ' });
  return bytes;
}

/** Where the cursor's block is now, or -1 when it is gone or moved (the blob was rewritten). */
function locateCursor(layout: Layout, cursor: BlobCursor): number {
  if (cursor.lastBlockId === undefined) return -1;
  const hint = cursor.lastBlockIndex;
  let index = hint !== undefined && layout.ids[hint] === cursor.lastBlockId ? hint : layout.ids.lastIndexOf(cursor.lastBlockId);
  if (index >= 0 && cursor.endOffset !== undefined && layout.ends[index] !== cursor.endOffset) index = -1;
  return index;
}

/** Reads what was committed to the blob since the cursor, one step per group of blocks. */
export async function* readNewBlocks(blob: BlockBlobClient, cursor: BlobCursor, options: BlockReaderOptions): AsyncGenerator<BlockReadStep> {
  const layout = await readLayout(blob);
  const started = cursor.lastBlockId !== undefined || cursor.wholeBlob === true;
  const recreated = started && cursor.createdOnMs !== undefined && options.createdOnMs !== undefined && cursor.createdOnMs !== options.createdOnMs;
  const createdOn = options.createdOnMs === undefined ? {} : { createdOnMs: options.createdOnMs };

  if (layout.ids.length === 0) {
    // Written in one piece (Put Blob): no block list to follow. Read it whole, once per ETag.
    if (layout.contentLength === 0) return;
    if (cursor.wholeBlob === true && cursor.doneEtag === layout.etag && !recreated) return;
    if (started) warnRewritten(options, cursor, 'the blob has no committed blocks any more');
    yield* readWhole(blob, layout, options, createdOn);
    return;
  }

  let next = 0;
  if (started) {
    const index = recreated || cursor.wholeBlob === true ? -1 : locateCursor(layout, cursor);
    if (index < 0) {
      warnRewritten(options, cursor, recreated ? 'its creation time changed' : `block ${cursor.lastBlockId} is no longer committed where it was`);
    } else next = index + 1;
  }
  const last = layout.ids.length - 1;
  const reset = next === 0 ? { wholeBlob: undefined, tailBlockId: undefined } : {};

  if (next > last || (next === last && last > 0 && layout.ids[last] === cursor.tailBlockId && layout.ends[last]! - layout.starts[last]! <= MAX_TAIL_BYTES)) {
    // Nothing past the cursor but the known tail: no download.
    yield { records: new FlowColumns(1), azureRecords: 0, inputBytes: 0, blocks: 0, advance: { doneEtag: layout.etag, ...createdOn } };
    return;
  }

  for (let first = next; first <= last;) {
    let end = first;
    let bytes = layout.ends[first]! - layout.starts[first]!;
    while (end < last && bytes + (layout.ends[end + 1]! - layout.starts[end + 1]!) <= options.maxGroupBytes) {
      end++;
      bytes = layout.ends[end]! - layout.starts[first]!;
    }
    const base = layout.starts[first]!;
    const buffer = await downloadRange(blob, base, bytes, layout.rawEtag);
    const records = new FlowColumns();
    let azureRecords = 0;
    let dataBlocks = 0;
    let cursorIndex = -1;
    let tailBlockId: string | undefined;
    for (let i = first; i <= end; i++) {
      const block = buffer.subarray(layout.starts[i]! - base, layout.ends[i]! - base);
      if (i === 0 && isHeadBlock(block)) {
        cursorIndex = 0;
        continue;
      }
      if (i === last && i > 0 && isTailBlock(block)) {
        tailBlockId = layout.ids[i];
        continue;
      }
      const reader = new FlowLogReader(`${options.label} block ${i}`, columnSink(records, options.onProblem));
      if (i > 0) reader.push(ARRAY_OPEN);
      reader.push(block);
      reader.end();
      azureRecords += reader.recordsRead;
      dataBlocks++;
      cursorIndex = i;
    }
    if (options.notBeforeMs !== undefined) records.dropBefore(options.notBeforeMs);
    const advance: CursorAdvance = { ...reset, ...createdOn };
    if (cursorIndex >= 0) {
      advance.lastBlockId = layout.ids[cursorIndex];
      advance.lastBlockIndex = cursorIndex;
      advance.endOffset = layout.ends[cursorIndex];
    }
    if (end === last) {
      advance.doneEtag = layout.etag;
      advance.tailBlockId = tailBlockId;
    } else advance.doneEtag = undefined;
    yield { records, azureRecords, inputBytes: bytes, blocks: dataBlocks, advance };
    first = end + 1;
  }
}

function warnRewritten(options: BlockReaderOptions, cursor: BlobCursor, why: string): void {
  options.onRewrite?.();
  options.logger.warn(
    { blob: options.label, lastBlockId: cursor.lastBlockId, lastBlockIndex: cursor.lastBlockIndex },
    `blob was rewritten (${why}): reading it again from the start`,
  );
}

async function* readWhole(
  blob: BlockBlobClient,
  layout: Layout,
  options: BlockReaderOptions,
  createdOn: { createdOnMs?: number },
): AsyncGenerator<BlockReadStep> {
  const response = await blob.download(0, undefined, { conditions: layout.rawEtag === '' ? {} : { ifMatch: layout.rawEtag }, maxRetryRequests: 3 });
  const records = new FlowColumns();
  let counted = 0;
  const reader = new FlowLogReader(options.label, columnSink(records, options.onProblem));
  // No block ids to point at inside: parts are acknowledged without moving the cursor, which is
  // set only when the whole blob went out (a crash part-way sends the blob again).
  for await (const chunk of response.readableStreamBody as AsyncIterable<Buffer>) {
    reader.push(chunk);
    if (options.notBeforeMs !== undefined) records.dropBefore(options.notBeforeMs);
    yield { records, azureRecords: reader.recordsRead - counted, inputBytes: chunk.length, blocks: 0 };
    counted = reader.recordsRead;
    // Emptied, not replaced: the reader's sink holds these columns.
    records.clear();
  }
  reader.end();
  if (options.notBeforeMs !== undefined) records.dropBefore(options.notBeforeMs);
  yield {
    records,
    azureRecords: reader.recordsRead - counted,
    inputBytes: 0,
    blocks: 1,
    advance: {
      wholeBlob: true,
      doneEtag: layout.etag,
      lastBlockId: undefined,
      lastBlockIndex: undefined,
      endOffset: undefined,
      tailBlockId: undefined,
      ...createdOn,
    },
  };
}

/**
 * For `--start-at now`: the cursor that skips everything committed so far (the last data block,
 * the head when there is none), without downloading more than a tail candidate.
 */
export async function cursorAtEnd(blob: BlockBlobClient, createdOnMs: number | undefined): Promise<CursorAdvance> {
  const layout = await readLayout(blob);
  const createdOn = createdOnMs === undefined ? {} : { createdOnMs };
  if (layout.ids.length === 0) return layout.contentLength === 0 ? {} : { wholeBlob: true, doneEtag: layout.etag, ...createdOn };
  const last = layout.ids.length - 1;
  let cursorIndex = last;
  let tailBlockId: string | undefined;
  const lastSize = layout.ends[last]! - layout.starts[last]!;
  if (last > 0 && lastSize <= MAX_TAIL_BYTES && isTailBlock(await downloadRange(blob, layout.starts[last]!, lastSize, layout.rawEtag))) {
    cursorIndex = last - 1;
    tailBlockId = layout.ids[last];
  }
  return {
    lastBlockId: layout.ids[cursorIndex],
    lastBlockIndex: cursorIndex,
    endOffset: layout.ends[cursorIndex],
    tailBlockId,
    doneEtag: layout.etag,
    ...createdOn,
  };
}
