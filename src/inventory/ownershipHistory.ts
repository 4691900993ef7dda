import { ownerKey, type AddressHistory, type InterfaceNames, type OwnerInterval } from '../flow/interfaceNames.js';

/**
 * `sinceMs` of an owner that was already there when records began. Stored as 0 (JSON has no
 * -Infinity); no flow log is that old, so it reads as "always".
 */
export const SINCE_RECORDS_BEGAN_MS = 0;

/**
 * The ownership history after a discovery at `nowMs`: for each address whose owners differ from
 * the previous discovery's, the owners that left get `untilMs = nowMs` and the new ones
 * `sinceMs = nowMs` (the change happened between two refreshes; the refresh that saw it is the
 * best bound known). Owners that stay get their current names. Intervals that ended more than
 * `keepMs` ago are dropped, and with them records that are down to one current owner (the
 * entries name it without a history).
 *
 * `previous` is undefined at the very first discovery: nothing is known to have changed then.
 */
export function updateHistory(
  history: readonly AddressHistory[],
  previous: readonly InterfaceNames[] | undefined,
  current: readonly InterfaceNames[],
  nowMs: number,
  keepMs: number,
): AddressHistory[] {
  const timelines = new Map<string, OwnerInterval[]>(history.map((record) => [record.ip, [...record.owners]]));
  if (previous !== undefined) {
    const before = ownersByAddress(previous);
    const after = ownersByAddress(current);
    for (const ip of new Set([...before.keys(), ...after.keys()])) {
      const was = before.get(ip) ?? new Map<string, InterfaceNames>();
      const is = after.get(ip) ?? new Map<string, InterfaceNames>();
      let timeline = timelines.get(ip);
      const changed = was.size !== is.size || [...is.keys()].some((key) => !was.has(key));
      if (!changed && timeline === undefined) continue;
      if (timeline === undefined) {
        timeline = [...was.values()].map((names) => ({ names, sinceMs: SINCE_RECORDS_BEGAN_MS }));
        timelines.set(ip, timeline);
      }
      for (let i = 0; i < timeline.length; i++) {
        const owner = timeline[i]!;
        if (owner.untilMs !== undefined) continue;
        const key = ownerKey(owner.names);
        const names = is.get(key);
        timeline[i] = names === undefined ? { ...owner, untilMs: nowMs } : { ...owner, names };
      }
      for (const [key, names] of is) {
        if (!timeline.some((owner) => owner.untilMs === undefined && ownerKey(owner.names) === key)) timeline.push({ names, sinceMs: nowMs });
      }
    }
  }
  const kept: AddressHistory[] = [];
  for (const [ip, timeline] of timelines) {
    const owners = timeline.filter((owner) => owner.untilMs === undefined || owner.untilMs >= nowMs - keepMs);
    const onlyCurrent = owners.length === 1 && owners[0]!.untilMs === undefined;
    if (owners.length > 0 && !onlyCurrent) kept.push({ ip, owners });
  }
  return kept;
}

function ownersByAddress(entries: readonly InterfaceNames[]): Map<string, Map<string, InterfaceNames>> {
  const owners = new Map<string, Map<string, InterfaceNames>>();
  for (const names of entries) {
    const key = ownerKey(names);
    for (const ip of names.ips) {
      let byKey = owners.get(ip);
      if (byKey === undefined) owners.set(ip, (byKey = new Map<string, InterfaceNames>()));
      byKey.set(key, names);
    }
  }
  return owners;
}
