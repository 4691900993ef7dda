import { normalizeMac } from '../flow/interfaceNames.js';
import { fnv1a32 } from './fnv1a.js';

// The MAC helpers live with the shared InterfaceNames type; re-exported for existing importers.
export { formatMac, normalizeMac } from '../flow/interfaceNames.js';

/**
 * The SNMP-style interface index a NIC gets on the wire (ingressInterface / egressInterface).
 * Derived from the MAC so it is stable across runs and sidecars; 31 bits because some collectors
 * store ifIndex as a signed 32-bit number; 0 means "no interface" and is never produced for a NIC.
 */
export function interfaceIndexFromMac(normalizedMac: string): number {
  if (normalizedMac === '') return 0;
  const index = fnv1a32(normalizedMac) & 0x7fffffff;
  return index === 0 ? 1 : index;
}

export class InterfaceIndexes {
  private readonly byMac = new Map<string, number>();

  indexFor(mac: string): number {
    let index = this.byMac.get(mac);
    if (index === undefined) {
      index = interfaceIndexFromMac(normalizeMac(mac));
      if (this.byMac.size >= 65_536) this.byMac.clear();
      this.byMac.set(mac, index);
    }
    return index;
  }
}
