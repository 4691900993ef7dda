import { open, rename, rm } from 'node:fs/promises';

/**
 * Writes `text` to `path` so that a crash leaves the old text or the new, never part of one: a
 * temporary file beside it (mode 0600: state and snapshots describe the estate), fsync, rename.
 * Call syncDirectory afterwards to make the rename itself durable.
 */
export async function writeFileDurably(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => {});
    throw error;
  }
}

/** Makes the renames in `directory` durable. Some file systems refuse fsync on a directory: that is fine. */
export async function syncDirectory(directory: string): Promise<void> {
  let handle;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch {
    // Best effort: the rename is atomic all the same.
  } finally {
    await handle?.close();
  }
}
