import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

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

/**
 * `mkdir -p`, but one that always ends: Node's own `mkdir(path, { recursive: true })` never returns
 * when a parent exists yet refuses children with ENOENT (a path under /proc), so the recursion is
 * ours. A path that exists as a directory is fine; as anything else, EEXIST.
 */
export async function makeDirectory(path: string, mode?: number): Promise<void> {
  const options = mode === undefined ? {} : { mode };
  try {
    await mkdir(path, options);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if ((await stat(path)).isDirectory()) return;
      throw error;
    }
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path) throw error;
    await makeDirectory(parent, mode);
    await mkdir(path, options).catch(async (again: NodeJS.ErrnoException) => {
      if (again.code !== 'EEXIST' || !(await stat(path)).isDirectory()) throw again;
    });
  }
}
