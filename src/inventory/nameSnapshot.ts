import { readFile } from 'node:fs/promises';
import { makeDirectory, syncDirectory, writeFileDurably } from '../durableFile.js';
import { join, resolve } from 'node:path';
import { Nsg2ipfixError } from '../flow/errors.js';
import { normalizeIp, type AddressHistory, type InterfaceNames, type OwnerInterval } from '../flow/interfaceNames.js';
import { normalizeMac } from '../flow/mac.js';

/** The file under the state directory that holds what Azure discovery last found. */
export const NAME_SNAPSHOT_FILE = 'enrichment-names.json';

const SNAPSHOT_VERSION = 1;

/** The last good discovered map and the address ownership history: what a restart starts from, offline. */
export interface NameSnapshot {
  /** When the interfaces were discovered (epoch ms). */
  readonly discoveredAtMs: number;
  readonly interfaces: readonly InterfaceNames[];
  readonly history: readonly AddressHistory[];
}

export function nameSnapshotPath(stateDir: string): string {
  return join(resolve(stateDir), NAME_SNAPSHOT_FILE);
}

/** The snapshot in `stateDir`, undefined when there is none; an Nsg2ipfixError when it cannot be read or is not one. */
export async function loadNameSnapshot(stateDir: string): Promise<NameSnapshot | undefined> {
  const path = nameSnapshotPath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Nsg2ipfixError('name-snapshot-unreadable', `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return parseSnapshot(JSON.parse(text) as unknown);
  } catch (error) {
    throw new Nsg2ipfixError('name-snapshot-unreadable', `${path} is not a name snapshot: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Writes the snapshot atomically: a temporary file (mode 0600: it lists the estate), fsync, rename
 * over the old one, fsync of the directory. A crash leaves the old snapshot or the new, never half.
 */
export async function saveNameSnapshot(stateDir: string, snapshot: NameSnapshot): Promise<void> {
  const path = nameSnapshotPath(stateDir);
  const document = {
    version: SNAPSHOT_VERSION,
    discoveredAt: new Date(snapshot.discoveredAtMs).toISOString(),
    interfaces: snapshot.interfaces,
    history: snapshot.history,
  };
  try {
    await makeDirectory(resolve(stateDir), 0o700);
    await writeFileDurably(path, `${JSON.stringify(document)}\n`);
    await syncDirectory(resolve(stateDir));
  } catch (error) {
    throw new Nsg2ipfixError('name-snapshot-unwritable', `cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
}

function parseSnapshot(document: unknown): NameSnapshot {
  const d = document as { version?: unknown; discoveredAt?: unknown; interfaces?: unknown; history?: unknown } | null;
  if (d === null || typeof d !== 'object') throw new Error('not an object');
  if (d.version !== SNAPSHOT_VERSION) throw new Error(`unknown version ${JSON.stringify(d.version)}`);
  const discoveredAtMs = typeof d.discoveredAt === 'string' ? Date.parse(d.discoveredAt) : NaN;
  if (!Number.isFinite(discoveredAtMs)) throw new Error('discoveredAt is not a time');
  if (!Array.isArray(d.interfaces) || !Array.isArray(d.history)) throw new Error('interfaces and history must be arrays');
  const interfaces = d.interfaces.map((item: unknown, index) => parseNames(item, `interfaces[${index}]`));
  const history = d.history.map((item: unknown, index): AddressHistory => {
    const h = item as { ip?: unknown; owners?: unknown };
    const ip = typeof h?.ip === 'string' ? normalizeIp(h.ip) : undefined;
    if (ip === undefined || !Array.isArray(h.owners)) throw new Error(`history[${index}] is not an address history`);
    const owners = h.owners.map((owner: unknown, o): OwnerInterval => {
      const w = owner as { names?: unknown; sinceMs?: unknown; untilMs?: unknown };
      if (typeof w?.sinceMs !== 'number' || (w.untilMs !== undefined && typeof w.untilMs !== 'number'))
        throw new Error(`history[${index}].owners[${o}] has no times`);
      const names = parseNames(w.names, `history[${index}].owners[${o}].names`);
      return w.untilMs === undefined ? { names, sinceMs: w.sinceMs } : { names, sinceMs: w.sinceMs, untilMs: w.untilMs };
    });
    return { ip, owners };
  });
  return { discoveredAtMs, interfaces, history };
}

/** Our own file: checked for shape, not for every rule of the enrichment file format. */
function parseNames(value: unknown, where: string): InterfaceNames {
  const v = value as Record<string, unknown> | null;
  if (v === null || typeof v !== 'object' || !Array.isArray(v.ips)) throw new Error(`${where} is not an interface`);
  const ips = v.ips.map((ip: unknown) => (typeof ip === 'string' ? normalizeIp(ip) : undefined));
  if (ips.some((ip) => ip === undefined)) throw new Error(`${where}.ips holds something that is not an address`);
  for (const [key, field] of Object.entries(v)) {
    if (key !== 'ips' && key !== 'tags' && typeof field !== 'string') throw new Error(`${where}.${key} is not a string`);
  }
  if (v.mac !== undefined && normalizeMac(v.mac as string) !== v.mac) throw new Error(`${where}.mac is not a normalized MAC`);
  return { ...(v as object), ips } as InterfaceNames;
}
