import { EMPTY_BLOCK } from './templates.js';

/**
 * The block of each object (an AzureContext, a named endpoint) under one template, made once: the
 * rows of a rule group share their context object and consecutive rows often their endpoints, so
 * the last one is tried first.
 */
export class BlockCache<T extends object> {
  private readonly blocks = new WeakMap<T, Uint8Array>();
  private last: T | undefined;
  private lastBlock: Uint8Array;

  /** @param none the block of a row without the object (an endpoint without names) */
  constructor(
    private readonly build: (object: T) => Uint8Array,
    private readonly none: Uint8Array = EMPTY_BLOCK,
  ) {
    this.lastBlock = none;
  }

  blockFor(object: T | undefined): Uint8Array {
    if (object === this.last) return this.lastBlock;
    let block = this.none;
    if (object !== undefined) {
      const known = this.blocks.get(object);
      if (known !== undefined) block = known;
      else {
        block = this.build(object);
        this.blocks.set(object, block);
      }
    }
    this.last = object;
    this.lastBlock = block;
    return block;
  }
}
