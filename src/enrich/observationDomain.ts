import { fnv1a32 } from './fnv1a.js';

/**
 * The IPFIX observation domain (NetFlow v9 source id) of an NSG or VNet flow log, derived from its
 * resource id so it is stable across runs and sidecars: collectors key templates and sequence
 * numbers by it, and operators filter by it. Resource ids are case-insensitive in Azure, so the
 * hash is taken over the upper-case id. 0 is avoided: RFC 7011 reserves it for "no specific domain".
 */
export function observationDomainFromResourceId(resourceId: string): number {
  const hash = fnv1a32(resourceId.toUpperCase());
  return hash === 0 ? 1 : hash;
}

/** Caches the derivation: resource ids repeat on every tuple of a record. */
export class ObservationDomains {
  private readonly byResourceId = new Map<string, number>();

  /** @param forcedDomainId `--observation-domain N`: every flow goes to this domain. */
  constructor(private readonly forcedDomainId?: number) {}

  domainFor(resourceId: string): number {
    if (this.forcedDomainId !== undefined) return this.forcedDomainId;
    let domain = this.byResourceId.get(resourceId);
    if (domain === undefined) {
      domain = observationDomainFromResourceId(resourceId);
      if (this.byResourceId.size >= 65_536) this.byResourceId.clear();
      this.byResourceId.set(resourceId, domain);
    }
    return domain;
  }
}
