import { parentPort } from 'node:worker_threads';
import { FlowColumns } from '../flow/flowColumns.js';
import type { EncodedMessage, FlowEncoder } from '../flow/flowEncoder.js';
import type { PcapEndpoint } from '../transport/pcap.js';
import { PcapWriteError, PcapWriter } from '../transport/pcapWriter.js';
import { UdpTransport } from '../transport/udp.js';
import { createEncoder } from './encoding.js';
import type { ExportCounters, ExportThreadSettings, FromExporter, ToExporter } from './exportThread.js';
import { BatchUnpacker, batchViews } from './rowBatch.js';

/**
 * The exporting thread of ExportThread: encode -> transport. It turns the enriched rows the
 * pipeline hands over into IPFIX / NetFlow messages and gives them to the UDP sockets (with their
 * pacing and error accounting) and the pcap file. A batch buffer goes back once every datagram
 * made from it was handed to the sockets, with the counters as they stand.
 */

const port = parentPort!;
const post = (message: FromExporter, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);

/** After a send error, templates go out with every batch for this long (see run). */
const TEMPLATE_RESEND_AFTER_ERROR_MS = 30_000;
/** Send errors are reported to the pipeline's thread at most this often while no data flows. */
const COUNTERS_INTERVAL_MS = 100;

class Exporter {
  private readonly outbox: EncodedMessage[] = [];
  private readonly encoder: FlowEncoder;
  private readonly unpacker = new BatchUnpacker();
  private readonly columns = new FlowColumns(1);
  private messages = 0;
  private bytesSent = 0;
  private templateMessages = 0;

  constructor(
    settings: ExportThreadSettings,
    private readonly udp: UdpTransport | undefined,
    private readonly pcap: PcapWriter | undefined,
    /** Both ends of each conversation a capture shows: one per collector, or the pcap-only pair. */
    private readonly captured: readonly { source: PcapEndpoint; destination: PcapEndpoint }[],
  ) {
    this.encoder = createEncoder(settings.encoding, (message) => this.outbox.push(message));
  }

  async handle(message: ToExporter): Promise<void> {
    switch (message.type) {
      case 'rows': {
        const flows = this.unpacker.columns(batchViews(message.buffer), message.rows, message.objects, this.columns);
        // While a collector refuses datagrams (restarting, unreachable), every batch carries the
        // templates again, so it can decode data the moment it is back instead of dropping it
        // until the next scheduled refresh.
        const lastErrorMs = this.udp?.lastErrorMs ?? 0;
        if (lastErrorMs > 0 && Date.now() - lastErrorMs < TEMPLATE_RESEND_AFTER_ERROR_MS) this.encoder.refreshTemplates();
        this.encoder.addRows(flows, 0, message.rows, message.nowMs);
        await this.send(message.nowMs);
        post({ type: 'returned', buffer: message.buffer, counters: this.counters() }, [message.buffer]);
        return;
      }
      case 'flush':
        this.encoder.flush(message.nowMs);
        await this.send(message.nowMs);
        post({ type: 'flushed', id: message.id, counters: this.counters() });
        return;
      case 'start':
        throw new Error('the exporting thread was started twice');
      case 'close':
        this.encoder.flush(message.nowMs);
        await this.send(message.nowMs);
        await this.udp?.close();
        await this.pcap?.close();
        post({ type: 'closed', counters: this.counters() });
        port.close();
        return;
    }
  }

  /** Hands every message the encoder made to the sockets and the capture, in order. */
  private async send(nowMs: number): Promise<void> {
    const outbox = this.outbox;
    const udp = this.udp;
    const pcap = this.pcap;
    for (let i = 0; i < outbox.length; i++) {
      const message = outbox[i]!;
      const bytes = message.bytes;
      this.messages++;
      this.bytesSent += bytes.length;
      if (message.dataRecords === 0) this.templateMessages++;
      if (pcap !== undefined) {
        for (const ends of this.captured) {
          const written = pcap.write(bytes, ends.source, ends.destination, nowMs);
          if (written !== undefined) await written;
        }
      }
      if (udp !== undefined) {
        const sent = udp.send(bytes, i === outbox.length - 1);
        if (sent !== undefined) await sent;
      }
    }
    outbox.length = 0;
    // Nothing queued in libuv may still point into the encoder's buffers when it writes over them.
    if (udp !== undefined) await udp.drain();
    this.encoder.reuseBuffers();
  }

  counters(): ExportCounters {
    return {
      messages: this.messages,
      bytesSent: this.bytesSent,
      templateMessages: this.templateMessages,
      exportedRecords: this.encoder.counters.flowRecords,
      optionsRecords: this.encoder.counters.optionsRecords,
      declined: [...this.encoder.declined],
      collectors: this.udp?.stats ?? [],
      lastErrorMs: this.udp?.lastErrorMs ?? 0,
    };
  }
}

async function start(settings: ExportThreadSettings): Promise<Exporter | undefined> {
  let pcap: PcapWriter | undefined;
  if (settings.pcapPath !== undefined) {
    try {
      pcap = await PcapWriter.open(settings.pcapPath);
    } catch (error) {
      post(failure(error));
      return undefined;
    }
  }
  let udp: UdpTransport | undefined;
  if (settings.collectors.length > 0) {
    let countersTimer: NodeJS.Timeout | undefined;
    try {
      udp = await UdpTransport.open(settings.collectors, {
        maxPacketsPerSecond: settings.maxPacketsPerSecond,
        socketBufferBytes: settings.socketBufferBytes,
        logger: { warn: (fields, message) => post({ type: 'log', fields, message }) },
        // Errors come late (an ICMP unreachable after the send): report them without waiting for
        // more data, at most every COUNTERS_INTERVAL_MS during an outage.
        onError: () => {
          if (countersTimer !== undefined) return;
          countersTimer = setTimeout(() => {
            countersTimer = undefined;
            post({ type: 'counters', counters: exporter.counters() });
          }, COUNTERS_INTERVAL_MS);
          countersTimer.unref();
        },
      });
    } catch (error) {
      await pcap?.close().catch(() => undefined);
      const failure = error as NodeJS.ErrnoException;
      post({ type: 'failed', stage: 'udp', message: failure.message, code: failure.code });
      return undefined;
    }
  }
  const transport = udp;
  const captured =
    transport === undefined
      ? [settings.pcapOnlyEndpoints!]
      : settings.collectors.map((collector, i) => ({ source: transport.localEndpoint(i), destination: { address: collector.address, port: collector.port } }));
  const exporter = new Exporter(settings, udp, pcap, captured);
  return exporter;
}

// The first message brings the settings (the thread may have started before they were known, see
// prestart.ts); every later one is handled in order, one at a time: a batch may wait for pacing or
// a full socket queue.
let exporter: Promise<Exporter | undefined> | undefined;
let queue: Promise<void> = Promise.resolve();
let failed = false;
port.on('message', (message: ToExporter) => {
  if (exporter === undefined) {
    if (message.type !== 'start') throw new Error(`the exporting thread got '${message.type}' before its settings`);
    exporter = start(message.settings).then((started) => {
      if (started === undefined) port.close();
      else post({ type: 'ready' });
      return started;
    });
    return;
  }
  const ready = exporter;
  queue = queue.then(async () => {
    const started = await ready;
    if (started === undefined || failed) return;
    try {
      await started.handle(message);
    } catch (error) {
      // A failing pcap file or a bug: the pipeline stops with this error; nothing is sent after it.
      failed = true;
      post(failure(error));
    }
  });
});

/**
 * Errors cross to the pipeline's thread as data (their classes do not survive the copy): a pcap
 * write error by its system code, one line; anything else is a bug, with its stack for the report.
 */
function failure(error: unknown): FromExporter {
  if (error instanceof PcapWriteError) return { type: 'failed', stage: 'pcap', message: error.message, code: error.systemCode };
  const unexpected = error as NodeJS.ErrnoException;
  return { type: 'failed', stage: 'export', message: unexpected.stack ?? unexpected.message, code: unexpected.code };
}
