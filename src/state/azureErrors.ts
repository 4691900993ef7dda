import { scrubSecrets } from '../secrets.js';
/**
 * Translation of Azure Storage SDK errors where they enter: what kind of failure it was, and a
 * message safe to log (SAS signatures and account keys removed). It lives in state/ because the
 * state stores meet these errors as well as the blob sources, and sources/ may import state/ but
 * not the other way round.
 */

export type AzureFailureKind =
  /** The blob or container is gone (404). */
  | 'not-found'
  /** The blob changed between two requests (412 on an If-Match): read it again next poll. */
  | 'changed'
  /** Credentials missing, rejected or lacking a role (401 / 403, credential unavailable). */
  | 'auth'
  /** Throttling, timeouts, 5xx and network errors: worth another try later. */
  | 'transient'
  /** Anything else (400, wrong blob type…): counted towards poisoning. */
  | 'permanent';

export interface AzureFailure {
  readonly kind: AzureFailureKind;
  readonly statusCode?: number;
  readonly code?: string;
  /** Safe to log: secrets removed, cut to one line. */
  readonly message: string;
}

const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'REQUEST_SEND_ERROR',
]);

export function classifyAzureError(error: unknown): AzureFailure {
  const e = error as { statusCode?: unknown; code?: unknown; name?: unknown; message?: unknown };
  const statusCode = typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const name = typeof e?.name === 'string' ? e.name : '';
  const message = scrubSecrets(firstLine(typeof e?.message === 'string' ? e.message : String(error)));
  let kind: AzureFailureKind;
  if (statusCode === 404) kind = 'not-found';
  else if (statusCode === 412) kind = 'changed';
  else if (
    statusCode === 401 ||
    statusCode === 403 ||
    name === 'CredentialUnavailableError' ||
    name === 'AuthenticationError' ||
    name === 'AggregateAuthenticationError'
  ) {
    kind = 'auth';
  } else if (statusCode === 408 || statusCode === 429 || (statusCode !== undefined && statusCode >= 500)) kind = 'transient';
  else if (statusCode === undefined && (code === undefined || TRANSIENT_NETWORK_CODES.has(code) || name === 'AbortError')) kind = 'transient';
  else kind = 'permanent';
  return { kind, ...(statusCode === undefined ? {} : { statusCode }), ...(code === undefined ? {} : { code }), message };
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
