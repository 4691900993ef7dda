import type { AzureContext, FlowDecision, FlowDirection, FlowState } from '../flow/flowRecord.js';
import type { ProblemContext, SkipReason } from './problems.js';
import { asString, recordProblem, lookup } from './recordShape.js';
import type { FlowSink } from './tupleSink.js';
import { FieldError, isDigits, parseTimestampMs, parseTupleHead, parseCounts, tupleRecord } from './tupleFields.js';

/**
 * Denormalized NSG flow records, one tuple per JSON object, as Microsoft's NSG flow logs connector
 * (microsoft/AzureNetworkWatcherNSGFlowLogsConnector, DenormalizedRecord.cs) sends them to Event
 * Hubs inside `{"records":[...]}` bundles of up to 512 KB, nulls dropped:
 *
 *   time, category, operationName, resourceId, version, deviceExtId, nsgRuleName, mac, startTime,
 *   sourceAddress, destinationAddress, sourcePort, destinationPort, transportProtocol,
 *   deviceDirection, deviceAction, flowState, packetsStoD, bytesStoD, packetsDtoS, bytesDtoS
 *
 * The connector copies the NSG tuple's fields as strings: startTime is the tuple's epoch seconds,
 * protocol T|U, direction I|O, action A|D, state B|C|E (v2 only), counts blank on B and deny
 * tuples and absent for v1. Other forwarders write the same names with words ("TCP", "Inbound",
 * "Allow") or numbers, so those are read too. Field semantics as in nsgFlowLog.ts.
 */

const PROTOCOL_BY_NAME: Readonly<Record<string, number>> = { T: 6, TCP: 6, U: 17, UDP: 17, ICMP: 1, ICMPV6: 58, 'IPV6-ICMP': 58 };
const DIRECTION_BY_NAME: Readonly<Record<string, FlowDirection>> = {
  I: 'inbound',
  IN: 'inbound',
  INBOUND: 'inbound',
  O: 'outbound',
  OUT: 'outbound',
  OUTBOUND: 'outbound',
};
const DECISION_BY_NAME: Readonly<Record<string, FlowDecision>> = { A: 'allow', ALLOW: 'allow', ALLOWED: 'allow', D: 'deny', DENY: 'deny', DENIED: 'deny' };
const STATE_BY_NAME: Readonly<Record<string, FlowState>> = {
  B: 'begin',
  BEGIN: 'begin',
  C: 'continue',
  CONTINUE: 'continue',
  E: 'end',
  END: 'end',
  D: 'deny',
  DENY: 'deny',
};

/** Keys that only the denormalized (one tuple per object) shape has. */
export function isConnectorRecord(record: Record<string, unknown>): boolean {
  return 'sourceAddress' in record || 'destinationAddress' in record || 'transportProtocol' in record;
}

const HEAD_NAMES = ['sourceAddress ', 'destinationAddress ', 'sourcePort ', 'destinationPort '];
const COUNT_KEYS = ['packetsStoD', 'bytesStoD', 'packetsDtoS', 'bytesDtoS'] as const;

/** Most distinct (resource, rule, MAC) contexts remembered before the cache starts over. */
const MAX_CONTEXTS = 4096;

/**
 * Reads connector records into FlowRecords. Records of the same NSG, rule and NIC share one
 * AzureContext, as tuples of one rule group do in the blob format.
 */
export class ConnectorRecordReader {
  private readonly contexts = new Map<string, AzureContext>();

  read(record: Record<string, unknown>, base: ProblemContext, sink: FlowSink): void {
    const resourceId = asString(record['resourceId']);
    const rule = asString(record['nsgRuleName']);
    const mac = asString(record['mac']) || asString(record['macAddress']);
    const failure = this.readTuple(record, resourceId, rule, mac, sink);
    if (failure !== undefined) {
      const context: ProblemContext = { ...base, recordTime: asString(record['time']), resourceId, rule, mac };
      sink.problem({ ...recordProblem(failure[0], short(failure[1]), context, record), unit: 'tuple' });
    }
  }

  private readTuple(record: Record<string, unknown>, resourceId: string, rule: string, mac: string, sink: FlowSink): [SkipReason, string] | undefined {
    const head = parseTupleHead(
      tupleTime(record),
      [asString(record['sourceAddress']), asString(record['destinationAddress']), asString(record['sourcePort']), asString(record['destinationPort'])],
      HEAD_NAMES,
    );
    if (Array.isArray(head)) return head;
    const protocol = protocolNumber(asString(record['transportProtocol']));
    if (protocol === undefined) return ['bad-protocol', `transportProtocol '${asString(record['transportProtocol'])}' is not T, U, a protocol name or number`];
    const direction = lookup(DIRECTION_BY_NAME, asString(record['deviceDirection']).toUpperCase());
    if (direction === undefined) return ['bad-direction', `deviceDirection '${asString(record['deviceDirection'])}' is not I or O`];
    const decision = lookup(DECISION_BY_NAME, asString(record['deviceAction']).toUpperCase());
    if (decision === undefined) return ['bad-decision', `deviceAction '${asString(record['deviceAction'])}' is not A or D`];
    const stateText = asString(record['flowState']);
    let state: FlowState | undefined;
    if (stateText !== '') {
      state = lookup(STATE_BY_NAME, stateText.toUpperCase());
      if (state === undefined) return ['bad-state', `flowState '${stateText}' is not B, C or E`];
    }
    const counts = parseCounts(
      COUNT_KEYS.map((key) => asString(record[key])),
      COUNT_KEYS.map((key) => `${key}: `),
    );
    if (Array.isArray(counts)) return counts;
    const version = Number(record['version']);
    const v2 = state !== undefined || counts.counts.some((c) => c !== undefined) || version >= 2;
    sink.flow(tupleRecord(v2 ? 'nsg-v2' : 'nsg-v1', head, { protocol, direction, decision, state }, counts.counts, this.contextFor(resourceId, rule, mac)));
    return undefined;
  }

  private contextFor(resourceId: string, rule: string, mac: string): AzureContext {
    const key = `${resourceId}\u0000${rule}\u0000${mac}`;
    let context = this.contexts.get(key);
    if (context === undefined) {
      if (this.contexts.size >= MAX_CONTEXTS) this.contexts.clear();
      context = { rule, mac, resourceId, aclId: '', encryption: '', flowLogGuid: '' };
      this.contexts.set(key, context);
    }
    return context;
  }
}

/** Problem details become log lines: a hostile 1 MB field must not. */
const MAX_DETAIL_CHARS = 200;

function short(detail: string): string {
  return detail.length > MAX_DETAIL_CHARS ? `${detail.slice(0, MAX_DETAIL_CHARS)}…(${detail.length} chars)` : detail;
}

/** The tuple's own time (startTime, epoch s or ms), else the record's ISO `time`. */
function tupleTime(record: Record<string, unknown>): number | FieldError {
  const start = asString(record['startTime']);
  if (start !== '') {
    if (isDigits(start)) return parseTimestampMs(start);
    const ms = Date.parse(start);
    return Number.isNaN(ms) ? new FieldError(`startTime '${start}' is neither epoch seconds nor an ISO time`) : ms;
  }
  const time = asString(record['time']);
  const ms = Date.parse(time);
  return time === '' || Number.isNaN(ms) ? new FieldError('no startTime and no valid time') : ms;
}

function protocolNumber(text: string): number | undefined {
  const named = lookup(PROTOCOL_BY_NAME, text.toUpperCase());
  if (named !== undefined) return named;
  if (isDigits(text) && text.length <= 3) {
    const value = Number(text);
    return value <= 255 ? value : undefined;
  }
  return undefined;
}
