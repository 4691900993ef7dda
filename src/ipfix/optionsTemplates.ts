import { elementFor, type ElementName } from './informationElements.js';
import { TEMPLATE_IDS, type FieldSpec } from './templates.js';

/** Options templates: interface names for the NIC indexes, and the Azure resource of a domain. */
export interface OptionsTemplate {
  readonly id: number;
  readonly scope: readonly FieldSpec[];
  readonly fields: readonly FieldSpec[];
}

/** Bytes of the fixed-length interface strings (zero-padded; the last byte is always 0). */
export const INTERFACE_NAME_BYTES = 32;
export const INTERFACE_DESCRIPTION_BYTES = 64;

/**
 * The options templates naming NICs and domains. A NIC is named by two records:
 * - its description (`vm (resource group)`) in nfdump 1.7's layout, the only one it reads: a scope
 *   (here the observation domain), then ingressInterface (10) and interfaceDescription (83) of a
 *   fixed length as plain fields (phaag/nfdump v1.7.1 src/netflow/ipfix.c: a template with
 *   ingressInterface as its scope, or a string of variable length, is read as garbage);
 * - its name, scoped on ingressInterface, as RFC 7011 reads it (Wireshark's cflow.if_name).
 */
export function optionsTemplates(): { descriptions: OptionsTemplate; names: OptionsTemplate; domain: OptionsTemplate } {
  const spec = (name: ElementName, length?: number): FieldSpec => {
    const element = elementFor(name, 0);
    return { name, element: length === undefined ? element : { ...element, length } };
  };
  return {
    descriptions: {
      id: TEMPLATE_IDS.interfaceDescriptions,
      scope: [spec('observationDomainId')],
      fields: [spec('ingressInterface'), spec('interfaceDescription', INTERFACE_DESCRIPTION_BYTES)],
    },
    names: { id: TEMPLATE_IDS.interfaceNames, scope: [spec('ingressInterface')], fields: [spec('interfaceName')] },
    domain: { id: TEMPLATE_IDS.domainOptions, scope: [spec('observationDomainId')], fields: [spec('observationDomainName')] },
  };
}
