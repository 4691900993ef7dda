import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { InterfaceNames } from '../flow/interfaceNames.js';
import { enrichFileFormat, parseEnrichFile, readNamesText } from './enrichFile.js';

export interface EnrichFileWatchOptions {
  readonly logger: Logger;
  /** Called with the entries of each new good version (not for the version already loaded). */
  readonly onChange: (entries: InterfaceNames[]) => void;
  /** The text already loaded: an identical file is no change. */
  readonly loadedText?: string;
  /** Quiet time after the last event before reading: editors write a file in several steps (default 250 ms). */
  readonly debounceMs?: number;
  /** Stat polling, for file systems where fs.watch hears nothing (network mounts, some containers) (default 5 s). */
  readonly pollIntervalMs?: number;
}

export interface EnrichFileWatch {
  close(): void;
}

/**
 * Reloads an enrichment file when it changes: fs.watch on its directory (editors and config
 * management replace a file by renaming a new one over it, which a watch on the file itself
 * misses) plus a stat poll as a fallback, debounced. A version that does not parse is logged once
 * with the file and the reason, and the last good entries stay in use; a missing file likewise.
 */
export function watchEnrichFile(path: string, options: EnrichFileWatchOptions): EnrichFileWatch {
  const file = resolve(path);
  const format = enrichFileFormat(file);
  const debounceMs = options.debounceMs ?? 250;
  const logger = options.logger.child({ enrichFile: file });
  let lastText = options.loadedText;
  let lastReported: string | undefined;
  let lastStat = '';
  let debounce: NodeJS.Timeout | undefined;
  let reading = false;
  let again = false;
  let closed = false;

  const reload = async (): Promise<void> => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      let text: string;
      try {
        text = await readNamesText(file);
      } catch (error) {
        report(`cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
        return;
      }
      if (closed) return;
      if (text === lastText) {
        lastReported = undefined;
        return;
      }
      try {
        const entries = parseEnrichFile(text, format, file);
        lastText = text;
        lastReported = undefined;
        logger.info({ interfaces: entries.length }, 'enrichment file reloaded');
        options.onChange(entries);
      } catch (error) {
        report((error as Error).message, text);
      }
    } finally {
      reading = false;
      if (again && !closed) {
        again = false;
        schedule();
      }
    }
  };

  /** One error per bad version (or per missing spell), not one per event or poll. */
  const report = (reason: string, text = '\u0000missing'): void => {
    if (lastReported === text) return;
    lastReported = text;
    logger.error({ reason }, `enrichment file ${file} not reloaded, keeping the last good names: ${reason}`);
  };

  const schedule = (): void => {
    if (closed) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => void reload(), debounceMs);
    debounce.unref();
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
      if (name === null || name === basename(file)) schedule();
    });
    watcher.on('error', () => {
      // The poll goes on.
    });
  } catch {
    // Not supported here: the poll alone watches.
  }
  const statNow = (s: { ino: number; size: number; mtimeMs: number }): string => `${s.ino}:${s.size}:${s.mtimeMs}`;
  void stat(file).then(
    (s) => (lastStat ||= statNow(s)),
    () => (lastStat ||= 'missing'),
  );
  const poll = setInterval(() => {
    void stat(file).then(
      (s) => {
        const now = statNow(s);
        if (lastStat !== '' && now !== lastStat) schedule();
        lastStat = now;
      },
      () => {
        if (lastStat !== 'missing') schedule();
        lastStat = 'missing';
      },
    );
  }, options.pollIntervalMs ?? 5_000);
  poll.unref();

  return {
    close() {
      closed = true;
      clearTimeout(debounce);
      clearInterval(poll);
      watcher?.close();
    },
  };
}
