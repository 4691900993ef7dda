import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseSourceState, serializeSourceState, StateError, type SourceState, type StateStore } from './sourceState.js';

export const STATE_FILE_NAME = 'blob-source-state.json';

/**
 * The state as a file in a local directory (the default store). Each save writes a temporary
 * file, fsyncs it, renames it over the old one and fsyncs the directory: a crash or power loss
 * leaves either the previous or the new state, never a torn one.
 */
export class FileStateStore implements StateStore {
  readonly description: string;
  private readonly path: string;
  private readonly tempPath: string;
  private directoryReady = false;

  constructor(private readonly directory: string) {
    this.path = join(resolve(directory), STATE_FILE_NAME);
    this.tempPath = `${this.path}.tmp-${process.pid}`;
    this.description = `file ${this.path}`;
  }

  async load(): Promise<SourceState | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StateError(`cannot read state ${this.path}: ${(error as Error).message}`);
    }
    return parseSourceState(text, this.path);
  }

  async save(state: SourceState): Promise<void> {
    if (!this.directoryReady) {
      try {
        await mkdir(this.directory, { recursive: true });
      } catch (error) {
        throw new StateError(`cannot create state directory ${this.directory}: ${(error as Error).message}`);
      }
      this.directoryReady = true;
    }
    try {
      const handle = await open(this.tempPath, 'w', 0o600);
      try {
        await handle.writeFile(serializeSourceState(state), 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(this.tempPath, this.path);
      await syncDirectory(this.directory);
    } catch (error) {
      await rm(this.tempPath, { force: true }).catch(() => {});
      throw new StateError(`cannot write state ${this.path}: ${(error as Error).message}`);
    }
  }
}

/** Makes the rename itself durable. Some file systems refuse fsync on a directory: that is fine. */
async function syncDirectory(directory: string): Promise<void> {
  let handle;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch {
    // Best effort (e.g. not supported on this platform).
  } finally {
    await handle?.close();
  }
}
