import { ADDRESS_WORDS, type FlowColumns, IPV6, OUTBOUND } from '../flow/flowColumns.js';
import type { AzureContext } from '../flow/flowRecord.js';
import type { NamedEntity } from '../flow/interfaceNames.js';
import { FlowStartTimes } from './flowStartTimes.js';
import { InterfaceIndexes } from './interfaceIndex.js';
import type { NameMap } from './nameMap.js';
import { ObservationDomains } from './observationDomain.js';

export interface EnrichOptions {
  /** Flows remembered to give C/E tuples their start time. */
  readonly flowTableSize: number;
  /** Puts every flow in this observation domain instead of one per NSG / flow log. */
  readonly observationDomainId?: number;
  /** The names in force (the holder's map changes when the name sources reload); absent: no names. */
  readonly names?: { readonly names: NameMap };
}

/**
 * The enrich stage: completes parsed flows with what the encoders need and Azure does not write
 * per tuple, as columns of the same FlowColumns: the flow start, the observation domain, the NIC's
 * interface index and, with names configured, the named endpoints on both sides.
 */
export class FlowEnricher {
  private readonly flowStarts: FlowStartTimes;
  private readonly domains: ObservationDomains;
  private readonly interfaces = new InterfaceIndexes();
  private readonly names: { readonly names: NameMap } | undefined;
  private lastContext: AzureContext | undefined;
  private lastDomain = 0;
  private lastInterface = 0;
  /** The NIC a context names by its MAC, under the map it was looked up in. */
  private macMap: NameMap | undefined;
  private macContext: AzureContext | undefined;
  private macEntity: NamedEntity | undefined;

  constructor(options: EnrichOptions) {
    this.flowStarts = new FlowStartTimes(options.flowTableSize);
    this.domains = new ObservationDomains(options.observationDomainId);
    this.names = options.names;
  }

  /** Fills starts, domains, interfaces (and names) of rows [from, to), in order. */
  enrich(flows: FlowColumns, from: number, to: number): void {
    this.flowStarts.fill(flows, from, to);
    const { contexts, domains, interfaces } = flows;
    for (let i = from; i < to; i++) {
      const context = contexts[i]!;
      // Consecutive rows share their AzureContext (a rule group): look its domain and NIC up once.
      if (context !== this.lastContext) {
        this.lastContext = context;
        this.lastDomain = this.domains.domainFor(context.resourceId);
        this.lastInterface = this.interfaces.indexFor(context.mac);
      }
      domains[i] = this.lastDomain;
      interfaces[i] = this.lastInterface;
    }
    if (this.names !== undefined) this.name(flows, from, to, this.names.names);
  }

  /**
   * Names both endpoints of rows [from, to). The local one (the NIC Azure logged: the source of
   * outbound traffic, the destination of inbound) by its MAC, which stays when IPs are reassigned,
   * else by its address; the other one by its address as owned at the tuple's time.
   */
  private name(flows: FlowColumns, from: number, to: number, map: NameMap): void {
    const { contexts, flags, addresses, times, sourceEntities, destinationEntities } = flows;
    if (map !== this.macMap) {
      this.macMap = map;
      this.macContext = undefined;
    }
    for (let i = from; i < to; i++) {
      const context = contexts[i]!;
      if (context !== this.macContext) {
        this.macContext = context;
        this.macEntity = map.forMac(context.mac);
      }
      const g = flags[i]!;
      const outbound = (g & OUTBOUND) !== 0;
      const a = i * ADDRESS_WORDS;
      const localAt = outbound ? a : a + 4;
      const remoteAt = outbound ? a + 4 : a;
      const timeMs = times[i]!;
      let local = this.macEntity;
      let remote: NamedEntity | undefined;
      if ((g & IPV6) === 0) {
        local ??= map.forIpv4(addresses[localAt]!, timeMs);
        remote = map.forIpv4(addresses[remoteAt]!, timeMs, local);
      } else {
        local ??= map.forIpv6(addresses, localAt, timeMs);
        remote = map.forIpv6(addresses, remoteAt, timeMs, local);
      }
      sourceEntities[i] = outbound ? local : remote;
      destinationEntities[i] = outbound ? remote : local;
    }
  }
}
