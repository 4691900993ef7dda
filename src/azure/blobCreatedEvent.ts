import { asString, isObject } from './recordShape.js';

/**
 * Event Grid `Microsoft.Storage.BlobCreated` notifications, as an Event Grid subscription delivers
 * them to an Event Hub: the Event Grid schema (topic, subject, eventType, eventTime, id,
 * data{api, contentLength, blobType, url, sequencer}) or the CloudEvents 1.0 schema (specversion,
 * type, source, subject, id, time, data{...}), structured (the whole event in the body) or binary
 * (attributes in application properties `cloudEvents:type` / `cloudEvents_type` / `ce_type`, the
 * data alone in the body). Source: Microsoft Learn, event-grid/event-schema-blob-storage.md.
 * A notification only names the blob: the consumer reads the new blocks itself.
 */

export const BLOB_CREATED = 'Microsoft.Storage.BlobCreated';

export interface BlobCreatedNotification {
  /** `https://ACCOUNT.blob.core.windows.net/CONTAINER/NAME`, as the event gives it. */
  readonly url: string;
  /** PutBlockList for flow logs (PutBlob, CopyBlob... are read the same way). */
  readonly api: string;
  readonly eventTime: string;
  readonly id: string;
}

export type GridEvent =
  | { readonly kind: 'blob-created'; readonly notification: BlobCreatedNotification }
  /** An Event Grid event of another type (BlobDeleted, subscription validation...): nothing to read. */
  | { readonly kind: 'other'; readonly eventType: string };

const BINARY_TYPE_KEYS = ['cloudEvents:type', 'cloudEvents_type', 'ce_type', 'ce-type'];

/** Whether a decoded JSON object is an Event Grid or CloudEvents event; undefined when it is not. */
export function readGridEvent(value: Record<string, unknown>): GridEvent | undefined {
  const eventGrid = typeof value['eventType'] === 'string' && ('data' in value || 'subject' in value || 'topic' in value);
  const cloudEvent = typeof value['specversion'] === 'string' && typeof value['type'] === 'string';
  if (!eventGrid && !cloudEvent) return undefined;
  const eventType = asString(eventGrid ? value['eventType'] : value['type']);
  const data = value['data'];
  if (eventType !== BLOB_CREATED || !isObject(data)) return { kind: 'other', eventType };
  return blobCreated(data, asString(eventGrid ? value['eventTime'] : value['time']), asString(value['id']), eventType);
}

/**
 * A binary-mode CloudEvent: its type is in the application properties and the body is its data
 * (`data()` decodes it, called only when the properties say it is one).
 */
export function readBinaryCloudEvent(properties: Record<string, unknown> | undefined, data: () => unknown): GridEvent | undefined {
  if (properties === undefined) return undefined;
  const key = BINARY_TYPE_KEYS.find((k) => typeof properties[k] === 'string');
  if (key === undefined) return undefined;
  const eventType = asString(properties[key]);
  const body = eventType === BLOB_CREATED ? data() : undefined;
  if (eventType !== BLOB_CREATED || !isObject(body)) return { kind: 'other', eventType };
  const attribute = (name: string): string => asString(properties[key.replace('type', name)]);
  return blobCreated(body, attribute('time'), attribute('id'), eventType);
}

function blobCreated(data: Record<string, unknown>, eventTime: string, id: string, eventType: string): GridEvent {
  const url = asString(data['url']);
  if (url === '') return { kind: 'other', eventType: `${eventType} without data.url` };
  return { kind: 'blob-created', notification: { url, api: asString(data['api']), eventTime, id } };
}

/** Flow logs are hourly `PT1H.json` blobs; notifications of other blobs are not ours. */
export function isFlowLogBlobUrl(url: string): boolean {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return false;
  }
  return /\/PT1H\.json$/i.test(path);
}
