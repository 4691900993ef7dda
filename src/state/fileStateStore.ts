import { readFileSync } from 'node:fs';
import { makeDirectory, syncDirectory, writeFileDurably } from '../durableFile.js';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { applyJournal, journalHeaderLine, journalLines } from './stateJournal.js';
import { parseSourceState, serializeSourceState, StateError, type SourceState, type StateChanges, type StateStore } from './sourceState.js';

export const STATE_FILE_NAME = 'blob-source-state.json';
export const JOURNAL_FILE_NAME = 'blob-source-state.journal';

/** The journal is folded into a new snapshot once it is larger than the snapshot and this. */
const MIN_COMPACTION_BYTES = 1024 * 1024;

/**
 * The state in a local directory (the default store): a snapshot (`blob-source-state.json`, the
 * whole state) and a journal (`blob-source-state.journal`, see stateJournal.ts) of the cursors
 * changed since. A save appends the changed cursors to the journal and fsyncs it, so its cost does
 * not grow with the number of blobs followed; once the journal outgrows the snapshot, a new
 * snapshot is written (temporary file, fsync, rename, fsync of the directory) and the journal
 * starts over. The snapshot names its journal's generation: a journal left over by a compaction
 * cut short by a crash belongs to the previous snapshot and is ignored, and a torn last line is
 * skipped. Either way a crash leaves the previous or the new state, never a torn one.
 */
export class FileStateStore implements StateStore {
  readonly description: string;
  private readonly path: string;
  private readonly journalPath: string;
  private directoryReady = false;
  /** Generation of the snapshot on disk; its journal carries the same. */
  private generation = 0;
  private journal: FileHandle | undefined;
  private journalBytes = 0;
  private snapshotBytes = 0;
  /** Write a snapshot at the next save: first save, or the journal may end in a torn line. */
  private compactNext = true;

  constructor(private readonly directory: string) {
    this.path = join(resolve(directory), STATE_FILE_NAME);
    this.journalPath = join(resolve(directory), JOURNAL_FILE_NAME);
    this.description = `file ${this.path}`;
  }

  async load(): Promise<SourceState | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StateError(`cannot read state ${this.path}: ${(error as Error).message}`, { cause: error });
    }
    let journal = '';
    try {
      journal = await readFile(this.journalPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new StateError(`cannot read state journal ${this.journalPath}: ${(error as Error).message}`, { cause: error });
    }
    const { state, generation } = recover(text, journal, this.path);
    this.generation = generation;
    this.compactNext = true;
    return state;
  }

  async save(state: SourceState, changes?: StateChanges): Promise<void> {
    // Serialized before the first await: the caller goes on changing the state meanwhile.
    const compact =
      changes === undefined || this.compactNext || this.journal === undefined || this.journalBytes > Math.max(MIN_COMPACTION_BYTES, this.snapshotBytes);
    if (compact) {
      const generation = this.generation + 1;
      await this.writeSnapshot(serializeSourceState(state, { journal: generation }), generation);
      return;
    }
    const lines = journalLines(state, changes);
    if (lines === '') return;
    try {
      await this.journal!.write(lines);
      await this.journal!.datasync();
      this.journalBytes += Buffer.byteLength(lines);
    } catch (error) {
      // The journal may now end in half a line: the next save starts a new snapshot and journal.
      this.compactNext = true;
      throw new StateError(`cannot write state journal ${this.journalPath}: ${(error as Error).message}`, { cause: error });
    }
  }

  async close(): Promise<void> {
    const journal = this.journal;
    this.journal = undefined;
    this.compactNext = true;
    await journal?.close();
  }

  private async writeSnapshot(text: string, generation: number): Promise<void> {
    if (!this.directoryReady) {
      try {
        await makeDirectory(this.directory);
      } catch (error) {
        throw new StateError(`cannot create state directory ${this.directory}: ${(error as Error).message}`, { cause: error });
      }
      this.directoryReady = true;
    }
    const header = journalHeaderLine(generation);
    try {
      await this.journal?.close();
      this.journal = undefined;
      // Snapshot first: until the new journal replaces the old one, the old journal names the
      // previous generation and is ignored, and the new snapshot holds everything it recorded.
      await writeFileDurably(this.path, text);
      await syncDirectory(this.directory);
      await writeFileDurably(this.journalPath, header);
      await syncDirectory(this.directory);
      this.journal = await open(this.journalPath, 'a', 0o600);
    } catch (error) {
      this.compactNext = true;
      throw new StateError(`cannot write state ${this.path}: ${(error as Error).message}`, { cause: error });
    }
    this.generation = generation;
    this.snapshotBytes = Buffer.byteLength(text);
    this.journalBytes = header.length;
    this.compactNext = false;
  }
}

/**
 * The state stored in `directory` (snapshot and journal), read synchronously: for operators'
 * scripts and tests that look at the state of a running instance. Undefined when there is none.
 */
export function readStateDirectory(directory: string): SourceState | undefined {
  const path = join(resolve(directory), STATE_FILE_NAME);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  let journal = '';
  try {
    journal = readFileSync(join(resolve(directory), JOURNAL_FILE_NAME), 'utf8');
  } catch {
    // No journal: the snapshot is the state.
  }
  return recover(text, journal, path).state;
}

function recover(snapshot: string, journal: string, where: string): { state: SourceState; generation: number } {
  const state = parseSourceState(snapshot, where) as SourceState & { journal?: unknown };
  const generation = typeof state.journal === 'number' ? state.journal : 0;
  delete state.journal;
  if (generation > 0 && journal !== '') applyJournal(state, journal, generation);
  return { state, generation };
}
