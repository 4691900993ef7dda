import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { UserError } from '../flow/errors.js';

/** Far more than any real config (the annotated example is 4 KiB); a 100 MB file is a mistake. */
export const MAX_CONFIG_BYTES = 1 << 20;

/**
 * Reads a config file, refusing what is not one before reading it whole: a file over 1 MiB, a
 * directory, a FIFO or device (opened without waiting, so a FIFO nobody writes cannot hang
 * the process). At most MAX_CONFIG_BYTES + 1 bytes are read, whatever the file claims.
 */
export async function readConfigFile(path: string): Promise<string> {
  const refuse = (why: string, cause?: unknown) => new UserError(`cannot read config '${path}': ${why}`, { code: 'config-read', cause });
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    throw refuse((error as NodeJS.ErrnoException).code ?? (error as Error).message, error);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw refuse(info.isDirectory() ? 'it is a directory' : 'not a regular file (a FIFO, socket or device)');
    if (info.size > MAX_CONFIG_BYTES) throw refuse(`${info.size} bytes; a config file is at most ${MAX_CONFIG_BYTES} bytes`);
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_CONFIG_BYTES) throw refuse(`more than ${MAX_CONFIG_BYTES} bytes; a config file is at most that`);
    }
    return buffer.toString('utf8', 0, length);
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw refuse((error as NodeJS.ErrnoException).code ?? (error as Error).message, error);
  } finally {
    await handle.close();
  }
}
