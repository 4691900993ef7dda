import type { ReceivedEventData } from '@azure/event-hubs';
import type { Logger } from 'pino';
import { isFlowLogBlobUrl, type BlobCreatedNotification } from '../azure/blobCreatedEvent.js';
import { type AmqpBodyType, type BodyOutcome, readEventBody } from '../azure/eventBody.js';
import { ParseCache } from '../azure/parseCache.js';
import type { FlowSink } from '../azure/tupleSink.js';
import type { EventHubReports } from './eventHubReports.js';
import type { InputCounts } from './flowBatch.js';

/** Kinds of event bodies, as counted in the stats. */
export type BodyKind = 'flow-log' | 'connector' | 'blob-created' | 'other-event';

/** What the events received so far held. */
export interface EventCounts {
  events: number;
  /** Per body kind, events seen. */
  readonly kinds: Record<BodyKind, number>;
  /** Events that were none of the supported kinds (counted, logged, skipped). */
  unrecognizedEvents: number;
  /** BlobCreated notifications of blobs that are not PT1H.json, and other Event Grid event types. */
  ignoredNotifications: number;
}

/** What one event gave: its records went to the sink; the flow log blobs it names are still to be read. */
export interface ReadEvent extends InputCounts {
  readonly blobs: readonly BlobCreatedNotification[];
}

/**
 * Reads the body of each event the Event Hubs source receives (azure/eventBody.ts) and counts it:
 * its flows go to the sink at once, what it is not (an unrecognised body, other Event Grid event
 * types, notifications of blobs that are not flow logs) is counted and logged. Strings and
 * contexts that repeat from event to event are decoded once (one ParseCache per source).
 */
export class EventReader {
  private readonly cache = new ParseCache();

  constructor(
    private readonly counts: EventCounts,
    private readonly reports: EventHubReports,
    private readonly logger: Logger,
  ) {}

  /** Reads `event` of `partition` into `sink`; `source` names it in problems. */
  read(event: ReceivedEventData, partition: string, source: string, sink: FlowSink): ReadEvent {
    const { counts, logger } = this;
    counts.events++;
    let decoded: BodyOutcome;
    try {
      decoded = readEventBody(event.body, bodyTypeOf(event), event.properties, source, sink, { cache: this.cache });
    } catch (error) {
      // A reader bug must cost this event only, never the partition.
      decoded = {
        recognized: false,
        kinds: { flowLog: 0, connector: 0, blobCreated: 0, otherEvent: 0 },
        azureRecords: 0,
        notifications: [],
        otherEvents: [],
        why: `cannot be read: ${(error as Error).message}`,
      };
    }
    const kinds = decoded.kinds;
    if (kinds.flowLog > 0) counts.kinds['flow-log']++;
    if (kinds.connector > 0) counts.kinds.connector++;
    if (kinds.blobCreated > 0) counts.kinds['blob-created']++;
    if (kinds.otherEvent > 0) counts.kinds['other-event']++;
    if (!decoded.recognized) this.reports.unrecognized(++counts.unrecognizedEvents, event, partition, decoded.why ?? '', decoded.excerpt ?? '');
    if (decoded.otherEvents.length > 0) {
      counts.ignoredNotifications += decoded.otherEvents.length;
      logger.debug({ partition, sequenceNumber: event.sequenceNumber, eventTypes: decoded.otherEvents }, 'Event Grid events of other types ignored');
    }
    const blobs = decoded.notifications.filter((notification) => {
      if (isFlowLogBlobUrl(notification.url)) return true;
      counts.ignoredNotifications++;
      logger.debug(
        { partition, sequenceNumber: event.sequenceNumber, eventId: notification.id },
        'BlobCreated notification of a blob that is not PT1H.json: ignored',
      );
      return false;
    });
    return { azureRecords: decoded.azureRecords, inputBytes: bodyBytes(event.body), blobs };
  }
}

function bodyBytes(body: unknown): number {
  if (body instanceof Uint8Array) return body.byteLength;
  if (typeof body === 'string') return Buffer.byteLength(body);
  return 0;
}

/** The AMQP section the event's body came in: the body alone cannot tell a value-section binary from data. */
function bodyTypeOf(event: ReceivedEventData): AmqpBodyType | undefined {
  const raw = (event as { getRawAmqpMessage?: () => { bodyType?: AmqpBodyType } }).getRawAmqpMessage;
  return typeof raw === 'function' ? raw.call(event).bodyType : undefined;
}
