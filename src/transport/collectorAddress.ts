import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { UserError } from '../userError.js';

/** A `--collector` value resolved to one address. */
export interface CollectorAddress {
  /** As the user wrote it, for logs and metrics labels. */
  readonly label: string;
  readonly address: string;
  readonly family: 4 | 6;
  readonly port: number;
}

export class CollectorAddressError extends UserError {}

/**
 * Parses `HOST:PORT`, `[IPv6]:PORT`, a bare host or IPv6 address (default port), or a host name.
 * Returns the host still unresolved.
 */
export function parseCollector(text: string, defaultPort: number): { host: string; port: number } {
  const value = text.trim();
  if (value === '') throw new CollectorAddressError('empty collector address');
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed !== null) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if (isIP(value) === 6) {
    host = value;
  } else {
    const colon = value.lastIndexOf(':');
    if (colon >= 0 && value.indexOf(':') === colon) {
      host = value.slice(0, colon);
      portText = value.slice(colon + 1);
    } else if (colon >= 0) {
      throw new CollectorAddressError(`collector '${value}': write IPv6 addresses with a port as [ADDRESS]:PORT`);
    } else {
      host = value;
    }
  }
  if (host === '') throw new CollectorAddressError(`collector '${value}' has no host`);
  let port = defaultPort;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) throw new CollectorAddressError(`collector '${value}': port must be 1..65535`);
  }
  return { host, port };
}

/** Parses and resolves (DNS for names, first address; the zone of a scoped IPv6 address) a collector. */
export async function resolveCollector(text: string, defaultPort: number): Promise<CollectorAddress> {
  const { host, port } = parseCollector(text, defaultPort);
  const literal = isIP(host);
  if (literal === 6 && host.includes('%')) return { label: text, address: resolveZone(text, host), family: 6, port };
  if (literal === 4 || literal === 6) return { label: text, address: host, family: literal, port };
  try {
    const resolved = await lookup(host);
    return { label: text, address: resolved.address, family: resolved.family === 6 ? 6 : 4, port };
  } catch (error) {
    throw new CollectorAddressError(`collector '${text}': cannot resolve '${host}' (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * A link-local IPv6 address needs its zone, the interface to send from: `fe80::1%eth0` or
 * `fe80::1%2`. node:dgram takes only interface names (a number fails with EINVAL), so an index is
 * turned into its interface's name; a zone this host does not have is refused here, in one line,
 * rather than by the socket later.
 */
export function resolveZone(label: string, host: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string {
  const at = host.indexOf('%');
  const address = host.slice(0, at);
  const zone = host.slice(at + 1);
  const names = Object.keys(interfaces);
  if (/^\d+$/.test(zone)) {
    const index = Number(zone);
    const name = names.find((n) => interfaces[n]!.some((info) => info.family === 'IPv6' && info.scopeid === index));
    if (name === undefined)
      throw new CollectorAddressError(`collector '${label}': no network interface has index ${zone} (this host has: ${names.join(', ')})`);
    return `${address}%${name}`;
  }
  if (zone === '' || !names.includes(zone))
    throw new CollectorAddressError(`collector '${label}': no network interface '${zone}' (this host has: ${names.join(', ')})`);
  return host;
}
