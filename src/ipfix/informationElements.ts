import type { NameField } from '../flow/interfaceNames.js';

/**
 * The information elements nsg2ipfix exports, with their IANA ids and encodings.
 * Source: IANA "IP Flow Information Export (IPFIX) Entities" registry (RFC 7012 and later);
 * RFC 5103 for the reverse elements. Templates name elements from this table, so a typo in a
 * template fails to compile.
 */

export type AbstractDataType =
  'unsigned8' | 'unsigned16' | 'unsigned32' | 'unsigned64' | 'dateTimeMilliseconds' | 'ipv4Address' | 'ipv6Address' | 'macAddress' | 'string';

export interface InformationElement {
  readonly id: number;
  /** 0 for IANA elements; 29305 for RFC 5103 reverse elements; the user's PEN for ours. */
  readonly enterpriseNumber: number;
  readonly type: AbstractDataType;
  /** Encoded length; 0xffff marks variable length (RFC 7011 section 7). */
  readonly length: number;
}

export const VARIABLE_LENGTH = 0xffff;

/** RFC 5103: reverse elements are the forward id under this private enterprise number. */
export const REVERSE_PEN = 29305;

/**
 * Default PEN for our Azure elements: 32473 is reserved by IANA for documentation and examples
 * (RFC 5612), so it can never collide with a real vendor's elements. Organisations that register
 * their own PEN pass it with `--enterprise-number`.
 */
export const DEFAULT_ENTERPRISE_NUMBER = 32473;

const iana = (id: number, type: AbstractDataType, length: number): InformationElement => ({ id, enterpriseNumber: 0, type, length });

export const IANA_ELEMENTS = {
  octetDeltaCount: iana(1, 'unsigned64', 8),
  packetDeltaCount: iana(2, 'unsigned64', 8),
  protocolIdentifier: iana(4, 'unsigned8', 1),
  sourceTransportPort: iana(7, 'unsigned16', 2),
  sourceIPv4Address: iana(8, 'ipv4Address', 4),
  ingressInterface: iana(10, 'unsigned32', 4),
  destinationTransportPort: iana(11, 'unsigned16', 2),
  destinationIPv4Address: iana(12, 'ipv4Address', 4),
  egressInterface: iana(14, 'unsigned32', 4),
  /** NetFlow v9 LAST_SWITCHED: sysUptime ms at the flow's end. */
  flowEndSysUpTime: iana(21, 'unsigned32', 4),
  /** NetFlow v9 FIRST_SWITCHED: sysUptime ms at the flow's start. */
  flowStartSysUpTime: iana(22, 'unsigned32', 4),
  sourceIPv6Address: iana(27, 'ipv6Address', 16),
  destinationIPv6Address: iana(28, 'ipv6Address', 16),
  flowDirection: iana(61, 'unsigned8', 1),
  interfaceName: iana(82, 'string', VARIABLE_LENGTH),
  interfaceDescription: iana(83, 'string', VARIABLE_LENGTH),
  forwardingStatus: iana(89, 'unsigned8', 1),
  observationDomainId: iana(149, 'unsigned32', 4),
  flowStartMilliseconds: iana(152, 'dateTimeMilliseconds', 8),
  flowEndMilliseconds: iana(153, 'dateTimeMilliseconds', 8),
  firewallEvent: iana(233, 'unsigned8', 1),
  observationDomainName: iana(300, 'string', VARIABLE_LENGTH),
} as const satisfies Record<string, InformationElement>;

export const REVERSE_ELEMENTS = {
  reverseOctetDeltaCount: { id: 1, enterpriseNumber: REVERSE_PEN, type: 'unsigned64', length: 8 },
  reversePacketDeltaCount: { id: 2, enterpriseNumber: REVERSE_PEN, type: 'unsigned64', length: 8 },
} as const satisfies Record<string, InformationElement>;

/**
 * Our Azure elements; `enterpriseNumber` here is a placeholder replaced by the configured PEN.
 * Numbers are part of the public interface (collectors are configured with them): never reuse one.
 * They start at 1001 so no id equals an RFC 5103 reverse element's (29305/1, 29305/2...):
 * pmacct 1.7 tells enterprise elements apart by id and template order, not by PEN.
 */
export const AZURE_ELEMENTS = {
  azureRuleName: { id: 1001, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureAclId: { id: 1002, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureEncryption: { id: 1003, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureNicMac: { id: 1004, enterpriseNumber: -1, type: 'macAddress', length: 6 },
  // The Azure names of both endpoints (enrichment), one element per name field and side.
  azureSourceVm: { id: 1010, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureDestinationVm: { id: 1011, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureSourceNic: { id: 1012, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureDestinationNic: { id: 1013, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureSourceResourceGroup: { id: 1014, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureDestinationResourceGroup: { id: 1015, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureSourceSubscription: { id: 1016, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureDestinationSubscription: { id: 1017, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureSourceRegion: { id: 1018, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureDestinationRegion: { id: 1019, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureSourceVnet: { id: 1020, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureDestinationVnet: { id: 1021, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureSourceSubnet: { id: 1022, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureDestinationSubnet: { id: 1023, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureSourceTags: { id: 1024, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
  azureDestinationTags: { id: 1025, enterpriseNumber: -1, type: 'string', length: VARIABLE_LENGTH },
} as const satisfies Record<string, InformationElement>;

/** The element carrying name `field` of one endpoint. */
export function nameElement(side: 'source' | 'destination', field: NameField): ElementName {
  const suffix = NAME_ELEMENT_SUFFIX[field];
  return (side === 'source' ? `azureSource${suffix}` : `azureDestination${suffix}`) as ElementName;
}

const NAME_ELEMENT_SUFFIX: Readonly<Record<NameField, string>> = {
  vm: 'Vm',
  nic: 'Nic',
  resourceGroup: 'ResourceGroup',
  subscription: 'Subscription',
  region: 'Region',
  vnet: 'Vnet',
  subnet: 'Subnet',
  tags: 'Tags',
};

export type ElementName = keyof typeof IANA_ELEMENTS | keyof typeof REVERSE_ELEMENTS | keyof typeof AZURE_ELEMENTS;

/** Resolves an element name to its definition under the configured enterprise number. */
export function elementFor(name: ElementName, azureEnterpriseNumber: number): InformationElement {
  if (name in IANA_ELEMENTS) return IANA_ELEMENTS[name as keyof typeof IANA_ELEMENTS];
  if (name in REVERSE_ELEMENTS) return REVERSE_ELEMENTS[name as keyof typeof REVERSE_ELEMENTS];
  return { ...AZURE_ELEMENTS[name as keyof typeof AZURE_ELEMENTS], enterpriseNumber: azureEnterpriseNumber };
}

/** Reverse lookup for decoders: `enterprise:id` -> name. */
export function elementNameIndex(azureEnterpriseNumber: number): Map<string, { name: ElementName; element: InformationElement }> {
  const index = new Map<string, { name: ElementName; element: InformationElement }>();
  const all = [...Object.keys(IANA_ELEMENTS), ...Object.keys(REVERSE_ELEMENTS), ...Object.keys(AZURE_ELEMENTS)] as ElementName[];
  for (const name of all) {
    const element = elementFor(name, azureEnterpriseNumber);
    index.set(`${element.enterpriseNumber}:${element.id}`, { name, element });
  }
  return index;
}

/** forwardingStatus (IE 89) values, IANA "Forwarding Status" sub-registry (RFC 7270). */
export const FORWARDING_STATUS = {
  /** Status 01 (forwarded), reason 0 (unknown). */
  forwarded: 64,
  /** Status 10 (dropped), reason 1 (ACL deny). */
  droppedAclDeny: 129,
} as const;

/** firewallEvent (IE 233) values, IANA "firewallEvent" sub-registry. */
export const FIREWALL_EVENT = {
  ignore: 0,
  flowCreated: 1,
  flowDeleted: 2,
  flowDenied: 3,
  flowAlert: 4,
  flowUpdate: 5,
} as const;
