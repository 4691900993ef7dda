import type { ParseProblem } from '../azure/problems.js';
import { FlowColumns } from '../flow/flowColumns.js';
import type { BlobCursor } from '../state/sourceState.js';
import { parsePiece, type CursorAdvance, type FetchedPiece } from './blobPieces.js';

/** A piece fetched for one blob of a pass, with what its acknowledgement must move. */
export interface SourcePiece {
  readonly key: string;
  readonly cursor: BlobCursor;
  readonly piece: FetchedPiece;
  /** For a growth piece: the same blob read through its block list, should the growth not parse cleanly. */
  readonly readBlockList?: () => AsyncIterable<SourcePiece>;
}

/** A cursor move that waits for its batch's acknowledgement. */
export interface PendingAdvance {
  readonly key: string;
  readonly cursor: BlobCursor;
  readonly advance: CursorAdvance;
  readonly blocks: number;
}

/**
 * Fills one batch with the pieces ready at the moment, from any number of blobs: one set of
 * columns, one send and one acknowledgement for all of them, instead of one per blob (10,000
 * blobs that each grew by a minute make 10,000 small pieces a pass). The pieces of one blob keep
 * their order, so acknowledging the batch moves each cursor to its latest piece in it.
 */
export class BatchBuilder {
  readonly records = new FlowColumns();
  readonly advances: PendingAdvance[] = [];
  azureRecords = 0;
  inputBytes = 0;
  blocks = 0;
  private readonly blobs = new Set<string>();

  constructor(
    private readonly maxInputBytes: number,
    private readonly maxRows: number,
  ) {}

  /** Parses `item` into the batch. False for a growth piece that must be read again block by block (nothing kept). */
  add(item: SourcePiece, onProblem: (problem: ParseProblem) => void): boolean {
    const parsed = parsePiece(item.piece, this.records, item.key, onProblem);
    if (!parsed.ok) return false;
    this.azureRecords += parsed.azureRecords;
    this.inputBytes += item.piece.inputBytes;
    this.blocks += parsed.blocks;
    this.blobs.add(item.key);
    if (item.piece.advance !== undefined) this.advances.push({ key: item.key, cursor: item.cursor, advance: item.piece.advance, blocks: parsed.blocks });
    return true;
  }

  get full(): boolean {
    return this.inputBytes >= this.maxInputBytes || this.records.length >= this.maxRows;
  }

  get empty(): boolean {
    return this.blobs.size === 0;
  }

  /** For logs and progress: the blob, or how many. */
  get label(): string {
    return this.blobs.size === 1 ? this.blobs.values().next().value! : `${this.blobs.size} blobs`;
  }
}
