import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** The code of what openRegularFile refuses. */
export const NOT_REGULAR = 'not-a-regular-file';

/**
 * Opens for reading without ever waiting: O_NONBLOCK makes a FIFO (one that replaced a file since
 * it was listed, or one named as a names file) open at once, and the check after refuses it with
 * `refuse()`. Opening a FIFO would wait for a writer, holding one of libuv's threads, and a process
 * cannot even exit while one is held. On regular files O_NONBLOCK changes nothing.
 */
export async function openRegularFile(path: string | Buffer, refuse: () => Error): Promise<FileHandle> {
  const handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw refuse();
  }
  return handle;
}
