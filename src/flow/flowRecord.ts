/**
 * The one normalized flow record every stage shares: Azure formats produce it, encoders consume it.
 *
 * Protocol-neutral on purpose: nothing here knows about IPFIX or NetFlow. Times are epoch
 * milliseconds; counts are plain numbers (exact up to 2^53, far beyond any Azure delta) because
 * bigint in the hot loop costs more than the whole encoder.
 */

/** Which Azure schema a tuple came from. */
export type FlowLogKind = 'nsg-v1' | 'nsg-v2' | 'vnet';

/** Traffic direction relative to the NIC / VM that Azure observed. */
export type FlowDirection = 'inbound' | 'outbound';

/** What the NSG / security admin rule did with the flow. */
export type FlowDecision = 'allow' | 'deny';

/**
 * Azure flow state: B (begin), C (continuing, about every 5 minutes), E (end), D (denied, VNet
 * flow logs only). NSG v1 tuples carry no state: `undefined`.
 */
export type FlowState = 'begin' | 'continue' | 'end' | 'deny';

/**
 * What Azure says about where the tuple was logged. One object is shared by every tuple of the
 * same rule group, so building a FlowRecord allocates nothing for it.
 */
export interface AzureContext {
  /** The rule that matched, e.g. `DefaultRule_AllowInternetOutBound` (NSG) or a VNet rule name. */
  readonly rule: string;
  /** NIC MAC address as Azure writes it (`000D3AF87856` or `00-0D-3A-F8-78-56`), '' if unknown. */
  readonly mac: string;
  /** NSG resource id (NSG flow logs) or flow log resource id (VNet flow logs). */
  readonly resourceId: string;
  /** VNet flow logs: the ACL id (GUID or resource id) the rule belongs to; '' for NSG logs. */
  readonly aclId: string;
  /** VNet flow logs: where the traffic was encrypted (X, NX, NX_HW_NOT_SUPPORTED...); '' for NSG logs. */
  readonly encryption: string;
  /** VNet flow logs: flowLogGUID; '' for NSG logs. */
  readonly flowLogGuid: string;
}

export interface FlowRecord {
  readonly kind: FlowLogKind;
  /** Tuple time, epoch ms. Also the flow end time on the wire. */
  readonly timeMs: number;
  /** 4 or 6; the address byte arrays have 4 or 16 bytes to match. */
  readonly family: 4 | 6;
  readonly sourceAddress: Uint8Array;
  readonly destinationAddress: Uint8Array;
  readonly sourcePort: number;
  readonly destinationPort: number;
  /** IANA protocol number (6 TCP, 17 UDP, ...). */
  readonly protocol: number;
  readonly direction: FlowDirection;
  readonly decision: FlowDecision;
  readonly state: FlowState | undefined;
  /** Counts source -> destination; undefined where Azure left the field blank. */
  readonly packetsForward: number | undefined;
  readonly bytesForward: number | undefined;
  /** Counts destination -> source; undefined where Azure left the field blank. */
  readonly packetsReverse: number | undefined;
  readonly bytesReverse: number | undefined;
  readonly azure: AzureContext;
}
