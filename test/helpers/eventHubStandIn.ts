/**
 * A PROTOCOL STAND-IN for Azure Event Hubs, for tests only: a local AMQP 1.0 endpoint built on the
 * `rhea` package that answers just enough of the Event Hubs protocol for the real
 * `@azure/event-hubs` client (EventHubConsumerClient with BlobCheckpointStore, EventHubProducerClient)
 * to run unchanged against it with a `UseDevelopmentEmulator=true` connection string (plain AMQP,
 * no TLS). It is not an emulator: one hub, in-memory partitions, no retention, no quotas, no
 * authorization (any token is accepted).
 *
 * What it answers (INTEROP.md, "The real @azure/event-hubs client against a local endpoint"):
 * - SASL ANONYMOUS (rhea's server default);
 * - `$cbs` put-token requests: status-code 202, correlation_id = the request's message_id, sent on
 *   the requester's receiver link (found by its name = the request's reply_to);
 * - `$management` READ of `com.microsoft:eventhub` (name, created_at, partition_count,
 *   partition_ids) and `com.microsoft:partition` (begin/last sequence numbers, last offset as a
 *   string, last enqueued time, is_partition_empty), status-code 200;
 * - receiver links `HUB/ConsumerGroups/CG/Partitions/N` with an `apache.org:selector-filter:string`
 *   on x-opt-offset, x-opt-sequence-number or x-opt-enqueued-time (`>`, `>=`, `'-1'`, `'@latest'`);
 *   deliveries carry x-opt-sequence-number (long), x-opt-offset (string), x-opt-enqueued-time;
 * - epoch receivers (`com.microsoft:epoch`, which the client sets with a checkpoint store): a new
 *   receiver with the same or a higher epoch on the same partition and consumer group takes the
 *   partition over and the old link is detached with `amqp:link:stolen` (ReceiverDisconnectedError);
 * - publish links `HUB` or `HUB/Partitions/N` advertising max_message_size; batches (message format
 *   0x80013700) are unpacked into their inner messages.
 *
 * Tests can also append events directly (`append`), with a data (bytes) or value (decoded JSON or
 * string) body, which is how forwarders' different encodings reach the consumer.
 */

import type { AddressInfo, Server, Socket } from 'node:net';
import rhea from 'rhea';

/** The parts of rhea's untyped runtime objects this stand-in touches. */
interface RheaLink {
  name: string;
  source?: { address?: string; filter?: Record<string, unknown> };
  target?: { address?: string };
  remote: { attach?: { source?: { address?: string; filter?: Record<string, unknown> }; target?: { address?: string }; properties?: Record<string, unknown> } };
  local: { attach: Record<string, unknown> };
  connection: RheaConnection;
  sendable(): boolean;
  send(message: Record<string, unknown>, tag?: unknown, format?: number): unknown;
  close(error?: { condition: string; description: string }): void;
  is_open(): boolean;
  is_closed(): boolean;
  set_source(fields: Record<string, unknown>): void;
  set_target(fields: Record<string, unknown>): void;
}

interface RheaConnection {
  find_sender(filter: (link: RheaLink) => boolean): RheaLink | undefined;
  close(): void;
  is_open(): boolean;
  options: { id?: string };
  container_id?: string;
}

interface RheaContext {
  connection: RheaConnection;
  sender?: RheaLink;
  receiver?: RheaLink;
  message?: Record<string, unknown> | Buffer;
  format?: number;
  delivery?: { accept(): void; format?: number };
}

interface RheaContainer {
  on(event: string, handler: (context: RheaContext) => void): void;
  listen(options: Record<string, unknown>): Server;
  message: { decode(buffer: Buffer): Record<string, unknown>; data_section(data: Buffer): unknown; sequence_section(list: unknown[]): unknown };
  types: { wrap_long(n: number): unknown };
}

/** How a body travels: `data` = bytes in a data section; `value` = an AMQP value (string, map, list). */
export type BodyKind = 'data' | 'value';

export interface StoredEvent {
  readonly partitionId: string;
  readonly sequenceNumber: number;
  readonly offset: string;
  readonly enqueuedTimeMs: number;
  readonly body: unknown;
  readonly bodyKind: BodyKind;
  readonly properties?: Record<string, unknown>;
}

interface PartitionLog {
  readonly id: string;
  readonly events: StoredEvent[];
  /** Offsets are byte-like positions, never equal to the sequence number (catches mix-ups). */
  nextOffset: number;
}

interface ConsumerLink {
  readonly link: RheaLink;
  readonly partition: PartitionLog;
  readonly consumerGroup: string;
  readonly epoch: number | undefined;
  /** Index into partition.events of the next event to deliver. */
  next: number;
}

export interface StandInOptions {
  readonly hubName?: string;
  readonly partitionCount?: number;
}

/** Offset of the first event; each event advances the offset by this much. */
const OFFSET_BASE = 4096;
const OFFSET_STEP = 1000;
const MAX_MESSAGE_SIZE = 1024 * 1024;
const BATCH_FORMAT = 0x80013700;
const EPOCH_PROPERTY = 'com.microsoft:epoch';

export class EventHubStandIn {
  readonly hubName: string;
  readonly partitions: PartitionLog[];
  private readonly consumers = new Set<ConsumerLink>();
  private readonly sockets = new Set<Socket>();
  private readonly createdAt = new Date();
  /** Receiver links opened per partition and consumer group, for assertions on load balancing. */
  readonly attaches: { partitionId: string; consumerGroup: string; connectionId: string }[] = [];
  private stopped = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly container: RheaContainer,
    options: StandInOptions,
  ) {
    this.hubName = options.hubName ?? 'flowlogs';
    const count = options.partitionCount ?? 2;
    this.partitions = Array.from({ length: count }, (_, i) => ({ id: String(i), events: [], nextOffset: OFFSET_BASE }));
  }

  static async start(options: StandInOptions = {}): Promise<EventHubStandIn> {
    const container = (rhea as unknown as { create_container(options?: Record<string, unknown>): RheaContainer }).create_container({ id: 'eventhub-stand-in' });
    const rheaServer = container.listen({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve, reject) => {
      rheaServer.once('listening', () => resolve());
      rheaServer.once('error', reject);
    });
    const port = (rheaServer.address() as AddressInfo).port;
    const standIn = new EventHubStandIn(rheaServer, port, container, options);
    rheaServer.on('connection', (socket: Socket) => {
      standIn.sockets.add(socket);
      socket.on('close', () => standIn.sockets.delete(socket));
    });
    standIn.wire();
    return standIn;
  }

  /** Connection string with the hub in EntityPath. The key is a dummy: the stand-in checks nothing. */
  get connectionString(): string {
    return `${this.namespaceConnectionString}EntityPath=${this.hubName};`;
  }

  /** Connection string of the "namespace" (no EntityPath). */
  get namespaceConnectionString(): string {
    return `Endpoint=sb://127.0.0.1:${this.port};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=c3RhbmQtaW4tc2VjcmV0LWtleQ==;UseDevelopmentEmulator=true;`;
  }

  /** Appends one event to a partition and delivers it to the receivers waiting there. */
  append(partitionId: string, body: unknown, options: { kind?: BodyKind; properties?: Record<string, unknown>; enqueuedTimeMs?: number } = {}): StoredEvent {
    const partition = this.partition(partitionId);
    const kind = options.kind ?? (Buffer.isBuffer(body) ? 'data' : 'value');
    const event: StoredEvent = {
      partitionId: partition.id,
      sequenceNumber: partition.events.length,
      offset: String(partition.nextOffset),
      enqueuedTimeMs: options.enqueuedTimeMs ?? Date.now(),
      body: kind === 'data' && !Buffer.isBuffer(body) ? Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) : body,
      bodyKind: kind,
      ...(options.properties === undefined ? {} : { properties: options.properties }),
    };
    partition.nextOffset += OFFSET_STEP;
    partition.events.push(event);
    this.pumpAll();
    return event;
  }

  /** Open receiver links, per partition id (for "the partitions are split" assertions). */
  openReceivers(consumerGroup = '$Default'): Map<string, number> {
    const counts = new Map<string, number>();
    for (const consumer of this.consumers) {
      if (consumer.consumerGroup.toLowerCase() !== consumerGroup.toLowerCase() || !consumer.link.is_open()) continue;
      counts.set(consumer.partition.id, (counts.get(consumer.partition.id) ?? 0) + 1);
    }
    return counts;
  }

  /** Stops listening and drops every connection. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private partition(id: string): PartitionLog {
    const partition = this.partitions.find((p) => p.id === id);
    if (partition === undefined) throw new Error(`stand-in: no partition '${id}' (hub has ${this.partitions.length})`);
    return partition;
  }

  private wire(): void {
    const c = this.container;
    c.on('sender_open', (context) => this.onSenderOpen(context.sender!));
    c.on('receiver_open', (context) => this.onReceiverOpen(context.receiver!));
    c.on('sendable', (context) => {
      const consumer = this.consumerOf(context.sender!);
      if (consumer !== undefined) this.pump(consumer);
    });
    c.on('message', (context) => this.onMessage(context));
    const forget = (context: RheaContext): void => {
      if (context.sender === undefined) return;
      const consumer = this.consumerOf(context.sender);
      if (consumer !== undefined) this.consumers.delete(consumer);
    };
    c.on('sender_close', forget);
    c.on('sender_error', forget);
    c.on('connection_close', () => this.sweep());
    c.on('disconnected', () => this.sweep());
    c.on('error', () => {});
  }

  /** A client receiver link attached: we are its sender. */
  private onSenderOpen(link: RheaLink): void {
    const source = link.remote.attach?.source;
    const address = source?.address ?? '';
    link.set_source({ address, ...(source?.filter === undefined ? {} : { filter: source.filter }) });
    link.set_target({ address: link.remote.attach?.target?.address ?? '' });
    if (address === '$cbs' || address === '$management') return; // a reply link: used by name
    const match = /^([^/]+)\/ConsumerGroups\/([^/]+)\/Partitions\/([^/]+)$/i.exec(address);
    if (match === null || match[1]!.toLowerCase() !== this.hubName.toLowerCase()) {
      link.close({ condition: 'amqp:not-found', description: `stand-in: no entity '${address}'` });
      return;
    }
    const partition = this.partitions.find((p) => p.id === match[3]);
    if (partition === undefined) {
      link.close({ condition: 'amqp:not-found', description: `stand-in: no partition '${match[3]}'` });
      return;
    }
    const consumerGroup = match[2]!;
    const epochValue = link.remote.attach?.properties?.[EPOCH_PROPERTY];
    const epoch = typeof epochValue === 'number' ? epochValue : undefined;
    if (epoch !== undefined) {
      for (const other of this.consumers) {
        if (other.partition !== partition || other.consumerGroup.toLowerCase() !== consumerGroup.toLowerCase() || other.epoch === undefined) continue;
        if (other.epoch > epoch) {
          link.close({
            condition: 'amqp:link:stolen',
            description: `stand-in: a receiver with a higher epoch (${other.epoch}) owns partition ${partition.id}`,
          });
          return;
        }
        this.consumers.delete(other);
        other.link.close({ condition: 'amqp:link:stolen', description: `stand-in: a new receiver with epoch ${epoch} took partition ${partition.id}` });
      }
    }
    const filter = source?.filter?.['apache.org:selector-filter:string'];
    const consumer: ConsumerLink = { link, partition, consumerGroup, epoch, next: startIndex(partition, selectorText(filter)) };
    this.consumers.add(consumer);
    this.attaches.push({ partitionId: partition.id, consumerGroup, connectionId: link.connection.options.id ?? '' });
    this.pump(consumer);
  }

  /** A client sender link attached (requests to $cbs / $management, or publishing): we receive. */
  private onReceiverOpen(link: RheaLink): void {
    const target = link.remote.attach?.target?.address ?? '';
    link.set_target({ address: target });
    link.set_source({ address: link.remote.attach?.source?.address ?? '' });
    link.local.attach['max_message_size'] = MAX_MESSAGE_SIZE;
  }

  private onMessage(context: RheaContext): void {
    const link = context.receiver!;
    const target = link.remote.attach?.target?.address ?? '';
    if (target === '$cbs') return this.reply(context, { 'status-code': 202, 'status-description': 'Accepted' }, undefined);
    if (target === '$management') return this.onManagement(context);
    const match = new RegExp(`^${escapeRegExp(this.hubName)}(?:/Partitions/([^/]+))?$`, 'i').exec(target);
    if (match === null) return;
    const messages =
      context.format === BATCH_FORMAT && Buffer.isBuffer(context.message)
        ? unpackBatch(this.container, context.message)
        : [context.message as Record<string, unknown>];
    for (const message of messages) {
      const partitionId = match[1] ?? this.partitions[Math.floor(Math.random() * this.partitions.length)]!.id;
      const body = message['body'];
      const isData = typeof body === 'object' && body !== null && (body as { typecode?: number }).typecode === 0x75;
      const properties = message['application_properties'] as Record<string, unknown> | undefined;
      this.append(partitionId, isData ? Buffer.from((body as { content: Buffer }).content) : body, {
        kind: isData ? 'data' : 'value',
        ...(properties === undefined ? {} : { properties }),
      });
    }
  }

  private onManagement(context: RheaContext): void {
    const request = context.message as Record<string, unknown>;
    const props = (request['application_properties'] ?? {}) as Record<string, unknown>;
    if (props['operation'] !== 'READ')
      return this.reply(context, { 'status-code': 501, 'status-description': `stand-in: operation ${String(props['operation'])} not supported` }, undefined);
    if (String(props['name']).toLowerCase() !== this.hubName.toLowerCase()) {
      return this.reply(context, { 'status-code': 404, 'status-description': `stand-in: no event hub '${String(props['name'])}'` }, undefined);
    }
    if (props['type'] === 'com.microsoft:eventhub') {
      return this.reply(
        context,
        { 'status-code': 200, 'status-description': 'OK' },
        {
          name: this.hubName,
          created_at: this.createdAt,
          partition_count: this.partitions.length,
          partition_ids: this.partitions.map((p) => p.id),
        },
      );
    }
    if (props['type'] === 'com.microsoft:partition') {
      const partition = this.partitions.find((p) => p.id === String(props['partition']));
      if (partition === undefined) return this.reply(context, { 'status-code': 404, 'status-description': 'stand-in: no such partition' }, undefined);
      const last = partition.events.at(-1);
      const long = (n: number) => this.container.types.wrap_long(n);
      return this.reply(
        context,
        { 'status-code': 200, 'status-description': 'OK' },
        {
          name: this.hubName,
          partition: partition.id,
          begin_sequence_number: long(0),
          last_enqueued_sequence_number: long(last?.sequenceNumber ?? -1),
          last_enqueued_offset: last?.offset ?? '-1',
          last_enqueued_time_utc: new Date(last?.enqueuedTimeMs ?? 0),
          is_partition_empty: last === undefined,
        },
      );
    }
    return this.reply(context, { 'status-code': 400, 'status-description': `stand-in: unknown type ${String(props['type'])}` }, undefined);
  }

  /** Answers a request on the requester's reply link, found by name (= the request's reply_to). */
  private reply(context: RheaContext, status: Record<string, unknown>, body: unknown): void {
    const request = context.message as Record<string, unknown>;
    const replyTo = String(request['reply_to'] ?? '');
    const sender = context.connection.find_sender((link) => link.name === replyTo || link.remote.attach?.target?.address === replyTo);
    if (sender === undefined) return;
    sender.send({ correlation_id: request['message_id'], application_properties: status, ...(body === undefined ? {} : { body }) });
  }

  private consumerOf(link: RheaLink): ConsumerLink | undefined {
    for (const consumer of this.consumers) if (consumer.link === link) return consumer;
    return undefined;
  }

  private sweep(): void {
    for (const consumer of this.consumers) if (!consumer.link.is_open()) this.consumers.delete(consumer);
  }

  private pumpAll(): void {
    for (const consumer of this.consumers) this.pump(consumer);
  }

  /** Delivers what the receiver has credit for. */
  private pump(consumer: ConsumerLink): void {
    const { link, partition } = consumer;
    while (consumer.next < partition.events.length && link.is_open() && link.sendable()) {
      const event = partition.events[consumer.next++]!;
      const c = this.container;
      link.send({
        message_annotations: {
          'x-opt-sequence-number': c.types.wrap_long(event.sequenceNumber),
          'x-opt-offset': event.offset,
          'x-opt-enqueued-time': new Date(event.enqueuedTimeMs),
        },
        ...(event.properties === undefined ? {} : { application_properties: event.properties }),
        body: event.bodyKind === 'data' ? c.message.data_section(event.body as Buffer) : event.body,
      });
    }
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The selector text out of rhea's decoded described value. */
function selectorText(filter: unknown): string {
  if (typeof filter === 'string') return filter;
  if (typeof filter === 'object' && filter !== null) {
    const value = (filter as { value?: unknown }).value;
    if (typeof value === 'string') return value;
    if (typeof value === 'object' && value !== null && typeof (value as { value?: unknown }).value === 'string') return (value as { value: string }).value;
  }
  return `amqp.annotation.x-opt-offset > '@latest'`;
}

/** Where a receiver with this selector starts (index into the partition's events). */
function startIndex(partition: PartitionLog, selector: string): number {
  const match = /amqp\.annotation\.(x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time)\s*(>=|>)\s*'([^']*)'/i.exec(selector);
  if (match === null) throw new Error(`stand-in: cannot read selector ${selector}`);
  const [, field, operator, text] = match as unknown as [string, string, string, string];
  const inclusive = operator === '>=';
  const events = partition.events;
  if (field.toLowerCase() === 'x-opt-offset') {
    if (text === '@latest') return events.length;
    if (text === '-1') return 0;
    const offset = Number(text);
    const index = events.findIndex((e) => (inclusive ? Number(e.offset) >= offset : Number(e.offset) > offset));
    return index < 0 ? events.length : index;
  }
  if (field.toLowerCase() === 'x-opt-sequence-number') {
    const sequence = Number(text);
    return Math.max(0, Math.min(events.length, inclusive ? sequence : sequence + 1));
  }
  const timeMs = Number(text);
  const index = events.findIndex((e) => e.enqueuedTimeMs > timeMs);
  return index < 0 ? events.length : index;
}

/** A batch (format 0x80013700): an envelope whose data sections are each an encoded message. */
function unpackBatch(container: RheaContainer, payload: Buffer): Record<string, unknown>[] {
  const envelope = container.message.decode(payload);
  const body = envelope['body'] as { content?: Buffer | Buffer[]; multiple?: boolean } | undefined;
  const parts = body?.content === undefined ? [] : Array.isArray(body.content) && body.multiple ? body.content : [body.content as Buffer];
  return parts.map((part) => container.message.decode(Buffer.from(part)));
}
