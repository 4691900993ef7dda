import { asString } from '../recordShape.js';
import { hasBackslash } from './jsonScan.js';

const QUOTE = 0x22;

/** Slots of the string cache (a power of two); strings longer than MAX_CACHED_BYTES are not kept. */
const SLOTS = 1024;
const MAX_CACHED_BYTES = 1024;

/**
 * Decoded strings by their raw bytes: rule names, MACs and ids repeat in every record, so they are
 * decoded once and the same string object goes into every AzureContext (later stages key maps by
 * them). Direct-mapped by a hash of the bytes: one comparison per lookup, where a list searched
 * in turn compared each of the many same-length MACs of a file. One per reader.
 */
export class StringCache {
  private readonly bytes: (Buffer | undefined)[] = new Array<Buffer | undefined>(SLOTS).fill(undefined);
  private readonly texts: string[] = new Array<string>(SLOTS).fill('');

  get(buf: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length > MAX_CACHED_BYTES) return buf.toString('utf8', start, end);
    let hash = 0x811c9dc5;
    for (let k = start; k < end; k++) hash = Math.imul(hash ^ buf[k]!, 0x01000193);
    const slot = (hash ^ (hash >>> 16)) & (SLOTS - 1);
    const candidate = this.bytes[slot];
    if (candidate !== undefined && candidate.length === length) {
      let same = true;
      for (let k = 0; k < length; k++) {
        if (candidate[k] !== buf[start + k]) {
          same = false;
          break;
        }
      }
      if (same) return this.texts[slot]!;
    }
    const text = buf.toString('utf8', start, end);
    this.bytes[slot] = Buffer.from(buf.subarray(start, end));
    this.texts[slot] = text;
    return text;
  }

  /** A raw JSON value (validated) as a JS value, exactly as JSON.parse gives it inside the record. */
  value(buf: Buffer, start: number, end: number): unknown {
    if (buf[start] === QUOTE && !hasBackslash(buf, start + 1, end - 1)) return this.get(buf, start + 1, end - 1);
    return JSON.parse(buf.toString('utf8', start, end));
  }

  /** recordShape.asString of a raw JSON value; '' when absent (start < 0). */
  string(buf: Buffer, start: number, end: number): string {
    return start < 0 ? '' : asString(this.value(buf, start, end));
  }
}
