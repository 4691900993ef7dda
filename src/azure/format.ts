import type { FlowDecision, FlowDirection, FlowState } from '../flow/flowRecord.js';
import { STATE_CODES } from '../flow/flowColumns.js';

/**
 * The Azure flow log format rules, each written once. The reference readers (nsgFlowLog.ts,
 * vnetFlowLog.ts, connectorRecord.ts) read them as tables; the byte-level fast reader (fast/) reads
 * the byte tables derived from the same tables, so the two can never drift apart.
 * Sources: Microsoft Learn, "Flow logging for network security groups" and "Virtual network flow
 * logs", log format sections (shared/FORMATS.md).
 */

export const NSG_CATEGORY = 'NetworkSecurityGroupFlowEvent';
export const VNET_CATEGORY = 'FlowLogFlowEvent';

/**
 * Which reader a record belongs to: by its category, or, without one, by the key that holds its
 * flows (`flowRecords` VNet, `properties` NSG). VNet wins when both keys appear without a category.
 */
export function recordKind(category: unknown, hasFlowRecords: boolean, hasProperties: boolean): 'vnet' | 'nsg' | undefined {
  if (category === VNET_CATEGORY || (category === undefined && hasFlowRecords)) return 'vnet';
  if (category === NSG_CATEGORY || (category === undefined && hasProperties)) return 'nsg';
  return undefined;
}

/** Tuple timestamps at or above this are epoch milliseconds; below, epoch seconds (year 5138 in s). */
export const MILLISECONDS_THRESHOLD = 100_000_000_000;

/** A tuple timestamp as Azure writes it (seconds in NSG logs and one VNet doc example, ms in VNet samples) to epoch ms. */
export function tupleTimeMs(value: number): number {
  return value >= MILLISECONDS_THRESHOLD ? value : value * 1000;
}

/**
 * NSG `properties.Version` (or `version`), as the record declares it: 1 or 2, else undefined
 * (then each tuple's field count decides). `Version` wins over `version` when both are there.
 */
export function declaredNsgVersion(upper: unknown, lower: unknown): 1 | 2 | undefined {
  const declared = Number(upper ?? lower);
  return declared === 1 || declared === 2 ? declared : undefined;
}

/** The NIC of an NSG tuple: its MAC group's `mac`, else the record's `macAddress`. */
export function nsgTupleMac(groupMac: string, recordMac: string): string {
  return groupMac || recordMac;
}

/** The resource a VNet record is named after: the flow log, else its target (VNet, subnet or NIC). */
export function vnetResourceId(flowLogResourceId: string, targetResourceId: string): string {
  return flowLogResourceId || targetResourceId;
}

/** Field counts of NSG v1 and v2 tuples and of VNet tuples. */
export const NSG_V1_FIELDS = 8;
export const NSG_V2_FIELDS = 13;
export const VNET_FIELDS = 13;

/** NSG tuples name the protocol by letter; VNet tuples give the IANA number. */
export const NSG_PROTOCOLS: Readonly<Record<string, number>> = { T: 6, U: 17 };
export const DIRECTIONS: Readonly<Record<string, FlowDirection>> = { I: 'inbound', O: 'outbound' };
export const NSG_DECISIONS: Readonly<Record<string, FlowDecision>> = { A: 'allow', D: 'deny' };
export const NSG_STATES: Readonly<Record<string, FlowState>> = { B: 'begin', C: 'continue', E: 'end' };
/** VNet tuples have no decision field: state D means denied. */
export const VNET_STATES: Readonly<Record<string, FlowState>> = { ...NSG_STATES, D: 'deny' };

/** Longest encryption status word read (the longest Azure documents is 21 characters). */
export const MAX_ENCRYPTION_BYTES = 64;

/** A byte of a VNet encryption status word (X, NX, NX_HW_NOT_SUPPORTED...): letters, digits, `_`. */
export function isEncryptionByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c === 0x5f;
}

/** Whether `text` is an encryption status word (empty included: some records leave it blank). */
export function isEncryptionStatus(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (!isEncryptionByte(text.charCodeAt(i))) return false;
  return true;
}

/** Byte tables for the fast reader: the value of each one-letter code, `none` for any other byte. */
function byteTable<T>(table: Readonly<Record<string, T>>, encode: (value: T) => number, none: number): Uint8Array {
  const bytes = new Uint8Array(256).fill(none);
  for (const [letter, value] of Object.entries(table)) bytes[letter.charCodeAt(0)] = encode(value);
  return bytes;
}

/** 0 for a byte that is no protocol letter (0 is never an NSG protocol). */
export const NSG_PROTOCOL_BY_BYTE = byteTable(NSG_PROTOCOLS, (protocol) => protocol, 0);
/** 0 inbound, 1 outbound, 255 neither. */
export const OUTBOUND_BY_BYTE = byteTable(DIRECTIONS, (direction) => (direction === 'outbound' ? 1 : 0), 255);
/** 0 allow, 1 deny, 255 neither. */
export const DENIED_BY_BYTE = byteTable(NSG_DECISIONS, (decision) => (decision === 'deny' ? 1 : 0), 255);
/** STATE_CODES, STATE_CODES.none for a byte that is no state letter. */
export const NSG_STATE_BY_BYTE = byteTable(NSG_STATES, (state) => STATE_CODES[state], STATE_CODES.none);
export const VNET_STATE_BY_BYTE = byteTable(VNET_STATES, (state) => STATE_CODES[state], STATE_CODES.none);
