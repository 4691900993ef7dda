import { pino, type Logger } from 'pino';
import { createRequire } from 'node:module';
import { scrubSecrets, scrubValue } from './secrets.js';

const require = createRequire(import.meta.url);

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * Keys that hold secrets wherever a child logger puts them; values that merely contain one
 * (an error message with a SAS URL) are scrubbed by pattern as well (see secrets.ts).
 */
const REDACT_PATHS = [
  'connectionString',
  '*.connectionString',
  'sasToken',
  '*.sasToken',
  'accountKey',
  '*.accountKey',
  'password',
  '*.password',
  'checkpointConnectionString',
  '*.checkpointConnectionString',
  'blobConnectionString',
  '*.blobConnectionString',
];

/**
 * The one logger, built by the CLI and passed down. JSON lines on stderr (stdout is for data);
 * `pretty` (or `auto` on a terminal) prints them for people.
 */
export function createLogger(level: LogLevel = 'info', format: LogFormat = 'auto'): Logger {
  const wantsPretty = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true);
  // pino-pretty is loaded only for people at a terminal: services log JSON and start faster.
  const destination = wantsPretty
    ? (require('pino-pretty') as typeof import('pino-pretty'))({ destination: 2, sync: true, colorize: process.stderr.isTTY === true })
    : pino.destination({ fd: 2, sync: true });
  return pino(
    {
      name: 'nsg2ipfix',
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((arg) => (typeof arg === 'string' ? scrubSecrets(arg) : scrubValue(arg))) as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
}
