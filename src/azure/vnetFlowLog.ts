import type { AzureContext } from '../flow/flowRecord.js';
import { DIRECTIONS, isEncryptionStatus, VNET_FIELDS, VNET_STATES, vnetResourceId } from './format.js';
import { excerpt, type ProblemContext, type SkipReason } from './problems.js';
import type { FlowSink } from './tupleSink.js';
import { isDigits, parseTimestampMs, parseTupleHead, parseCounts, tupleRecord } from './tupleFields.js';
import { asArray, asString, isObject, recordProblem, tupleProblem, lookup } from './recordShape.js';

/**
 * VNet flow logs (category FlowLogFlowEvent, flowLogVersion 4), the successor of NSG flow logs.
 *
 * Tuple (13 fields): `ts,src,dst,sport,dport,protocol,I|O,B|C|E|D,encryption,pktsS2D,bytesS2D,pktsD2S,bytesD2S`.
 * The protocol is the IANA number; state D means denied (there is no separate decision field);
 * timestamps are epoch ms in Microsoft's samples but seconds in one doc example, so both are read.
 * Source: Microsoft Learn, "Virtual network flow logs", log format.
 */

export function readVnetRecord(record: Record<string, unknown>, base: ProblemContext, sink: FlowSink): void {
  const resourceId = vnetResourceId(asString(record['flowLogResourceID']), asString(record['targetResourceID']));
  const mac = asString(record['macAddress']);
  const flowLogGuid = asString(record['flowLogGUID']);
  const context: ProblemContext = { ...base, recordTime: asString(record['time']), resourceId, mac };
  const flowRecords = record['flowRecords'];
  if (!isObject(flowRecords)) {
    sink.problem(recordProblem('bad-properties', 'flowRecords is not an object', context, flowRecords));
    return;
  }
  const acls = asArray(flowRecords['flows']);
  if (acls === undefined) {
    sink.problem(recordProblem('bad-flows', 'flowRecords.flows is not a list', context, flowRecords['flows']));
    return;
  }
  for (const acl of acls) {
    const groups = isObject(acl) ? asArray(acl['flowGroups']) : undefined;
    if (!isObject(acl) || groups === undefined) {
      sink.problem(recordProblem('bad-flows', 'an ACL entry has no flowGroups list', context, acl));
      continue;
    }
    const aclId = asString(acl['aclID']);
    for (const group of groups) {
      const tuples = isObject(group) ? asArray(group['flowTuples']) : undefined;
      if (!isObject(group) || tuples === undefined) {
        sink.problem(recordProblem('bad-flows', `a flow group of ACL '${aclId}' has no flowTuples list`, context, group));
        continue;
      }
      const rule = asString(group['rule']);
      const shared = { rule, mac, resourceId, aclId, flowLogGuid };
      const byEncryption = new Map<string, AzureContext>();
      const groupContext: ProblemContext = { ...context, rule };
      for (let t = 0; t < tuples.length; t++) {
        const tuple = tuples[t];
        const reason = readVnetTuple(tuple, shared, byEncryption, sink);
        if (reason !== undefined) sink.problem(tupleProblem(reason[0], reason[1], { ...groupContext, tupleIndex: t, excerpt: excerpt(tuple) }));
      }
    }
  }
}

/**
 * One tuple string to a FlowRecord handed to the sink, or why it is skipped. Exported for the fast
 * reader (fastFlowLog.ts), which hands it every tuple it does not read itself.
 */
export function readVnetTuple(
  tuple: unknown,
  shared: Omit<AzureContext, 'encryption'>,
  byEncryption: Map<string, AzureContext>,
  sink: FlowSink,
): [SkipReason, string] | undefined {
  if (typeof tuple !== 'string') return ['bad-tuple-type', 'flow tuple is not a string'];
  const fields = tuple.split(',');
  if (fields.length !== VNET_FIELDS) return ['bad-field-count', `${fields.length} fields, VNet flow log tuples have ${VNET_FIELDS}`];
  const head = parseTupleHead(parseTimestampMs(fields[0]!), [fields[1]!, fields[2]!, fields[3]!, fields[4]!]);
  if (Array.isArray(head)) return head;
  const protocolText = fields[5]!;
  const protocol = isDigits(protocolText) && protocolText.length <= 3 ? Number(protocolText) : NaN;
  if (!(protocol <= 255)) return ['bad-protocol', `protocol '${protocolText}' is not a number from 0 to 255`];
  const direction = lookup(DIRECTIONS, fields[6]!);
  if (direction === undefined) return ['bad-direction', `direction '${fields[6]}' is not I or O`];
  const state = lookup(VNET_STATES, fields[7]!);
  if (state === undefined) return ['bad-state', `flow state '${fields[7]}' is not B, C, E or D`];
  const encryption = fields[8]!;
  if (!isEncryptionStatus(encryption)) return ['bad-encryption', `encryption '${excerpt(encryption)}' is not a status word`];
  const parsed = parseCounts(fields.slice(9));
  if (Array.isArray(parsed)) return parsed;

  let azure = byEncryption.get(encryption);
  if (azure === undefined) {
    azure = { ...shared, encryption };
    byEncryption.set(encryption, azure);
  }
  sink.flow(tupleRecord('vnet', head, { protocol, direction, decision: state === 'deny' ? 'deny' : 'allow', state }, parsed.counts, azure));
  return undefined;
}
