import type { BlobServiceClient, BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import type { Logger } from 'pino';
import { classifyAzureError, type AzureFailure } from '../state/azureErrors.js';
import type { BlobCursor } from '../state/sourceState.js';
import type { SourcePiece } from './blobBatches.js';
import type { ListedBlob } from './blobDiscovery.js';
import { fetchGrowth, growthStart } from './blobGrowth.js';
import type { CursorAdvance } from './blobPieces.js';
import { cursorAtEnd, fetchNewBlocks, type BlockReaderOptions, type ByteBudget, type RequestKind } from './blockBlobReader.js';

/** What the reads of a source did, since it started. */
export interface BlobReadStats {
  /** Blobs read by the growth shortcut (one ranged read, no block list). */
  growthReads: number;
  /** Growth reads that could not prove a pure growth: the block list was read after all. */
  growthFallbacks: number;
  rewrites: number;
  /** Storage requests by kind. */
  requests: { list: number; blockList: number; download: number };
}

export interface ChangedBlobReaderOptions {
  readonly service: BlobServiceClient;
  readonly logger: Logger;
  /** Largest download per piece. */
  readonly maxGroupBytes: number;
  /** Memory held by pieces downloaded and not parsed yet. */
  readonly budget: ByteBudget;
  readonly stats: BlobReadStats;
  /** A read failed for good (the source decides: retry later, poison, drop). */
  readonly onFailure: (key: string, cursor: BlobCursor, failure: AzureFailure) => void;
}

/** A blob that changed between its block list and its download is read again at once this often. */
const CHANGED_RETRIES = 2;

/**
 * Reads one changed blob of a listing: by the growth shortcut when the listing and the cursor
 * allow it (blobGrowth.ts), else through its block list (blockBlobReader.ts). Only fetches: the
 * pieces are parsed by the source, in order. Keeps one storage client per blob, made once:
 * building one costs more CPU than the ranged read it then makes (URL parsing, pipeline options).
 */
export class ChangedBlobReader {
  private readonly clients = new Map<string, BlockBlobClient>();
  private readonly containers = new Map<string, ContainerClient>();
  private readonly countRequest: (kind: RequestKind) => void;

  constructor(private readonly options: ChangedBlobReaderOptions) {
    this.countRequest = (kind) => void options.stats.requests[kind]++;
  }

  /**
   * The pieces of what was committed since the cursor. `blockListOnly`: skip the growth shortcut
   * (its bytes did not parse cleanly). Failures go to `onFailure`, never out of the generator.
   */
  async *read(blob: ListedBlob, key: string, cursor: BlobCursor, blockListOnly: boolean, signal: AbortSignal): AsyncGenerator<SourcePiece> {
    const { stats } = this.options;
    const client = this.client(key, blob);
    const options: BlockReaderOptions = {
      label: key,
      logger: this.options.logger,
      onRewrite: () => stats.rewrites++,
      maxGroupBytes: this.options.maxGroupBytes,
      budget: this.options.budget,
      onRequest: this.countRequest,
      ...(blob.createdOnMs === undefined ? {} : { createdOnMs: blob.createdOnMs }),
    };
    let yielded = false;
    for (let attempt = 0; ; attempt++) {
      try {
        const from = blockListOnly || blob.createdOnMs !== cursor.createdOnMs ? undefined : growthStart(cursor, blob.contentLength, this.options.maxGroupBytes);
        if (from !== undefined) {
          const piece = await fetchGrowth(client, cursor, from, blob.contentLength, options);
          // Unchanged since the listing said otherwise: the listing was older than the last read.
          if (piece === 'unchanged') return;
          if (piece !== undefined) {
            stats.growthReads++;
            // A growth read is its blob's only piece: should it not parse cleanly, the block
            // list is read instead, and nothing else of the blob is in flight meanwhile.
            yield { key, cursor, piece, readBlockList: () => this.read(blob, key, cursor, true, signal) };
            return;
          }
          stats.growthFallbacks++;
        }
        for await (const piece of fetchNewBlocks(client, cursor, options)) {
          yielded = true;
          yield { key, cursor, piece };
        }
        return;
      } catch (error) {
        if (signal.aborted) return;
        const failure = classifyAzureError(error);
        // Committed again between the block list and the download: the new list says more.
        if (failure.kind === 'changed' && !yielded && attempt < CHANGED_RETRIES) continue;
        this.options.onFailure(key, cursor, failure);
        return;
      }
    }
  }

  /** For `--start-at now`: the cursor at the end of what the blob holds now. */
  positionAtEnd(blob: ListedBlob, key: string): Promise<CursorAdvance> {
    return cursorAtEnd(this.client(key, blob), blob.createdOnMs, { onRequest: this.countRequest });
  }

  /** A piece was parsed: its downloaded bytes no longer count against the budget. */
  release(bytes: number): void {
    this.options.budget.release(bytes);
  }

  /** The blob left the state (deleted, or its hour long past). */
  forget(key: string): void {
    this.clients.delete(key);
  }

  private client(key: string, blob: ListedBlob): BlockBlobClient {
    let client = this.clients.get(key);
    if (client === undefined) {
      let container = this.containers.get(blob.container);
      if (container === undefined) {
        container = this.options.service.getContainerClient(blob.container);
        this.containers.set(blob.container, container);
      }
      client = container.getBlockBlobClient(blob.name);
      this.clients.set(key, client);
    }
    return client;
  }
}
