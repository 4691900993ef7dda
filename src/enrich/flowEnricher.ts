import type { FlowColumns } from '../flow/flowColumns.js';
import type { AzureContext } from '../flow/flowRecord.js';
import { FlowStartTimes } from './flowStartTimes.js';
import { InterfaceIndexes } from './interfaceIndex.js';
import { ObservationDomains } from './observationDomain.js';

export interface EnrichOptions {
  /** Flows remembered to give C/E tuples their start time. */
  readonly flowTableSize: number;
  /** Puts every flow in this observation domain instead of one per NSG / flow log. */
  readonly observationDomainId?: number;
}

/**
 * The enrich stage: completes parsed flows with what the encoders need and Azure does not write
 * per tuple, as columns of the same FlowColumns: the flow start, the observation domain and the
 * NIC's interface index.
 */
export class FlowEnricher {
  private readonly flowStarts: FlowStartTimes;
  private readonly domains: ObservationDomains;
  private readonly interfaces = new InterfaceIndexes();
  private lastContext: AzureContext | undefined;
  private lastDomain = 0;
  private lastInterface = 0;

  constructor(options: EnrichOptions) {
    this.flowStarts = new FlowStartTimes(options.flowTableSize);
    this.domains = new ObservationDomains(options.observationDomainId);
  }

  /** Fills starts, domains and interfaces of rows [from, to), in order. */
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
  }
}
