/**
 * Azure writes MACs as `000D3AF87856` (NSG) or `00-0D-3A-F8-78-56` (VNet), in mixed case too;
 * enrichment files may use `00:0d:3a:f8:78:56` or `000d.3af8.7856`. All name one NIC.
 * Returns 12 upper-case hex digits, or '' when the text is not a MAC.
 */
export function normalizeMac(mac: string): string {
  if (NORMALIZED_MAC.test(mac)) return mac;
  const hex = mac.replace(/[-:.]/g, '').toUpperCase();
  return NORMALIZED_MAC.test(hex) ? hex : '';
}

const NORMALIZED_MAC = /^[0-9A-F]{12}$/;

/** `00:0d:3a:f8:78:56`, the form collectors and Wireshark print. */
export function formatMac(normalized: string): string {
  return normalized.toLowerCase().replace(/(..)(?!$)/g, '$1:');
}

/** `00-0D-3A-F8-78-56`, the form Azure shows for a NIC (and the enrichment file's examples). */
export function formatAzureMac(normalized: string): string {
  return normalized.replace(/(..)(?!$)/g, '$1-');
}
