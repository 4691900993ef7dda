/**
 * Secrets never reach logs, error messages or anything else the CLI writes. This is the one
 * scrubber of the product: Azure connection strings, SAS tokens and URLs, account and Event Hubs
 * keys, client secrets, bearer tokens and passwords in URLs are recognised by their key names, and
 * what follows `=` (or `%3D`, URL-encoded) up to the next separator is replaced. A key name counts
 * after any non-letter, so `%26sig%3D` inside an encoded URL is found too.
 */
const SECRET_ASSIGNMENT =
  /(?<![A-Za-z])(AccountKey|SharedAccessKey|SharedAccessSignature|AccessKey|sig|Password|\w*client_?secret|\w*_SECRET|\w*sas_?token|access_token|refresh_token)(=|%3D)((?:(?!%26)[^;&\s"',])+)/gi;
/** The same keys as JSON properties: `{"AccountKey":"..."}` in an echoed object. */
const SECRET_JSON_PROPERTY =
  /("(?:\w*connection_?string|\w*sas_?token|\w*account_?key|\w*access_?key|shared_?access_?key|\w*secret|\w*password)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;
/** `Authorization: Bearer eyJ...`. */
const BEARER = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/g;
/** `https://user:password@host`. */
const URL_PASSWORD = /(\/\/[^/\s:@]+:)[^/\s@]+@/g;

const REDACTED = '[redacted]';

export function scrubSecrets(text: string): string {
  return text
    .replace(SECRET_ASSIGNMENT, `$1$2${REDACTED}`)
    .replace(SECRET_JSON_PROPERTY, `$1"${REDACTED}"`)
    .replace(BEARER, `$1 ${REDACTED}`)
    .replace(URL_PASSWORD, `$1${REDACTED}@`);
}

/** Object keys whose value is a secret whatever its text (a bare account key has no `AccountKey=`). */
const SECRET_KEY = /(connection_?string|sas_?token|account_?key|access_?key|shared_?access_?key|secret|password)$/i;

/** Scrubs every string inside a log object (bounded depth: log objects are small). */
export function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubSecrets(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    const copy = new Error(scrubSecrets(value.message));
    copy.name = value.name;
    copy.stack = value.stack === undefined ? undefined : scrubSecrets(value.stack);
    return copy;
  }
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    out[key] = typeof item === 'string' && SECRET_KEY.test(key) ? REDACTED : scrubValue(item, depth + 1);
  }
  return out;
}

/**
 * Options whose values are secrets whatever their text: `--connection-string`,
 * `--checkpoint-connection-string`, `--sas-token`, anything with `key`, `secret` or `password`.
 */
const SECRET_OPTION = /^--?[\w-]*(connection-?string|sas|key|secret|password|token)[\w-]*$/i;
/** A quoted word of 32+ key-like characters: a bare account key or SAS signature someone mistyped as a command. */
const OPAQUE_TOKEN = /'[A-Za-z0-9+/=_%-]{32,}'/g;

/**
 * Scrubs what commander writes (its errors echo what was typed): besides the patterns above,
 * the value of an unknown or misspelt option (`--conection-string=...`) is never echoed, nor the
 * argument of an option that holds a secret, nor a long opaque word.
 */
export function scrubCommandLineText(text: string): string {
  return scrubSecrets(text)
    .replace(/'(--?[\w-]+)=[^\n]*'/g, `'$1=${REDACTED}'`)
    .replace(/(option '(--?[\w-]+)[^'\n]*' argument )'[^\n]*?'( is invalid)/g, (whole, head: string, flag: string, tail: string) =>
      SECRET_OPTION.test(flag) ? `${head}'${REDACTED}'${tail}` : whole,
    )
    .replace(OPAQUE_TOKEN, `'${REDACTED}'`);
}

/** A URL without its query (SAS) or credentials, for logs. */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '[unparseable url]';
  }
}
