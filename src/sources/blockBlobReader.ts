import { createHash } from 'node:crypto';
import type { BlockBlobClient } from '@azure/storage-blob';
import type { Logger } from 'pino';
import type { ParseProblem } from '../azure/problems.js';
import { FlowColumns } from '../flow/flowColumns.js';
import type { BlobCursor } from '../state/sourceState.js';
import { unquoteEtag } from './blobDiscovery.js';
import { parsePiece, WholeBlobParser, type CursorAdvance, type FetchedPiece } from './blobPieces.js';
import type { ParsedFlows } from './flowBatch.js';

export type { CursorAdvance } from './blobPieces.js';

/**
 * Incremental reading of one PT1H.json block blob through its block list. Azure commits a head
 * block `{"records":[`, one block per minute (comma-prefixed after the first) and a tail block
 * `]}`, and re-commits the whole list as the hour goes on. Only the committed block list is read;
 * the byte ranges of blocks past the cursor are downloaded in one ranged request per group, head
 * and tail are recognised by their content (never by size or offset), and each block is parsed on
 * its own so a corrupt block costs only its own records. (A blob that only grew is read without
 * the block list: blobGrowth.ts.)
 */

/** Memory held by downloaded pieces not parsed yet, shared by the concurrent reads of a source. */
export interface ByteBudget {
  acquire(bytes: number): Promise<void>;
  release(bytes: number): void;
}

export const NO_BUDGET: ByteBudget = { acquire: () => Promise.resolve(), release: () => {} };

/** Storage requests of a read, by kind (for the pass summary and the bench). */
export type RequestKind = 'blockList' | 'download';

export interface BlockReaderOptions {
  /** `container/name`, for logs and problem contexts. */
  readonly label: string;
  readonly logger: Logger;
  /** Called when the cursor's block is gone and the blob is read again from the start. */
  readonly onRewrite?: () => void;
  /** Largest download per piece; a bigger single block is still read in one piece. */
  readonly maxGroupBytes: number;
  /** Creation time from the listing: a different one than the cursor's means a new blob. */
  readonly createdOnMs?: number;
  readonly budget?: ByteBudget;
  readonly onRequest?: (kind: RequestKind) => void;
}

export interface BlockReadStep extends ParsedFlows {
  /** Data blocks parsed in this step. */
  readonly blocks: number;
  /** Undefined: nothing to record (part of a blob read whole). */
  readonly advance?: CursorAdvance;
}

const HEAD_PATTERN = /^\s*\{\s*"records"\s*:\s*\[\s*$/;
const TAIL_PATTERN = /^\s*\]\s*\}\s*$/;
/** A tail candidate is downloaded to check its content only when it is this small. */
const MAX_TAIL_BYTES = 64;
/** Bytes before the read offset the growth shortcut checks. */
const LAST_BYTES_CHECKED = 256;
/** Parts of a blob read whole go out in pieces of about this size. */
const WHOLE_PIECE_BYTES = 1024 * 1024;

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

async function readLayout(blob: BlockBlobClient, options: Pick<BlockReaderOptions, 'onRequest'>): Promise<Layout> {
  options.onRequest?.('blockList');
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

interface Downloaded {
  readonly bytes: Buffer;
  /** The blob's creation time, from the response (`x-ms-creation-time`). */
  readonly createdOnMs: number | undefined;
}

async function downloadRange(blob: BlockBlobClient, offset: number, count: number, rawEtag: string, options: BlockReaderOptions): Promise<Downloaded> {
  options.onRequest?.('download');
  const response = await blob.download(offset, count, { conditions: rawEtag === '' ? {} : { ifMatch: rawEtag }, maxRetryRequests: 3 });
  const chunks: Buffer[] = [];
  for await (const chunk of response.readableStreamBody as AsyncIterable<Buffer>) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  if (bytes.length !== count) throw Object.assign(new Error(`short read: ${bytes.length} of ${count} bytes at offset ${offset}`), { code: 'SHORT_READ' });
  return { bytes, createdOnMs: response.createdOn?.getTime() };
}

/** A download holding `bytes` of the budget until its piece is parsed (released here if it fails). */
async function budgetedDownload(blob: BlockBlobClient, offset: number, count: number, rawEtag: string, options: BlockReaderOptions): Promise<Downloaded> {
  const budget = options.budget ?? NO_BUDGET;
  await budget.acquire(count);
  try {
    return await downloadRange(blob, offset, count, rawEtag, options);
  } catch (error) {
    budget.release(count);
    throw error;
  }
}

/**
 * Where the cursor's block is now, or -1 when it is gone or moved (the blob was rewritten). After
 * growth reads, the block ending where they stopped: it must follow the cursor's block.
 */
function locateCursor(layout: Layout, cursor: BlobCursor): number {
  if (cursor.lastBlockId === undefined) return -1;
  const hint = cursor.lastBlockIndex;
  let index = hint !== undefined && layout.ids[hint] === cursor.lastBlockId ? hint : layout.ids.lastIndexOf(cursor.lastBlockId);
  if (index >= 0 && cursor.endOffset !== undefined && layout.ends[index] !== cursor.endOffset) index = -1;
  if (index < 0 || cursor.grownToOffset === undefined) return index;
  const grownTo = cursor.grownToOffset;
  while (index < layout.ends.length && layout.ends[index]! < grownTo) index++;
  return layout.ends[index] === grownTo ? index : -1;
}

/**
 * Downloads what was committed to the blob since the cursor, one piece per group of blocks (at
 * most `maxGroupBytes`). Blobs written in one piece (no block list) are read whole, once per ETag.
 */
export async function* fetchNewBlocks(blob: BlockBlobClient, cursor: BlobCursor, options: BlockReaderOptions): AsyncGenerator<FetchedPiece> {
  const layout = await readLayout(blob, options);
  const started = cursor.lastBlockId !== undefined || cursor.wholeBlob === true;
  const recreated = started && cursor.createdOnMs !== undefined && options.createdOnMs !== undefined && cursor.createdOnMs !== options.createdOnMs;
  const createdOn = options.createdOnMs === undefined ? {} : { createdOnMs: options.createdOnMs };

  if (layout.ids.length === 0) {
    if (layout.contentLength === 0) return;
    if (cursor.wholeBlob === true && cursor.doneEtag === layout.etag && !recreated) return;
    if (started) warnRewritten(options, cursor, 'the blob has no committed blocks any more');
    yield* fetchWhole(blob, layout, options, createdOn);
    return;
  }

  let next = 0;
  if (started) {
    const index = recreated || cursor.wholeBlob === true ? -1 : locateCursor(layout, cursor);
    if (index < 0) {
      warnRewritten(
        options,
        cursor,
        recreated
          ? 'its creation time changed'
          : `block ${cursor.lastBlockId ?? ''} is no longer committed where it was (or no block ends where the last read stopped)`,
      );
    } else next = index + 1;
  }
  const last = layout.ids.length - 1;
  // A new position is stated in full: fields of the old one must not survive it.
  const reset: CursorAdvance = { grownToOffset: undefined, ...(next === 0 ? { wholeBlob: undefined, tailBlockId: undefined, lastBytes: undefined } : {}) };
  const done: CursorAdvance = { doneEtag: layout.etag, doneLength: layout.contentLength };

  if (next > last || (next === last && last > 0 && layout.ids[last] === cursor.tailBlockId && layout.ends[last]! - layout.starts[last]! <= MAX_TAIL_BYTES)) {
    // Nothing past the cursor but the known tail: no download. The position is restated by id.
    const at = next - 1;
    yield {
      kind: 'blocks',
      blocks: [],
      inputBytes: 0,
      heldBytes: 0,
      advance: { ...reset, lastBlockId: layout.ids[at], lastBlockIndex: at, endOffset: layout.ends[at], ...done, ...createdOn },
    };
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
    const { bytes: buffer, createdOnMs } = await budgetedDownload(blob, base, bytes, layout.rawEtag, options);
    const blocks: { index: number; bytes: Buffer }[] = [];
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
      blocks.push({ index: i, bytes: block });
      cursorIndex = i;
    }
    // Without a listing (Event Grid notifications), the creation time comes with the download.
    const advance: CursorAdvance = { ...reset, ...(options.createdOnMs === undefined && createdOnMs !== undefined ? { createdOnMs } : createdOn) };
    if (cursorIndex >= 0) {
      advance.lastBlockId = layout.ids[cursorIndex];
      advance.lastBlockIndex = cursorIndex;
      advance.endOffset = layout.ends[cursorIndex];
      advance.lastBytes = lastBytesCheck(buffer, layout.ends[cursorIndex]! - base);
    }
    if (end === last) {
      Object.assign(advance, done);
      advance.tailBlockId = tailBlockId;
    } else {
      advance.doneEtag = undefined;
      advance.doneLength = undefined;
    }
    yield { kind: 'blocks', blocks, inputBytes: bytes, heldBytes: bytes, advance };
    first = end + 1;
  }
}

/**
 * The check of the bytes of `buffer` just before `end` that the growth shortcut verifies
 * (BlobCursor.lastBytes): `COUNT:HASH`, a SHA-256 prefix of the last COUNT (up to 256) bytes.
 * 256 bytes hold the last tuples of a minute, with their times, addresses and ports: a minute
 * written again differs there.
 */
export function lastBytesCheck(buffer: Buffer, end: number): string {
  const bytes = buffer.subarray(Math.max(0, end - LAST_BYTES_CHECKED), end);
  return `${bytes.length}:${createHash('sha256').update(bytes).digest('base64url').slice(0, 22)}`;
}

function warnRewritten(options: BlockReaderOptions, cursor: BlobCursor, why: string): void {
  options.onRewrite?.();
  options.logger.warn(
    { blob: options.label, lastBlockId: cursor.lastBlockId, lastBlockIndex: cursor.lastBlockIndex, grownToOffset: cursor.grownToOffset },
    `blob was rewritten (${why}): reading it again from the start`,
  );
}

async function* fetchWhole(
  blob: BlockBlobClient,
  layout: Layout,
  options: BlockReaderOptions,
  createdOn: { createdOnMs?: number },
): AsyncGenerator<FetchedPiece> {
  const budget = options.budget ?? NO_BUDGET;
  options.onRequest?.('download');
  const response = await blob.download(0, undefined, { conditions: layout.rawEtag === '' ? {} : { ifMatch: layout.rawEtag }, maxRetryRequests: 3 });
  const parser = new WholeBlobParser(options.label);
  // No block ids to point at inside: parts go out without moving the cursor, which is set only
  // when the whole blob went out (a crash part-way sends the blob again).
  let parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.readableStreamBody as AsyncIterable<Buffer>) {
    parts.push(chunk);
    size += chunk.length;
    if (size < WHOLE_PIECE_BYTES) continue;
    await budget.acquire(size);
    yield { kind: 'whole', chunk: Buffer.concat(parts), parser, last: false, inputBytes: size, heldBytes: size };
    parts = [];
    size = 0;
  }
  await budget.acquire(size);
  yield {
    kind: 'whole',
    chunk: Buffer.concat(parts),
    parser,
    last: true,
    inputBytes: size,
    heldBytes: size,
    advance: {
      wholeBlob: true,
      doneEtag: layout.etag,
      doneLength: layout.contentLength,
      lastBlockId: undefined,
      lastBlockIndex: undefined,
      endOffset: undefined,
      grownToOffset: undefined,
      lastBytes: undefined,
      tailBlockId: undefined,
      ...createdOn,
    },
  };
}

/** Reads what was committed since the cursor, parsed: one step per piece (for Event Grid notified blobs). */
export async function* readNewBlocks(
  blob: BlockBlobClient,
  cursor: BlobCursor,
  options: BlockReaderOptions & { readonly onProblem: (problem: ParseProblem) => void; readonly notBeforeMs?: number },
): AsyncGenerator<BlockReadStep> {
  for await (const piece of fetchNewBlocks(blob, cursor, options)) yield parsedStep(piece, options);
}

/** A fetched piece parsed into columns of its own. */
export function parsedStep(
  piece: FetchedPiece,
  options: { readonly label: string; readonly onProblem: (problem: ParseProblem) => void; readonly notBeforeMs?: number },
): BlockReadStep & { readonly ok: boolean } {
  const records = new FlowColumns(piece.kind === 'blocks' && piece.blocks.length === 0 ? 1 : undefined);
  const parsed = parsePiece(piece, records, options.label, options.onProblem);
  if (options.notBeforeMs !== undefined) records.dropBefore(options.notBeforeMs);
  return {
    records,
    azureRecords: parsed.azureRecords,
    inputBytes: piece.inputBytes,
    blocks: parsed.blocks,
    ok: parsed.ok,
    ...(piece.advance === undefined ? {} : { advance: piece.advance }),
  };
}

/**
 * For `--start-at now`: the cursor that skips everything committed so far (the last data block,
 * the head when there is none), without downloading more than a tail candidate.
 */
export async function cursorAtEnd(
  blob: BlockBlobClient,
  createdOnMs: number | undefined,
  options: Pick<BlockReaderOptions, 'onRequest'> = {},
): Promise<CursorAdvance> {
  const layout = await readLayout(blob, options);
  const createdOn = createdOnMs === undefined ? {} : { createdOnMs };
  if (layout.ids.length === 0)
    return layout.contentLength === 0 ? {} : { wholeBlob: true, doneEtag: layout.etag, doneLength: layout.contentLength, ...createdOn };
  const last = layout.ids.length - 1;
  let cursorIndex = last;
  let tailBlockId: string | undefined;
  const lastSize = layout.ends[last]! - layout.starts[last]!;
  if (last > 0 && lastSize <= MAX_TAIL_BYTES) {
    options.onRequest?.('download');
    const response = await blob.download(layout.starts[last], lastSize, {
      conditions: layout.rawEtag === '' ? {} : { ifMatch: layout.rawEtag },
      maxRetryRequests: 3,
    });
    const chunks: Buffer[] = [];
    for await (const chunk of response.readableStreamBody as AsyncIterable<Buffer>) chunks.push(chunk);
    if (isTailBlock(Buffer.concat(chunks))) {
      cursorIndex = last - 1;
      tailBlockId = layout.ids[last];
    }
  }
  return {
    lastBlockId: layout.ids[cursorIndex],
    lastBlockIndex: cursorIndex,
    endOffset: layout.ends[cursorIndex],
    tailBlockId,
    doneEtag: layout.etag,
    doneLength: layout.contentLength,
    ...createdOn,
  };
}
