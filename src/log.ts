import { pino, type Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * Paths of values that may hold secrets, wherever a child logger puts them. Connection strings
 * and SAS tokens must never reach a log line.
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
];

/** The one logger, built by the CLI and passed down. JSON lines on stderr: stdout is for data. */
export function createLogger(level: LogLevel = 'info'): Logger {
  return pino(
    { name: 'nsg2ipfix', level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { pid: process.pid } },
    pino.destination({ fd: 2, sync: true }),
  );
}
