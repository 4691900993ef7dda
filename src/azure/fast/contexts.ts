import type { AzureContext } from '../../flow/flowRecord.js';
import type { StringCache } from './stringCache.js';

/** An AzureContext while its record is read: its keys may come after its tuples. */
export type MutableContext = { -readonly [K in keyof AzureContext]: AzureContext[K] };

export function newContext(): MutableContext {
  return { rule: '', mac: '', resourceId: '', aclId: '', encryption: '', flowLogGuid: '' };
}

/** One VNet flow group: one context per encryption value, as vnetFlowLog.ts shares them. */
export class VnetGroup {
  readonly contexts: MutableContext[] = [];
  private last: MutableContext | undefined;

  constructor(
    private readonly all: MutableContext[],
    private readonly strings: StringCache,
  ) {}

  contextFor(buf: Buffer, start: number, end: number): AzureContext {
    const last = this.last;
    if (last !== undefined && sameAscii(buf, start, end, last.encryption)) return last;
    for (const context of this.contexts) {
      if (sameAscii(buf, start, end, context.encryption)) {
        this.last = context;
        return context;
      }
    }
    return this.add(this.strings.get(buf, start, end));
  }

  contextForText(encryption: string): AzureContext {
    for (const context of this.contexts) if (context.encryption === encryption) return context;
    return this.add(encryption);
  }

  private add(encryption: string): MutableContext {
    const context: MutableContext = { rule: '', mac: '', resourceId: '', aclId: '', flowLogGuid: '', encryption };
    this.contexts.push(context);
    this.all.push(context);
    this.last = context;
    return context;
  }
}

function sameAscii(buf: Buffer, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) return false;
  for (let k = 0; k < text.length; k++) if (buf[start + k] !== text.charCodeAt(k)) return false;
  return true;
}

export function sameContext(a: AzureContext, b: AzureContext): boolean {
  return (
    a.resourceId === b.resourceId &&
    a.mac === b.mac &&
    a.rule === b.rule &&
    a.aclId === b.aclId &&
    a.encryption === b.encryption &&
    a.flowLogGuid === b.flowLogGuid
  );
}

const INTERNED_CONTEXTS = 4096;
const STRING_IDS = 65_536;

/**
 * Contexts of equal values shared across records: every record repeats the same rule groups, and
 * the later stages key their per-context work (NIC numbers, domains, encoded strings) by the
 * context object. Looked up by the numbers of their six strings: the strings come from the
 * StringCache, so the same value is nearly always the same string object, whose hash V8 keeps: a
 * number per string is one cheap lookup, where a key string joining all six was built and hashed
 * anew for every group of every record. One per reader.
 *
 * NSG and VNet contexts are kept apart: equal values (empty ones, say) in objects whose keys come
 * in another order are not the same to a reader of the object, and the fast path must give exactly
 * what the record readers give.
 */
export class ContextInterner {
  private readonly stringIds = new Map<string, number>();
  private nextStringId = 1;
  private readonly nsg = new Map<number, AzureContext>();
  private readonly vnet = new Map<number, AzureContext>();

  /** The first context seen with the same values as `context` (of its kind), or `context` itself. */
  intern(context: AzureContext, vnet: boolean): AzureContext {
    const interned = vnet ? this.vnet : this.nsg;
    let key = 0x2545f491;
    key = Math.imul(key ^ this.stringId(context.resourceId), 0x9e3779b1);
    key = Math.imul(key ^ this.stringId(context.mac), 0x9e3779b1);
    key = Math.imul(key ^ this.stringId(context.rule), 0x9e3779b1);
    key = Math.imul(key ^ this.stringId(context.aclId), 0x9e3779b1);
    key = Math.imul(key ^ this.stringId(context.encryption), 0x9e3779b1);
    key = Math.imul(key ^ this.stringId(context.flowLogGuid), 0x9e3779b1);
    key ^= key >>> 15;
    const shared = interned.get(key);
    if (shared !== undefined) {
      // Two different contexts with one key (rare): this one just stays unshared.
      return sameContext(shared, context) ? shared : context;
    }
    if (interned.size >= INTERNED_CONTEXTS) interned.clear();
    interned.set(key, context);
    return context;
  }

  private stringId(text: string): number {
    let id = this.stringIds.get(text);
    if (id === undefined) {
      if (this.stringIds.size >= STRING_IDS) this.stringIds.clear();
      // A counter, not the map's size: a number handed out before a clear is never reused.
      id = this.nextStringId++;
      this.stringIds.set(text, id);
    }
    return id;
  }
}
