import type { AzureContext, FlowState } from '../flow/flowRecord.js';
import { declaredNsgVersion, DIRECTIONS, NSG_DECISIONS, NSG_PROTOCOLS, NSG_STATES, NSG_V1_FIELDS, NSG_V2_FIELDS, nsgTupleMac } from './format.js';
import { excerpt, type ProblemContext, type SkipReason } from './problems.js';
import type { FlowSink } from './tupleSink.js';
import { parseTimestampMs, parseTupleHead, parseCounts, tupleRecord } from './tupleFields.js';
import { asArray, asString, isObject, recordProblem, tupleProblem, lookup } from './recordShape.js';

/**
 * NSG flow logs, versions 1 and 2 (category NetworkSecurityGroupFlowEvent).
 *
 * v1 tuple: `ts,src,dst,sport,dport,T|U,I|O,A|D` (8 fields).
 * v2 tuple: v1 + `,B|C|E,pktsS2D,bytesS2D,pktsD2S,bytesD2S` (13 fields; packets before bytes;
 * counts are deltas since the flow's previous tuple, blank on B and deny tuples).
 * Source: Microsoft Learn, "Flow logging for network security groups", log format.
 */

export function readNsgRecord(record: Record<string, unknown>, base: ProblemContext, sink: FlowSink): void {
  const resourceId = asString(record['resourceId']);
  const context: ProblemContext = { ...base, recordTime: asString(record['time']), resourceId };
  const properties = record['properties'];
  if (!isObject(properties)) {
    sink.problem(recordProblem('bad-properties', 'properties is not an object', context, properties));
    return;
  }
  const version = declaredNsgVersion(properties['Version'], properties['version']);
  const ruleGroups = asArray(properties['flows']);
  if (ruleGroups === undefined) {
    sink.problem(recordProblem('bad-flows', 'properties.flows is not a list', context, properties['flows']));
    return;
  }
  const recordMac = asString(record['macAddress']);
  for (const group of ruleGroups) {
    if (!isObject(group)) {
      sink.problem(recordProblem('bad-flows', 'a rule group is not an object', context, group));
      continue;
    }
    const rule = asString(group['rule']);
    const macGroups = asArray(group['flows']);
    if (macGroups === undefined) {
      sink.problem(recordProblem('bad-flows', `flows of rule '${rule}' is not a list`, { ...context, rule }, group['flows']));
      continue;
    }
    for (const macGroup of macGroups) {
      const tuples = isObject(macGroup) ? asArray(macGroup['flowTuples']) : undefined;
      if (!isObject(macGroup) || tuples === undefined) {
        sink.problem(recordProblem('bad-flows', `flowTuples of rule '${rule}' is not a list`, { ...context, rule }, macGroup));
        continue;
      }
      const mac = nsgTupleMac(asString(macGroup['mac']), recordMac);
      const azure: AzureContext = { rule, mac, resourceId, aclId: '', encryption: '', flowLogGuid: '' };
      const groupContext: ProblemContext = { ...context, rule, mac };
      for (let t = 0; t < tuples.length; t++) {
        const tuple = tuples[t];
        const reason = readNsgTuple(tuple, version, azure, sink);
        if (reason !== undefined) sink.problem(tupleProblem(reason[0], reason[1], { ...groupContext, tupleIndex: t, excerpt: excerpt(tuple) }));
      }
    }
  }
}

/**
 * One tuple string to a FlowRecord handed to the sink, or why it is skipped. Exported for the fast
 * reader (fastFlowLog.ts), which hands it every tuple it does not read itself.
 */
export function readNsgTuple(tuple: unknown, version: 1 | 2 | undefined, azure: AzureContext, sink: FlowSink): [SkipReason, string] | undefined {
  if (typeof tuple !== 'string') return ['bad-tuple-type', 'flow tuple is not a string'];
  const fields = tuple.split(',');
  const expected =
    version === 1 ? NSG_V1_FIELDS : version === 2 ? NSG_V2_FIELDS : fields.length === NSG_V1_FIELDS || fields.length === NSG_V2_FIELDS ? fields.length : 0;
  if (fields.length !== expected) {
    return ['bad-field-count', `${fields.length} fields, NSG flow log v${version ?? '1/2'} tuples have ${expected || '8 or 13'}`];
  }
  const head = parseTupleHead(parseTimestampMs(fields[0]!), [fields[1]!, fields[2]!, fields[3]!, fields[4]!]);
  if (Array.isArray(head)) return head;
  const protocol = lookup(NSG_PROTOCOLS, fields[5]!);
  if (protocol === undefined) return ['bad-protocol', `protocol '${fields[5]}' is not T or U`];
  const direction = lookup(DIRECTIONS, fields[6]!);
  if (direction === undefined) return ['bad-direction', `direction '${fields[6]}' is not I or O`];
  const decision = lookup(NSG_DECISIONS, fields[7]!);
  if (decision === undefined) return ['bad-decision', `decision '${fields[7]}' is not A or D`];

  let state: FlowState | undefined;
  let counts: (number | undefined)[] = [];
  if (expected === NSG_V2_FIELDS) {
    state = lookup(NSG_STATES, fields[8]!);
    if (state === undefined) return ['bad-state', `flow state '${fields[8]}' is not B, C or E`];
    const parsed = parseCounts(fields.slice(9));
    if (Array.isArray(parsed)) return parsed;
    counts = parsed.counts;
  }
  sink.flow(tupleRecord(expected === NSG_V2_FIELDS ? 'nsg-v2' : 'nsg-v1', head, { protocol, direction, decision, state }, counts, azure));
  return undefined;
}
