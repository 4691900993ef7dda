import ipaddr from 'ipaddr.js';

/** Formats address bytes for people (tables, JSON lines, logs): dotted quads, RFC 5952 IPv6. */
export function formatAddress(bytes: Uint8Array): string {
  return ipaddr.fromByteArray(Array.from(bytes)).toString();
}
