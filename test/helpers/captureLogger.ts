import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface CapturedLog {
  readonly logger: Logger;
  /** Every line written, parsed. */
  readonly lines: Array<Record<string, unknown> & { level: number; msg?: string }>;
  /** Everything written, as text (to look for what must never be there). */
  text(): string;
}

/** A pino logger writing JSON lines into memory, synchronously, at debug level. */
export function captureLogger(): CapturedLog {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const logger = pino({ level: 'debug' }, stream);
  return {
    logger,
    get lines() {
      return chunks
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown> & { level: number; msg?: string });
    },
    text: () => chunks.join(''),
  };
}

export const ERROR_LEVEL = 50;
export const WARN_LEVEL = 40;
