import { FlowColumns } from '../../flow/flowColumns.js';
import type { AzureContext } from '../../flow/flowRecord.js';
import { NSG_CATEGORY, nsgTupleMac, recordKind, VNET_CATEGORY, vnetResourceId } from '../format.js';
import { type ContextInterner, type MutableContext, sameContext } from './contexts.js';
import { FlowListReader } from './flowLists.js';
import { afterItem, byteAt, keyIs, scanPlainString, skipValue, skipWhitespace } from './jsonScan.js';

import type { StringCache } from './stringCache.js';

// Module constants, not imported bindings (see tupleReaders.ts).
// prettier-ignore
const QUOTE = 0x22, COLON = 0x3a, OPEN_BRACE = 0x7b, CLOSE_BRACE = 0x7d;

/** Where a record keeps its tuples: NSG flow logs under `properties`, VNet flow logs under `flowRecords`. */
const FLOW_LISTS = [
  { key: 'properties', category: NSG_CATEGORY },
  { key: 'flowRecords', category: VNET_CATEGORY },
] as const;
const NSG_LIST = 0;
const VNET_LIST = 1;

/** The record's scalar keys the contexts take. */
const SCALAR_KEYS = ['resourceId', 'macAddress', 'flowLogResourceID', 'targetResourceID', 'flowLogGUID'] as const;
type ScalarKey = (typeof SCALAR_KEYS)[number];

/**
 * The fast path of FlowLogReader: reads one NSG or VNet record's bytes straight into FlowColumns,
 * without JSON.parse, without a string per tuple and without splitting tuples into field strings.
 *
 * It is an optimisation only, never a second definition of the format (the rules it applies come
 * from format.ts, as the reference readers' do). It accepts a record only when it can prove that
 * the reference path (JSON.parse + nsgFlowLog.ts / vnetFlowLog.ts) would produce exactly the same
 * FlowRecords and no problem at all; for anything else it returns false before a single flow went
 * out, and the caller parses the record the reference way, which also writes every problem. So:
 *
 * - the whole record is validated as JSON (strings, escapes, numbers, nesting, whitespace), also the
 *   values of keys it does not use, because the reference path rejects the record for any syntax
 *   error anywhere in it;
 * - keys may come in any order; a repeated scalar key counts with its last value, as in JSON.parse;
 *   a repeated key that holds flows, or a key spelled with escapes, sends the record to the
 *   reference path;
 * - scalar values it needs (category, ids, MACs, rule names, Version) are decoded exactly as
 *   JSON.parse decodes them (JSON.parse of the raw value when it is not a plain string);
 * - a tuple it cannot read itself (another address notation, a field it does not know, escapes) is
 *   handed as a string to the reference tuple reader; if that reports a problem, the record goes to
 *   the reference path.
 *
 * Strings and contexts that repeat from record to record are decoded and built once per reader
 * (its StringCache and ContextInterner): nothing is shared between readers.
 */
export class FastRecordReader {
  private readonly strings: StringCache;
  private readonly interner: ContextInterner;
  private readonly lists: FlowListReader;
  private buf: Buffer = EMPTY;
  private end = 0;
  /** Where the record's flows go, and its row count before the record (rolled back on failure). */
  private out: FlowColumns = NO_OUTPUT;
  private firstRow = 0;
  /** Index after the record of the last successful readAt. */
  recordEnd = 0;

  /** Raw value ranges of the record's SCALAR_KEYS, by index (start -1: absent). */
  private readonly scalarStarts = new Float64Array(SCALAR_KEYS.length);
  private readonly scalarEnds = new Float64Array(SCALAR_KEYS.length);
  /** `category` as JSON.parse gives it, once read. */
  private category: unknown = undefined;
  private sawCategory = false;
  /** By FLOW_LISTS index: the record has the list. */
  private readonly sawList = new Uint8Array(FLOW_LISTS.length);
  /** By FLOW_LISTS index: the list was read as flows (not just skipped). */
  private readonly readList = new Uint8Array(FLOW_LISTS.length);

  constructor(cache: { readonly strings: StringCache; readonly interner: ContextInterner }) {
    this.strings = cache.strings;
    this.interner = cache.interner;
    this.lists = new FlowListReader(cache.strings);
  }

  /**
   * Appends the record's flows to `out`, in the order the reference path emits them, and returns
   * true; or returns false, with `out` as it was, when the record must go through the reference path.
   * A thrown error (a bug: the reader should only ever return false) is rethrown after `out` was
   * rolled back, for the caller to count.
   */
  read(bytes: Buffer, out: FlowColumns): boolean {
    return this.readAt(bytes, 0, bytes.length, out, true);
  }

  /**
   * The record whose opening brace is at buf[start], if it ends before `end`: its flows as for
   * read(), with recordEnd set to the index after its closing brace. With `whole`, buf[start, end)
   * must hold the record and nothing but whitespace.
   */
  readAt(buf: Buffer, start: number, end: number, out: FlowColumns, whole = false): boolean {
    this.buf = buf;
    this.end = end;
    this.out = out;
    this.firstRow = out.length;
    this.reset();
    this.lists.begin(buf, end, out);
    let read: boolean;
    try {
      read = this.readRecord(start, whole);
    } catch (error) {
      this.finish(false);
      throw error;
    }
    this.finish(read);
    return read;
  }

  /** Rolls back the rows of a record not read, and lets go of its buffer. */
  private finish(read: boolean): void {
    if (!read) this.out.truncate(this.firstRow);
    this.lists.finish();
    this.buf = EMPTY;
    this.out = NO_OUTPUT;
  }

  private reset(): void {
    this.scalarStarts.fill(-1);
    this.category = undefined;
    this.sawCategory = false;
    this.sawList.fill(0);
    this.readList.fill(0);
  }

  private readRecord(start: number, whole: boolean): boolean {
    const buf = this.buf;
    const end = this.end;
    const lists = this.lists;
    let i = whole ? skipWhitespace(buf, start, end) : start;
    if (byteAt(buf, i, end) !== OPEN_BRACE) return false;
    i = skipWhitespace(buf, i + 1, end);
    if (byteAt(buf, i, end) !== CLOSE_BRACE) {
      for (;;) {
        if (byteAt(buf, i, end) !== QUOTE) return false;
        const close = scanPlainString(buf, i, end);
        if (close < 0) return false;
        const keyStart = i + 1;
        const keyLength = close - keyStart;
        i = skipWhitespace(buf, close + 1, end);
        if (byteAt(buf, i, end) !== COLON) return false;
        i = skipWhitespace(buf, i + 1, end);
        const valueStart = i;
        const list = keyIs(buf, keyStart, keyLength, FLOW_LISTS[NSG_LIST].key)
          ? NSG_LIST
          : keyIs(buf, keyStart, keyLength, FLOW_LISTS[VNET_LIST].key)
            ? VNET_LIST
            : -1;
        if (list !== -1) {
          if (this.sawList[list] !== 0) return false;
          this.sawList[list] = 1;
          // Read as flows of its kind unless the category already says otherwise.
          if (byteAt(buf, i, end) === OPEN_BRACE && (!this.sawCategory || this.category === FLOW_LISTS[list].category)) {
            i = list === NSG_LIST ? lists.readNsgProperties(i) : lists.readVnetFlowRecords(i);
            this.readList[list] = 1;
          } else i = skipValue(buf, i, end, 1);
        } else {
          i = skipValue(buf, i, end, 1);
          if (i < 0) return false;
          if (!this.noteScalar(keyStart, keyLength, valueStart, i)) return false;
        }
        i = afterItem(buf, i, end, CLOSE_BRACE);
        if (i === -1) return false;
        if (i < 0) {
          i = ~i;
          break;
        }
      }
    }
    // Values are read up to their delimiters, which may lie past `end` in the buffer: the record
    // counts only if it ends within the limit.
    if (i >= end) return false;
    this.recordEnd = i + 1;
    if (whole && skipWhitespace(buf, i + 1, end) !== end) return false;

    const kind = recordKind(this.sawCategory ? this.category : undefined, this.sawList[VNET_LIST] !== 0, this.sawList[NSG_LIST] !== 0);
    if (kind === 'vnet') {
      if (this.readList[VNET_LIST] === 0 || this.readList[NSG_LIST] !== 0) return false;
      const resourceId = vnetResourceId(this.scalar('flowLogResourceID'), this.scalar('targetResourceID'));
      const mac = this.scalar('macAddress');
      const flowLogGuid = this.scalar('flowLogGUID');
      for (const context of lists.vnetContexts) {
        context.resourceId = resourceId;
        context.mac = mac;
        context.flowLogGuid = flowLogGuid;
      }
      this.internContexts(lists.vnetContexts, true);
      return true;
    }
    if (kind === 'nsg') {
      if (this.readList[NSG_LIST] === 0 || this.readList[VNET_LIST] !== 0) return false;
      const resourceId = this.scalar('resourceId');
      const recordMac = this.scalar('macAddress');
      const contexts = lists.nsgContexts;
      for (let c = 0; c < contexts.length; c++) {
        const context = contexts[c]!;
        context.resourceId = resourceId;
        if (lists.nsgNeedsRecordMac[c]) context.mac = nsgTupleMac(context.mac, recordMac);
      }
      this.internContexts(contexts, false);
      return true;
    }
    return false;
  }

  /**
   * Remembers where the value of a scalar key the contexts need lies; false to give up (a repeated
   * category could change the kind after flows were read as another).
   */
  private noteScalar(keyStart: number, keyLength: number, valueStart: number, valueEnd: number): boolean {
    const buf = this.buf;
    if (keyIs(buf, keyStart, keyLength, 'category')) {
      if (this.sawCategory) return false;
      this.sawCategory = true;
      this.category = this.strings.value(buf, valueStart, valueEnd);
    } else {
      for (let k = 0; k < SCALAR_KEYS.length; k++) {
        if (keyIs(buf, keyStart, keyLength, SCALAR_KEYS[k]!)) {
          this.scalarStarts[k] = valueStart;
          this.scalarEnds[k] = valueEnd;
          break;
        }
      }
    }
    return true;
  }

  /** The record's value of `key` as recordShape.asString gives it ('' when absent). */
  private scalar(key: ScalarKey): string {
    const k = SCALAR_KEYS.indexOf(key);
    return this.strings.string(this.buf, this.scalarStarts[k]!, this.scalarEnds[k]!);
  }

  private shared: AzureContext[] = [];
  /** The contexts of the NSG (VNet) record before, after interning: records repeat their groups. */
  private previousNsg: AzureContext[] = [];
  private previousVnet: AzureContext[] = [];

  /** Gives the record's rows the contexts of earlier records where they are equal (ContextInterner). */
  private internContexts(contexts: readonly MutableContext[], vnet: boolean): void {
    const previous = vnet ? this.previousVnet : this.previousNsg;
    const shared = this.shared;
    shared.length = 0;
    let replaced = false;
    for (let c = 0; c < contexts.length; c++) {
      const context = contexts[c]!;
      // The group in the same place in the record before is nearly always the same one, and its
      // strings the same objects: compared by reference, it spares the lookup by value.
      const before = previous[c];
      const sharedContext = before !== undefined && sameContext(before, context) ? before : this.interner.intern(context, vnet);
      shared.push(sharedContext);
      if (sharedContext !== context) replaced = true;
    }
    // The record's contexts become the ones to compare the next record of its kind with.
    if (vnet) this.previousVnet = shared;
    else this.previousNsg = shared;
    this.shared = previous;
    if (!replaced) return;
    const rows = this.out.contexts;
    // A row's context is found by its place in `contexts`: rows of one group come together, so the
    // search starts at the previous row's.
    let c = 0;
    let from: AzureContext | undefined;
    let to: AzureContext | undefined;
    for (let i = this.firstRow; i < this.out.length; i++) {
      const context = rows[i]!;
      if (context !== from) {
        from = context;
        let k = 0;
        while (k < contexts.length && contexts[(c + k) % contexts.length] !== context) k++;
        if (k === contexts.length) {
          to = context;
        } else {
          c = (c + k) % contexts.length;
          to = shared[c]!;
        }
      }
      rows[i] = to!;
    }
  }
}

const EMPTY = Buffer.alloc(0);
const NO_OUTPUT = new FlowColumns(1);
