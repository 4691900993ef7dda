import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
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

/** Parses and resolves (DNS for names, first address) a collector. */
export async function resolveCollector(text: string, defaultPort: number): Promise<CollectorAddress> {
  const { host, port } = parseCollector(text, defaultPort);
  const literal = isIP(host);
  if (literal === 4 || literal === 6) return { label: text, address: host, family: literal, port };
  try {
    const resolved = await lookup(host);
    return { label: text, address: resolved.address, family: resolved.family === 6 ? 6 : 4, port };
  } catch (error) {
    throw new CollectorAddressError(`collector '${text}': cannot resolve '${host}' (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
