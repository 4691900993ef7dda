import { normalizeMac } from '../flow/mac.js';

const CACHE_LIMIT = 4096;
const NO_MAC = new Uint8Array(6);

/** Encoded Azure strings and MACs, as the records carry them. */
export interface ViewStrings {
  /** UTF-8 bytes, truncated to what a record may carry. */
  utf8(text: string): Uint8Array;
  /** Six bytes; all zero when the text is not a MAC. */
  mac(text: string): Uint8Array;
}

/**
 * UTF-8 bytes of Azure strings, truncated to what a record may carry, cached per distinct string.
 * Truncation never splits a UTF-8 sequence.
 */
export class CachedViewStrings implements ViewStrings {
  private readonly strings = new Map<string, Uint8Array>();
  private readonly macs = new Map<string, Uint8Array>();

  constructor(private readonly maxStringBytes: number) {}

  utf8(text: string): Uint8Array {
    let bytes = this.strings.get(text);
    if (bytes === undefined) {
      bytes = truncateUtf8(Buffer.from(text, 'utf8'), this.maxStringBytes);
      if (this.strings.size >= CACHE_LIMIT) this.strings.clear();
      this.strings.set(text, bytes);
    }
    return bytes;
  }

  mac(text: string): Uint8Array {
    let bytes = this.macs.get(text);
    if (bytes === undefined) {
      const hex = normalizeMac(text);
      bytes = hex === '' ? NO_MAC : Uint8Array.from(Buffer.from(hex, 'hex'));
      if (this.macs.size >= CACHE_LIMIT) this.macs.clear();
      this.macs.set(text, bytes);
    }
    return bytes;
  }
}

export function truncateUtf8(bytes: Uint8Array, maxBytes: number): Uint8Array {
  if (bytes.length <= maxBytes) return bytes;
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
