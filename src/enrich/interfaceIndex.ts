import { fnv1a32 } from './fnv1a.js';

/**
 * Azure writes MACs as `000D3AF87856` (NSG) or `00-0D-3A-F8-78-56` (VNet); both name one NIC.
 * Returns 12 upper-case hex digits, or '' when the text is not a MAC.
 */
export function normalizeMac(mac: string): string {
  const hex = mac.replace(/[-:.]/g, '').toUpperCase();
  return /^[0-9A-F]{12}$/.test(hex) ? hex : '';
}

/** `00:0d:3a:f8:78:56`, the form collectors and Wireshark print. */
export function formatMac(normalized: string): string {
  return normalized.toLowerCase().replace(/(..)(?!$)/g, '$1:');
}

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
