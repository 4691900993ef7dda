import type { FlowView } from '../flow/flowView.js';
import { elementFor, type ElementName, type InformationElement, VARIABLE_LENGTH } from './informationElements.js';
import { writeU16, writeU32 } from './writers.js';

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

/**
 * Where each element's value comes from in a FlowView, as a JS expression over `v`. The wire
 * encoding follows from the element's type and length.
 */
const FIELD_VALUES: Partial<Record<ElementName, string>> = {
  flowStartMilliseconds: 'v.flowStartMs',
  flowEndMilliseconds: 'v.flowEndMs',
  flowStartSysUpTime: 'v.flowStartMs - v.uptimeBaseMs',
  flowEndSysUpTime: 'v.flowEndMs - v.uptimeBaseMs',
  sourceIPv4Address: 'v.sourceAddress',
  destinationIPv4Address: 'v.destinationAddress',
  sourceIPv6Address: 'v.sourceAddress',
  destinationIPv6Address: 'v.destinationAddress',
  sourceTransportPort: 'v.sourcePort',
  destinationTransportPort: 'v.destinationPort',
  protocolIdentifier: 'v.protocol',
  flowDirection: 'v.direction',
  forwardingStatus: 'v.forwardingStatus',
  firewallEvent: 'v.firewallEvent',
  octetDeltaCount: 'v.octets',
  packetDeltaCount: 'v.packets',
  reverseOctetDeltaCount: 'v.reverseOctets',
  reversePacketDeltaCount: 'v.reversePackets',
  ingressInterface: 'v.ingressInterface',
  egressInterface: 'v.egressInterface',
  azureNicMac: 'v.nicMac',
  azureRuleName: 'v.ruleName',
  azureAclId: 'v.aclId',
  azureEncryption: 'v.encryption',
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

const BYTE_ARRAY_TYPES = new Set(['ipv4Address', 'ipv6Address', 'macAddress']);

/**
 * JS source writing one field at `o + at` (network byte order, RFC 7011 section 6.1). Numbers are
 * split into bytes by hand: a template is compiled into one straight-line function per layout, as
 * protobufjs compiles its codecs, because calling one writer per field cost more than the parse.
 */
function fieldSource(field: FieldSpec, at: number): string {
  const value = FIELD_VALUES[field.name];
  if (value === undefined) throw new Error(`no value for element ${field.name}`);
  const { type, length } = field.element;
  const byte = (i: number, expression: string) => `b[o + ${at + i}] = ${expression};`;
  if (BYTE_ARRAY_TYPES.has(type)) {
    const lines = [`x = ${value};`];
    for (let i = 0; i < length; i++) lines.push(byte(i, `x[${i}]`));
    return lines.join(' ');
  }
  switch (length) {
    case 1:
      return byte(0, value);
    case 2:
      return `n = ${value}; ${byte(0, 'n >>> 8')} ${byte(1, 'n')}`;
    case 4:
      return `n = ${value}; ${byte(0, 'n >>> 24')} ${byte(1, 'n >>> 16')} ${byte(2, 'n >>> 8')} ${byte(3, 'n')}`;
    case 8:
      // Exact for whole numbers below 2^53 (times in ms, counts): no bigint on the hot path.
      return [
        `n = ${value}; h = (n / 4294967296) >>> 0;`,
        byte(0, 'h >>> 24'), byte(1, 'h >>> 16'), byte(2, 'h >>> 8'), byte(3, 'h'),
        byte(4, 'n >>> 24'), byte(5, 'n >>> 16'), byte(6, 'n >>> 8'), byte(7, 'n'),
      ].join(' ');
    default:
      throw new Error(`cannot write ${type} of ${length} bytes (${field.name})`);
  }
}

/** Variable-length string (RFC 7011 section 7): one length byte below 255, else 255 and two bytes. */
function variableLengthSource(field: FieldSpec, at: number): string {
  return [
    `x = ${FIELD_VALUES[field.name]}; o += ${at}; n = x.length;`,
    'if (n < 255) { b[o++] = n; } else { b[o] = 255; b[o + 1] = n >>> 8; b[o + 2] = n; o += 3; }',
    'for (let i = 0; i < n; i++) b[o + i] = x[i];',
    'o += n;',
  ].join(' ');
}

function buildFlowTemplate(id: number, fields: FieldSpec[]): FlowTemplate {
  const lines: string[] = ['let n = 0, h = 0, x;'];
  const lengthTerms: string[] = [];
  let at = 0;
  let fixedLength = 0;
  for (const field of fields) {
    if (field.element.length === VARIABLE_LENGTH) {
      lines.push(variableLengthSource(field, at));
      at = 0;
      const bytes = `${FIELD_VALUES[field.name]}.length`;
      lengthTerms.push(`(${bytes} < 255 ? 1 : 3) + ${bytes}`);
    } else {
      lines.push(fieldSource(field, at));
      at += field.element.length;
      fixedLength += field.element.length;
    }
  }
  lines.push(`return o + ${at};`);
  // The source is built from the constant tables above only, never from input.
  const write = new Function('b', 'o', 'v', lines.join('\n')) as FlowTemplate['write'];
  const recordLength = new Function('v', `return ${[String(fixedLength), ...lengthTerms].join(' + ')};`) as FlowTemplate['recordLength'];
  return { id, fields, fixedLength, recordLength, write };
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
