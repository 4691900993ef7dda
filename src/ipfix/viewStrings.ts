import type { AzureContext } from '../flow/flowRecord.js';
import type { AzureBytes, ViewStrings } from '../flow/flowView.js';
import { normalizeMac } from '../enrich/interfaceIndex.js';

const CACHE_LIMIT = 4096;
const NO_MAC = new Uint8Array(6);

/**
 * UTF-8 bytes of Azure strings, truncated to what a record may carry, cached per distinct string.
 * Truncation never splits a UTF-8 sequence.
 */
export class CachedViewStrings implements ViewStrings {
  private readonly strings = new Map<string, Uint8Array>();
  private readonly macs = new Map<string, Uint8Array>();
  private readonly byContext = new WeakMap<AzureContext, AzureBytes>();
  private lastContext: AzureContext | undefined;
  private lastBytes: AzureBytes | undefined;

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

  azureBytes(azure: AzureContext): AzureBytes {
    if (azure === this.lastContext) return this.lastBytes!;
    let bytes = this.byContext.get(azure);
    if (bytes === undefined) {
      bytes = { ruleName: this.utf8(azure.rule), aclId: this.utf8(azure.aclId), encryption: this.utf8(azure.encryption), nicMac: this.mac(azure.mac) };
      this.byContext.set(azure, bytes);
    }
    this.lastContext = azure;
    this.lastBytes = bytes;
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
