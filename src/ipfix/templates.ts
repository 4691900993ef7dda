import type { FlowView } from '../flow/flowView.js';
import { elementFor, type ElementName, type InformationElement, VARIABLE_LENGTH } from './informationElements.js';
import { variableLengthSize, writeBytes, writeU16, writeU32, writeU64, writeU8, writeVariableLength } from './writers.js';

/**
 * Templates are data: a list of element names. One spec yields the IPv4 and the IPv6 variant.
 * Ids are fixed per layout and never reused for another layout within a run, because tshark keeps
 * the first definition it sees for an id (INTEROP.md).
 */

export const TEMPLATE_IDS = {
  flowIPv4: 256,
  flowIPv6: 257,
  biflowIPv4: 258,
  biflowIPv6: 259,
  interfaceOptions: 260,
  domainOptions: 261,
  /** NetFlow v9 gets ids of its own, so a v9 and an IPFIX stream can never be confused (tshark). */
  netflow9IPv4: 300,
  netflow9IPv6: 301,
  netflow9InterfaceOptions: 302,
} as const;

type AddressSlot = 'sourceAddress' | 'destinationAddress';

/** The flow record layout; address slots become IPv4 or IPv6 elements per variant. */
const FLOW_FIELDS: readonly (ElementName | AddressSlot)[] = [
  'flowStartMilliseconds',
  'flowEndMilliseconds',
  'sourceAddress',
  'destinationAddress',
  'sourceTransportPort',
  'destinationTransportPort',
  'protocolIdentifier',
  'flowDirection',
  'forwardingStatus',
  'firewallEvent',
  'octetDeltaCount',
  'packetDeltaCount',
  'ingressInterface',
  'egressInterface',
  'azureNicMac',
  'azureRuleName',
  'azureAclId',
  'azureEncryption',
];

/** RFC 5103 biflow: the forward layout plus the reverse counters. */
const BIFLOW_FIELDS: readonly (ElementName | AddressSlot)[] = [...FLOW_FIELDS, 'reverseOctetDeltaCount', 'reversePacketDeltaCount'];

/**
 * NetFlow v9 (RFC 3954): fixed-length fields only, times as sysUptime. firewallEvent (233) is left
 * out on purpose: nfdump reads it in v9 as a Cisco NSEL event and stops treating the record as a
 * flow. The Azure elements need enterprise numbers, which v9 does not have.
 */
const NETFLOW9_FIELDS: readonly (ElementName | AddressSlot)[] = [
  'flowStartSysUpTime',
  'flowEndSysUpTime',
  'sourceAddress',
  'destinationAddress',
  'sourceTransportPort',
  'destinationTransportPort',
  'protocolIdentifier',
  'flowDirection',
  'forwardingStatus',
  'octetDeltaCount',
  'packetDeltaCount',
  'ingressInterface',
  'egressInterface',
];

export interface FieldSpec {
  readonly name: ElementName;
  readonly element: InformationElement;
}

/** Writes one field of a FlowView; returns the new offset. */
type FieldWriter = (buf: Buffer, offset: number, view: FlowView) => number;

const FIELD_WRITERS: Partial<Record<ElementName, FieldWriter>> = {
  flowStartMilliseconds: (b, o, v) => writeU64(b, o, v.flowStartMs),
  flowEndMilliseconds: (b, o, v) => writeU64(b, o, v.flowEndMs),
  flowStartSysUpTime: (b, o, v) => writeU32(b, o, v.flowStartMs - v.uptimeBaseMs),
  flowEndSysUpTime: (b, o, v) => writeU32(b, o, v.flowEndMs - v.uptimeBaseMs),
  sourceIPv4Address: (b, o, v) => writeBytes(b, o, v.sourceAddress),
  destinationIPv4Address: (b, o, v) => writeBytes(b, o, v.destinationAddress),
  sourceIPv6Address: (b, o, v) => writeBytes(b, o, v.sourceAddress),
  destinationIPv6Address: (b, o, v) => writeBytes(b, o, v.destinationAddress),
  sourceTransportPort: (b, o, v) => writeU16(b, o, v.sourcePort),
  destinationTransportPort: (b, o, v) => writeU16(b, o, v.destinationPort),
  protocolIdentifier: (b, o, v) => writeU8(b, o, v.protocol),
  flowDirection: (b, o, v) => writeU8(b, o, v.direction),
  forwardingStatus: (b, o, v) => writeU8(b, o, v.forwardingStatus),
  firewallEvent: (b, o, v) => writeU8(b, o, v.firewallEvent),
  octetDeltaCount: (b, o, v) => writeU64(b, o, v.octets),
  packetDeltaCount: (b, o, v) => writeU64(b, o, v.packets),
  reverseOctetDeltaCount: (b, o, v) => writeU64(b, o, v.reverseOctets),
  reversePacketDeltaCount: (b, o, v) => writeU64(b, o, v.reversePackets),
  ingressInterface: (b, o, v) => writeU32(b, o, v.ingressInterface),
  egressInterface: (b, o, v) => writeU32(b, o, v.egressInterface),
  azureNicMac: (b, o, v) => writeBytes(b, o, v.nicMac),
  azureRuleName: (b, o, v) => writeVariableLength(b, o, v.ruleName),
  azureAclId: (b, o, v) => writeVariableLength(b, o, v.aclId),
  azureEncryption: (b, o, v) => writeVariableLength(b, o, v.encryption),
};

/** A data template: its wire definition and how to write a FlowView with it. */
export interface FlowTemplate {
  readonly id: number;
  readonly fields: readonly FieldSpec[];
  /** Bytes of the fixed-length fields. */
  readonly fixedLength: number;
  /** Encoded length of `view` under this template. */
  recordLength(view: FlowView): number;
  /** Writes `view` at `offset`; returns the offset after the record. */
  write(buf: Buffer, offset: number, view: FlowView): number;
}

function resolve(slots: readonly (ElementName | AddressSlot)[], family: 4 | 6, enterpriseNumber: number): FieldSpec[] {
  return slots.map((slot) => {
    const name: ElementName =
      slot === 'sourceAddress'
        ? family === 4 ? 'sourceIPv4Address' : 'sourceIPv6Address'
        : slot === 'destinationAddress'
          ? family === 4 ? 'destinationIPv4Address' : 'destinationIPv6Address'
          : slot;
    return { name, element: elementFor(name, enterpriseNumber) };
  });
}

function buildFlowTemplate(id: number, fields: FieldSpec[]): FlowTemplate {
  const writers = fields.map((field) => {
    const writer = FIELD_WRITERS[field.name];
    if (writer === undefined) throw new Error(`no writer for element ${field.name}`);
    return writer;
  });
  const fixedLength = fields.reduce((sum, f) => sum + (f.element.length === VARIABLE_LENGTH ? 0 : f.element.length), 0);
  const hasStrings = fields.some((f) => f.element.length === VARIABLE_LENGTH);
  return {
    id,
    fields,
    fixedLength,
    recordLength: hasStrings
      ? (view) => fixedLength + variableLengthSize(view.ruleName) + variableLengthSize(view.aclId) + variableLengthSize(view.encryption)
      : () => fixedLength,
    write(buf, offset, view) {
      for (let i = 0; i < writers.length; i++) offset = writers[i]!(buf, offset, view);
      return offset;
    },
  };
}

/** The data templates of one run, chosen by the biflow mode. */
export interface FlowTemplates {
  readonly ipv4: FlowTemplate;
  readonly ipv6: FlowTemplate;
}

export function flowTemplates(biflow: 'split' | 'rfc5103', enterpriseNumber: number): FlowTemplates {
  const slots = biflow === 'rfc5103' ? BIFLOW_FIELDS : FLOW_FIELDS;
  const [v4Id, v6Id] = biflow === 'rfc5103' ? [TEMPLATE_IDS.biflowIPv4, TEMPLATE_IDS.biflowIPv6] : [TEMPLATE_IDS.flowIPv4, TEMPLATE_IDS.flowIPv6];
  return {
    ipv4: buildFlowTemplate(v4Id, resolve(slots, 4, enterpriseNumber)),
    ipv6: buildFlowTemplate(v6Id, resolve(slots, 6, enterpriseNumber)),
  };
}

export function netflow9Templates(): FlowTemplates {
  return {
    ipv4: buildFlowTemplate(TEMPLATE_IDS.netflow9IPv4, resolve(NETFLOW9_FIELDS, 4, 0)),
    ipv6: buildFlowTemplate(TEMPLATE_IDS.netflow9IPv6, resolve(NETFLOW9_FIELDS, 6, 0)),
  };
}

/** Options templates: interface names for the NIC indexes, and the Azure resource of a domain. */
export interface OptionsTemplate {
  readonly id: number;
  readonly scope: readonly FieldSpec[];
  readonly fields: readonly FieldSpec[];
}

export function optionsTemplates(): { interfaces: OptionsTemplate; domain: OptionsTemplate } {
  const spec = (name: ElementName): FieldSpec => ({ name, element: elementFor(name, 0) });
  return {
    interfaces: { id: TEMPLATE_IDS.interfaceOptions, scope: [spec('ingressInterface')], fields: [spec('interfaceName'), spec('interfaceDescription')] },
    domain: { id: TEMPLATE_IDS.domainOptions, scope: [spec('observationDomainId')], fields: [spec('observationDomainName')] },
  };
}

/** RFC 7011 section 3.2: a field specifier, with the enterprise bit and PEN where needed. */
export function writeFieldSpecifier(buf: Buffer, offset: number, element: InformationElement): number {
  if (element.enterpriseNumber === 0) {
    offset = writeU16(buf, offset, element.id);
    return writeU16(buf, offset, element.length);
  }
  offset = writeU16(buf, offset, element.id | 0x8000);
  offset = writeU16(buf, offset, element.length);
  return writeU32(buf, offset, element.enterpriseNumber);
}

export function fieldSpecifierSize(element: InformationElement): number {
  return element.enterpriseNumber === 0 ? 4 : 8;
}
