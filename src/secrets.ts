/**
 * Secrets never reach logs or error messages. Azure connection strings and SAS URLs are
 * recognised by their key names; what follows `=` up to the next separator is replaced.
 */
const SECRET_PATTERN = /\b(AccountKey|SharedAccessKey|SharedAccessSignature|sig|AccessKey|Password|client_secret)=([^;&\s"',]+)/gi;

export function scrubSecrets(text: string): string {
  return text.replace(SECRET_PATTERN, '$1=[redacted]');
}

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
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) out[key] = scrubValue(item, depth + 1);
  return out;
}
