import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { makeDirectory } from '../durableFile.js';
import { join } from 'node:path';
import type { CheckpointStore } from '@azure/event-hubs';

/**
 * Who this instance is in the partition ownership records, and how a crashed instance gets its
 * partitions back at once.
 *
 * The SDK's load balancer leaves a partition to its recorded owner until the ownership expires
 * (60 s by default), even when the "owner" is this very instance restarted after a kill -9: it
 * counts those records as its own and claims nothing. So the instance keeps its name in its state
 * directory, and at start it releases the ownership records still carrying that name; the load
 * balancer then claims them like any free partition (through the same checkpoint store, so two
 * live instances still never own one partition).
 */

export const INSTANCE_FILE_NAME = 'eventhub-instance.json';

export interface InstanceIdentity {
  readonly id: string;
  /** Where this instance keeps its files (a subdirectory when another live instance holds the directory). */
  readonly stateDir: string;
  /** 'given' (--instance-id), 'resumed' (from the state directory), 'new', or 'shared-dir' (another live instance holds the directory). */
  readonly origin: 'given' | 'resumed' | 'new' | 'shared-dir';
  /** The pid holding the state directory, for 'shared-dir'. */
  readonly holderPid?: number;
  /** Why the name could not be recorded (read-only directory...): a restart then waits for expiry. */
  readonly notRecorded?: string;
}

interface InstanceFile {
  id: string;
  pid: number;
  startedAt: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Decides this instance's name and records it (with our pid) in the state directory. */
export async function claimInstanceIdentity(stateDir: string, givenId: string | undefined): Promise<InstanceIdentity> {
  if (givenId !== undefined) return { id: givenId, stateDir, origin: 'given' };
  const path = join(stateDir, INSTANCE_FILE_NAME);
  let stored: InstanceFile | undefined;
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<InstanceFile>;
    if (typeof parsed.id === 'string' && parsed.id !== '' && typeof parsed.pid === 'number') stored = parsed as InstanceFile;
  } catch {
    // Missing or unreadable: a new name.
  }
  if (stored !== undefined && stored.pid !== process.pid && isAlive(stored.pid)) {
    // Another running instance uses this directory: a name and a directory of our own.
    const id = randomUUID();
    return { id, stateDir: join(stateDir, `instance-${id}`), origin: 'shared-dir', holderPid: stored.pid };
  }
  const id = stored?.id ?? randomUUID();
  const origin = stored === undefined ? 'new' : 'resumed';
  const record: InstanceFile = { id, pid: process.pid, startedAt: new Date().toISOString() };
  const temp = `${path}.tmp-${process.pid}`;
  try {
    await makeDirectory(stateDir);
    await writeFile(temp, `${JSON.stringify(record, null, 1)}\n`, { mode: 0o600 });
    await rename(temp, path);
  } catch (error) {
    return { id, stateDir, origin, notRecorded: (error as NodeJS.ErrnoException).code ?? (error as Error).message };
  }
  return { id, stateDir, origin };
}

/**
 * Releases the ownership records of partitions still recorded under this instance's name (left by
 * its previous run), so they are claimed again at once. Returns the partition ids released. A
 * record changed meanwhile (its ETag moved) belongs to someone else now and is left alone.
 */
export async function releaseOwnRecords(
  store: CheckpointStore,
  target: { fullyQualifiedNamespace: string; eventHubName: string; consumerGroup: string },
  ownerId: string,
): Promise<string[]> {
  const ownerships = await store.listOwnership(target.fullyQualifiedNamespace, target.eventHubName, target.consumerGroup);
  const mine = ownerships.filter((o) => o.ownerId === ownerId);
  if (mine.length === 0) return [];
  const released = await store.claimOwnership(mine.map((o) => ({ ...o, ownerId: '' })));
  return released.map((o) => o.partitionId);
}
