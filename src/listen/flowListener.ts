import { createSocket, type Socket } from 'node:dgram';
import type { DecodedRecord } from '../ipfix/decoder.js';
import { DatagramDecoder } from './datagramDecoder.js';

export interface FlowListenerOptions {
  readonly host: string;
  /** 0 picks a free port (tests, the demo). */
  readonly port: number;
  readonly enterpriseNumber: number;
  readonly onRecord: (record: DecodedRecord) => void;
  readonly onError?: (error: string, exporter: string) => void;
  /** Receive buffer, bytes: bursts at loopback speed overflow the default. */
  readonly receiveBufferBytes?: number;
}

/** A UDP listener that decodes IPFIX / NetFlow datagrams into records. */
export class FlowListener {
  datagrams = 0;
  decodeErrors = 0;
  unknownTemplateSets = 0;

  private constructor(
    private readonly socket: Socket,
    readonly address: { address: string; port: number },
  ) {}

  static async open(options: FlowListenerOptions): Promise<FlowListener> {
    const family = options.host.includes(':') ? 'udp6' : 'udp4';
    const socket = createSocket({ type: family, recvBufferSize: options.receiveBufferBytes ?? 8 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port, options.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const listener = new FlowListener(socket, socket.address());
    const decoder = new DatagramDecoder(options.enterpriseNumber);
    socket.on('message', (datagram, remote) => {
      listener.datagrams++;
      const exporter = remote.family === 'IPv6' ? `[${remote.address}]:${remote.port}` : `${remote.address}:${remote.port}`;
      const result = decoder.decode(datagram, exporter);
      listener.unknownTemplateSets += result.unknownTemplateSets;
      if (result.error !== undefined) {
        listener.decodeErrors++;
        options.onError?.(result.error, exporter);
      }
      for (const record of result.records) options.onRecord(record);
    });
    return listener;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
