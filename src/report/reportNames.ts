import type { NameMap } from '../enrich/nameMap.js';
import type { NameOf } from './flowReport.js';

/**
 * Names for a report's addresses: the VM (else the NIC) that owned each address at `atMs`, the
 * end of the window the report covers, so an address handed on within the window shows its
 * latest owner. Looked up once per address: renderers ask for the same ones several times.
 */
export function reportNames(names: NameMap, atMs: number): NameOf {
  const known = new Map<string, string | undefined>();
  return (address) => {
    if (known.has(address)) return known.get(address);
    const owner = names.forAddress(address, atMs)?.names;
    const name = owner?.vm ?? owner?.nic;
    known.set(address, name);
    return name;
  };
}
