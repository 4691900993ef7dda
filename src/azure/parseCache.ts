import { ConnectorRecordReader } from './connectorRecord.js';
import { ContextInterner } from './fast/contexts.js';
import { StringCache } from './fast/stringCache.js';

/**
 * What a reader remembers from document to document: decoded strings and shared AzureContexts.
 * One per source (a replay's files, a blob follower's blocks, an event hub's bodies), never shared
 * between sources, so `run --config` with several sources has no hidden common state.
 */
export class ParseCache {
  readonly strings = new StringCache();
  readonly interner = new ContextInterner();
  /** Contexts of connector records, one per NSG, rule and NIC. */
  readonly connector = new ConnectorRecordReader();
}
