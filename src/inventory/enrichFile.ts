import { createRequire } from 'node:module';
import { extname } from 'node:path';
import type * as CsvParse from 'csv-parse/sync';
import type * as CsvStringify from 'csv-stringify/sync';
import { UserError } from '../flow/errors.js';
import { NOT_REGULAR, openRegularFile } from '../regularFile.js';
import { dottedQuadWord, escapeTagText, NAME_TEXT_FIELDS, normalizeIp, type InterfaceNames } from '../flow/interfaceNames.js';
import { formatAzureMac, normalizeMac } from '../flow/mac.js';

/**
 * The `--enrich-file` formats, JSON or CSV by extension. Their keys are a public contract:
 *
 * JSON: `{"interfaces": [{"mac": "00-0D-3A-F8-78-56", "ips": ["10.1.0.4", "2001:db8:1::4"],
 * "vm": "vm-web-01", "nic": "vm-web-01-nic0", "resourceGroup": "rg-prod", "subscription": "<id>",
 * "region": "westeurope", "vnet": "vnet-prod", "subnet": "web", "tags": {"env": "prod"},
 * "resourceId": "/subscriptions/…/networkInterfaces/vm-web-01-nic0"}]}`.
 *
 * CSV: the same names as header columns (any subset, any order), `ips` separated by spaces, `tags`
 * as `k=v;k=v` (a `%`, `;` or `=` inside a key or value written `%25`, `%3B`, `%3D`); cells are
 * trimmed unless quoted.
 *
 * Every field is optional except one of `mac` / `ips`; MACs in any usual spelling
 * (`00-0D-3A-F8-78-56`, `00:0d:3a:f8:78:56`, `000D3AF87856`, `000d.3af8.7856`); public IPs go in
 * `ips` too. A MAC may appear once; an address may appear on several entries (one private range
 * in several VNets), and is then named only where the flow's own VNet tells which.
 */
export const ENRICH_FILE_KEYS = ['mac', 'ips', ...NAME_TEXT_FIELDS.slice(0, 7), 'tags', 'resourceId'] as const;

export type EnrichFileFormat = 'json' | 'csv';

/** A problem in an enrichment file: one line naming the file, the entry (index or line) and the field. */
export class EnrichFileError extends UserError {
  constructor(message: string) {
    super(message, { code: 'enrich-file' });
  }
}

/** The format a path's extension selects, or a UserError. */
export function enrichFileFormat(path: string): EnrichFileFormat {
  const extension = extname(path).toLowerCase();
  if (extension === '.json') return 'json';
  if (extension === '.csv') return 'csv';
  throw new EnrichFileError(`${path}: an enrichment file must end in .json or .csv (got '${extension || 'no extension'}')`);
}

/** Reads and validates an enrichment file; EnrichFileError when it cannot be used. */
export async function loadEnrichFile(path: string): Promise<InterfaceNames[]> {
  return (await readEnrichFile(path)).entries;
}

/** As loadEnrichFile, with the text read (a watch compares later versions with it). */
export async function readEnrichFile(path: string): Promise<{ entries: InterfaceNames[]; text: string }> {
  const format = enrichFileFormat(path);
  let text: string;
  try {
    text = await readNamesText(path);
  } catch (error) {
    throw new EnrichFileError(`${path}: cannot read the enrichment file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return { entries: parseEnrichFile(text, format, path), text };
}

/**
 * The text of a names file, never waiting: a FIFO (or device) in its place is refused with the
 * code `not-a-regular-file` instead of blocking the start until someone writes to it.
 */
export async function readNamesText(path: string): Promise<string> {
  const handle = await openRegularFile(path, () => Object.assign(new Error('not a regular file'), { code: NOT_REGULAR }));
  try {
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** Parses the text of an enrichment file (`file` names it in errors). */
export function parseEnrichFile(text: string, format: EnrichFileFormat, file: string): InterfaceNames[] {
  const located = format === 'json' ? parseJson(text, file) : parseCsvText(text, file);
  const seenMacs = new Map<string, number>();
  for (let i = 0; i < located.entries.length; i++) {
    const mac = located.entries[i]!.mac;
    if (mac === undefined) continue;
    const first = seenMacs.get(mac);
    if (first !== undefined) throw new EnrichFileError(`${file} ${located.where(i)}: mac: ${formatAzureMac(mac)} is already given at ${located.where(first)}`);
    seenMacs.set(mac, i);
  }
  return located.entries;
}

/** Entries, and where the i-th stands (`interfaces[3]` or `line 4`), told only for an error. */
interface LocatedEntries {
  readonly entries: InterfaceNames[];
  where(index: number): string;
}

function parseJson(text: string, file: string): LocatedEntries {
  let document: unknown;
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    document = JSON.parse(body);
  } catch (error) {
    // V8 tells an offset for most errors ("... in JSON at position 90"): a line and column say more.
    const message = (error as Error).message;
    const position = /\s*in JSON at position (\d+)/.exec(message);
    if (position === null) throw new EnrichFileError(`${file}: not valid JSON (${message})`);
    const before = body.slice(0, Number(position[1]));
    const line = before.split('\n').length;
    const column = before.length - before.lastIndexOf('\n');
    throw new EnrichFileError(`${file} line ${line} column ${column}: not valid JSON (${message.replace(position[0], '')})`);
  }
  const interfaces = (document as { interfaces?: unknown } | null)?.interfaces;
  if (document === null || typeof document !== 'object' || Array.isArray(document) || !Array.isArray(interfaces)) {
    throw new EnrichFileError(`${file}: expected {"interfaces": [...]} at the top level`);
  }
  const where = (index: number) => `interfaces[${index}]`;
  const entries = new Array<InterfaceNames>(interfaces.length);
  for (let i = 0; i < interfaces.length; i++) {
    const raw: unknown = interfaces[i];
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new EnrichFileError(`${file} ${where(i)}: expected an object`);
    const entry = raw as Record<string, unknown>;
    for (const key in entry) if (!KEYS.has(key)) checkKey(key, `${file} ${where(i)}`);
    entries[i] = isCanonical(entry) ? (entry as unknown as InterfaceNames) : validateEntry(entry, () => `${file} ${where(i)}`, 'json');
  }
  return { entries, where };
}

function parseCsvText(text: string, file: string): LocatedEntries {
  let rows: Array<{ record: Record<string, string>; info: { lines: number } }>;
  try {
    rows = csv<typeof CsvParse>('csv-parse/sync').parse<{ record: Record<string, string>; info: { lines: number } }>(text, {
      bom: true,
      columns: (header: string[]) => {
        const keys = header.map((column) => checkKey(column.trim(), `${file} line 1`));
        const twice = keys.find((key, j) => keys.indexOf(key) !== j);
        if (twice !== undefined) throw new EnrichFileError(`${file} line 1: column '${twice}' is given twice`);
        return keys;
      },
      info: true,
      skip_empty_lines: true,
      trim: true,
    });
  } catch (error) {
    if (error instanceof EnrichFileError) throw error;
    const e = error as { message?: string; lines?: number };
    throw new EnrichFileError(`${file}${e.lines === undefined ? '' : ` line ${e.lines}`}: not valid CSV (${oneLine(e.message ?? String(error))})`);
  }
  const where = (index: number) => `line ${rows[index]!.info.lines}`;
  return { entries: rows.map(({ record }, i) => validateEntry(record, () => `${file} ${where(i)}`, 'csv')), where };
}

const KEYS: ReadonlySet<string> = new Set(ENRICH_FILE_KEYS);

function checkKey(key: string, where: string): string {
  if (KEYS.has(key)) return key;
  const hint = ENRICH_FILE_KEYS.find((known) => known.toLowerCase() === key.toLowerCase().replace(/[-_ ]/g, ''));
  throw new EnrichFileError(
    `${where}: unknown field '${key}'${hint === undefined ? ` (fields: ${ENRICH_FILE_KEYS.join(', ')})` : ` (did you mean '${hint}'?)`}`,
  );
}

/**
 * One entry of either format as InterfaceNames (its keys already checked); CSV cells are strings,
 * empty meaning absent. `locate` names the entry in an error; run 10,000 times per load, so nothing
 * is built for the error unless there is one.
 */
function validateEntry(raw: Record<string, unknown>, locate: () => string, format: EnrichFileFormat): InterfaceNames {
  const fail = (field: string, problem: string): never => {
    throw new EnrichFileError(`${locate()}: ${field}: ${problem}`);
  };
  const names: { -readonly [K in keyof InterfaceNames]: InterfaceNames[K] } = { ips: [] };
  const mac = textField(raw, 'mac', fail);
  if (mac !== undefined) {
    const normalized = normalizeMac(mac.trim());
    if (normalized === '') fail('mac', `'${mac}' is not a MAC address (00-0D-3A-F8-78-56, 00:0d:3a:f8:78:56, 000D3AF87856 or 000d.3af8.7856)`);
    names.mac = normalized;
  }

  const ips = raw.ips;
  let ipTexts: readonly unknown[] = [];
  if (format === 'csv' || typeof ips === 'string') ipTexts = (textField(raw, 'ips', fail) ?? '').split(/[\s,]+/).filter((ip) => ip !== '');
  else if (Array.isArray(ips)) ipTexts = ips;
  else if (ips !== undefined && ips !== null) fail('ips', `expected an array of addresses, got ${JSON.stringify(ips)}`);
  for (const ip of ipTexts) {
    if (typeof ip !== 'string') return fail('ips', `expected strings, got ${JSON.stringify(ip)}`);
    const normalized = normalizeIp(ip) ?? fail('ips', `'${ip}' is not an IPv4 or IPv6 address`);
    if (!names.ips.includes(normalized)) (names.ips as string[]).push(normalized);
  }
  if (names.mac === undefined && names.ips.length === 0) fail('mac', 'each entry needs a mac or at least one address in ips');

  for (const field of NAME_TEXT_FIELDS) {
    const value = textField(raw, field, fail);
    if (value !== undefined) names[field] = value;
  }

  const tags = format === 'csv' ? parseCsvTags(textField(raw, 'tags', fail), fail) : raw.tags;
  if (tags !== undefined && tags !== null) {
    if (typeof tags !== 'object' || Array.isArray(tags)) fail('tags', `expected an object of strings, got ${JSON.stringify(tags)}`);
    const entries = Object.entries(tags as Record<string, unknown>);
    for (const [key, value] of entries) if (typeof value !== 'string') fail('tags', `tag '${key}' must be a string, got ${JSON.stringify(value)}`);
    if (entries.length > 0) names.tags = { ...(tags as Record<string, string>) };
  }
  return names;
}

/**
 * Whether a parsed JSON entry (its keys already checked) is already what validateEntry would make
 * of it: a normalized MAC, dotted-quad addresses without repeats, non-empty strings, tags of
 * strings. Such an entry is used as it is: a file of 10,000 NICs then makes no second copy of
 * them, and its load takes about half the time. Anything else goes through validateEntry.
 */
function isCanonical(raw: Record<string, unknown>): boolean {
  const { mac, ips, tags } = raw;
  if (mac !== undefined && (typeof mac !== 'string' || normalizeMac(mac) !== mac)) return false;
  if (!Array.isArray(ips)) return false;
  for (let i = 0; i < ips.length; i++) {
    const ip: unknown = ips[i];
    if (typeof ip !== 'string' || dottedQuadWord(ip) === undefined) return false;
    for (let j = 0; j < i; j++) if (ips[j] === ip) return false;
  }
  if (mac === undefined && ips.length === 0) return false;
  for (const field of NAME_TEXT_FIELDS) {
    const value = raw[field];
    if (value !== undefined && (typeof value !== 'string' || value === '')) return false;
  }
  if (tags === undefined) return true;
  if (tags === null || typeof tags !== 'object' || Array.isArray(tags)) return false;
  let count = 0;
  for (const key in tags) {
    if (typeof (tags as Record<string, unknown>)[key] !== 'string') return false;
    count++;
  }
  return count > 0;
}

/** A text field of an entry: undefined when absent or empty. */
function textField(raw: Record<string, unknown>, field: string, fail: (field: string, problem: string) => never): string | undefined {
  const value = raw[field];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') return fail(field, `expected a string, got ${JSON.stringify(value)}`);
  return value;
}

function parseCsvTags(cell: string | undefined, fail: (field: string, problem: string) => never): Record<string, string> | undefined {
  if (cell === undefined) return undefined;
  const tags: Record<string, string> = {};
  for (const pair of cell.split(';')) {
    if (pair.trim() === '') continue;
    const equals = pair.indexOf('=');
    if (equals <= 0) fail('tags', `'${pair}' is not key=value (tags are written k=v;k=v)`);
    tags[decodeTagText(pair.slice(0, equals).trim())] = decodeTagText(pair.slice(equals + 1).trim());
  }
  return tags;
}

/**
 * Only what the tags cell cannot hold as is gets encoded (`%`, `;`, `=`, and spaces at either end,
 * which reading trims), so ordinary text reads as written.
 */
function encodeTagText(text: string): string {
  return escapeTagText(text).replace(/^ +| +$/g, (spaces) => '%20'.repeat(spaces.length));
}

function decodeTagText(text: string): string {
  return text.replace(/%(25|3B|3D|20)/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Entries as an enrichment file of `format` (what `enrich export` writes; loads back to the same entries). */
export function formatEnrichFile(entries: readonly InterfaceNames[], format: EnrichFileFormat): string {
  return format === 'json' ? formatJson(entries) : formatCsv(entries);
}

function formatJson(entries: readonly InterfaceNames[]): string {
  const interfaces = entries.map((names) => {
    const out: Record<string, unknown> = {};
    if (names.mac !== undefined) out.mac = formatAzureMac(names.mac);
    out.ips = [...names.ips];
    for (const field of NAME_TEXT_FIELDS.slice(0, 7)) if (names[field] !== undefined) out[field] = names[field];
    if (names.tags !== undefined && Object.keys(names.tags).length > 0) out.tags = { ...names.tags };
    if (names.resourceId !== undefined) out.resourceId = names.resourceId;
    return out;
  });
  return `${JSON.stringify({ interfaces }, null, 2)}\n`;
}

function formatCsv(entries: readonly InterfaceNames[]): string {
  const rows = entries.map((names) =>
    ENRICH_FILE_KEYS.map((key) => {
      if (key === 'mac') return names.mac === undefined ? '' : formatAzureMac(names.mac);
      if (key === 'ips') return names.ips.join(' ');
      if (key === 'tags')
        return Object.entries(names.tags ?? {})
          .map(([k, v]) => `${encodeTagText(k)}=${encodeTagText(v)}`)
          .join(';');
      return names[key] ?? '';
    }),
  );
  // Cells with spaces at either end are quoted: reading trims unquoted cells.
  return csv<typeof CsvStringify>('csv-stringify/sync').stringify([[...ENRICH_FILE_KEYS], ...rows], { quoted_match: /^\s|\s$/ });
}

const requireLazily = createRequire(import.meta.url);

/**
 * The CSV modules, loaded the first time a CSV file is read or written: a JSON names file, the
 * common case, does not pay their ~30 ms in the start-up of every command that names flows.
 */
function csv<T>(module: 'csv-parse/sync' | 'csv-stringify/sync'): T {
  return requireLazily(module) as T;
}

function oneLine(text: string): string {
  return text.split('\n', 1)[0]!;
}
