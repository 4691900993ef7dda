import type { BlockBlobClient } from '@azure/storage-blob';
import type { BlobCursor } from '../state/sourceState.js';
import { classifyAzureError } from '../state/azureErrors.js';
import { unquoteEtag } from './blobDiscovery.js';
import type { GrowthPiece } from './blobPieces.js';
import { lastBytesCheck, NO_BUDGET, type BlockReaderOptions } from './blockBlobReader.js';

/**
 * The growth shortcut: a blob that only grew since its cursor is read in one ranged request from
 * where its old tail `]}` started to its end, without the block list (a request, and the CPU of
 * its XML, saved per blob and minute). Azure appends a minute by committing the old list with one
 * more block before the same tail, so the bytes before the old tail do not change, and the new
 * bytes are the new blocks followed by the tail.
 *
 * The shortcut is taken only when it can prove that is what happened, else the block list decides
 * (blockBlobReader.ts): the version the cursor read completely was exactly its data plus a 2-byte
 * tail; the blob has the same creation time (not deleted and written again) and is longer; the 256
 * bytes before the old tail are unchanged (Put Block List rewrites a blob in place and keeps its
 * creation time); the new bytes start where a block starts (`,` — or `{` after the head alone) and
 * end with `]}`; and they parse without a single problem (blobPieces.ts). The cursor then records the byte offset reached
 * (`grownToOffset`) next to the last block id known; the next block list read must have a block
 * ending exactly there, after that block, or the blob is treated as rewritten.
 */

/** The tail block Azure writes: `]}`. */
const TAIL = Buffer.from(']}');
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;

/**
 * Where a growth read of this blob would start, or undefined when the cursor cannot support the
 * shortcut. `listedLength` (from a listing or a notification) rules out blobs that did not grow,
 * and growth larger than `maxBytes` (the block list splits that into pieces).
 */
export function growthStart(cursor: BlobCursor, listedLength: number | undefined, maxBytes: number): number | undefined {
  if (cursor.doneEtag === undefined || cursor.wholeBlob === true || cursor.tailBlockId === undefined || cursor.lastBlockId === undefined) return undefined;
  if (cursor.createdOnMs === undefined || cursor.doneLength === undefined || cursor.endOffset === undefined || cursor.lastBytes === undefined) return undefined;
  const from = cursor.grownToOffset ?? cursor.endOffset;
  if (cursor.doneLength !== from + TAIL.length) return undefined;
  if (listedLength !== undefined && (listedLength <= cursor.doneLength || listedLength - from > maxBytes)) return undefined;
  return from;
}

/**
 * Reads the blob from `from` to its current end in one request. `unchanged`: it is still the
 * version the cursor read completely (a repeated notification). Undefined when the bytes do not
 * prove a pure growth (the caller reads the block list instead); the read was then wasted, which
 * only happens when a blob was rewritten or its tail changed.
 */
export async function fetchGrowth(
  blob: BlockBlobClient,
  cursor: BlobCursor,
  from: number,
  expectedLength: number | undefined,
  options: BlockReaderOptions,
): Promise<GrowthPiece | 'unchanged' | undefined> {
  const budget = options.budget ?? NO_BUDGET;
  // The budget is taken for the size the listing announced; the blob may have grown since.
  const held = Math.max(TAIL.length, (expectedLength ?? from + 64 * 1024) - from);
  await budget.acquire(held);
  let piece: GrowthPiece | 'unchanged' | undefined;
  try {
    piece = await download(blob, cursor, from, held, options);
  } finally {
    if (typeof piece !== 'object') budget.release(held);
  }
  return piece;
}

async function download(
  blob: BlockBlobClient,
  cursor: BlobCursor,
  from: number,
  held: number,
  options: BlockReaderOptions,
): Promise<GrowthPiece | 'unchanged' | undefined> {
  options.onRequest?.('download');
  const checked = Number.parseInt(cursor.lastBytes!, 10);
  if (!(checked >= 0 && checked <= from)) return undefined;
  let response;
  try {
    // No If-Match: whatever version is current is read as one consistent snapshot, and its own
    // ETag, length and creation time (response headers) are checked below. The read starts with
    // the bytes before the old tail, which must not have changed.
    response = await blob.download(from - checked, undefined, { maxRetryRequests: 3 });
  } catch (error) {
    // 416: the blob is now shorter than the old tail's offset: rewritten. The block list says how.
    if (classifyAzureError(error).statusCode === 416) return undefined;
    throw error;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of response.readableStreamBody as AsyncIterable<Buffer>) chunks.push(chunk);
  const read = Buffer.concat(chunks);
  if (read.length < checked || lastBytesCheck(read, checked) !== cursor.lastBytes) return undefined;
  const bytes = read.subarray(checked);
  const total = totalLength(response.contentRange);
  const createdOnMs = response.createdOn?.getTime();
  if (unquoteEtag(response.etag) === cursor.doneEtag && total === cursor.doneLength) return 'unchanged';
  if (total === undefined || total !== from + bytes.length || createdOnMs !== cursor.createdOnMs) return undefined;
  if (total <= cursor.doneLength! || bytes.length <= TAIL.length || !bytes.subarray(bytes.length - TAIL.length).equals(TAIL)) return undefined;
  const data = bytes.subarray(0, bytes.length - TAIL.length);
  const first = data.findIndex((byte) => byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09);
  const afterHeadOnly = cursor.lastBlockIndex === 0 && cursor.grownToOffset === undefined;
  if (first < 0 || !(data[first] === COMMA || (afterHeadOnly && data[first] === OPEN_BRACE))) return undefined;
  return {
    kind: 'growth',
    bytes: data,
    fromOffset: from,
    inputBytes: bytes.length,
    heldBytes: held,
    advance: {
      grownToOffset: from + data.length,
      lastBytes: lastBytesCheck(read, checked + data.length),
      doneEtag: unquoteEtag(response.etag),
      doneLength: total,
      createdOnMs,
    },
  };
}

/** The blob's length from `bytes 12-99/100`. */
function totalLength(contentRange: string | undefined): number | undefined {
  const match = /\/(\d+)\s*$/.exec(contentRange ?? '');
  return match === null ? undefined : Number(match[1]);
}
