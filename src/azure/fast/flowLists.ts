import { type FlowColumns, KIND_CODES } from '../../flow/flowColumns.js';
import type { AzureContext, FlowRecord } from '../../flow/flowRecord.js';
import { declaredNsgVersion } from '../format.js';
import { readNsgTuple as readNsgTupleReference } from '../nsgFlowLog.js';
import type { ParseProblem } from '../problems.js';
import type { FlowSink } from '../tupleSink.js';
import { readVnetTuple as readVnetTupleReference } from '../vnetFlowLog.js';
import { type MutableContext, newContext, VnetGroup } from './contexts.js';
import { afterItem, byteAt, hasBackslash, keyIs, scanPlainString, scanString, skipValue, skipWhitespace } from './jsonScan.js';
import type { StringCache } from './stringCache.js';
import { readNsgTuple, readVnetTuple, tupleFitsIn } from './tupleReaders.js';

// Module constants, not imported bindings (see tupleReaders.ts).
// prettier-ignore
const QUOTE = 0x22, COMMA = 0x2c, COLON = 0x3a, OPEN_BRACE = 0x7b, CLOSE_BRACE = 0x7d, OPEN_BRACKET = 0x5b, CLOSE_BRACKET = 0x5d;
const NSG_V1 = KIND_CODES['nsg-v1'];

/** Collects what the reference tuple readers hand back for a tuple the fast path passed on. */
class CaptureSink implements FlowSink {
  private record: FlowRecord | undefined;
  flow(record: FlowRecord): void {
    this.record = record;
  }
  /** The record handed over since the last call, if any. */
  take(): FlowRecord | undefined {
    const record = this.record;
    this.record = undefined;
    return record;
  }
  problem(_problem: ParseProblem): void {
    // The reference reader returns the reason as well; the caller gives up on the record.
  }
}

/** The object lists of a record, from the outside in, and its tuple lists (see readItem). */
const NSG_RULE_GROUPS = 0;
const NSG_MAC_GROUPS = 1;
const VNET_ACLS = 2;
const VNET_GROUPS = 3;
const NSG_TUPLES = 4;
const VNET_TUPLES = 5;
type ObjectList = typeof NSG_RULE_GROUPS | typeof NSG_MAC_GROUPS | typeof VNET_ACLS | typeof VNET_GROUPS;
type TupleList = typeof NSG_TUPLES | typeof VNET_TUPLES;

const NO_VNET_SHARED = { rule: '', mac: '', resourceId: '', aclId: '', flowLogGuid: '' };
/** VNet tuples take their context from their group (per encryption value). */
const NO_CONTEXT: AzureContext = { ...NO_VNET_SHARED, encryption: '' };
const EMPTY = Buffer.alloc(0);
/**
 * The label key of readListOwner when none is wanted. No key of the logs is empty; an empty key
 * would be noted like a label, and its value never read.
 */
const NO_LABEL = '';

/**
 * The flows of one record, read from bytes: NSG `properties { Version, flows: [ { rule, flows: [
 * { mac, flowTuples } ] } ] }` and VNet `flowRecords { flows: [ { aclID, flowGroups: [ { rule,
 * flowTuples } ] } ] }`. Tuples go into `out`; the contexts they share are collected half-filled
 * (the record's own keys, which complete them, may come after its flows). Every method returns
 * the index after what it read, or -1 when the record must go to the reference path.
 */
export class FlowListReader {
  private buf: Buffer = EMPTY;
  private end = 0;
  private out!: FlowColumns;
  readonly nsgContexts: MutableContext[] = [];
  /** Per NSG context: whether it takes the record's macAddress (its group has no mac). */
  readonly nsgNeedsRecordMac: boolean[] = [];
  readonly vnetContexts: MutableContext[] = [];
  private readonly capture = new CaptureSink();
  /** Scratch for the IPv6 reader. */
  private readonly groups = new Uint16Array(8);
  /** Tuples of each field count read in the current properties (checked against Version after it). */
  private nsgV1Tuples = 0;
  private nsgV2Tuples = 0;

  constructor(private readonly strings: StringCache) {}

  begin(buf: Buffer, end: number, out: FlowColumns): void {
    this.buf = buf;
    this.end = end;
    this.out = out;
    this.nsgContexts.length = 0;
    this.nsgNeedsRecordMac.length = 0;
    this.vnetContexts.length = 0;
    this.capture.take();
  }

  /** Lets go of the record's buffer. */
  finish(): void {
    this.buf = EMPTY;
  }

  /** The key at `i` (its opening quote) of an object whose values the caller reads: the index of the value, or -1. */
  private keyStart = 0;
  private keyLength = 0;

  private readKey(i: number): number {
    const buf = this.buf;
    const end = this.end;
    if (byteAt(buf, i, end) !== QUOTE) return -1;
    const close = scanPlainString(buf, i, end);
    if (close < 0) return -1;
    this.keyStart = i + 1;
    this.keyLength = close - i - 1;
    i = skipWhitespace(buf, close + 1, end);
    if (byteAt(buf, i, end) !== COLON) return -1;
    return skipWhitespace(buf, i + 1, end);
  }

  /** NSG `properties` (`{` at i): its flows, checked against its Version (or version) once read. */
  readNsgProperties(i: number): number {
    this.nsgV1Tuples = 0;
    this.nsgV2Tuples = 0;
    i = this.readListOwner(i, 'flows', NSG_RULE_GROUPS, 'Version', 'version', 2);
    if (i < 0) return -1;
    const buf = this.buf;
    const upper = this.labelStart < 0 ? undefined : this.strings.value(buf, this.labelStart, this.labelEnd);
    const lower = this.fallbackStart < 0 ? undefined : this.strings.value(buf, this.fallbackStart, this.fallbackEnd);
    const declared = declaredNsgVersion(upper, lower);
    if (declared === 1 && this.nsgV2Tuples > 0) return -1;
    if (declared === 2 && this.nsgV1Tuples > 0) return -1;
    return i;
  }

  /** VNet `flowRecords` (`{` at i): its flows. */
  readVnetFlowRecords(i: number): number {
    return this.readListOwner(i, 'flows', VNET_ACLS, NO_LABEL, NO_LABEL, 2);
  }

  /** The tuple list being read belongs to this NSG context, or (VNet) to this group. */
  private tupleContext: AzureContext = NO_CONTEXT;
  private tupleGroup: VnetGroup | undefined;

  /**
   * One element of an object list. A switch over the list's kind, not a callback: no closure is
   * made per group, and the calls stay direct (a file of small records has a group every few tuples).
   */
  private readItem(items: ObjectList, i: number): number {
    switch (items) {
      case NSG_RULE_GROUPS:
        return this.readNsgRuleGroup(i);
      case NSG_MAC_GROUPS:
        return this.readNsgMacGroup(i);
      case VNET_ACLS:
        return this.readVnetAcl(i);
      default:
        return this.readVnetGroup(i);
    }
  }

  /** A list of objects (`[` at i), each read by `readItem` from its `{`. */
  private readObjectList(i: number, items: ObjectList): number {
    const buf = this.buf;
    const end = this.end;
    i = skipWhitespace(buf, i + 1, end);
    if (byteAt(buf, i, end) === CLOSE_BRACKET) return i + 1;
    for (;;) {
      if (byteAt(buf, i, end) !== OPEN_BRACE) return -1;
      i = afterItem(buf, this.readItem(items, i), end, CLOSE_BRACKET);
      if (i < 0) return i === -1 ? -1 : ~i + 1;
    }
  }

  /** Raw bounds of the label value the last readListOwner found (set as it returns); -1 when absent. */
  private labelStart = -1;
  private labelEnd = -1;
  /** The label is a JSON string without escapes. */
  private labelPlain = false;
  /** Raw bounds of the value of its fallback key (NSG `version`, read when `Version` is absent or null). */
  private fallbackStart = -1;
  private fallbackEnd = -1;

  /** The label the last readListOwner found, as recordShape.asString gives it ('' when absent). */
  private label(): string {
    return this.labelPlain ? this.strings.get(this.buf, this.labelStart + 1, this.labelEnd - 1) : this.strings.string(this.buf, this.labelStart, this.labelEnd);
  }

  /**
   * An object (`{` at i) with one required list of kind `list` under `listKey`, and optional values
   * under `labelKey` and `fallbackKey` (their raw bounds left in labelStart / labelEnd and
   * fallbackStart / fallbackEnd); other members are validated and skipped at nesting `depth`.
   */
  private readListOwner(i: number, listKey: string, list: ObjectList | TupleList, labelKey: string, fallbackKey: string, depth: number): number {
    const buf = this.buf;
    const end = this.end;
    let labelStart = -1;
    let labelEnd = -1;
    let labelPlain = false;
    let fallbackStart = -1;
    let fallbackEnd = -1;
    let sawList = false;
    i = skipWhitespace(buf, i + 1, end);
    if (byteAt(buf, i, end) === CLOSE_BRACE) return -1;
    for (;;) {
      i = this.readKey(i);
      if (i < 0) return -1;
      const valueStart = i;
      if (keyIs(buf, this.keyStart, this.keyLength, listKey)) {
        if (sawList || byteAt(buf, i, end) !== OPEN_BRACKET) return -1;
        sawList = true;
        i =
          list === NSG_TUPLES || list === VNET_TUPLES
            ? this.readTupleList(i, this.tupleContext, list === VNET_TUPLES ? this.tupleGroup : undefined)
            : this.readObjectList(i, list);
      } else {
        const isLabel = keyIs(buf, this.keyStart, this.keyLength, labelKey);
        const isFallback = !isLabel && keyIs(buf, this.keyStart, this.keyLength, fallbackKey);
        i = skipValue(buf, i, end, depth);
        if (isLabel) {
          labelStart = valueStart;
          labelEnd = i;
          labelPlain = i > valueStart && buf[valueStart] === QUOTE && !hasBackslash(buf, valueStart + 1, i - 1);
        } else if (isFallback) {
          fallbackStart = valueStart;
          fallbackEnd = i;
        }
      }
      i = afterItem(buf, i, end, CLOSE_BRACE);
      if (i === -1) return -1;
      if (i < 0) break;
    }
    if (!sawList) return -1;
    // Set last: the lists read above run nested readListOwner calls of their own.
    this.labelStart = labelStart;
    this.labelEnd = labelEnd;
    this.labelPlain = labelPlain;
    this.fallbackStart = fallbackStart;
    this.fallbackEnd = fallbackEnd;
    return ~i + 1;
  }

  private readNsgRuleGroup(i: number): number {
    return this.readLabelledGroup(i, this.nsgContexts, 'flows', NSG_MAC_GROUPS, 'rule', 'rule');
  }

  /**
   * An object owning a list of groups (`listKey`, of kind `list`) whose contexts all take its
   * label (`labelKey`) as their `field`: a rule group's rule, an ACL's aclID.
   */
  private readLabelledGroup(i: number, contexts: MutableContext[], listKey: string, list: ObjectList, labelKey: string, field: 'rule' | 'aclId'): number {
    const firstContext = contexts.length;
    i = this.readListOwner(i, listKey, list, labelKey, NO_LABEL, 4);
    if (i < 0) return -1;
    const label = this.label();
    for (let c = firstContext; c < contexts.length; c++) contexts[c]![field] = label;
    return i;
  }

  private readNsgMacGroup(i: number): number {
    const context = newContext();
    this.tupleContext = context;
    i = this.readListOwner(i, 'flowTuples', NSG_TUPLES, 'mac', NO_LABEL, 6);
    if (i < 0) return -1;
    // The record's macAddress stands in for a missing one (format.nsgTupleMac) once the record is read.
    context.mac = this.label();
    this.nsgContexts.push(context);
    this.nsgNeedsRecordMac.push(context.mac === '');
    return i;
  }

  private readVnetAcl(i: number): number {
    return this.readLabelledGroup(i, this.vnetContexts, 'flowGroups', VNET_GROUPS, 'aclID', 'aclId');
  }

  private readVnetGroup(i: number): number {
    const group = new VnetGroup(this.vnetContexts, this.strings);
    this.tupleContext = NO_CONTEXT;
    this.tupleGroup = group;
    i = this.readListOwner(i, 'flowTuples', VNET_TUPLES, 'rule', NO_LABEL, 6);
    if (i < 0) return -1;
    const rule = this.label();
    for (const context of group.contexts) context.rule = rule;
    return i;
  }

  /**
   * The tuple list whose `[` is at `i`: each tuple read straight from bytes, or (a form the fast
   * reader passes on) by the reference reader.
   */
  private readTupleList(i: number, azure: AzureContext, group: VnetGroup | undefined): number {
    const buf = this.buf;
    const end = this.end;
    const out = this.out;
    const groups = this.groups;
    const firstRow = out.length;
    i = skipWhitespace(buf, i + 1, end);
    if (byteAt(buf, i, end) !== CLOSE_BRACKET) {
      for (;;) {
        if (byteAt(buf, i, end) !== QUOTE) return -1;
        // Direct calls, no reader passed in: this loop runs for every tuple and must stay monomorphic.
        let close = -1;
        if (tupleFitsIn(buf, i, end))
          close = group === undefined ? readNsgTuple(buf, i + 1, azure, out, groups) : readVnetTuple(buf, i + 1, group, out, groups);
        if (close < 0) {
          close = this.readTupleSlow(i, azure, group);
          if (close < 0) return -1;
        }
        i = close + 1;
        let next = byteAt(buf, i, end);
        if (next === COMMA) {
          i++;
          if (byteAt(buf, i, end) !== QUOTE) i = skipWhitespace(buf, i, end);
          continue;
        }
        if (next === CLOSE_BRACKET) break;
        i = skipWhitespace(buf, i, end);
        next = byteAt(buf, i, end);
        if (next === COMMA) i = skipWhitespace(buf, i + 1, end);
        else if (next === CLOSE_BRACKET) break;
        else return -1;
      }
    }
    if (group === undefined) {
      // Version may come after the flows: the field counts are checked against it at the end.
      const kinds = out.kinds;
      let v1 = 0;
      for (let row = firstRow; row < out.length; row++) if (kinds[row] === NSG_V1) v1++;
      this.nsgV1Tuples += v1;
      this.nsgV2Tuples += out.length - firstRow - v1;
    }
    return i + 1;
  }

  /** A tuple string the fast reader passed on, through the reference reader (nsgFlowLog.ts or vnetFlowLog.ts). */
  private readTupleSlow(quote: number, azure: AzureContext, group: VnetGroup | undefined): number {
    const text = this.tupleText(quote);
    if (text === undefined) return -1;
    const capture = this.capture;
    capture.take();
    // NSG: Version may come after the flows, so read with "1 or 2 by field count", checked at the end.
    const reason =
      group === undefined
        ? readNsgTupleReference(text.value, undefined, azure, capture)
        : readVnetTupleReference(text.value, NO_VNET_SHARED, new Map(), capture);
    const record = capture.take();
    if (reason !== undefined || record === undefined) return -1;
    this.out.append(group === undefined ? record : { ...record, azure: group.contextForText(record.azure.encryption) });
    return text.close;
  }

  /** The JSON string at `quote` as JSON.parse decodes it, and its closing quote; undefined if invalid. */
  private tupleText(quote: number): { value: string; close: number } | undefined {
    const buf = this.buf;
    const close = scanString(buf, quote, this.end);
    if (close < 0) return undefined;
    const value = hasBackslash(buf, quote + 1, close) ? (JSON.parse(buf.toString('utf8', quote, close + 1)) as string) : buf.toString('utf8', quote + 1, close);
    return { value, close };
  }
}
