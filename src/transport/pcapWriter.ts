import { constants } from 'node:fs';
import { access, open, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UserError } from '../flow/errors.js';
import { sleep } from '../flow/sleep.js';
import { pcapGlobalHeader, pcapRecord, type PcapEndpoint } from './pcap.js';

/** What a failed open or write of the pcap file means, in the operator's words. */
const PCAP_FAILURES: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'the file is too large',
  EINVAL: 'it does not take writes',
  EIO: 'input/output error',
  EPIPE: 'its reader is gone',
  ENXIO: 'a FIFO no process is reading, or a socket',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'its directory does not exist',
  ENOTDIR: 'part of the path is not a directory',
  EISDIR: 'it is a directory',
  EROFS: 'read-only file system',
};

/**
 * The pcap file cannot be opened or written (disk full, a device that takes no writes, a FIFO
 * nobody reads). Code `pcap-write`, or `pcap-closed` when the reader of a pipe went away
 * (`--pcap /dev/stdout | head`), which ends a run quietly, as a closed stdout does.
 */
export class PcapWriteError extends UserError {
  constructor(
    readonly path: string,
    /** The system's code: ENOSPC, EPIPE... */
    readonly systemCode: string | undefined,
    options: { readonly cause?: unknown } = {},
  ) {
    const why = systemCode === undefined ? 'write failed' : `${systemCode}${PCAP_FAILURES[systemCode] === undefined ? '' : ` (${PCAP_FAILURES[systemCode]})`}`;
    super(`cannot write pcap '${path}': ${why}`, { code: systemCode === 'EPIPE' ? 'pcap-closed' : 'pcap-write', ...options });
  }

  static from(path: string, error: unknown): PcapWriteError {
    return new PcapWriteError(path, (error as NodeJS.ErrnoException).code, { cause: error });
  }
}

/**
 * Non-blocking, so that no write ever holds a thread: opening a FIFO nobody reads fails at once
 * (ENXIO) instead of waiting for a reader, and a full pipe answers EAGAIN instead of blocking. A
 * blocked file-system call would hold one of libuv's threads, and a process cannot exit while one
 * is held: a stop would never end (see serviceRuntime.ts). On regular files it changes nothing.
 */
const OPEN_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (constants.O_NONBLOCK ?? 0);
/** Records are gathered into writes of about this size. */
const WRITE_CHUNK_BYTES = 256 * 1024;
/** Beyond this much not yet written, write() asks its caller to wait. */
const MAX_QUEUED_BYTES = 1 << 20;
/** While a pipe or FIFO is full, try again after this long, doubling up to the maximum. */
const FULL_RETRY_FIRST_MS = 1;
const FULL_RETRY_MAX_MS = 50;

/**
 * Appends pcap records to a file.
 *
 * The global header is written by {@link PcapWriter.open}; the file is created or truncated.
 * {@link PcapWriter.write} queues a record and writes in chunks in the background: it returns
 * `undefined` while less than 1 MiB waits, else a promise that settles once everything queued is
 * written, so a producer that awaits only when given a promise never buffers unboundedly. A write
 * error (PcapWriteError) rejects that promise, later calls and {@link PcapWriter.close}.
 */
export class PcapWriter {
  #packetsWritten = 0;
  #queue: Buffer[] = [];
  /** Queued or being written. */
  #pendingBytes = 0;
  #writing: Promise<void> | undefined;
  #error: PcapWriteError | undefined;
  #closing: Promise<void> | undefined;

  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
  ) {}

  /**
   * Creates (or truncates) `path` and writes the 24-byte global header. Rejects with a
   * PcapWriteError if the file cannot be opened or takes no bytes (ENOENT, EACCES, ENOSPC, EINVAL,
   * ENXIO for a FIFO nobody reads).
   */
  static async open(path: string): Promise<PcapWriter> {
    let handle: FileHandle;
    try {
      handle = await open(path, OPEN_FLAGS, 0o644);
    } catch (error) {
      throw PcapWriteError.from(path, error);
    }
    const writer = new PcapWriter(handle, path);
    try {
      await writer.#writeAll(pcapGlobalHeader());
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    return writer;
  }

  /** Records accepted by {@link PcapWriter.write} so far (queued, maybe not yet written). */
  get packetsWritten(): number {
    return this.#packetsWritten;
  }

  /**
   * Frames `payload` with {@link pcapRecord} and appends it.
   *
   * @returns `undefined` when more can be queued right away; otherwise a promise that resolves
   *   when everything queued was written (the record itself is queued either way).
   * @throws Error synchronously for invalid input (nothing is written), after
   *   {@link PcapWriter.close}, or the PcapWriteError of an earlier write.
   */
  write(payload: Uint8Array, source: PcapEndpoint, destination: PcapEndpoint, timeMs: number): void | Promise<void> {
    if (this.#error) throw this.#error;
    if (this.#closing) throw new Error('pcap: write after close');
    const record = pcapRecord(payload, source, destination, timeMs);
    this.#queue.push(record);
    this.#pendingBytes += record.length;
    this.#packetsWritten++;
    if (this.#writing === undefined && this.#pendingBytes >= WRITE_CHUNK_BYTES) this.#startWriting();
    if (this.#pendingBytes < MAX_QUEUED_BYTES) return undefined;
    return this.#writing;
  }

  #startWriting(): void {
    const writing = this.#writeQueue().finally(() => {
      this.#writing = undefined;
    });
    // The error is kept in #error and reported by the next write() or close().
    writing.catch(() => undefined);
    this.#writing = writing;
  }

  /** Writes until nothing is queued, records queued meanwhile included. */
  async #writeQueue(): Promise<void> {
    while (this.#queue.length > 0) {
      const chunk = this.#queue.length === 1 ? this.#queue[0]! : Buffer.concat(this.#queue);
      this.#queue = [];
      await this.#writeAll(chunk);
      this.#pendingBytes -= chunk.length;
    }
  }

  async #writeAll(bytes: Buffer): Promise<void> {
    let offset = 0;
    let retryMs = FULL_RETRY_FIRST_MS;
    while (offset < bytes.length) {
      let written = 0;
      try {
        written = (await this.handle.write(bytes, offset, bytes.length - offset, null)).bytesWritten;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') throw (this.#error ??= PcapWriteError.from(this.path, error));
      }
      if (written > 0) {
        offset += written;
        retryMs = FULL_RETRY_FIRST_MS;
        continue;
      }
      // A full pipe: its reader is slow (or stopped). Wait on a timer, not on a thread.
      await sleep(retryMs);
      retryMs = Math.min(retryMs * 2, FULL_RETRY_MAX_MS);
    }
  }

  /**
   * Writes what is queued, closes the file and resolves. Idempotent: later calls return the same
   * promise. Rejects with the PcapWriteError of a failed write, if any.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.#writing;
        await this.#writeQueue();
      } catch {
        // Kept in #error.
      } finally {
        await this.handle.close().catch(() => undefined);
      }
      if (this.#error) throw this.#error;
    })();
    return this.#closing;
  }
}

/**
 * What {@link PcapWriter.open} would refuse about `path`, found without creating or truncating
 * anything (for `config check`): a directory, a file or device this process may not write, a
 * missing or unwritable directory. A FIFO passes: it needs a reader once the run starts.
 */
export async function checkPcapPath(path: string): Promise<PcapWriteError | undefined> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) return new PcapWriteError(path, 'EISDIR');
    if (!info.isFIFO()) await access(path, constants.W_OK);
    return undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return PcapWriteError.from(path, error);
  }
  // Not there yet: its directory must take a new file.
  try {
    if (!(await stat(dirname(path))).isDirectory()) return new PcapWriteError(path, 'ENOTDIR');
    await access(dirname(path), constants.W_OK | constants.X_OK);
    return undefined;
  } catch (error) {
    return PcapWriteError.from(path, error);
  }
}
