import { FlowLogReader } from '../azure/flowLogReader.js';
import type { ParseProblem } from '../azure/problems.js';
import { columnSink, type FlowSink } from '../azure/tupleSink.js';
import type { FlowColumns } from '../flow/flowColumns.js';
import type { FlowRecord } from '../flow/flowRecord.js';
import type { BlobCursor } from '../state/sourceState.js';

/**
 * What a blob read downloads, before it is parsed: the readers (blockBlobReader.ts, blobGrowth.ts)
 * run concurrently and only fetch; the source parses the pieces one after the other into the
 * columns of the batch it is filling. A blob's pieces are parsed and sent in order.
 */

/** Cursor fields to store once the records of a piece were handed to the transport. */
export type CursorAdvance = Partial<Omit<BlobCursor, 'hourMs' | 'failures' | 'retryAfterMs' | 'poisoned' | 'activeUntilMs'>>;

interface PieceBase {
  /** Bytes downloaded for this piece (progress). */
  readonly inputBytes: number;
  /** Bytes of the reader's budget this piece holds until it is parsed. */
  readonly heldBytes: number;
  /** Undefined: nothing to record (a part of a blob read whole). */
  readonly advance?: CursorAdvance;
}

/** Committed blocks after the cursor (head and tail left out), each parsed on its own. */
export interface BlocksPiece extends PieceBase {
  readonly kind: 'blocks';
  readonly blocks: readonly { readonly index: number; readonly bytes: Buffer }[];
}

/** The new blocks of a blob that only grew, read in one ranged request without the block list. */
export interface GrowthPiece extends PieceBase {
  readonly kind: 'growth';
  /** From the old tail's offset to the new tail (left out). */
  readonly bytes: Buffer;
  readonly fromOffset: number;
}

/** Part of a blob written in one piece (no block list): parsed as one stream across its parts. */
export interface WholePiece extends PieceBase {
  readonly kind: 'whole';
  readonly chunk: Buffer;
  readonly parser: WholeBlobParser;
  readonly last: boolean;
}

export type FetchedPiece = BlocksPiece | GrowthPiece | WholePiece;

export interface ParsedPiece {
  readonly azureRecords: number;
  /** Data blocks parsed; a growth piece counts as one (the shortcut does not see block boundaries). */
  readonly blocks: number;
  /**
   * False only for a growth piece that did not parse cleanly: its rows were taken back and its
   * problems not reported; the blob must be read again through its block list, block by block.
   */
  readonly ok: boolean;
}

/** Puts the record splitter inside the records array for a block read on its own. */
const ARRAY_OPEN = Buffer.from('[');

/** Appends the flows of `piece` to `columns`; problems go to `onProblem` (see ParsedPiece.ok). */
export function parsePiece(piece: FetchedPiece, columns: FlowColumns, label: string, onProblem: (problem: ParseProblem) => void): ParsedPiece {
  switch (piece.kind) {
    case 'blocks': {
      let azureRecords = 0;
      for (const { index, bytes } of piece.blocks) {
        const reader = new FlowLogReader(`${label} block ${index}`, columnSink(columns, onProblem));
        if (index > 0) reader.push(ARRAY_OPEN);
        reader.push(bytes);
        reader.end();
        azureRecords += reader.recordsRead;
      }
      return { azureRecords, blocks: piece.blocks.length, ok: true };
    }
    case 'growth': {
      // Several blocks in one stream: a corrupt one could spoil its neighbours, so any problem
      // sends the blob to the block-by-block path instead (which reports it, block by block).
      const start = columns.length;
      let clean = true;
      const sink: FlowSink = { columns, flow: (record) => columns.append(record), problem: () => (clean = false) };
      const reader = new FlowLogReader(`${label} from byte ${piece.fromOffset}`, sink);
      reader.push(ARRAY_OPEN);
      reader.push(piece.bytes);
      reader.end();
      if (!clean || reader.recordsRead === 0) {
        columns.truncate(start);
        return { azureRecords: 0, blocks: 0, ok: false };
      }
      return { azureRecords: reader.recordsRead, blocks: 1, ok: true };
    }
    case 'whole':
      return piece.parser.parse(piece.chunk, piece.last, columns, onProblem);
  }
}

/**
 * A blob without blocks is one JSON document: one reader across its parts, writing each part's
 * flows into the columns of the batch it goes out with.
 */
export class WholeBlobParser {
  private readonly sink = new RedirectedSink();
  private readonly reader: FlowLogReader;
  private counted = 0;

  constructor(label: string) {
    this.reader = new FlowLogReader(label, this.sink);
  }

  parse(chunk: Buffer, last: boolean, columns: FlowColumns, onProblem: (problem: ParseProblem) => void): ParsedPiece {
    this.sink.columns = columns;
    this.sink.report = onProblem;
    this.reader.push(chunk);
    if (last) this.reader.end();
    const azureRecords = this.reader.recordsRead - this.counted;
    this.counted = this.reader.recordsRead;
    this.sink.columns = undefined;
    return { azureRecords, blocks: last ? 1 : 0, ok: true };
  }
}

/** A sink whose columns change from part to part (the batch each part goes out with). */
class RedirectedSink implements FlowSink {
  columns: FlowColumns | undefined;
  report: (problem: ParseProblem) => void = () => {};

  flow(record: FlowRecord): void {
    this.columns!.append(record);
  }

  problem(problem: ParseProblem): void {
    this.report(problem);
  }
}
