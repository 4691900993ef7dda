import type { AzureContext, FlowRecord } from './flowRecord.js';
import { FIREWALL_EVENT, FLOW_DIRECTION, FORWARDING_STATUS } from '../ipfix/informationElements.js';

/**
 * One exported record as the encoders see it: a FlowRecord seen from one direction, with the
 * values already in wire terms. One mutable instance is reused for every record, so encoding
 * allocates nothing per record.
 */
export class FlowView {
  flowStartMs = 0;
  flowEndMs = 0;
  family: 4 | 6 = 4;
  sourceAddress: Uint8Array = new Uint8Array(4);
  destinationAddress: Uint8Array = new Uint8Array(4);
  sourcePort = 0;
  destinationPort = 0;
  protocol = 0;
  /** flowDirection (IE 61): 0 ingress, 1 egress. */
  direction = 0;
  forwardingStatus = 0;
  firewallEvent = 0;
  octets = 0;
  packets = 0;
  reverseOctets = 0;
  reversePackets = 0;
  ingressInterface = 0;
  egressInterface = 0;
  ruleName: Uint8Array = EMPTY;
  aclId: Uint8Array = EMPTY;
  encryption: Uint8Array = EMPTY;
  nicMac: Uint8Array = NO_MAC;
  /** NetFlow v9 / v5 only: epoch ms of sysUptime 0 in the packet being written. */
  uptimeBaseMs = 0;
}

const EMPTY = new Uint8Array(0);
const NO_MAC = new Uint8Array(6);

const FIREWALL_EVENT_BY_STATE = {
  begin: FIREWALL_EVENT.flowCreated,
  continue: FIREWALL_EVENT.flowUpdate,
  end: FIREWALL_EVENT.flowDeleted,
  deny: FIREWALL_EVENT.flowDenied,
} as const;

/** The wire bytes of an AzureContext's strings and NIC MAC. */
export interface AzureBytes {
  readonly ruleName: Uint8Array;
  readonly aclId: Uint8Array;
  readonly encryption: Uint8Array;
  readonly nicMac: Uint8Array;
}

/** Encoded Azure strings and MACs, cached: the same few rule names repeat on every tuple. */
export interface ViewStrings {
  utf8(text: string): Uint8Array;
  mac(text: string): Uint8Array;
  /** The bytes of every string of `azure`; consecutive tuples share one context, so this is cached. */
  azureBytes(azure: AzureContext): AzureBytes;
}

/**
 * Fills `view` with the forward direction of `flow` (as Azure logged it: source -> destination).
 * The NIC is the ingress interface of inbound traffic and the egress interface of outbound.
 */
export function fillForwardView(view: FlowView, flow: FlowRecord, flowStartMs: number, interfaceIndex: number, strings: ViewStrings): void {
  const inbound = flow.direction === 'inbound';
  view.flowStartMs = flowStartMs;
  view.flowEndMs = flow.timeMs;
  view.family = flow.family;
  view.sourceAddress = flow.sourceAddress;
  view.destinationAddress = flow.destinationAddress;
  view.sourcePort = flow.sourcePort;
  view.destinationPort = flow.destinationPort;
  view.protocol = flow.protocol;
  view.direction = inbound ? FLOW_DIRECTION.ingress : FLOW_DIRECTION.egress;
  view.forwardingStatus = flow.decision === 'deny' ? FORWARDING_STATUS.droppedAclDeny : FORWARDING_STATUS.forwarded;
  view.firewallEvent =
    flow.decision === 'deny' ? FIREWALL_EVENT.flowDenied : flow.state === undefined ? FIREWALL_EVENT.ignore : FIREWALL_EVENT_BY_STATE[flow.state];
  view.octets = flow.bytesForward ?? 0;
  view.packets = flow.packetsForward ?? 0;
  view.reverseOctets = flow.bytesReverse ?? 0;
  view.reversePackets = flow.packetsReverse ?? 0;
  view.ingressInterface = inbound ? interfaceIndex : 0;
  view.egressInterface = inbound ? 0 : interfaceIndex;
  const bytes = strings.azureBytes(flow.azure);
  view.ruleName = bytes.ruleName;
  view.aclId = bytes.aclId;
  view.encryption = bytes.encryption;
  view.nicMac = bytes.nicMac;
}

/** Whether the tuple reports any traffic from destination back to source. */
export function hasReverseTraffic(flow: FlowRecord): boolean {
  return (flow.packetsReverse ?? 0) > 0 || (flow.bytesReverse ?? 0) > 0;
}

/**
 * Turns a forward view into the reverse uniflow of the same tuple (`--biflow split`): endpoints
 * swapped, reverse counts as the record's own, direction and interfaces flipped because the
 * answer travels the other way through the NIC.
 */
export function reverseView(view: FlowView): void {
  const address = view.sourceAddress;
  view.sourceAddress = view.destinationAddress;
  view.destinationAddress = address;
  const port = view.sourcePort;
  view.sourcePort = view.destinationPort;
  view.destinationPort = port;
  view.direction = view.direction === FLOW_DIRECTION.ingress ? FLOW_DIRECTION.egress : FLOW_DIRECTION.ingress;
  const ingress = view.ingressInterface;
  view.ingressInterface = view.egressInterface;
  view.egressInterface = ingress;
  view.octets = view.reverseOctets;
  view.packets = view.reversePackets;
  view.reverseOctets = 0;
  view.reversePackets = 0;
}
